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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

import numpy as np

from ..codegen.integrators import INTEGRATORS
from ..errors import StlpError, StlpWarning
from ..files import atomic_stream
from ..graph.digraph import Digraph
from ..runtime.sparse import sparse_solve
from .tasks import Task

#: A run diverges when any state exceeds this in absolute value (MATH.md section 2).
DIVERGENCE = 1e6


@dataclass(frozen=True)
class Divergence:
    """Where a run blew up: the time, the state (and its field) and the node or arc."""

    t: float
    state: str
    index: int
    value: float
    where: str = ""

    def __str__(self) -> str:
        return (
            f"diverged at t = {self.t:.4g}: {self.where or f'{self.state}[{self.index}]'}: "
            f"|value| = {abs(self.value):.6g} exceeds {DIVERGENCE:g}"
        )


def _locate(module: ModuleType, graph: Digraph, state: str, index: int) -> str:
    """``field w (state w_d1) on arc 3 -> 1`` or ``field x on node 4``."""
    info = module.STATES[state]
    name = info["field"] if info["field"] == state else f"{info['field']} (state {state})"
    if info["domain"] == "edge":
        return f"field {name} on arc {graph.src[index]} -> {graph.dst[index]}"
    return f"field {name} on node {index}"


@dataclass
class Trace:
    """What a run recorded, every ``record_every`` steps.

    ``output`` and ``reference`` have one column per output node; ``lagrangian`` and
    ``hamiltonian`` are ``L/phi`` and ``H/phi`` for normalised modules; ``state`` is the last
    state that did not diverge.
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

    def score(self, fraction: float = 0.2) -> float:
        """Mean of ``(x_o - z)^2 / var(z)`` over the last ``fraction`` of the horizon."""
        if self.diverged is not None or len(self.t) < 2:
            return math.inf
        window = self.t >= self.t[-1] * (1 - fraction)
        error = np.mean((self.output[window] - self.reference[window]) ** 2)
        variance = np.var(self.reference[window])
        return float(error / variance) if variance > 0 else float(error)

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


def check_params(module: ModuleType, params: dict[str, float], dt: float) -> dict[str, float]:
    """Reject unknown, non-finite or absurd values; warn when the step is unstable."""
    for name, value in params.items():
        if name not in module.PARAMS:
            raise StlpError(f"unknown parameter {name!r}; this model has {sorted(module.PARAMS)}")
        if not math.isfinite(value) or abs(value) > 1e12:
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


def _first_divergence(state: dict[str, np.ndarray], t: float) -> Divergence | None:
    for name, values in state.items():
        if values.size and not np.all(np.abs(values) <= DIVERGENCE):  # also catches NaN
            index = int(np.argmax(np.where(np.isfinite(values), np.abs(values), np.inf)))
            return Divergence(t, name, index, float(values[index]))
    return None


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, unit="step", mininterval=0.5, leave=False)


def run(
    module: ModuleType,
    graph: Digraph,
    task: Task | Callable[[float], dict[str, np.ndarray]],
    horizon: float | None = None,
    steps: int | None = None,
    dt: float = 1e-3,
    params: dict[str, float] | None = None,
    seed: int = 0,
    record_every: float = 0.05,
    progress: bool = True,
) -> Trace:
    """Integrate ``module`` on ``graph`` driven by ``task`` from ``t = 0``.

    ``task`` is a :class:`~stlp_sym.runner.tasks.Task` or a plain ``signals(t)`` callable returning
    node arrays such as ``{"u": ..., "z": ...}``. Stops early, keeping the last good state,
    when a state exceeds :data:`DIVERGENCE`.
    """
    if not isinstance(task, Task):
        task = Task("signals", task)
    params = check_params(module, dict(params or {}), dt)
    if hasattr(module, "set_solver"):  # the exact policy: one sparse solve per step
        module.set_solver(sparse_solve)
    steps = steps if steps is not None else round((horizon or task.horizon) / dt)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = module.init(plan, params, seed)
    given = task.signals(0.0)
    missing = [key for key in getattr(module, "SIGNAL_KEYS", ()) if key not in given]
    if missing:
        raise StlpError(
            f"the model reads the signal(s) {missing}, which task {task.name!r} does not "
            f"provide (it gives {sorted(given)}); a derivative NAME_dK is needed where the "
            "equations differentiate a signal: give signals(t) that provide it"
        )
    module.clamp(0.0, state, plan, given)
    stride = max(1, round(record_every / dt))
    outputs = np.flatnonzero(graph.outputs)
    weights = [
        name
        for name, info in module.STATES.items()
        if info["domain"] == "edge" and info["order"] == 0
    ]
    rows, good, diverged = [], {k: v.copy() for k, v in state.items()}, None

    def record(t: float) -> None:
        signals = task.signals(t)
        rows.append(
            (
                t,
                state["x"][outputs].copy() if "x" in state else np.zeros(len(outputs)),
                signals["z"][outputs].copy() if "z" in signals else np.zeros(len(outputs)),
                module.lagrangian(t, state, plan, params, signals),
                module.hamiltonian(t, state, plan, params, signals),
                float(np.sqrt(sum(np.sum(state[w] ** 2) for w in weights))),
            )
        )

    record(0.0)
    start = time.perf_counter()
    with _progress(steps, progress) as bar:
        for k in range(steps):
            module.step(k * dt, dt, state, plan, params, task.signals)
            t = (k + 1) * dt
            diverged = _first_divergence(state, t)
            if diverged is not None:
                where = _locate(module, graph, diverged.state, diverged.index)
                diverged = replace(diverged, where=where)
                break
            if (k + 1) % stride == 0 or k + 1 == steps:
                good = {name: value.copy() for name, value in state.items()}
                record(t)
            bar.update(1)
    elapsed = (time.perf_counter() - start) / max(1, k + 1)
    t, out, ref, lag, ham, norm = (np.array(column) for column in zip(*rows, strict=True))
    return Trace(t, out, ref, lag, ham, norm, good if diverged else state, elapsed, diverged)
