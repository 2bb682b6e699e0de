"""Integrate a generated module online on a task: progress, divergence guard, trace, plots.

>>> from stlp_sym.symbolic.models import MODELS
>>> from stlp_sym.cache.store import build
>>> from stlp_sym.graph.digraph import Digraph
>>> from stlp_sym.runner.tasks import make_task
>>> graph = Digraph.from_spec("complete:6:in=1")
>>> module = build(MODELS["stlp"].build(), MODELS["stlp"].options)
>>> trace = run(module, graph, make_task("tracking-sine", graph), horizon=2.0, progress=False)
>>> float(trace.t[-1]), trace.diverged
(2.0, None)
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from ..codegen.integrators import INTEGRATORS
from ..errors import StlpError, StlpWarning
from ..files import atomic_stream
from ..graph.digraph import ARC_BYTES, NODE_BYTES, Digraph, check_memory
from ..runtime.sparse import sparse_solve
from .tasks import Task

#: A run diverges when any state exceeds this in absolute value (docs/theory.md section 2).
DIVERGENCE = 1e6


@dataclass(frozen=True)
class Divergence:
    """Where a run blew up: the time, the state (and its field), the node or arc, and the
    member of a batch (None unbatched). ``index`` numbers the node (the arc, in the plan's
    order); ``where`` names it by the graph's ids (those of its file)."""

    t: float
    state: str
    index: int
    value: float
    where: str = ""
    member: int | None = None

    def __str__(self) -> str:
        member = "" if self.member is None else f"member {self.member}: "
        size = f"|value| = {abs(self.value):.6g} exceeds {DIVERGENCE:g}"
        if not math.isfinite(self.value):
            size = (
                f"value {self.value} is not finite (an overflow, a division by zero or a "
                "function outside its domain)"
            )
        where = self.where or f"{self.state}[{self.index}]"
        return f"diverged at t = {self.t:.4g}: {member}{where}: {size}"


def _locate(module: ModuleType, graph: Digraph, plan: dict, state: str, index: int) -> str:
    """``field w (state w_d1) on arc 3 -> 1`` or ``field x on node 'hub'`` (``index`` in the
    plan's arc order), nodes named by the graph's ids (a graph file's own ids)."""
    info = module.STATES[state]
    name = info["field"] if info["field"] == state else f"{info['field']} (state {state})"
    if info["domain"] == "edge":
        ends = (_node_id(graph, plan["src"][index]), _node_id(graph, plan["dst"][index]))
        return f"field {name} on arc {ends[0]} -> {ends[1]}"
    return f"field {name} on node {_node_id(graph, index)}"


def _node_id(graph: Digraph, node: int) -> str:
    """The id of node number ``node`` as the graph file spells it (quoted when a string)."""
    label = graph.labels[int(node)]
    return repr(label) if isinstance(label, str) else str(label)


