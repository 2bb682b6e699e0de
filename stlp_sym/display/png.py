"""A PNG of LaTeX lines, rendered with matplotlib's mathtext (no TeX installation needed).

matplotlib is imported only when :func:`render_png` runs. Each line is parsed and rasterised
once, by mathtext's Agg output, and the rasters are stacked into one grey image: a figure
would parse every line twice (once to measure it, once to draw it at the final size), and
parsing is most of the cost.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import StlpError
from ..files import atomic_stream


def line_rasters(lines: Sequence[str], fontsize: float, dpi: int) -> list[np.ndarray]:
    """Each LaTeX line (without ``$``) as a ``uint8`` coverage raster (0: blank, 255: ink) in
    Computer Modern, ``fontsize`` points at ``dpi``.

    Raises
    ------
    StlpError
        When mathtext cannot parse a line (the message names it).
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    parser = MathTextParser("agg")
    font = FontProperties(size=fontsize, math_fontfamily="cm")
    rasters = []
    for number, line in enumerate(lines, 1):
        try:
            parsed = parser.parse(f"${line}$", dpi, font)
        except ValueError as exc:
            raise StlpError(f"line {number} cannot be rendered by mathtext: {line!r}") from exc
        rasters.append(np.asarray(parsed.image, dtype=np.uint8))
    return rasters


def stacked(rasters: Sequence[np.ndarray], margin: int, gap: int) -> np.ndarray:
    """The rasters one below the other, left-aligned, ``gap`` pixels apart, inside a blank
    ``margin``; as grey levels, black ink on white.

    >>> stacked([np.full((1, 2), 255, np.uint8), np.full((1, 1), 255, np.uint8)], 1, 1)
    array([[255, 255, 255, 255],
           [255,   0,   0, 255],
           [255, 255, 255, 255],
           [255,   0, 255, 255],
           [255, 255, 255, 255]], dtype=uint8)
    """
    width = max(raster.shape[1] for raster in rasters) + 2 * margin
    height = sum(raster.shape[0] for raster in rasters) + gap * (len(rasters) - 1) + 2 * margin
    ink = np.zeros((height, width), dtype=np.uint8)
    top = margin
    for raster in rasters:
        rows, columns = raster.shape
        ink[top : top + rows, margin : margin + columns] = raster
        top += rows + gap
    return 255 - ink


def render_png(
    lines: Sequence[str], path: str | os.PathLike[str], *, fontsize: float = 14, dpi: int = 120
) -> Path:
    """Render LaTeX lines with matplotlib's mathtext (no TeX needed) into a PNG file.

    One line per equation, left-aligned, in an image sized to fit the widest line. The file is
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
    from PIL import Image  # matplotlib's own dependency, for its PNG files too

    if not lines:
        raise StlpError("render_png: there are no lines to render")
    path = Path(path)
    image = stacked(
        line_rasters(lines, fontsize, dpi),
        margin=round(0.25 * dpi),
        gap=round(fontsize / 144 * dpi),
    )
    with atomic_stream(path, binary=True) as stream:
        Image.fromarray(image).save(stream, format="png", dpi=(dpi, dpi))
    return path
