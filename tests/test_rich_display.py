"""Rich displays for notebooks: equations, systems, expanded equations, models, reports, traces;
the notation of hatted names, role indicators and the concrete names of an expanded graph."""

from __future__ import annotations

import base64
import math
import re
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stlp_sym import Digraph, Options, Trace, expand, init_printing
from stlp_sym.cache.store import build
from stlp_sym.checks.report import Check, Report
from stlp_sym.display.notebook import notebook_latex
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import make_task
from stlp_sym.symbolic.expansion import edge_function, node_function
from stlp_sym.symbolic.frames import derivative
from stlp_sym.symbolic.models import MODELS
from stlp_sym.symbolic.printing import latex, latex_equations, latex_expanded
from stlp_sym.symbolic.transforms import apply_options
from stlp_sym.symbolic.vocabulary import IS_HIDDEN, IS_INPUT, IS_OUTPUT, at_end, fn, t

_DOTS = {1: r"\dot", 2: r"\ddot"}


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


# --------------------------------------------------------------------------- hats, roles, places

NAMES = st.from_regex(r"[a-z][a-z0-9]{0,5}(_[a-z][a-z0-9]{0,3})?", fullmatch=True).filter(
    lambda name: not name.endswith("_hat") and not re.fullmatch(r".*_d[0-9]+", name)
)


@settings(max_examples=25, derandomize=True, deadline=None)
@given(name=NAMES, node=st.integers(0, 999), order=st.integers(0, 2))
def test_a_hatted_concrete_name_prints_as_the_hatted_quantity_at_its_node(
    name: str, node: int, order: int
) -> None:
    # The reference is the node-frame printing of the index-generic quantity, whose index
    # ``i`` the concrete name replaces by its node.
    generic = latex(derivative(fn(f"{name}_hat"), order), "node")
    assert generic.startswith(_DOTS.get(order, "") + r"{\hat{" if order else r"\hat{")
    assert generic.endswith("i}")
    concrete = latex(derivative(node_function(f"{name}_hat", node), order), "global")
    assert concrete == generic[: -len("i}")] + f"{node}}}"


@settings(max_examples=15, derandomize=True, deadline=None)
@given(name=NAMES, arc=st.tuples(st.integers(0, 99), st.integers(0, 99)))
def test_an_arc_name_prints_its_source_and_target(name: str, arc: tuple[int, int]) -> None:
    generic = latex(fn(name), "edge")
    concrete = latex(edge_function(name, *arc), "node")
    assert generic.endswith("ij}")
    assert concrete == generic[: -len("ij}")] + rf"{arc[0]} \to {arc[1]}}}"


def test_role_indicators_print_as_iverson_brackets_in_every_frame() -> None:
    expr = IS_OUTPUT * fn("x") + IS_INPUT
    assert latex(expr, "node") == r"[i \in I] + [i \in O] x_{i}"
    assert latex(at_end(IS_HIDDEN, "src") * fn("w"), "edge") == r"[j \in H] w_{ij}"


def test_expanded_rows_are_the_leading_derivatives_with_hats_and_places() -> None:
    derivation = apply_options(MODELS["stlp"].build(), Options())
    expanded = expand(derivation, Digraph.from_spec("chain:2"))
    rows = latex_expanded(expanded)
    # by hand: on 0 -> 1 (input 0) the unknowns are lambda_hat and x at node 1 (first order)
    # and w on the arc (second order), in key order
    assert sorted(expanded.solution) == [("lambda_hat", 1), ("w", 0), ("x", 1)]
    assert rows[2].startswith(
        r"\dot{x}_{1} &= - c x_{1} + c \tanh{\left(u_{0} w_{0 \to 1} \right)}"
    )
    assert rows[0].startswith(r"\dot{\hat{\lambda}}_{1} &=")
    assert rows[1].startswith(r"\ddot{w}_{0 \to 1} &=")
    assert "lambda_{hat" not in expanded._repr_latex_() and "operatorname" not in "".join(rows)


def test_a_field_equation_and_a_system_show_themselves_like_the_derivation() -> None:
    derivation = apply_options(MODELS["stlp"].build(), Options())
    lines = latex_equations(derivation)
    for equation in derivation.equations:
        shown = equation._repr_latex_()
        assert shown.startswith("$$") and shown.endswith("$$")
        # the derivation's lines also say where a node equation holds
        unplaced = [re.sub(r",\\quad i \\in N", "", line) for line in lines]
        assert shown.strip("$") in unplaced
    system = derivation.system._repr_latex_()
    heading = lines.index(r"\text{First-order system}")
    expected = " \\\\ ".join(unplaced[heading:])
    assert system == "$$\\begin{gathered}" + expected + "\\end{gathered}$$"


def test_a_bare_expression_prints_in_the_frame_it_reads_as() -> None:
    derivation = apply_options(MODELS["stlp"].build(), Options())
    node = notebook_latex(derivation.equation("x"))
    assert r"\dot{\hat{\lambda}}_{i}" in node and r"[i \in O]" in node
    edge = notebook_latex(derivation.equation("w"))
    assert r"\hat{\lambda}_{i} x_{j}" in edge and r"\ddot{w}_{ij}" in edge


def test_init_printing_makes_ipython_use_the_package_printer() -> None:
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactiveshell.InteractiveShell.instance()
    try:
        assert init_printing()
        data, _ = shell.display_formatter.format(IS_OUTPUT * fn("lambda_hat").diff(t))
        assert data["text/latex"] == r"$[i \in O] \dot{\hat{\lambda}}_{i}$"
    finally:
        interactiveshell.InteractiveShell.clear_instance()


# --------------------------------------------------------------------------- traces


@pytest.fixture(scope="module")
def traces() -> dict[str, Trace]:
    graph = Digraph.from_spec("complete:4:in=1")
    module = build(MODELS["stlp"].build(), MODELS["stlp"].options)
    task = make_task("tracking-sine", graph)
    return {
        "single": run(module, graph, task, horizon=0.5, progress=False),
        "batch": run(module, graph, task, horizon=0.5, seed=[0, 1], progress=False),
    }


@pytest.mark.parametrize("kind", ["single", "batch"])
def test_a_trace_shows_its_numbers_and_a_thumbnail(traces: dict[str, Trace], kind: str) -> None:
    trace = traces[kind]
    shown = trace._repr_html_()
    scores = np.atleast_1d(trace.score())
    assert ", ".join(f"{s:.4g}" for s in scores) in shown
    final = trace.lagrangian[-1] if trace.members is None else trace.lagrangian[-1, 0]
    assert f"<td>{final:.4g}</td>" in shown
    assert f"<td>{len(trace.t)}</td>" in shown and "diverged</th><td>no" in shown
    data = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)'", shown)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (560, 160)  # 7 x 2 inches at 80 dpi
