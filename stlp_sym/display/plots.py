"""Figures of runs and checks, saved as PNG files: a run's figure (:meth:`Trace.plot`) and the
back-propagation limit (:func:`backprop_figure`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..checks.backprop import BackpropLimit
from ..files import atomic_stream
from ..runner.figures import math_symbol
from ..runner.trace import Trace


def save_figure(figure, path: Path, dpi: int = 110) -> Path:
    """Save a figure as PNG, atomically (rendered by Agg: no display needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_stream(path, binary=True) as stream:
        figure.savefig(stream, format="png", dpi=dpi)
    return path


def plot_trace(trace: Trace, directory: Path, prefix: str = "", title: str = "") -> list[Path]:
    """Write the run's figure (:meth:`Trace.plot`) as ``<prefix>run.png`` in ``directory``;
    returns the paths written."""
    return [save_figure(trace.plot(title), Path(directory) / f"{prefix}run.png")]


def backprop_figure(limit: BackpropLimit, title: str = ""):
    """The force on each weight against ``-dL*/dw`` by finite differences (they lie on the
    diagonal), and their difference per arc on a log scale."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, width_ratios=(1, 1.3))
    w = math_symbol(limit.field)[1:-1]
    span = max(np.abs(limit.gradient).max(), np.abs(limit.force).max()) * 1.1
    left.plot([-span, span], [-span, span], color="0.7", lw=1.0, label="equality")
    left.plot(limit.gradient, limit.force, "o", color="C0", ms=5, label="one arc")
    left.set_xlabel(f"$-dL^*/d{w}$, central differences of the static objective")
    left.set_ylabel(f"force $m\\,\\ddot{{{w}}}$ from the generated module")
    left.set_aspect("equal")
    left.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), ncols=2, frameon=False)
    difference = np.abs(limit.force - limit.gradient)
    arcs = np.arange(difference.size)
    right.semilogy(arcs, np.maximum(difference, 1e-18), "s", color="C3", ms=4)
    right.axhline(np.abs(limit.gradient).max(), color="0.5", ls="--", lw=1.0)
    right.text(0, np.abs(limit.gradient).max() * 1.5, "largest gradient", fontsize=8)
    right.set_xlabel("arc")
    right.set_ylabel(f"$|m\\,\\ddot{{{w}}} + dL^*/d{w}|$")
    right.set_title(f"largest gap / largest gradient: {limit.gap:.1e}", fontsize=9)
    figure.suptitle(title or "back-propagation limit: the weights' force is the gradient")
    return figure
