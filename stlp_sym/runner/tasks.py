"""Tasks: the signals a run is driven by (docs/theory.md section 6).

A task turns a graph into ``signals(t) -> {"input": ..., "target": ...}`` (node arrays: the
input on the input nodes, the target on the output nodes, keyed by role; the runner gives them
to a module under its own signal names, :mod:`stlp_sym.runner.roles`) and says which part of the
run is scored.

- ``tracking-sine``: input ``cos t`` on every input, target ``sin t`` on every output, horizon 100.
- ``tracking-piecewise``: the "highly unpredictable" signal of the paper: seeded intervals of
  cosines (random amplitude, frequency, phase) and constants, patched together; input ``cos t``.
- a CSV file (:mod:`~stlp_sym.runner.signalfile`): columns ``t``, ``z`` or ``z[NODE]`` (the
  target), and optionally ``u`` or ``u[NODE]`` (the input; ``cos t`` on the inputs it leaves
  out), interpolated linearly in ``t``; its horizon is the data's end.

>>> from stlp_sym.graph.digraph import Digraph
>>> task = make_task("tracking-sine", Digraph.from_spec("complete:3:in=1"))
>>> task.signals(0.0)["input"].tolist(), task.horizon
([1.0, 0.0, 0.0], 100.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from ..errors import StlpError
from ..graph.digraph import Digraph
from .roles import INPUT, TARGET, in_module_names
from .signalfile import read_signal_file

Signals = Callable[[float], dict[str, np.ndarray]]
#: ``table(times)``: the signals at each of ``K`` times, arrays of shape ``(K, n)``
Table = Callable[[np.ndarray], dict[str, np.ndarray]]
TASKS: tuple[str, ...] = ("tracking-sine", "tracking-piecewise")


@dataclass(frozen=True)
class Task:
    """Signals on a graph, a default horizon and the scored fraction at the end of a run.

    ``signals(t)`` returns node arrays keyed by the module's signal names (``u``, ``z``, and
    any derivatives ``u_d1``, ... it knows), or, with ``roles=True``, keyed by role
    (``input``, ``target``, ``input_d1``, ...: :mod:`stlp_sym.runner.roles`); a plain callable
    can be wrapped as ``Task("mine", signals, horizon=50.0)``. ``table(times)``, when given,
    returns the same signals at many times at once, ``(K, n)`` arrays (the runner tabulates a
    chunk of steps).
    """

    name: str
    signals: Signals
    horizon: float = 100.0
    score_fraction: float = 0.2
    table: Table | None = None
    #: whether the signals are keyed by role (``input``, ``target``) rather than by name
    roles: bool = False
    #: Whether the signals depend on the seed (runs of different seeds cannot share them).
    seeded: bool = False
    #: where the signals come from (a file), for messages
    source: str = ""
    #: the last time the signals are known at (None: at all times)
    data_end: float | None = None
    #: past ``data_end``, hold the last values instead of refusing the run
    hold_last: bool = False

    def check_horizon(self, horizon: float) -> None:
        """Refuse a run past the end of the data (unless ``hold_last``): an error naming the
        source, before the run starts."""
        if self.data_end is None or self.hold_last:
            return
        if horizon > self.data_end + 1e-9 * max(1.0, abs(self.data_end)):
            raise StlpError(
                f"{self.source}: the data end at t = {self.data_end:g}, before the horizon "
                f"t = {horizon:g}: give a shorter --horizon or --steps, or --hold-last to hold "
                "the last values"
            )

    def for_module(self, module: ModuleType) -> Task:
        """This task giving its signals by ``module``'s signal names (to call ``module.step``
        with ``task.for_module(module).signals`` directly)."""
        return in_module_names(self, module)


def _node_signals(
    graph: Digraph,
    u: Callable[[float], float],
    z: Callable[[float], float],
    u_derivatives: tuple[Callable[[float], float], ...] = (),
):
    """``signals(t)`` writing into preallocated node arrays (no allocation per call).

    ``u_derivatives`` give ``u_d1``, ``u_d2``, ... (the exact policy pins the clamped
    inputs' accelerations to them).
    """
    inputs, outputs = graph.inputs.copy(), graph.outputs.copy()
    on_inputs = {INPUT: u, **{f"{INPUT}_d{k + 1}": f for k, f in enumerate(u_derivatives)}}
    values = {name: np.zeros(graph.n) for name in (*on_inputs, TARGET)}

    def signals(t: float) -> dict[str, np.ndarray]:
        for name, f in on_inputs.items():
            values[name][inputs] = f(t)
        values[TARGET][outputs] = z(t)
        return values

    return signals


def _node_table(
    graph: Digraph,
    u: Callable[[np.ndarray], np.ndarray],
    z: Callable[[np.ndarray], np.ndarray],
    u_derivatives: tuple[Callable[[np.ndarray], np.ndarray], ...] = (),
) -> Table:
    """``table(times)`` of the same signals as :func:`_node_signals`, with vectorised ``u``,
    ``z`` and derivatives: ``(K, n)`` arrays, zero off the inputs (outputs for ``z``)."""
    inputs, outputs = graph.inputs.copy(), graph.outputs.copy()
    on_inputs = {INPUT: u, **{f"{INPUT}_d{k + 1}": f for k, f in enumerate(u_derivatives)}}

    def table(times: np.ndarray) -> dict[str, np.ndarray]:
        times = np.asarray(times, dtype=float).reshape(-1, 1)
        values = {}
        for name, f in on_inputs.items():
            values[name] = np.where(inputs, f(times), 0.0)
        values[TARGET] = np.where(outputs, z(times), 0.0)
        return values

    return table


_COS_DERIVATIVES = (lambda t: -math.sin(t), lambda t: -math.cos(t))
_NP_COS_DERIVATIVES = (lambda t: -np.sin(t), lambda t: -np.cos(t))


def piecewise_reference(seed: int, horizon: float) -> Callable[[float], float]:
    """Seeded intervals (10 to 20 time units) of cosines and constants, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    pieces = []
    start = 0.0
    while start < horizon:
        length = float(rng.uniform(10.0, 20.0))
        if rng.random() < 0.5:
            pieces.append((start, "const", float(rng.uniform(-1, 1)), 0.0, 0.0))
        else:
            amplitude, omega = float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.3, 1.2))
            pieces.append((start, "cos", amplitude, omega, float(rng.uniform(0, 2 * math.pi))))
        start += length
    starts = np.array([p[0] for p in pieces])
    const = np.array([p[1] == "const" for p in pieces])
    a, omega, phase = (np.array([p[k] for p in pieces]) for k in (2, 3, 4))

    def reference(t):
        """The reference at ``t``, a float, or an array of the shape of an array ``t``."""
        i = np.maximum(0, np.searchsorted(starts, t, "right") - 1)
        value = np.where(const[i], a[i], a[i] * np.cos(omega[i] * t + phase[i]))
        return float(value) if np.ndim(value) == 0 else value

    return reference


