"""The public API at the top level and the v0.1 import paths, which still work and warn."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import stlp_sym
from stlp_sym.legacy import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_a_v01_import_path_warns_and_resolves_to_the_new_module(old) -> None:
    sys.modules.pop(f"stlp_sym.{old}", None)
    with pytest.warns(DeprecationWarning, match=f"stlp_sym.{old} is deprecated"):
        shim = importlib.import_module(f"stlp_sym.{old}")
    new = importlib.import_module(f"stlp_sym.{MOVED[old][0]}")
    public = [n for n in dir(new) if not n.startswith("_")]
    assert public and all(getattr(shim, n) is getattr(new, n) for n in public)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = shim.no_such_name


def test_v01_names_used_in_scripts_still_import() -> None:
    for old in ("action", "exprparse", "transforms"):
        sys.modules.pop(f"stlp_sym.{old}", None)
    with pytest.warns(DeprecationWarning):
        from stlp_sym.action import Action, fn
        from stlp_sym.exprparse import parse_expression
        from stlp_sym.transforms import Options
    assert Options is stlp_sym.Options and Action is stlp_sym.Action and fn is stlp_sym.fn
    assert callable(parse_expression)


def test_functions_stay_callable_after_every_subpackage_is_imported() -> None:
    for folder in ("graph", "symbolic", "parse", "codegen", "runtime", "cache", "checks"):
        importlib.import_module(f"stlp_sym.{folder}")
    importlib.import_module("stlp_sym.runner")
    importlib.import_module("stlp_sym.display")
    for name in ("build", "verify", "run", "compile", "derive", "expand"):
        assert callable(getattr(stlp_sym, name)), name
    assert stlp_sym.Digraph.from_spec("chain:2").n_arcs == 1
    assert "stlp" in stlp_sym.MODELS


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    assert stlp_sym.__version__ == version("stlp-sym")


def test_import_is_cheap_and_python_m_runs_the_cli() -> None:
    code = "import sys, stlp_sym; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    for module in ("stlp_sym", "stlp_sym.cli"):
        done = subprocess.run(
            [sys.executable, "-m", module, "--version"], capture_output=True, text=True, check=True
        )
        assert done.stdout.startswith("stlp_sym ")


def test_every_writer_is_atomic_and_leaves_the_usual_permissions(tmp_path) -> None:
    """Files come out with the umask's permissions (0644 under 022), not mkstemp's 0600."""
    import os

    from stlp_sym.cache.store import generate
    from stlp_sym.files import write_atomic
    from stlp_sym.symbolic.models import MODELS

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.txt", "text")
        write_atomic(tmp_path / "b.bin", b"\x00")
        model = MODELS["pendulum"]
        module = generate(model.build(), model.options, tmp_path / "out")
    finally:
        os.umask(old)
    for path in (tmp_path / "a.txt", tmp_path / "b.bin", module):
        assert path.stat().st_mode & 0o777 == 0o644, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "out"]
