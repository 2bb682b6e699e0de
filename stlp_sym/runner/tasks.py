"""Tasks: the signals a run is driven by (docs/theory.md section 6).

A task turns a graph into ``signals(t) -> {"u": ..., "z": ...}`` (node arrays: ``u`` on the
inputs, ``z`` on the outputs) and says which part of the run is scored.

- ``tracking-sine``: ``u = cos t`` on every input, ``z = sin t`` on every output, horizon 100.
- ``tracking-piecewise``: the "highly unpredictable" signal of the paper: seeded intervals of
  cosines (random amplitude, frequency, phase) and constants, patched together; ``u = cos t``.
- a CSV file with a header ``t,z`` (and optionally ``u``): linearly interpolated in ``t``.

>>> from stlp_sym.graph.digraph import Digraph
>>> task = make_task("tracking-sine", Digraph.from_spec("complete:3:in=1"))
>>> task.signals(0.0)["u"].tolist(), task.horizon
([1.0, 0.0, 0.0], 100.0)
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StlpError
from ..graph.digraph import Digraph

Signals = Callable[[float], dict[str, np.ndarray]]
#: ``table(times)``: the signals at each of ``K`` times, arrays of shape ``(K, n)``
Table = Callable[[np.ndarray], dict[str, np.ndarray]]
TASKS: tuple[str, ...] = ("tracking-sine", "tracking-piecewise")


@dataclass(frozen=True)
class Task:
    """Signals on a graph, a default horizon and the scored fraction at the end of a run.

    ``signals(t)`` returns node arrays (``u`` on the inputs, ``z`` on the outputs, and any
    derivatives ``u_d1``, ... it knows); a plain callable can be wrapped as
    ``Task("mine", signals, horizon=50.0)``. ``table(times)``, when given, returns the same
    signals at many times at once, ``(K, n)`` arrays (the runner tabulates a chunk of steps).
    """

    name: str
    signals: Signals
    horizon: float = 100.0
    score_fraction: float = 0.2
    table: Table | None = None
    #: Whether the signals depend on the seed (runs of different seeds cannot share them).
    seeded: bool = False


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
    on_inputs = {"u": u, **{f"u_d{k + 1}": f for k, f in enumerate(u_derivatives)}}
    values = {name: np.zeros(graph.n) for name in (*on_inputs, "z")}

    def signals(t: float) -> dict[str, np.ndarray]:
        for name, f in on_inputs.items():
            values[name][inputs] = f(t)
        values["z"][outputs] = z(t)
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
    on_inputs = {"u": u, **{f"u_d{k + 1}": f for k, f in enumerate(u_derivatives)}}

    def table(times: np.ndarray) -> dict[str, np.ndarray]:
        times = np.asarray(times, dtype=float).reshape(-1, 1)
        values = {}
        for name, f in on_inputs.items():
            values[name] = np.where(inputs, f(times), 0.0)
        values["z"] = np.where(outputs, z(times), 0.0)
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


def csv_reference(path: Path) -> tuple[Callable[[float], float], Callable[[float], float] | None]:
    """``z(t)`` (and ``u(t)`` if present) from a CSV file with a header ``t,z[,u]``."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise StlpError(f"cannot read signal file {path}: {error}") from error
    if not rows or "t" not in rows[0] or "z" not in rows[0]:
        raise StlpError(f"{path}: the first line must be a header with columns t and z (and u)")
    header = [h.strip() for h in rows[0]]
    columns: dict[str, list[float]] = {name: [] for name in header}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise StlpError(f"{path}, line {line}: expected {len(header)} values, got {len(row)}")
        for name, text in zip(header, row, strict=True):
            try:
                value = float(text)
            except ValueError:
                raise StlpError(f"{path}, line {line}: {text!r} is not a number") from None
            if not math.isfinite(value):
                raise StlpError(f"{path}, line {line}: {name} = {text} is not finite")
            columns[name].append(value)
    times = np.array(columns["t"])
    if times.size < 2 or np.any(np.diff(times) <= 0):
        raise StlpError(f"{path}: column t must have at least two strictly increasing values")

    def column(name: str) -> Callable[[float], float]:
        values = np.array(columns[name])
        return lambda t: np.interp(t, times, values)

    return column("z"), (column("u") if "u" in columns else None)


def make_task(name: str, graph: Digraph, seed: int = 0, signal_file: Path | None = None) -> Task:
    """The task ``name`` on ``graph`` (``signal_file`` replaces the reference signal)."""
    if not graph.outputs.any():
        raise StlpError(
            f"task {name!r} needs output nodes, and graph {graph.name!r} has none: "
            "add ':out=K' to the graph spec"
        )
    if signal_file is not None:
        reference, u = csv_reference(Path(signal_file))
        signals = _node_signals(graph, u or math.cos, reference)
        return Task("csv", signals, 100.0, table=_node_table(graph, u or np.cos, reference))
    if name == "tracking-sine":
        signals = _node_signals(graph, math.cos, math.sin, _COS_DERIVATIVES)
        table = _node_table(graph, np.cos, np.sin, _NP_COS_DERIVATIVES)
        return Task(name, signals, 100.0, table=table)
    if name == "tracking-piecewise":
        reference = piecewise_reference(seed, 200.0)
        signals = _node_signals(graph, math.cos, reference, _COS_DERIVATIVES)
        table = _node_table(graph, np.cos, reference, _NP_COS_DERIVATIVES)
        return Task(name, signals, 200.0, table=table, seeded=True)
    raise StlpError(f"unknown task {name!r}; tasks: {', '.join(TASKS)} (or --signal FILE.csv)")