def file_task(path: str | Path, graph: Digraph, hold_last: bool = False) -> Task:
    """The task of a CSV signal file (:func:`~stlp_sym.runner.signalfile.read_signal_file`):
    its horizon is the data's end; inputs without a ``u`` column get ``u = cos t``."""
    data = read_signal_file(path, graph)
    undriven = graph.inputs.copy()
    undriven[list(data.columns.get("u", {}))] = False

    def table(times: np.ndarray) -> dict[str, np.ndarray]:
        values = data.at(times)
        u = values.setdefault("u", np.zeros_like(values["z"]))
        u[:, undriven] = np.cos(np.reshape(times, (-1, 1)))
        return {INPUT: u, TARGET: values["z"]}

    def signals(t):
        values = table(np.asarray(t))
        return {name: v[0] for name, v in values.items()} if np.ndim(t) == 0 else values

    end = data.end
    return Task(
        "csv",
        signals,
        end,
        table=table,
        roles=True,
        source=str(path),
        data_end=end,
        hold_last=hold_last,
    )


def make_task(
    name: str,
    graph: Digraph,
    seed: int = 0,
    signal_file: str | Path | None = None,
    hold_last: bool = False,
) -> Task:
    """The task ``name`` on ``graph``; a ``signal_file`` replaces it (:func:`file_task`)."""
    if not graph.outputs.any():
        raise StlpError(
            f"task {name!r} needs output nodes, and graph {graph.name!r} has none: "
            "add ':out=K' to the graph spec"
        )
    if signal_file is not None:
        return file_task(signal_file, graph, hold_last)
    if name == "tracking-sine":
        signals = _node_signals(graph, math.cos, math.sin, _COS_DERIVATIVES)
        table = _node_table(graph, np.cos, np.sin, _NP_COS_DERIVATIVES)
        return Task(name, signals, 100.0, table=table, roles=True)
    if name == "tracking-piecewise":
        reference = piecewise_reference(seed, 200.0)
        signals = _node_signals(graph, math.cos, reference, _COS_DERIVATIVES)
        table = _node_table(graph, np.cos, reference, _NP_COS_DERIVATIVES)
        return Task(name, signals, 200.0, table=table, seeded=True, roles=True)
    raise StlpError(f"unknown task {name!r}; tasks: {', '.join(TASKS)} (or --signal FILE.csv)")
