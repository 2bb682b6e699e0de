"""What a run recorded: the :class:`Trace`, and where a run diverged (:class:`Divergence`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from ..files import atomic_stream
from ..graph.digraph import Digraph

#: A run diverges when any state exceeds this in absolute value (docs/theory.md section 2).
DIVERGENCE = 1e6


@dataclass(frozen=True)
class Divergence:
    """Where a run blew up: the time, the state (and its field), the node or arc, and the
    member of a batch (None unbatched)."""

    t: float
    state: str
    index: int
    value: float
    where: str = ""
    member: int | None = None

    def __str__(self) -> str:
        member = "" if self.member is None else f"member {self.member}: "
        return (
            f"diverged at t = {self.t:.4g}: {member}{self.where or f'{self.state}[{self.index}]'}: "
            f"|value| = {abs(self.value):.6g} exceeds {DIVERGENCE:g}"
        )


def locate(module: ModuleType, graph: Digraph, plan: dict, state: str, index: int) -> str:
    """``field w (state w_d1) on arc 3 -> 1`` or ``field x on node 4`` (``index`` in the
    plan's arc order)."""
    info = module.STATES[state]
    name = info["field"] if info["field"] == state else f"{info['field']} (state {state})"
    if info["domain"] == "edge":
        return f"field {name} on arc {plan['src'][index]} -> {plan['dst'][index]}"
    return f"field {name} on node {index}"


@dataclass
class Trace:
    """What a run recorded, every ``record_every`` steps.

    ``output`` and ``reference`` have one column per output node; ``lagrangian`` and
    ``hamiltonian`` are ``L/phi`` and ``H/phi`` for normalised modules; ``state`` is the last
    state that did not diverge. A batch (``run(..., seed=[...])``) has a member axis after
    time in every array (``output`` is ``(records, B, outputs)``) and in ``state``.
    ``inputs`` holds the input signal at the input nodes, ``(records, inputs)`` (the same for
    every member), or None.
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
    inputs: np.ndarray | None = None

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

    def plot(self, title: str = "", member: int = 0, window: float | None = None):
        """The run as a :class:`matplotlib.figure.Figure`: one panel per output node (its
        field, its target and the input), the tracking error's moving average (log scale),
        ``L/phi`` and ``H/phi``, and the weights' norm against time (see
        :func:`~stlp_sym.runner.figures.trace_figure`). Save it with ``.savefig(path)``; a
        notebook shows it. ``member`` picks a member of a batch."""
        from .figures import trace_figure

        return trace_figure(self, title, member, window)

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
