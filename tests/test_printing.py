"""LaTeX and text printing: exact forms of small expressions, and every built-in model."""

from __future__ import annotations

import dataclasses
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from stlp_sym.display.png import render_png
from stlp_sym.errors import StlpError
from stlp_sym.symbolic.action import Action
from stlp_sym.symbolic.derivation import Derivation, derive
from stlp_sym.symbolic.frames import EdgeSum, InSum, NodeSum, OutSum
from stlp_sym.symbolic.models import MODELS
from stlp_sym.symbolic.printing import (
    latex,
    latex_action,
    latex_document,
    latex_equations,
    text,
    text_equations,
)
from stlp_sym.symbolic.transforms import apply_options
from stlp_sym.symbolic.vocabulary import IS_FREE, IS_OUTPUT, Field, dst, fn, src, t

x, w, lam, lam_hat = fn("x"), fn("w"), fn("lambda"), fn("lambda_hat")
theta, r_w = sp.symbols("theta r_w")


@pytest.fixture(scope="module")
def derivations() -> dict[str, Derivation]:
    return {name: derive(model.build()) for name, model in MODELS.items()}


# ----------------------------------------------------------------- small expressions


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (sp.Derivative(x, t), r"\dot{x}_{i}"),
        (x.diff(t, 2), r"\ddot{x}_{i}"),
        (x.diff(t, 3), r"x^{(3)}_{i}"),
        (lam, r"\lambda_{i}"),
        (lam_hat.diff(t), r"\dot{\hat{\lambda}}_{i}"),
        (fn("a_d1"), r"\dot{a}_{i}"),
        (fn("a_d2").diff(t), r"a^{(3)}_{i}"),
        (IS_OUTPUT * r_w, r"[i \in O] r_{w}"),
        (IS_FREE, r"[i \in N]"),
        (sp.exp(theta * t), r"e^{\theta t}"),
        (sp.exp(-theta * t) * x, r"x_{i} e^{- \theta t}"),
        (x.diff(t) ** 2, r"\dot{x}_{i}^{2}"),
        (x.diff(t, 3) ** 2, r"\left(x^{(3)}_{i}\right)^{2}"),
        (sp.tanh(fn("a")), r"\tanh{\left(a_{i} \right)}"),
    ],
)
def test_node_frame_latex_is_pinned(expr: sp.Expr, expected: str) -> None:
    assert latex(expr, "node") == expected


def test_edge_frame_prints_src_as_j_and_dst_as_i() -> None:
    expr = w.diff(t, 2) + dst(lam) * src(x) + dst(IS_OUTPUT) * src(IS_FREE)
    assert latex(expr, "edge") == r"[j \in N] [i \in O] + \lambda_{i} x_{j} + \ddot{w}_{ij}"
    assert latex(fn("w_d1"), "edge") == r"\dot{w}_{ij}"
    assert text(expr, "edge") == "[j in N]*[i in O] + lambda_i*x_j + w_ij''"


def test_sums_name_parents_j_and_children_k() -> None:
    into = InSum(w * fn("x__src") * dst(IS_OUTPUT))
    out = OutSum(fn("lambda__dst") * w * dst(IS_OUTPUT))
    assert latex(into) == r"\sum_{j \in pa(i)} \left( [i \in O] w_{ij} x_{j} \right)"
    assert latex(out) == r"\sum_{k \in ch(i)} \left( [k \in O] \lambda_{k} w_{ki} \right)"
    assert text(out) == "sum_{k in ch(i)} ([k in O]*lambda_k*w_ki)"
    assert latex(2 * x * out) == (
        r"2 x_{i} \sum_{k \in ch(i)} \left( [k \in O] \lambda_{k} w_{ki} \right)"
    )


def test_global_frame_and_global_fields_carry_no_index() -> None:
    action = Action(
        fields=[Field("x"), Field("w", "edge"), Field("G", "global")],
        node=fn("G") * x**2,
        edge=fn("G") * w * src(x),
        global_=fn("G").diff(t) ** 2 / 2,
    )
    expr = NodeSum(x * fn("G")) + EdgeSum(w * src(x)) + fn("G").diff(t, 2)
    assert latex(expr, "global", action=action) == (
        r"\sum_{(j,i) \in A} \left( w_{ij} x_{j} \right) + \sum_{i \in V} \left( G x_{i} \right)"
        r" + \ddot{G}"
    )
    assert "G_{" not in " ".join(latex_equations(derive(action)))


def test_text_uses_primes_and_dt_for_high_orders() -> None:
    assert text(x.diff(t) + lam_hat, "node") == "lambda_hat_i + x_i'"
    assert text(w.diff(t, 4) * sp.exp(theta * t), "edge") == "exp(theta*t)*Dt(w_ij, 4)"


