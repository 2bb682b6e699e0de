"""docs/notebook.ipynb runs from top to bottom in a fresh kernel and shows the package's notation.

Executed with nbclient in a kernel started in the repository's root (so it imports this tree's
package); every cell must run without error, and the LaTeX it shows must print the normalised
multiplier with a hat and the role indicators as Iverson brackets, never SymPy's own
``\\lambda_{hat}`` or ``is_{output}``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "notebook.ipynb"
#: seconds one cell may take (the slowest builds, verifies or runs a module)
CELL_TIMEOUT = 300


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    return notebook


def outputs(notebook: nbformat.NotebookNode, mime: str) -> list[str]:
    """Every output of the kind ``mime``, in cell order."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if mime in output.get("data", {}):
                found.append(output["data"][mime])
    return found


@pytest.mark.slow
def test_every_cell_runs_without_error(executed: nbformat.NotebookNode) -> None:
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count is not None for cell in code)
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert errors == []
    # the committed notebook carries no outputs: the site and the tests make their own
    assert all(
        not cell.outputs
        for cell in nbformat.read(NOTEBOOK, as_version=4).cells
        if cell.cell_type == "code"
    )


@pytest.mark.slow
def test_the_equations_show_hats_and_role_brackets(executed: nbformat.NotebookNode) -> None:
    latex = outputs(executed, "text/latex")
    hatted = [text for text in latex if r"\hat{\lambda}" in text]
    # derivation, the bare equation of x, the system and the expanded equations
    assert len(hatted) >= 4
    assert any(r"\dot{\hat{\lambda}}_{1}" in text for text in latex)  # an expanded node
    assert any(r"[i \in O]" in text for text in latex)
    assert not any("lambda_{hat" in text or "is_{output}" in text for text in latex)


@pytest.mark.slow
def test_the_report_the_trace_and_the_figure_are_shown(executed: nbformat.NotebookNode) -> None:
    html = outputs(executed, "text/html")
    assert any("all checks passed" in text for text in html)
    assert any("<b>Trace</b>" in text and "data:image/png;base64," in text for text in html)
    assert outputs(executed, "image/png")  # the figure of the last run
