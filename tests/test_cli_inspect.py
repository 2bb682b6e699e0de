"""``stlp info``, ``stlp cache info|clear`` and ``stlp derive --expand --graph`` into files."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from stlp_sym.cache.inventory import cache_contents
from stlp_sym.cli import main
from stlp_sym.cli_inspect import parameter_rows
from stlp_sym.parse.modelfile import load_model
from stlp_sym.symbolic.transforms import apply_options

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def section(out: str, title: str) -> list[list[str]]:
    """The rows (split on blanks) of one section of ``stlp info``, without its heading row."""
    lines = out.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        rows.append(line.split())
    return rows[1:]


def test_info_of_a_model_file_lists_its_own_declarations(capsys) -> None:
    """examples/leaky-tracker.toml: a global field g, parameters kappa, m, r ... (none of the
    built-in names): every declaration and default of the file, and the states that its
    derivation solves for."""
    path = EXAMPLES / "leaky-tracker.toml"
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    model = load_model(path)
    action = model.build()
    fields = {row[0]: row[1:3] for row in section(out, "fields:")}
    assert fields == {f.name: [f.domain, f.role] for f in action.fields}
    parameters = {row[0]: (float(row[1]), row[2]) for row in section(out, "parameters")}
    assert parameters == {
        name: (value, "scalar") for name, value in action.parameter_defaults.items()
    }
    signals = {row[0]: row[1] for row in section(out, "signals:")}
    assert signals == {s.name: s.role for s in action.signals}
    states = [row[0] for row in section(out, "states")]
    derivation = apply_options(action, model.options)
    assert states == [s.name for s in derivation.system.states]
    assert "g_d1" in states and "lambda_hat" in states
    assert model.options.describe() in out


def test_info_shows_the_parameters_a_policy_adds(capsys) -> None:
    assert main(["info", "stlp", "--policy", "penalty"]) == 0
    names = [row[0] for row in section(capsys.readouterr().out, "parameters")]
    assert names[-1] == "beta" and "r" in names


def test_the_domain_column_reads_a_parameter_domain() -> None:
    rows = parameter_rows([SimpleNamespace(name="k", default=2.0, on="edge")])
    assert rows[1] == ("k", "2", "edge")


def test_info_of_an_unknown_model_suggests_one(capsys) -> None:
    assert main(["info", "stpl"]) == 2
    assert "did you mean 'stlp'?" in capsys.readouterr().err


def test_cache_info_and_clear_touch_only_the_package_files(tmp_path, monkeypatch, capsys) -> None:
    """A real run fills the cache with a module and Numba's kernel files of it; a file of the
    user and a foreign ``.pyc`` stay when the cache is cleared."""
    monkeypatch.setenv("STLP_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["cache", "info"]) == 0
    assert "not created yet" in capsys.readouterr().out
    assert main(["run", "pendulum", "--graph", "complete:1", "--steps", "2", "-q"]) == 0
    mine = tmp_path / "cache" / "notes.txt"
    mine.write_text("keep me")
    foreign = tmp_path / "cache" / "__pycache__" / "other.cpython-311.pyc"
    foreign.parent.mkdir(exist_ok=True)
    foreign.write_bytes(b"x")
    capsys.readouterr()
    modules = sorted((tmp_path / "cache").glob("pendulum_*.py"))
    copies = (tmp_path / "cache" / "numba").glob(f"*/{modules[0].name}")
    kernels = (tmp_path / "cache" / "numba").glob(f"*/__pycache__/{modules[0].stem}.*")
    compiled = sorted([*copies, *kernels])
    size = sum(p.stat().st_size for p in [*modules, *compiled])
    assert len(modules) == 1 and len(compiled) > 1  # the copy, Numba's index and data files

    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "cache") in out
    assert "generated modules: 1" in out
    assert f"numba files (module copies and compiled kernels): {len(compiled)}" in out
    assert f"size: {size / 2**20:.1f} MiB" in out
    assert cache_contents().size == size

    assert main(["cache", "clear"]) == 0
    assert "removed 1 generated module and" in capsys.readouterr().out
    assert not any(p.exists() for p in [*modules, *compiled])
    assert mine.read_text() == "keep me" and foreign.exists()
    assert cache_contents().modules == ()


def test_cache_clear_refuses_a_directory_others_may_write(tmp_path, monkeypatch, capsys) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    monkeypatch.setenv("STLP_CACHE_DIR", str(shared))
    assert main(["cache", "clear"]) == 2
    assert "writable by others" in capsys.readouterr().err


def test_expanded_equations_go_into_the_latex_and_png_files(tmp_path, capsys) -> None:
    """On chain:3 model stlp has 6 equations (x and lambda on nodes 1 and 2, node 0 being a
    clamped input; w on the 2 arcs) and 6 solved leading derivatives; the files hold these,
    on the graph's own nodes and arcs, and not the index-generic equations."""
    tex, png = tmp_path / "eq.tex", tmp_path / "eq.png"
    generic = tmp_path / "generic.png"
    argv = ["derive", "stlp", "--expand", "--graph", "chain:3"]
    assert main([*argv, "--latex", str(tex), "--png", str(png)]) == 0
    assert main(["derive", "stlp", "--png", str(generic)]) == 0
    text = tex.read_text()
    displays = re.findall(r"^\\\[ (.*) \\\]$", text, flags=re.MULTILINE)
    equations = [d for d in displays if d.endswith("= 0") and re.match(r"^[^ ]+_\{\d", d)]
    solved = [d for d in displays if re.match(r"^\\d?dot\{.*\}_\{[\d \\to]+\} = ", d)]
    assert len(equations) == 6 and len(solved) == 6
    assert r"\ddot{w}_{1 \to 2} = " in text and r"\dot{\hat{\lambda}}_{2} = " in text
    assert r"\sum" not in text.split(r"\subsection*{Euler-Lagrange equations on")[1]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.read_bytes() != generic.read_bytes()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["derive", "stlp", "--graph", "chain:3"], "--graph chain:3 is used only with --expand"),
        (["derive", "stlp", "--expand"], "--expand needs --graph"),
    ],
)
def test_graph_and_expand_go_together(argv, fragment, tmp_path, capsys) -> None:
    png = tmp_path / "eq.png"
    assert main([*argv, "--png", str(png)]) == 2
    assert fragment in capsys.readouterr().err
    assert not png.exists()  # refused before anything was written