@dataclass
class Trace:
    """What a run recorded, every ``record_every`` steps.

    ``output`` and ``reference`` have one column per output node; ``lagrangian`` and
    ``hamiltonian`` are ``L/phi`` and ``H/phi`` for normalised modules; ``state`` is the last
    state that did not diverge. A batch (``run(..., seed=[...])``) has a member axis after
    time in every array (``output`` is ``(records, B, outputs)``) and in ``state``.
    """

    t: np.ndarray
    output: np.ndarray
    reference: np.ndarray
    lagrangian: np.ndarray
    hamiltonian: np.ndarray
    weight_norm: np.ndarray
    state: dict[str, np.ndarray]
    seconds_per_step: float
    diverged: Divergence | None = None
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def members(self) -> int | None:
        """The number of members of a batch, None for a single run."""
        return None if self.lagrangian.ndim == 1 else self.lagrangian.shape[1]

    def score(self, fraction: float = 0.2) -> float | np.ndarray:
        """Mean of ``(x_o - z)^2 / var(z)`` over the last ``fraction`` of the horizon: a float,
        or one per member of a batch (``inf`` for a run, or the member, that diverged; a
        batch stops at its first divergence, so the others are scored up to there)."""
        if self.members is None:
            if self.diverged is not None or len(self.t) < 2:
                return math.inf
            return _score(self.t, self.output, self.reference, fraction)
        scores = np.array(
            [
                _score(self.t, self.output[:, b], self.reference[:, b], fraction)
                if len(self.t) >= 2
                else math.inf
                for b in range(self.members)
            ]
        )
        if self.diverged is not None:
            scores[self.diverged.member] = math.inf
        return scores

    def save(self, path: Path) -> None:
        """Write the trace to ``path`` (.npz), atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "t": self.t,
            "output": self.output,
            "reference": self.reference,
            "lagrangian": self.lagrangian,
            "hamiltonian": self.hamiltonian,
            "weight_norm": self.weight_norm,
            **{f"state_{name}": value for name, value in self.state.items()},
            "diverged": np.array(str(self.diverged or "")),
        }
        with atomic_stream(path, binary=True) as stream:
            np.savez_compressed(stream, **arrays)


def _score(t: np.ndarray, output: np.ndarray, reference: np.ndarray, fraction: float) -> float:
    window = t >= t[-1] * (1 - fraction)
    error = np.mean((output[window] - reference[window]) ** 2)
    variance = np.var(reference[window])
    return float(error / variance) if variance > 0 else float(error)


def check_params(module: ModuleType, params: dict[str, float], dt: float) -> dict[str, float]:
    """Reject unknown, non-finite or absurd values; warn when the step is unstable. A value
    may be one per member of a batch (a sequence)."""
    for name, value in params.items():
        if name not in module.PARAMS:
            raise StlpError(f"unknown parameter {name!r}; this model has {sorted(module.PARAMS)}")
        values = np.asarray(value, dtype=float)
        if values.ndim > 1 or not np.all(np.isfinite(values)) or np.any(np.abs(values) > 1e12):
            raise StlpError(f"parameter {name} = {value!r} is not a usable finite number")
    if not (math.isfinite(dt) and dt > 0):
        raise StlpError(f"time step dt = {dt!r} must be a positive finite number")
    merged = {**module.PARAMS, **params}
    warn_if_unstable(module, merged, dt)
    return merged


def warn_if_unstable(module: ModuleType, params: dict[str, float], dt: float) -> None:
    """Warn when ``dt`` times the module's largest decay rate breaks its integrator's
    stability condition on a linear decay (:class:`~stlp_sym.codegen.integrators.Integrator`).

    The decay rates are the model's own (``module.decay_rates``): ``k`` with
    ``rate = rest - k * state`` for each top state, from the parameters only.
    """
    integrator = INTEGRATORS.get(module.OPTIONS["integrator"])
    rates = getattr(module, "decay_rates", None)
    if integrator is None or rates is None:
        return
    decays = {name: float(np.max(k)) for name, k in rates(params).items()}
    if not decays:
        return
    state = max(decays, key=decays.get)
    if not integrator.is_stable(dt, decays[state]):
        warnings.warn(
            f"dt * k = {dt * decays[state]:.4g} for the decay rate k = {decays[state]:.4g} of "
            f"{state!r}, not below {integrator.stability_limit:.4g}: {integrator.name} is "
            "unstable; lower --dt",
            StlpWarning,
            stacklevel=3,
        )


def run_length(task: Task, horizon: float | None, steps: int | None, dt: float) -> int:
    """The number of steps of a run: ``steps``, else ``horizon`` (else the task's) over ``dt``.

    Raises
    ------
    StlpError
        For both given, a count below 1, or a horizon that is not a finite number above 0 or
        is shorter than one step.
    """
    if steps is not None and horizon is not None:
        raise StlpError("give either horizon or steps, not both")
    if steps is not None:
        if isinstance(steps, bool) or int(steps) != steps or steps < 1:
            raise StlpError(f"steps = {steps!r} must be a whole number of at least 1")
        return int(steps)
    horizon = task.horizon if horizon is None else horizon
    if not (math.isfinite(horizon) and horizon > 0):
        raise StlpError(f"horizon = {horizon!r} must be a finite time above 0")
    count = _steps_of(horizon, dt, "horizon")
    if count < 1:
        raise StlpError(f"horizon = {horizon!r} is shorter than one step dt = {dt!r}")
    return count


def _steps_of(time: float, dt: float, what: str) -> int:
    """``time / dt`` rounded: refused when ``time`` is negative or either is not finite."""
    ratio = time / dt
    if not (math.isfinite(time) and time >= 0 and math.isfinite(ratio)):
        raise StlpError(f"{what} = {time!r} with dt = {dt!r} is not a finite number of steps >= 0")
    return round(ratio)


def _checked_seeds(seed: int | Sequence[int], graph: Digraph) -> int | list[int]:
    """The seed, or the seeds of a batch (a sequence; a ``range`` is measured before it is
    listed): refused when negative, or when the batch's states would not fit in memory."""
    if not isinstance(seed, range) and np.ndim(seed) == 0:
        seeds, single = [int(seed)], True  # type: ignore[arg-type]
    else:
        members, arcs = len(seed), len(graph.src)  # type: ignore[arg-type]
        need = members * (graph.n * NODE_BYTES + arcs * ARC_BYTES)
        check_memory(need, f"a batch of {members} members on {graph.n} nodes and {arcs} arcs")
        seeds, single = [int(s) for s in seed], False  # type: ignore[union-attr]
    negative = [s for s in seeds if s < 0]
    if negative:
        raise StlpError(f"seed {negative[0]} is negative; seeds are integers >= 0")
    return seeds[0] if single else seeds


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, unit="step", mininterval=0.5, leave=False)


