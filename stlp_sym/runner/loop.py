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
from types import ModuleType

import numpy as np

from ..codegen.integrators import INTEGRATORS
from ..errors import StlpError, StlpWarning
from ..graph.digraph import ARC_BYTES, NODE_BYTES, Digraph, check_memory
from ..runtime.sparse import sparse_solve
from .checkpoint import Checkpoint
from .monitors import (
    Monitor,
    Resolved,
    base_stride,
    input_signal,
    observed_names,
    resolve_all,
)
from .parameters import check_shape
from .roles import observed_state
from .tasks import Task
from .trace import DIVERGENCE, Divergence, Series, Trace, locate


def _batch_lead(module: ModuleType, state: dict) -> tuple:
    """The member axes of ``state``: a node or arc state's shape but its last axis (a global
    state's whole shape when there is nothing else)."""
    for name, value in state.items():
        if module.STATES[name]["domain"] != "global":
            return value.shape[:-1]
    return np.shape(next(iter(state.values())))


def check_params(
    module: ModuleType,
    params: dict[str, float],
    dt: float,
    graph: Digraph | None = None,
    members: int | None = None,
) -> dict[str, float]:
    """Reject unknown, non-finite or absurd values; warn when the step is unstable. A value
    may be one per member of a batch (a sequence) and, for a parameter on nodes or arcs, one
    per node or arc of ``graph`` (:mod:`stlp_sym.runner.parameters`)."""
    for name, value in params.items():
        if name not in module.PARAMS:
            raise StlpError(f"unknown parameter {name!r}; this model has {sorted(module.PARAMS)}")
        try:
            values = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise StlpError(f"parameter {name!r}: {value!r} is not a number or array") from None
        if not np.all(np.isfinite(values)) or np.any(np.abs(values) > 1e12):
            shown = repr(value) if values.ndim == 0 else f"an array with {_bad(values)}"
            raise StlpError(f"parameter {name} = {shown} is not a usable finite number")
        if graph is not None:
            check_shape(module, name, values, graph.n, graph.n_arcs, members)
    if not (math.isfinite(dt) and dt > 0):
        raise StlpError(f"time step dt = {dt!r} must be a positive finite number")
    merged = {**module.PARAMS, **params}
    warn_if_unstable(module, merged, dt)
    return merged


def _bad(values: np.ndarray) -> str:
    """The first entry of ``values`` that is not finite or beyond 1e12, as text."""
    index = np.flatnonzero(~np.isfinite(values) | (np.abs(np.nan_to_num(values)) > 1e12))[0]
    return f"{values.reshape(-1)[index]} at entry {index}"


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
#: ... and at most this much work, in node and arc updates (steps times ``n + |A|``, plus
#: :data:`STEP_OVERHEAD` a step for the Python around it): a chunk's time is bounded, so that
#: Ctrl-C, which is honoured between chunks, stops a run soon on any graph.
CHUNK_WORK = 2**24
STEP_OVERHEAD = 2000


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


