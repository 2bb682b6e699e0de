"""Rich displays for notebooks: expanded equations, models and verification reports."""

from __future__ import annotations

import math

from stlp_sym import Digraph, Options, expand
from stlp_sym.checks.report import Check, Report
from stlp_sym.symbolic.models import MODELS
from stlp_sym.symbolic.transforms import apply_options


def test_expanded_equations_show_one_row_per_unknown_and_elide_the_rest() -> None:
    derivation = apply_options(MODELS["stlp"].build(), Options())
    small = expand(derivation, Digraph.from_spec("chain:2"))
    latex = small._repr_latex_()
    assert latex.startswith("$$\\begin{aligned}") and latex.endswith("\\end{aligned}$$")
    assert latex.count("&=") == len(small.solution)
    big = expand(derivation, Digraph.from_spec("complete:6:in=1"))
    shown = big._repr_latex_()
    assert shown.count("&=") == big.SHOWN
    assert f"{len(big.solution) - big.SHOWN} more" in shown


def test_a_model_shows_its_name_options_and_action() -> None:
    text = MODELS["stlp-holonomic"]._repr_markdown_()
    assert text.startswith("**stlp-holonomic**") and "policy=penalty" in text
    assert "\\begin{gathered}" in text


def test_a_report_is_an_html_table_with_escaped_text_and_coloured_results() -> None:
    checks = (Check("a < b", 1e-12, 2.0, True, "x & y"), Check("other", math.nan, None, False))
    html = Report("m", "g", Options(), checks, ("note <1>",))._repr_html_()
    assert "a &lt; b" in html and "x &amp; y" in html and "note &lt;1&gt;" in html
    assert html.count("<tr>") == 3 and "color:green" in html and "color:red" in html
    assert "FAILED" in html
