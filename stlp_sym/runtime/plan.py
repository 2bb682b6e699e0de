"""The per-graph plan of a generated module, the moves between nodes and arcs, and work arrays.

Arcs are sorted by destination (then source), so the arcs entering a node form one segment:
a gather by destination is ``np.repeat`` over the segments and a sum into destinations is
``np.add.reduceat`` over their starts; sums into sources use ``np.bincount``. Work arrays are
allocated once per plan and reused at every call, so a step allocates no edge-sized array.

``model`` is the generated module's ``_MODEL`` dict (its tables and kernels); every function
here is pasted verbatim into the modules that call it.

>>> plan = prepare_plan(3, [0, 1, 0], [2, 2, 1], [0], [2], {"fields": {}, "states": {}})
>>> plan["src"].tolist(), plan["dst"].tolist(), plan["arc_order"].tolist()
([0, 0, 1], [1, 2, 2], [2, 0, 1])
>>> scatter_dst(np.array([1.0, 2.0, 3.0]), plan).tolist()
[0.0, 1.0, 5.0]
"""

import numpy as np


def prepare_plan(n, src, dst, inputs, outputs, model) -> dict:
    """Per-graph plan: arcs sorted by destination, segment starts, role masks, buffers.

    ``src``/``dst`` are the arcs' end nodes; ``inputs``/``outputs`` node ids or boolean masks.
    Edge arrays of ``init``/``rhs``/``step`` follow the plan's arc order, ``plan["src"]`` and
    ``plan["dst"]`` (sorted by destination, then source); ``plan["arc_order"]`` maps them back.
    """
    n = int(n)
    src = np.asarray(src, dtype=np.int64).reshape(-1)
    dst = np.asarray(dst, dtype=np.int64).reshape(-1)
    if src.shape != dst.shape:
        raise ValueError("src and dst must have the same length")
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise ValueError(f"arc end out of range 0..{n - 1}")
    order = np.lexsort((src, dst))
    src, dst = src[order], dst[order]
    in_degree = np.bincount(dst, minlength=n)
    in_ptr = np.concatenate(([0], np.cumsum(in_degree)))
    nonempty = np.flatnonzero(in_degree)
    roles = role_masks(n, inputs, outputs)
    field_live = live_entries(roles, model["fields"])
    live = {
        name: field_live[info["field"]]
        for name, info in model["states"].items()
        if info["domain"] == "node"
    }
    return {
        "n": n,
        "m": int(src.size),
        "src": src,
        "dst": dst,
        "arc_order": order,
        "in_degree": in_degree,
        "in_ptr": in_ptr,
        "nonempty": nonempty,
        "seg_starts": in_ptr[nonempty],
        "roles": roles,
        "live": live,
        "field_live": field_live,
        "buffers": {},
    }


def role_masks(n, inputs, outputs) -> dict:
    """The role indicators ``is_input``, ``is_output``, ``is_free``, ``is_hidden``, ``is_all``
    as float arrays over the nodes (1 where the node has the role)."""
    is_input, is_output = role_mask(n, inputs), role_mask(n, outputs)
    return {
        "is_input": is_input,
        "is_output": is_output,
        "is_free": 1.0 - is_input,
        "is_hidden": (1.0 - is_input) * (1.0 - is_output),
        "is_all": np.ones(n),
    }


def role_mask(n, nodes) -> np.ndarray:
    """A float mask over ``n`` nodes from node ids or a boolean mask."""
    nodes = np.asarray(nodes)
    mask = np.zeros(n)
    if nodes.dtype == bool:
        mask[nodes] = 1.0
    elif nodes.size:
        mask[nodes.astype(np.int64)] = 1.0
    return mask


def live_entries(roles, fields) -> dict:
    """Per node field, where it exists: on the nodes of its role and not clamped there."""
    field_live = {}
    for name, info in fields.items():
        if info["domain"] == "node":
            exists = roles["is_" + info["role"]] > 0
            if info["clamp"] is not None:
                exists &= roles["is_" + info["clamp_role"]] == 0
            field_live[name] = exists
    return field_live


def gather_src(values, plan, out) -> np.ndarray:
    """Node -> edge: the value at each arc's source, into ``out`` (along the last axis, so
    that a batch ``(B, n)`` gathers to ``(B, |A|)``)."""
    return np.take(values, plan["src"], axis=-1, out=out, mode="clip")


def gather_dst(values, plan) -> np.ndarray:
    """Node -> edge: the value at each arc's destination; arcs are sorted by it, so this is a
    repeat of each node's value over its segment (sequential, faster than a gather)."""
    return np.repeat(values, plan["in_degree"], axis=-1)


