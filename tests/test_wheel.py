"""The wheel ships the templates: a module renders from the installed package alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import pathlib, sys
import stlp_sym, stlp_sym.codegen.render as render
from stlp_sym.cache.store import generate, load
from stlp_sym.symbolic.models import MODELS
assert pathlib.Path(stlp_sym.__file__).is_relative_to(sys.argv[1]), stlp_sym.__file__
assert pathlib.Path(render.template_dir()).is_relative_to(sys.argv[1]), render.template_dir()
entry = MODELS["pendulum"]
module = load(generate(entry.build(), entry.options, pathlib.Path(sys.argv[2])))
plan = module.prepare(1, [], [], [], [])
print("rendered", sorted(module.STATES))
"""


@pytest.mark.slow
def test_module_renders_from_the_installed_wheel(tmp_path) -> None:
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True)
    (wheel,) = wheels.glob("stlp_sym-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    env = {**os.environ, "PYTHONPATH": str(target), "STLP_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(target), str(work)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "rendered ['q', 'q_d1']" in result.stdout
