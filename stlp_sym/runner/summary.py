"""A trace's rich display for notebooks: a table of what the run did and a small figure.

The figure is a thumbnail (the first output against its target, and ``L/phi``), embedded as a
PNG so that the notebook keeps it without any file beside it; the full figures are those of
:mod:`stlp_sym.display.plots`.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .loop import Trace


def _number(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4g}"


def _rows(trace: Trace) -> list[tuple[str, str]]:
    """``(what, value)`` rows of the summary table."""
    score = trace.score()
    member = "" if trace.members is None else " (member 0)"
    last = (lambda a: a[-1]) if trace.members is None else (lambda a: a[-1, 0])
    has_records = len(trace.t) > 0
    rows = [
        ("time", f"{_number(trace.t[0])} to {_number(trace.t[-1])}" if has_records else "-"),
        ("records", str(len(trace.t))),
        ("outputs", str(trace.output.shape[-1])),
        ("members", "-" if trace.members is None else str(trace.members)),
        ("score (last 20%)", ", ".join(_number(s) for s in np.atleast_1d(score))),
        (f"final L/phi{member}", _number(last(trace.lagrangian)) if has_records else "-"),
        (f"final H/phi{member}", _number(last(trace.hamiltonian)) if has_records else "-"),
        ("seconds per step", f"{trace.seconds_per_step:.3g}"),
        ("diverged", str(trace.diverged) if trace.diverged is not None else "no"),
    ]
    rows += [(str(key), str(value)) for key, value in trace.meta.items()]
    return rows


def thumbnail_png(trace: Trace) -> bytes:
    """A small PNG: the first output against its target, and ``L/phi``, over time."""
    from matplotlib.figure import Figure

    output, reference, lagrangian = trace.output, trace.reference, trace.lagrangian
    if trace.members is not None:
        output, reference, lagrangian = output[:, 0], reference[:, 0], lagrangian[:, 0]
    figure = Figure(figsize=(7.0, 2.0), layout="constrained")
    left, right = figure.subplots(1, 2)
    left.plot(trace.t, reference[:, 0], color="0.3", lw=1.0, label="target $z$")
    left.plot(trace.t, output[:, 0], color="C0", lw=0.9, label="output $x_o$")
    left.set(xlabel="$t$", title="first output")
    left.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    right.plot(trace.t, lagrangian, color="C1", lw=0.9)
    right.set(xlabel="$t$", title=r"$L/\phi$")
    for axes in (left, right):
        axes.tick_params(labelsize=7)
        axes.title.set_fontsize(8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def trace_html(trace: Trace) -> str:
    """The summary table and the thumbnail, as one HTML fragment."""
    head = "<th style='text-align:left'>"
    cells = "".join(
        f"<tr>{head}{html.escape(what)}</th><td>{html.escape(value)}</td></tr>"
        for what, value in _rows(trace)
    )
    figure = ""
    if len(trace.t) >= 2:
        data = base64.b64encode(thumbnail_png(trace)).decode("ascii")
        figure = f"<img alt='first output and L/phi' src='data:image/png;base64,{data}'>"
    return f"<div><b>Trace</b><table>{cells}</table>{figure}</div>"