#: At most this many steps a chunk of ``run_steps`` (and this many bytes of signal table).
CHUNK_STEPS = 100_000
TABLE_BYTES = 64 * 2**20


def stage_divisor(module: ModuleType) -> int:
    """Rows of a signal table per step: the common denominator of the integrator's stage times
    (1 for Euler, 2 for RK4)."""
    tableau = INTEGRATORS[module.OPTIONS["integrator"]].tableau
    if tableau is None:
        return 1
    return math.lcm(1, *(c.denominator for c in tableau.c))


def tabulate(task: Task, times: np.ndarray, n: int, fallback: list[bool]) -> dict:
    """The task's signals at ``times``: ``(K, n)`` arrays, from ``task.table`` or from one call
    of ``task.signals`` with ``t`` of shape ``(K, 1)``; a callable that does not broadcast is
    called once per time instead (with a warning, once: ``fallback`` remembers)."""
    if task.table is not None:
        return task.table(times)
    shape = (times.size, n)
    if not fallback[0]:
        try:
            values = task.signals(times.reshape(-1, 1))
            return {
                name: np.broadcast_to(np.asarray(value, dtype=float), shape)
                for name, value in values.items()
            }
        except Exception as error:  # any failure of the user's callable on an array
            fallback[0] = True
            warnings.warn(
                f"signals(t) with t of shape (K, 1) did not give arrays broadcasting to (K, n) "
                f"({type(error).__name__}: {error}); calling it once per time instead (slower)",
                StlpWarning,
                stacklevel=4,
            )
    # copied at once: a callable may return the same arrays at every call
    rows = [
        {name: np.broadcast_to(np.asarray(v, dtype=float), n).copy() for name, v in r.items()}
        for r in (task.signals(float(t)) for t in times)
    ]
    return {name: np.stack([row[name] for row in rows]) for name in rows[0]}


