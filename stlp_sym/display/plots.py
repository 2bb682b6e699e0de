"""Plots of a run: output against reference, L/phi and H/phi, the weights' norm."""

from __future__ import annotations

from pathlib import Path

from ..files import atomic_stream
from ..runner.loop import Trace


def _save(figure, path: Path) -> Path:
    """Save a figure as PNG, atomically."""
    with atomic_stream(path, binary=True) as stream:
        figure.savefig(stream, format="png", dpi=110)
    return path


def _tracking(trace: Trace, title: str):
    """Output against target on every output node (the first member of a batch), by the names
    the model observes; None when it observes no output."""
    from matplotlib.figure import Figure

    names = trace.meta.get("observed", {"output": "x", "target": "z"})
    if names["output"] is None or trace.output.shape[-1] == 0:
        return None
    output, reference = trace.output, trace.reference
    if trace.members:
        output, reference = output[:, 0], reference[:, 0]
    figure = Figure(figsize=(9, 3.2), layout="constrained")
    axes = figure.subplots()
    for k in range(output.shape[-1]):
        node = f"output {k}" if output.shape[-1] > 1 else "output"
        if names["target"] is not None:
            label = f"target {names['target']}(t), {node}"
            axes.plot(trace.t, reference[:, k], color=f"C{k}", ls=":", lw=1.2, label=label)
        label = f"{names['output']}(t), {node}"
        axes.plot(trace.t, output[:, k], color=f"C{k}", lw=1.0, label=label)
    axes.set(xlabel="t", ylabel="value", title=f"{title} output against target".strip())
    if trace.diverged is not None:
        axes.axvline(trace.diverged.t, color="C3", ls="--", label="diverged")
    axes.legend(loc="upper right", fontsize=8)
    return figure


def plot_trace(trace: Trace, directory: Path, prefix: str = "", title: str = "") -> list[Path]:
    """Write ``tracking.png`` (when the model observes an output), ``energy.png`` and
    ``weights.png`` (with ``prefix``) in ``directory``; returns their paths."""
    from matplotlib.figure import Figure

    directory = Path(directory)
    written = []

    figure = _tracking(trace, title)
    if figure is not None:
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