def _chunk_steps(stride: int, per: int, n: int, signals: int, arcs: int = 0) -> int:
    """Steps a chunk: a multiple of ``stride``, with a table of at most :data:`TABLE_BYTES`
    and at most :data:`CHUNK_WORK` updates (from the sizes only, so that chunks, and hence a
    resumed run's numbers, do not depend on the machine's speed)."""
    fit = TABLE_BYTES // (8 * per * max(1, n) * max(1, signals))
    work = CHUNK_WORK // (per * (n + arcs + STEP_OVERHEAD))
    return stride * max(1, min(CHUNK_STEPS, fit, work) // stride)


def _chunk_end(done: int, steps: int, chunk: int, checkpoint_every: int | None) -> int:
    """The step at which the chunk starting at ``done`` ends: the next multiple of ``chunk``
    or of ``checkpoint_every``, or ``steps``. Boundaries on this fixed grid make a resumed run
    take the same chunks, hence the same numbers, as a run never stopped."""
    end = min(steps, (done // chunk + 1) * chunk)
    if checkpoint_every:
        end = min(end, (done // checkpoint_every + 1) * checkpoint_every)
    return end


@dataclass
class _Recorder:
    """The monitors of a run, and their records gathered chunk by chunk."""

    monitors: list[Resolved]
    stride: int
    lead: tuple[int, ...]
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)

    def record(self, done: int, count: int, final: bool, state: dict) -> dict:
        """The run loop's ``record`` for the chunk of ``count`` steps after ``done``."""
        entries = [m.entry(count // m.every + 2, self.lead, self.stride) for m in self.monitors]
        return {
            "stride": self.stride,
            "start": done == 0,
            "final": final,
            "row": done // self.stride + (0 if done == 0 else 1),
            "limit": DIVERGENCE,
            "monitors": entries,
            "good": {name: value.copy() for name, value in state.items()},
            "diverged": None,
        }

    def keep(self, record: dict) -> None:
        """Keep the rows a chunk wrote."""
        for monitor, entry in zip(self.monitors, record["monitors"], strict=True):
            count = entry["count"]
            self.parts.setdefault(monitor.name, []).append(
                (entry["t"][:count].copy(), entry["values"][:count].copy())
            )

    def gathered(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each monitor's ``(t, values)`` so far."""
        out = {}
        for monitor in self.monitors:
            parts = self.parts.get(monitor.name) or [
                (np.zeros(0), monitor.entry(0, self.lead, self.stride)["values"])
            ]
            out[monitor.name] = tuple(np.concatenate(p) for p in zip(*parts, strict=True))
        return out

    def series(self) -> dict[str, Series]:
        """The :class:`~stlp_sym.runner.trace.Series` of every monitor."""
        gathered = self.gathered()
        return {
            m.name: Series(*gathered[m.name], m.spec, m.every, m.dim, m.labels)
            for m in self.monitors
        }


def provenance(
    module: ModuleType, graph: Digraph, params: dict, dt: float, seed: object
) -> dict[str, object]:
    """What a trace records of how it was made: model, options, cache key, graph, parameters,
    ``dt``, seed and versions (the module's own, as generated, and NumPy's at run time)."""
    arcs = [[graph.labels[s], graph.labels[d]] for s, d in zip(graph.src, graph.dst, strict=True)]
    return {
        "model": getattr(module, "MODEL_NAME", ""),
        "options": dict(module.OPTIONS),
        "cache_key": getattr(module, "_KEY", ""),
        "graph": {
            "name": graph.name,
            "n": graph.n,
            "labels": list(graph.labels),
            "arcs": arcs,
            "inputs": np.flatnonzero(graph.inputs).tolist(),
            "outputs": np.flatnonzero(graph.outputs).tolist(),
        },
        "params": {k: np.asarray(v).tolist() for k, v in params.items()},
        "dt": dt,
        "seed": seed,
        "versions": {**getattr(module, "VERSIONS", {}), "numpy": np.__version__},
    }


def roles(module: ModuleType, graph: Digraph) -> dict[str, object]:
    """What a trace's figures name: the observed output field and target signal, the input
    signal, and the graph's ids of the input and output nodes."""
    output, target = observed_names(module)
    return {
        "observed": {"output": output, "target": target},
        "input_signal": input_signal(module),
        "input_nodes": [str(graph.labels[k]) for k in np.flatnonzero(graph.inputs)],
        "output_nodes": [str(graph.labels[k]) for k in np.flatnonzero(graph.outputs)],
    }


def _frozen(module: ModuleType, freeze: Sequence[str]) -> list[str]:
    """The states held fixed: every state of a frozen field, or a state named directly."""
    states = []
    for name in freeze:
        chain = [s for s, info in module.STATES.items() if info["field"] == name]
        if not chain and name not in module.STATES:
            fields = sorted({info["field"] for info in module.STATES.values()})
            raise StlpError(
                f"--freeze {name!r}: not a field or state of this model; its fields: "
                f"{', '.join(fields)}"
            )
        states += chain or [name]
    return states


def _start_state(module: ModuleType, plan: dict, params: dict, seed, given) -> dict:
    """``init``'s state, or a copy of ``given`` checked against it (names and shapes)."""
    state = module.init(plan, params, seed)
    if given is None:
        return state
    if set(given) != set(state):
        raise StlpError(
            f"state= has the entries {sorted(given)}; this model and graph need {sorted(state)}"
        )
    for name, value in state.items():
        if np.shape(given[name]) != value.shape:
            raise StlpError(
                f"state[{name!r}] has shape {np.shape(given[name])}; expected {value.shape}"
            )
    return {name: np.array(given[name], dtype=float) for name in state}


def _check_signals(module: ModuleType, task: Task, given: dict) -> None:
    missing = [key for key in getattr(module, "SIGNAL_KEYS", ()) if key not in given]
    if missing:
        raise StlpError(
            f"the model reads the signal(s) {missing}, which task {task.name!r} does not "
            f"provide (it gives {sorted(given)}); a derivative NAME_dK is needed where the "
            "equations differentiate a signal: give signals(t) that provide it"
        )


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
    monitor: Sequence[str | Monitor] = (),
    freeze: Sequence[str] = (),
    state: dict[str, np.ndarray] | None = None,
    checkpoint_every: int | None = None,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
    stop: Callable[[], bool] | None = None,
    resume: Checkpoint | None = None,
) -> Trace:
    """Integrate ``module`` on ``graph`` driven by ``task`` from ``t = 0``.

    ``task`` is a :class:`~stlp_sym.runner.tasks.Task` (a built-in task speaks in roles, given
    to the module under its own signal names) or a plain ``signals(t)`` callable returning node
    arrays keyed by the module's signal names, such as ``{"u": ..., "z": ...}``; the signals
    are tabulated a chunk of steps at a time (a plain callable is called with ``t`` of shape
    ``(K, 1)`` and must broadcast to ``(K, n)``) and the module's ``run_steps`` takes the
    chunk. Stops early, keeping the last good state, when a state exceeds
    :data:`DIVERGENCE`. A sequence of seeds runs a batch (a parameter may then be one value
    per member): the trace has a member axis after time. The module's ``OBSERVED`` output
    field and target signal are recorded on the output nodes and scored.

    ``monitor`` adds monitors (:mod:`~stlp_sym.runner.monitors`, e.g. ``"w@2->1"``,
    ``"L@nodes"``, ``"x:every=10"``) to the default ones (outputs, targets, ``L``, ``H``, the
    weights' norm, every ``record_every``); ``freeze`` names fields (or states) whose states no
    step changes; ``state`` replaces the initial state (``init``'s, whose names and shapes it
    must have). Every ``checkpoint_every`` steps (rounded up to the record interval)
    ``on_checkpoint`` receives a :class:`~stlp_sym.runner.checkpoint.Checkpoint`;
    ``run(..., resume=checkpoint)`` continues it, bit for bit. ``stop()`` is asked between two
    chunks; when it says True the run ends there (``trace.interrupted``).
    """
    if not isinstance(task, Task):
        task = Task("signals", task)
    task = task.for_module(module)
    observed_state(module)  # an output without a state is refused before the run
    seed = _checked_seeds(seed, graph)
    members = len(seed) if isinstance(seed, list) else None
    params = check_params(module, dict(params or {}), dt, graph, members)
    if hasattr(module, "set_solver"):  # the exact policy: one sparse solve per step
        module.set_solver(sparse_solve)
    steps = run_length(task, horizon, steps, dt)
    task.check_horizon(steps * dt)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    plan["frozen"] = _frozen(module, freeze)
    state = _start_state(module, plan, params, seed, resume.state if resume else state)
    monitors = resolve_all(
        list(monitor), module, graph, plan, max(1, _steps_of(record_every, dt, "record_every"))
    )
    session = _Session(
        module, graph, task, plan, params, state, dt,
        steps,
        _Recorder(monitors, base_stride(monitors), _batch_lead(module, state)),
    )  # fmt: skip
    session.start(checkpoint_every, resume)
    table = (session.chunk * session.per + 1) * graph.n * max(1, len(session.first)) * 8
    check_memory(table, f"dt = {dt:g}: the signals between two records ({record_every:g} apart)")
    record, interrupted = session.loop(progress, stop, on_checkpoint)
    diverged = _divergence(module, graph, plan, record)
    # a chunk starts at a record point, so its ``good`` starts as the last recorded state
    return Trace(
        session.recorder.series(),
        record["good"] if diverged else state,
        session.seconds / max(1, session.done - (resume.steps if resume else 0)),
        diverged,
        meta={**provenance(module, graph, params, dt, seed), **roles(module, graph)},
        steps=session.done,
        interrupted=interrupted,
        members=len(seed) if isinstance(seed, list) else None,
    )


def _divergence(module: ModuleType, graph: Digraph, plan: dict, record) -> Divergence | None:
    """Where the run diverged, from the last chunk's ``record`` (None: it did not)."""
    if record is None or record["diverged"] is None:
        return None
    found = record["diverged"]
    where = locate(module, graph, plan, found["state"], found["index"])
    return Divergence(
        found["t"], found["state"], found["index"], found["value"], where, found["member"]
    )


@dataclass
class _Session:
    """A run under way: what it integrates, where it stands (``done`` steps, ``seconds``)."""

    module: ModuleType
    graph: Digraph
    task: Task
    plan: dict
    params: dict
    state: dict
    dt: float
    steps: int
    recorder: _Recorder
    done: int = 0
    seconds: float = 0.0
    per: int = 1
    chunk: int = 1
    checkpoint_every: int | None = None
    fallback: list = field(default_factory=lambda: [False])
    first: dict = field(default_factory=dict)

    def start(self, checkpoint_every: int | None, resume: Checkpoint | None) -> None:
        """Check the signals, clamp the start state, size the chunks; continue ``resume``."""
        stride, graph = self.recorder.stride, self.graph
        if checkpoint_every:  # rounded up to a record point
            self.checkpoint_every = -(-int(checkpoint_every) // stride) * stride
        self.per = stage_divisor(self.module)
        first = self.first = tabulate(self.task, np.zeros(1), graph.n, self.fallback)
        given = {name: value[0] for name, value in first.items()}
        _check_signals(self.module, self.task, given)
        self.module.clamp(0.0, self.state, self.plan, given)
        self.chunk = _chunk_steps(stride, self.per, graph.n, len(first), graph.n_arcs)
        if resume is not None:
            self.done, self.seconds = resume.steps, resume.seconds
            self.recorder.parts = {name: [part] for name, part in resume.series.items()}

    def advance(self) -> tuple[dict, int]:
        """Run the next chunk; returns its ``record`` and the steps it was to take."""
        end = _chunk_end(self.done, self.steps, self.chunk, self.checkpoint_every)
        done, per, count, start = self.done, self.per, end - self.done, time.perf_counter()
        times = (done * per + np.arange(count * per + 1)) * (self.dt / per)
        table = {
            "per_step": per,
            "signals": tabulate(self.task, times, self.graph.n, self.fallback),
        }
        record = self.recorder.record(done, count, end == self.steps, self.state)
        taken = self.module.run_steps(
            done * self.dt, self.dt, count, self.state, self.plan, self.params, table, record
        )
        self.seconds += time.perf_counter() - start  # the signals' tabulation included
        self.recorder.keep(record)
        self.done += taken
        return record, count

    def loop(self, progress: bool, stop, on_checkpoint) -> tuple[dict | None, bool]:
        """Chunks to the end, a divergence or ``stop()``; returns the last chunk's record and
        whether ``stop()`` ended the run."""
        record, every = None, self.checkpoint_every
        # a kernel's overflow or 0/0 is reported as the divergence it causes (a state that is
        # not finite, with its time, field and node), not as NumPy warnings
        quiet = np.errstate(divide="ignore", over="ignore", invalid="ignore")
        with _progress(self.steps - self.done, progress) as bar, quiet:
            while self.done < self.steps or (self.done == 0 and record is None):
                if stop is not None and record is not None and stop():
                    return record, True
                before = self.done
                record, count = self.advance()
                bar.update(self.done - before)
                if record["diverged"] is not None or count == 0:
                    break
                if on_checkpoint and every and self.done % every == 0 and self.done < self.steps:
                    on_checkpoint(
                        Checkpoint(self.done, self.state, self.recorder.gathered(), self.seconds)
                    )
        return record, False
