"""The exact policy's sparse system ``A u = b``, assembled per step as COO triplets.

The unknowns are each field's highest derivative and the multipliers, in the blocks
``model["exact_blocks"]`` (field, domain, derivative order), one entry per node or arc. Each
entry family of ``model["exact_entries"]`` places one kernel output: the rows of an equation,
the columns of an unknown, at the same node or arc (``local``), at an arc's end (``arc``), or
one per arc entering (``in``) or leaving (``out``) the row's node. The matrix couples a neuron
with its parents, children and co-parents, so the solve is not local: it is the solver that
``set_solver`` installed (SciPy's, from the runner), since a module imports only NumPy.
"""

import numpy as np

from .clamps import apply_clamps
from .params import member_params, member_signals, model_params
from .plan import batch_shape


def install_solver(solve, model) -> None:
    """Install the sparse solver ``solve(rows, cols, values, b, size) -> u``, for example
    ``stlp_sym.runtime.sparse.sparse_solve`` (scipy.sparse); the module needs only NumPy."""
    model["solver"] = solve


def block_offsets(plan, model) -> tuple:
    """The first unknown of each block, the total size, and the size of each domain."""
    sizes = {"node": plan["n"], "edge": plan["m"]}
    offsets, size = {}, 0
    for field, domain, _order in model["exact_blocks"]:
        offsets[field], size = size, size + sizes[domain]
    return offsets, size, sizes


def coo_entries(out, plan, offsets, sizes, model) -> tuple:
    """The triplets ``(rows, cols, values)`` of every entry family, from the kernel's output."""
    src, dst, arcs = plan["src"], plan["dst"], np.arange(plan["m"])
    rows, cols, values = [], [], []
    for entry in model["exact_entries"]:
        eq, unknown, kind, end = entry["equation"], entry["unknown"], entry["kind"], entry["end"]
        if kind == "local":
            r = c = np.arange(sizes[model["fields"][eq]["domain"]])
        elif kind == "arc":
            r, c = arcs, (src if end == "src" else dst)
        else:  # one entry per arc entering ("in") or leaving ("out") the row's node
            r = dst if kind == "in" else src
            c = arcs if end is None else (src if end == "src" else dst)
        rows.append(offsets[eq] + r)
        cols.append(offsets[unknown] + c)
        values.append(np.broadcast_to(np.asarray(out[entry["output"]], dtype=float), r.shape))
    return tuple(np.concatenate(v) for v in (rows, cols, values))


def pinned_values(info, order, nodes, signals) -> np.ndarray:
    """Values of the unknowns of entries that do not exist (zero) or are clamped (the
    signal's derivative of the same order, when ``signals`` provides it)."""
    key = info["clamp"] if order == 0 else f"{info['clamp']}_d{order}"
    if info["clamp"] is None or key not in signals:
        return np.zeros(nodes.size)
    return np.asarray(signals[key], dtype=float)[nodes]


def constraint_system_of(t, state, plan, params, signals, model) -> tuple:
    """``A u = b`` for this step's unknowns (each field's highest derivative, the multipliers),
    with ``A`` as COO triplets ``(rows, cols, values)``, ``b`` and the size. The rows of
    entries that do not exist or are clamped pin their unknown to the signal or to zero."""
    apply_clamps(t, state, plan, signals, model)
    out = model["rhs_kernel"](t, state, plan, model_params(params, plan, model), signals)
    offsets, size, sizes = block_offsets(plan, model)
    rows, cols, values = coo_entries(out, plan, offsets, sizes, model)
    b = np.zeros(size)
    for field, domain, _order in model["exact_blocks"]:
        b[offsets[field] : offsets[field] + sizes[domain]] = out["b_" + field]
    for field, domain, order in model["exact_blocks"]:
        if domain != "node":
            continue
        dead = np.flatnonzero(~plan["field_live"][field])
        if dead.size:
            keep = ~np.isin(rows, offsets[field] + dead)
            rows = np.concatenate([rows[keep], offsets[field] + dead])
            cols = np.concatenate([cols[keep], offsets[field] + dead])
            values = np.concatenate([values[keep], np.ones(dead.size)])
            b[offsets[field] + dead] = pinned_values(model["fields"][field], order, dead, signals)
    return rows, cols, values, b, size


def exact_top_rates(t, state, plan, p, signals, scale, model) -> dict:
    """``scale`` times the highest derivative of each field, from one sparse solve (one per
    member of a batch); the multipliers are kept in ``plan["multipliers"]``."""
    lead = batch_shape(state)
    if lead != ():
        members = []
        for b in range(lead[0]):
            member = {name: value[b] for name, value in state.items()}
            sig = member_signals(signals, b)
            members.append(
                (
                    exact_top_rates(t, member, plan, member_params(p, b), sig, scale, model),
                    plan["multipliers"],
                )
            )
        plan["multipliers"] = {
            name: np.stack([m[1][name] for m in members]) for name in members[0][1]
        }
        return {name: np.stack([m[0][name] for m in members]) for name in members[0][0]}
    if model["solver"] is None:
        raise RuntimeError(
            "this module uses the exact policy: install a sparse solver with set_solver(), "
            "e.g. set_solver(stlp_sym.runtime.sparse.sparse_solve)"
        )
    u = model["solver"](*constraint_system_of(t, state, plan, p, signals, model))
    out, multipliers, offset = {}, {}, 0
    for field, domain, _order in model["exact_blocks"]:
        block = u[offset : offset + (plan["n"] if domain == "node" else plan["m"])]
        offset += block.size
        if field in model["tops"]:
            out[model["tops"][field][-1]] = scale * block
        else:
            multipliers[field] = block
    plan["multipliers"] = multipliers
    return out