def test_unknown_frame_is_rejected() -> None:
    with pytest.raises(ValueError, match="frame"):
        latex(x, "arc")


# ----------------------------------------------------------------- models


def test_stlp_equations_show_the_neighbour_sums(derivations: dict[str, Derivation]) -> None:
    lines = latex_equations(derivations["stlp"])
    (x_line,) = [line for line in lines if line.startswith("x:")]
    assert r"\sum_{k \in ch(i)}" in x_line
    assert r"\dot{\lambda}_{i}" in x_line
    (constraint,) = [line for line in lines if line.startswith(r"\lambda:")]
    assert constraint.endswith(r"\text{(constraint)}")
    assert r"i \in N" in constraint
    joined = "\n".join(lines)
    assert r"\ddot{w}_{ij} = " in joined
    assert r"\dot{\lambda}_{i} = " in joined
    action = latex_action(derivations["stlp"].action)
    assert r"a_{i} = \sum_{j \in pa(i)} \left( w_{ij} x_{j} \right)" in action
    assert r"x_{i} = u_{i}(t),\ i \in I" in action


def test_holonomic_model_without_system_still_prints(derivations: dict[str, Derivation]) -> None:
    derivation = derivations["stlp-holonomic"]
    assert derivation.problem is not None and derivation.system is None
    lines = latex_equations(derivation)
    assert [line.split(":")[0] for line in lines[1:]] == [
        "x",
        r"\lambda",
        "w",
    ]
    assert not any("First-order" in line for line in lines)
    text_lines = text_equations(derivation)
    assert any(line.strip().startswith("lambda:  x_i - tanh(a_i) = 0") for line in text_lines)


def test_transforms_are_named_in_the_heading(derivations: dict[str, Derivation]) -> None:
    derivation = derivations["pendulum"]
    flipped = tuple(dataclasses.replace(eq, sign=-1) for eq in derivation.equations)
    lines = latex_equations(derivation.with_equations(flipped, "flip"))
    assert lines[0] == r"\text{Euler-Lagrange equations (after flip)}"
    # sign * P0 + P1 with P0 = -sin(q), P1 = -q'': the flip changes the sign of P0 only.
    assert lines[1] == r"q:\ \sin{\left(q_{i} \right)} - \ddot{q}_{i} = 0"


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def _ink_fraction(path: Path) -> float:
    """The fraction of dark pixels of a PNG file."""
    from PIL import Image

    with Image.open(path) as image:
        return float((np.asarray(image.convert("L")) < 128).mean())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_renders_with_mathtext(
    name: str, derivations: dict[str, Derivation], tmp_path: Path
) -> None:
    derivation = derivations[name]
    lines = latex_action(derivation.action) + latex_equations(derivation)
    path = render_png(lines, tmp_path / f"{name}.png")
    width, height = _png_size(path)
    assert width > 200 and height > 20 * len(lines)
    assert _ink_fraction(path) > 0.01  # black text on white, not a blank image
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.png"]  # no temporary left
    assert all(line.strip() for line in text_equations(derivation))


def test_render_png_reports_bad_input(tmp_path: Path) -> None:
    with pytest.raises(StlpError, match="no lines"):
        render_png([], tmp_path / "empty.png")
    with pytest.raises(StlpError, match="line 2"):
        render_png([r"x_{i}", r"\frac{1}{"], tmp_path / "bad.png")
    assert list(tmp_path.iterdir()) == []


def test_document_is_standalone(derivations: dict[str, Derivation], tmp_path: Path) -> None:
    document = latex_document(derivations["stlp"])
    assert document.startswith("\\documentclass{article}\n\\usepackage{amsmath}")
    assert r"\subsection*{Euler-Lagrange equations}" in document
    assert r"\[ \dot{x}_{i} = " in document
    assert document.rstrip().endswith(r"\end{document}")
    if shutil.which("pdflatex") is None:
        return  # compiling needs a TeX installation; the structure is checked above
    (tmp_path / "stlp.tex").write_text(document)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "stlp.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]


def test_notebook_reprs_hold_the_equations() -> None:
    derivation = apply_options(MODELS["stlp"].build(), MODELS["stlp"].options)
    shown = derivation._repr_latex_()
    assert shown.startswith("$$") and r"\sum_{k \in ch(i)}" in shown
    assert r"\dot{\hat{\lambda}}_{i}" in shown
    assert r"\sum_{j \in pa(i)}" in MODELS["stlp"].build()._repr_latex_()


def test_a_parameter_named_like_an_index_is_told_apart() -> None:
    expr = sp.Symbol("k") * OutSum(fn("w") * sp.sin(fn("a__dst")))
    assert (
        latex(expr)
        == r"\mathrm{k} \sum_{k \in ch(i)} \left( w_{ki} \sin{\left(a_{k} \right)} \right)"
    )
