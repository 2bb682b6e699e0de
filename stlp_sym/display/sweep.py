"""The summary figure of a sweep: each run's score against each swept parameter.

One panel per swept parameter, one line per combination of the other swept parameters (the
median over seeds, every seed's score as a dot); runs that diverged are marked at the top of
the panel. A sweep over seeds alone shows the score per seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..files import atomic_stream


def swept_parameters(dataset) -> list[str]:
    """The swept parameters of a sweep's dataset: its per-run coordinates besides ``seed``."""
    return [
        name
        for name, coord in dataset.coords.items()
        if coord.dims == ("run",) and name not in {"run", "seed"}
    ]


def _panel(axes, dataset, name: str, others: list[str]) -> None:
    groups = dataset.groupby(others) if others else [((), dataset)]
    for label, group in groups:
        label = label if isinstance(label, tuple) else (label,)
        values = np.unique(group[name].values)
        score = group.score.values
        finite = np.isfinite(score)
        medians = [np.median(score[finite & (group[name].values == v)]) for v in values]
        text = ", ".join(f"{o} = {v:g}" for o, v in zip(others, label, strict=True))
        line = axes.plot(values, medians, marker="o", label=text or "median over seeds")[0]
        axes.scatter(group[name].values[finite], score[finite], color=line.get_color(), s=8)
        top = np.nanmax(np.where(finite, score, np.nan)) if finite.any() else 1.0
        bad = group[name].values[~finite]
        axes.scatter(bad, np.full(bad.shape, top), marker="x", color="C3", zorder=3)
    axes.set(xlabel=name, ylabel="score (lower is better)")
    if len(values) > 2 and np.all(values > 0) and values.max() / values.min() > 20:
        axes.set_xscale("log")


def sweep_figure(dataset):
    """The matplotlib Figure of a sweep (see the module docstring)."""
    from matplotlib.figure import Figure

    names = swept_parameters(dataset)
    figure = Figure(figsize=(4.5 * max(1, len(names)) + 2.5, 3.6), layout="constrained")
    panels = np.atleast_1d(figure.subplots(1, max(1, len(names))))
    if not names:
        score = dataset.score.values
        panels[0].bar(dataset.seed.values.astype(str), np.where(np.isfinite(score), score, 0))
        panels[0].set(xlabel="seed", ylabel="score (lower is better)")
    for axes, name in zip(panels, names, strict=False):
        _panel(axes, dataset, name, [other for other in names if other != name])
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    figure.suptitle(f"sweep of {dataset.attrs.get('model', '')}: {dataset.sizes['run']} runs")
    return figure


def plot_sweep(dataset, path: Path) -> Path:
    """Write the sweep's figure as a PNG at ``path`` (atomically); returns the path."""
    path = Path(path)
    with atomic_stream(path, binary=True) as stream:
        sweep_figure(dataset).savefig(stream, format="png", dpi=110)
    return path