def _chunk_steps(stride: int, per: int, n: int, signals: int) -> int:
    """Steps a chunk: a multiple of ``stride``, with a table of at most :data:`TABLE_BYTES`."""
    fit = TABLE_BYTES // (8 * per * max(1, n) * max(1, signals))
    return stride * max(1, min(CHUNK_STEPS, fit) // stride)


def _new_record(
    module: ModuleType, state: dict, outputs: np.ndarray, rows: int, stride: int
) -> dict:
    lead = next(iter(state.values())).shape[:-1]
    observed = "x" if "x" in state else None
    weights = [
        name
        for name, info in module.STATES.items()
        if info["domain"] == "edge" and info["order"] == 0
    ]
    per_row = (rows, *lead)
    return {
        "stride": stride,
        "start": False,
        "final": False,
        "nodes": outputs,
        "state": observed,
        "signal": "z",
        "weights": weights,
        "limit": DIVERGENCE,
        "rows": {
            "t": np.zeros(rows),
            "output": np.zeros((*per_row, outputs.size)),
            "reference": np.zeros((*per_row, outputs.size)),
            "lagrangian": np.full(per_row, np.nan),
            "hamiltonian": np.full(per_row, np.nan),
            "weight_norm": np.zeros(per_row),
        },
        "count": 0,
        "good": {name: value.copy() for name, value in state.items()},
        "diverged": None,
    }


def run(
    module: ModuleType,
    graph: Digraph,
    task: Task | Callable[[float], dict[str, np.ndarray]],
    horizon: float | None = None,
    steps: int | None = None,
    dt: float = 1e-3,
    params: dict[str, float] | None = None,
    seed: int | Sequence[int] = 0,
    record_every: float = 0.05,
    progress: bool = True,
) -> Trace:
    """Integrate ``module`` on ``graph`` driven by ``task`` from ``t = 0``.

    ``task`` is a :class:`~stlp_sym.runner.tasks.Task` or a plain ``signals(t)`` callable returning
    node arrays such as ``{"u": ..., "z": ...}``; the signals are tabulated a chunk of steps at a
    time (a plain callable is called with ``t`` of shape ``(K, 1)`` and must broadcast to
    ``(K, n)``) and the module's ``run_steps`` takes the chunk. Stops early, keeping the last
    good state, when a state exceeds :data:`DIVERGENCE`. A sequence of seeds runs a batch (a
    parameter may then be one value per member): the trace has a member axis after time.
    """
    if not isinstance(task, Task):
        task = Task("signals", task)
    params = check_params(module, dict(params or {}), dt)
    if hasattr(module, "set_solver"):  # the exact policy: one sparse solve per step
        module.set_solver(sparse_solve)
    steps = run_length(task, horizon, steps, dt)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    seed = _checked_seeds(seed, graph)
    state = module.init(plan, params, seed)
    stride = max(1, _steps_of(record_every, dt, "record_every"))
    outputs = np.flatnonzero(graph.outputs)
    per, fallback = stage_divisor(module), [False]
    first = tabulate(task, np.zeros(1), graph.n, fallback)
    given = {name: value[0] for name, value in first.items()}
    missing = [key for key in getattr(module, "SIGNAL_KEYS", ()) if key not in given]
    if missing:
        raise StlpError(
            f"the model reads the signal(s) {missing}, which task {task.name!r} does not "
            f"provide (it gives {sorted(given)}); a derivative NAME_dK is needed where the "
            "equations differentiate a signal: give signals(t) that provide it"
        )
    module.clamp(0.0, state, plan, given)
    chunk = _chunk_steps(stride, per, graph.n, len(first))
    table = (chunk * per + 1) * graph.n * max(1, len(first)) * 8
    check_memory(table, f"dt = {dt:g}: the signals between two records ({record_every:g} apart)")
    parts, done, record = [], 0, None
    start = time.perf_counter()
    # a kernel's overflow or 0/0 is reported as the divergence it causes (a state that is not
    # finite, with its time, field and node), not as NumPy warnings
    quiet = np.errstate(divide="ignore", over="ignore", invalid="ignore")
    with _progress(steps, progress) as bar, quiet:
        while done < steps or done == 0:
            count = min(chunk, steps - done)
            t0 = done * dt
            times = t0 + np.arange(count * per + 1) * (dt / per)
            table = {"per_step": per, "signals": tabulate(task, times, graph.n, fallback)}
            record = _new_record(module, state, outputs, count // stride + 2, stride)
            record.update(start=done == 0, final=done + count == steps)
            taken = module.run_steps(t0, dt, count, state, plan, params, table, record)
            parts.append({name: rows[: record["count"]] for name, rows in record["rows"].items()})
            done += taken
            bar.update(taken)
            if record["diverged"] is not None or count == 0:
                break
    elapsed = (time.perf_counter() - start) / max(1, done)
    columns = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    diverged = None
    if record["diverged"] is not None:
        found = record["diverged"]
        where = _locate(module, graph, plan, found["state"], found["index"])
        diverged = Divergence(
            found["t"], found["state"], found["index"], found["value"], where, found["member"]
        )
    # a chunk starts at a record point, so its ``good`` starts as the last recorded state
    good = record["good"] if diverged else state
    return Trace(
        columns["t"],
        columns["output"],
        columns["reference"],
        columns["lagrangian"],
        columns["hamiltonian"],
        columns["weight_norm"],
        good,
        elapsed,
        diverged,
    )
