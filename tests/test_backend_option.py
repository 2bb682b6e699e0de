"""``Options.backend``: validated, resolved when a module is built, part of the cache key and
of the module's ``OPTIONS``; a machine without Numba runs everything on NumPy."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from stlp_sym import options as options_module
from stlp_sym.cache.manifest import read_manifest
from stlp_sym.cache.store import build, cache_key
from stlp_sym.cli import build_parser
from stlp_sym.errors import ActionError
from stlp_sym.graph import Digraph
from stlp_sym.options import Options, resolved
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import make_task
from stlp_sym.symbolic.models import MODELS


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ActionError, match="backend 'cuda'"):
        Options(backend="cuda")


def test_the_backend_is_part_of_the_cache_key_and_of_options() -> None:
    action = MODELS["pendulum"].build()
    numpy = replace(MODELS["pendulum"].options, backend="numpy")
    assert cache_key(action, numpy) != cache_key(action, replace(numpy, backend="numba"))
    assert build(action, numpy).OPTIONS["backend"] == "numpy"


def test_the_committed_modules_pin_numpy() -> None:
    assert {entry.options.backend for entry in read_manifest()} == {"numpy"}


@pytest.mark.parametrize("command", ["generate", "verify", "run", "demo"])
def test_commands_take_a_backend(command) -> None:
    argv = [command] + (["stlp"] if command != "demo" else []) + ["--backend", "numpy"]
    argv += ["--graph", "complete:3:in=1"] if command == "run" else []
    assert build_parser().parse_args(argv).backend == "numpy"


def test_without_numba_everything_runs_on_numpy(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    monkeypatch.setattr(options_module, "_SAID", set())
    assert not options_module.numba_available()
    chosen = resolved(MODELS["stlp"].options)
    assert chosen.backend == "numpy"
    assert "backend numpy (automatic: numba does not import)" in capsys.readouterr().err
    module = build(MODELS["stlp"].build(), MODELS["stlp"].options)
    assert module.OPTIONS["backend"] == "numpy"
    graph = Digraph.from_spec("complete:6:in=1")
    trace = run(module, graph, make_task("tracking-sine", graph), horizon=1.0, progress=False)
    assert trace.diverged is None
