"""Plots of a run: output against reference, L/phi and H/phi, the weights' norm."""

from __future__ import annotations

from pathlib import Path

from ..files import atomic_stream
from ..runner.trace import Trace


def _save(figure, path: Path) -> Path:
    """Save a figure as PNG, atomically."""
    with atomic_stream(path, binary=True) as stream:
        figure.savefig(stream, format="png", dpi=110)
    return path


def plot_trace(trace: Trace, directory: Path, prefix: str = "", title: str = "") -> list[Path]:
    """Write ``tracking.png``, ``energy.png`` and ``weights.png`` (with ``prefix``) in
    ``directory``; returns their paths."""
    from matplotlib.figure import Figure

    directory = Path(directory)
    written = []

    figure = Figure(figsize=(9, 3.2), layout="constrained")
    axes = figure.subplots()
    axes.plot(trace.t, trace.reference[:, 0], color="0.3", lw=1.2, label="reference z(t)")
    axes.plot(trace.t, trace.output[:, 0], color="C0", lw=1.0, label="output x_o(t)")
    axes.set(xlabel="t", ylabel="value", title=f"{title} output against reference".strip())
    if trace.diverged is not None:
        axes.axvline(trace.diverged.t, color="C3", ls="--", label="diverged")
    axes.legend(loc="upper right", fontsize=8)
    written.append(_save(figure, directory / f"{prefix}tracking.png"))

    figure = Figure(figsize=(9, 3.2), layout="constrained")
    axes = figure.subplots()
    axes.plot(trace.t, trace.lagrangian, label="L / phi")
    axes.plot(trace.t, trace.hamiltonian, label="H / phi")
    axes.set(xlabel="t", ylabel="energy", title=f"{title} Lagrangian and Hamiltonian".strip())
    axes.legend(loc="upper right", fontsize=8)
    written.append(_save(figure, directory / f"{prefix}energy.png"))

    figure = Figure(figsize=(9, 3.2), layout="constrained")
    axes = figure.subplots()
    axes.plot(trace.t, trace.weight_norm, color="C2")
    axes.set(xlabel="t", ylabel="||w||", title=f"{title} norm of the weights".strip())
    written.append(_save(figure, directory / f"{prefix}weights.png"))
    return written
