"""A PNG of LaTeX lines, rendered with matplotlib's mathtext (no TeX installation needed).

matplotlib is imported only when :func:`render_png` runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import StlpError
from ..files import atomic_stream


def render_png(
    lines: Sequence[str], path: str | os.PathLike[str], *, fontsize: float = 14, dpi: int = 120
) -> Path:
    """Render LaTeX lines with matplotlib's mathtext (no TeX needed) into a PNG file.

    One line per equation, left-aligned, in a figure sized to fit the widest line. The file is
    written to a temporary name in the same directory and moved into place with ``os.replace``.

    Parameters
    ----------
    lines : LaTeX math lines (without ``$``), e.g. from :func:`latex_equations`.
    path : the PNG file to write.
    fontsize, dpi : text size in points and resolution.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    StlpError
        When there are no lines, or mathtext cannot parse one (the message names the line).
    """
    import matplotlib  # lazily: only this function needs it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not lines:
        raise StlpError("render_png: there are no lines to render")
    path = Path(path)
    margin, gap = 0.25 * dpi, 0.6 * fontsize / 72 * dpi  # pixels
    with matplotlib.rc_context({"text.usetex": False, "mathtext.fontset": "cm"}):
        figure = Figure(figsize=(1, 1), dpi=dpi)
        canvas = FigureCanvasAgg(figure)
        texts = [figure.text(0, 0, f"${line}$", fontsize=fontsize, va="bottom") for line in lines]
        renderer = canvas.get_renderer()
        sizes = []
        for number, (line, item) in enumerate(zip(lines, texts, strict=True), 1):
            try:
                box = item.get_window_extent(renderer)
            except ValueError as exc:
                raise StlpError(f"line {number} cannot be rendered by mathtext: {line!r}") from exc
            sizes.append((box.width, box.height))
        width = max(w for w, _ in sizes) + 2 * margin
        height = sum(h for _, h in sizes) + gap * (len(lines) - 1) + 2 * margin
        figure.set_size_inches(width / dpi, height / dpi)
        top = height - margin
        for item, (_, h) in zip(texts, sizes, strict=True):
            top -= h
            item.set_position((margin / width, top / height))
            top -= gap
        with atomic_stream(path, binary=True) as stream:
            figure.savefig(stream, format="png", dpi=dpi, facecolor="white")
    return path