def scatter_dst(values, plan) -> np.ndarray:
    """Edge -> node: sum over the arcs entering each node (segments of the sorted arcs)."""
    total = np.zeros((*np.shape(values)[:-1], plan["n"]))
    if plan["m"]:
        total[..., plan["nonempty"]] = np.add.reduceat(values, plan["seg_starts"], axis=-1)
    return total


def scatter_src(values, plan) -> np.ndarray:
    """Edge -> node: sum over the arcs leaving each node (a batch ``(B, |A|)`` is counted as
    one array of ``B n`` nodes, each member's nodes offset by ``b n``). On a graph without
    arcs, ``np.bincount`` gives integers: the sums are made floats."""
    n = plan["n"]
    if np.ndim(values) <= 1:
        return np.bincount(plan["src"], weights=values, minlength=n).astype(float, copy=False)
    lead = values.shape[:-1]
    members = int(np.prod(lead))
    index = plan["src"] + n * np.arange(members)[:, None]
    flat = np.bincount(index.reshape(-1), weights=values.reshape(-1), minlength=members * n)
    return flat.astype(float, copy=False).reshape((*lead, n))


def batch_shape(jet, global_fields=()) -> tuple:
    """The leading (member) axes of a state or jet: ``()`` unbatched, ``(B,)`` for a batch.

    The entries of ``global_fields`` (and their derivatives ``g_d1``, ...) have no node or arc
    axis: their whole shape is the batch's, read only when nothing else is there."""
    lead = None
    for name, value in jet.items():
        shape = getattr(value, "shape", ())
        base, _, order = name.rpartition("_d")
        if (base if order.isdigit() else name) in global_fields:
            lead = shape if lead is None else lead
        elif shape:
            return shape[:-1]
    return () if lead is None else lead


def global_fields_of(model) -> tuple:
    """The names of the global fields of a module (no node or arc axis)."""
    return tuple(name for name, info in model["fields"].items() if info["domain"] == "global")


def sum_nodes(values, plan, lead) -> np.ndarray:
    """Node -> global: the sum over every node, as ``(*lead, 1)`` (a column per member)."""
    return np.sum(np.broadcast_to(values, (*lead, plan["n"])), axis=-1)[..., None]


def sum_arcs(values, plan, lead) -> np.ndarray:
    """Edge -> global: the sum over every arc, as ``(*lead, 1)`` (a column per member)."""
    return np.sum(np.broadcast_to(values, (*lead, plan["m"])), axis=-1)[..., None]


def edge_buffers(plan, owner, count, lead=()) -> list:
    """``count`` edge-sized work arrays of ``owner`` (with leading axes ``lead``, a batch's),
    allocated once per plan and reused (``owner`` holds the module's cache key, so that
    modules sharing a plan do not collide)."""
    buffers = plan["buffers"].setdefault((owner, lead), [])
    while len(buffers) < count:
        buffers.append(np.empty((*lead, plan["m"])))
    return buffers


def work_arrays(plan, owner, like, count) -> list:
    """``count`` dicts of arrays shaped like the arrays of ``like`` (a state), allocated once
    per plan and shape and reused, for the stages of an integrator."""
    shapes = tuple((name, np.shape(value)) for name, value in like.items())
    held = plan["buffers"].get(owner)
    if held is None or held[0] != shapes or len(held[1]) < count:
        arrays = [{name: np.empty(shape) for name, shape in shapes} for _ in range(count)]
        held = plan["buffers"][owner] = (shapes, arrays)
    return held[1]


def initial_state(plan, params, seed, model) -> dict:
    """Initial state: edge fields ~ N(0, 0.5^2) (scaled by 1/sqrt(fan-in) above 20 parents),
    everything else zero. Returns a dict of arrays keyed by state name (a global field's of
    shape ``()``); a sequence of ``B`` seeds gives a batch, member ``b`` (leading axis) the state
    of seed ``seeds[b]``."""
    if np.ndim(seed) == 1:
        members = [initial_state(plan, params, int(s), model) for s in seed]
        return {name: np.stack([m[name] for m in members]) for name in model["states"]}
    rng = np.random.default_rng(seed)
    fan_in = max(1, int(plan["in_degree"].max(initial=0)))
    scale = 0.5 / np.sqrt(fan_in) if fan_in > 20 else 0.5
    state = {}
    for name, info in model["states"].items():
        size = {"node": plan["n"], "edge": plan["m"], "global": ()}[info["domain"]]
        if info["domain"] == "edge" and info["order"] == 0:
            state[name] = rng.normal(0.0, scale, size)
        else:
            state[name] = np.zeros(size)
    return state
