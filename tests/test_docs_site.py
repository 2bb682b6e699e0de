"""The documentation: the site builds with warnings as errors, every page is in it, and the docs
cite the papers and the project's own pages only.

The site test runs where the ``docs`` extra is installed (``pip install '.[docs]'``); CI builds
the site after the tests in any case (``.ci/run``). It does not execute the notebook, which
tests/test_notebook.py runs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: seconds the strict build may take (about 10 s on an idle machine)
BUILD_TIMEOUT = 300


def nav_pages() -> set[str]:
    """The files mkdocs.yml's navigation lists."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") :].split("\n\n", 1)[0]
    return set(re.findall(r":\s*(\S+\.(?:md|ipynb))\s*$", nav, flags=re.MULTILINE))


def test_every_page_of_docs_is_in_the_navigation() -> None:
    pages = {p.name for p in DOCS.iterdir() if p.suffix in (".md", ".ipynb")}
    assert nav_pages() == pages


def test_no_document_points_outside_the_repository() -> None:
    files = [
        *DOCS.iterdir(),
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        *ROOT.glob("stlp_sym/**/*.py"),
    ]
    for path in files:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"MATH\.md|DESIGN\.md|shared/", text), path


def test_the_citation_file_cites_the_package_and_both_papers() -> None:
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^title: .*stlp_sym", text, flags=re.MULTILINE)
    assert re.search(r"^type: software$", text, flags=re.MULTILINE)
    for arxiv in ("1907.05106", "2402.05959"):
        assert f"arXiv:{arxiv}" in text and f"10.48550/arXiv.{arxiv}" in text
    assert "family-names: Betti" in text and "family-names: Gori" in text
    assert "license: MIT" in text and (ROOT / "LICENSE").read_text().startswith("MIT License")


@pytest.mark.slow
@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("mkdocs", "mkdocstrings", "mkdocs_jupyter")),
    reason="the docs extra is not installed (pip install '.[docs]')",
)
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    env = {**os.environ, "STLP_DOCS_EXECUTE": "false", "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for page in nav_pages():
        assert (tmp_path / Path(page).with_suffix(".html")).is_file(), page
    api = (tmp_path / "api.html").read_text(encoding="utf-8")
    # the reference is generated from the docstrings, examples as code
    assert "Euler-Lagrange equations" in api and "init_printing" in api
    assert "<blockquote>" not in api
