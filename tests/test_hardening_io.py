"""Hardening of files, the cache and the command line: bad paths, huge graphs, stale bytecode.

Each test stands for a case that once gave a traceback, ran stale code or hung; each is bounded
in time.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stlp_sym.cache import store
from stlp_sym.cache.store import generate, load, module_filename
from stlp_sym.cli import main
from stlp_sym.errors import GraphError, StlpError
from stlp_sym.files import remove_stale_temporaries, write_atomic
from stlp_sym.graph import parse_spec, read_graph
from stlp_sym.options import BACKENDS, INTEGRATORS, POLICIES, Options
from stlp_sym.parse.modelfile import read_model
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import make_task
from stlp_sym.symbolic.models import MODELS

#: the loader's own guarantees are those of the NumPy backend (Numba keeps its own cache)
PENDULUM = replace(MODELS["pendulum"], options=replace(MODELS["pendulum"].options, backend="numpy"))


def _error_line(capsys) -> str:
    """The one error line (after the informational line naming an automatic backend, if any)."""
    lines = capsys.readouterr().err.splitlines()
    lines = [line for line in lines if not line.startswith("stlp_sym: backend ")]
    assert len(lines) == 1 and lines[0].startswith("stlp: error: "), lines
    return lines[0] + "\n"


@pytest.mark.parametrize(
    "spec", ["complete:100000", "random:1000000000,10,0", "feedforward:100000,100000,3"]
)
def test_graphs_beyond_memory_are_refused_with_the_estimate(spec, capsys) -> None:
    start = time.perf_counter()
    with pytest.raises(GraphError, match=r"about [\d.]+ [KMGTP]iB of memory, more than"):
        parse_spec(spec)
    assert main(["run", "pendulum", "--graph", spec, "--steps", "1"]) == 2
    assert "of memory" in _error_line(capsys)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--steps", "-5"], "argument --steps: '-5': must be a positive integer"),
        (["--horizon", "nan"], "argument --horizon: 'nan': must be a finite number above 0"),
        (["--horizon", "1e300", "--dt", "1e-300"], "is not a finite number of steps"),
        (
            ["--dt", "5e-324", "--steps", "3"],
            "record_every = 0.05 with dt = 5e-324 is not a finite",
        ),
        (["--dt", "1e-300", "--horizon", "1"], "signals between two records (0.05 apart): about"),
        (["--seed", "-1", "--steps", "2"], "argument --seed: '-1': a seed must be 0 or more"),
        (["--seeds", "0:1000000000000", "--steps", "2"], "a batch of 1000000000000 members"),
    ],
)
def test_run_lengths_seeds_and_batches_are_checked_before_the_run(flags, problem, capsys) -> None:
    """Once tracebacks (``IndexError``, ``OverflowError``, numpy's seed error) or, for a batch
    of 10**12 seeds, a hang listing them."""
    start = time.perf_counter()
    assert main(["run", "pendulum", "--graph", "chain:2", "--backend", "numpy", *flags]) == 2
    assert problem in _error_line(capsys)
    assert time.perf_counter() - start < 30


def test_verify_on_a_graph_beyond_its_limit_is_refused_at_once(capsys) -> None:
    """Once over two minutes on ``complete:300`` (the checks unroll the action over the graph)."""
    from stlp_sym.checks import MAX_VERIFY_ARCS

    start = time.perf_counter()
    assert main(["verify", "stlp", "--graph", "complete:300:in=1", "--backend", "numpy"]) == 2
    assert f"has more than {MAX_VERIFY_ARCS} arcs" in _error_line(capsys)
    assert time.perf_counter() - start < 30


def test_demo_into_a_file_is_refused_before_work(tmp_path, capsys) -> None:
    (tmp_path / "afile").write_text("")
    start = time.perf_counter()
    assert main(["demo", "--out", str(tmp_path / "afile"), "--backend", "numpy"]) == 2
    assert "exists and is not a directory" in _error_line(capsys)
    assert time.perf_counter() - start < 2


def test_generate_into_a_file_is_refused_before_work(tmp_path, capsys) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    start = time.perf_counter()
    assert main(["generate", "pendulum", "--out", str(afile)]) == 2
    assert "exists and is not a directory" in _error_line(capsys)
    assert time.perf_counter() - start < 2  # refused before deriving anything


def test_save_into_an_unwritable_place_is_refused_before_the_run(tmp_path, capsys) -> None:
    (tmp_path / "afile").write_text("")
    argv = ["run", "pendulum", "--graph", "chain:2", "--steps", "2"]
    assert main([*argv, "--save", str(tmp_path / "afile" / "trace.npz")]) == 2
    assert "is not a directory" in _error_line(capsys)
    assert main([*argv, "--plot", str(tmp_path / "afile")]) == 2
    _error_line(capsys)


def test_cache_home_pointing_at_a_file(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "afile").write_text("")
    monkeypatch.delenv("STLP_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "afile"))
    assert main(["generate", "pendulum"]) == 2
    assert "cannot create it" in _error_line(capsys)


def test_unwritable_cache_directory_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("STLP_CACHE_DIR", str(cache))

    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied", str(cache / "x.tmp"))

    monkeypatch.setattr(store, "write_atomic", refuse)
    assert main(["generate", "pendulum"]) == 2
    assert "Permission denied" in _error_line(capsys)


def test_cache_directory_is_created_private(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STLP_CACHE_DIR", str(tmp_path / "new" / "cache"))
    path = generate(PENDULUM.build(), PENDULUM.options)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_shared_or_foreign_cache_directory_is_refused(tmp_path, monkeypatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("STLP_CACHE_DIR", str(shared))
    with pytest.raises(StlpError, match="writable by others"):
        generate(PENDULUM.build(), PENDULUM.options)
    shared.chmod(0o700)
    monkeypatch.setattr(store.os, "getuid", lambda: os.stat(shared).st_uid + 1)
    with pytest.raises(StlpError, match="belongs to another user"):
        generate(PENDULUM.build(), PENDULUM.options)


def test_loader_never_runs_bytecode_of_another_source(tmp_path) -> None:
    path = generate(PENDULUM.build(), PENDULUM.options, tmp_path)
    text = path.read_text()
    # a planted .pyc with the .py's own time and size, as Python's loader would accept it
    planted = text.replace("def rhs(", "def rhz(", 1).replace("\n", "\n", 1)
    assert len(planted) == len(text)
    code = compile(planted, str(path), "exec")
    info = path.stat()
    pyc = Path(importlib.util.cache_from_source(str(path)))
    pyc.parent.mkdir(exist_ok=True)
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
    header += int(info.st_mtime).to_bytes(4, "little") + (info.st_size & 0xFFFFFFFF).to_bytes(
        4, "little"
    )
    pyc.write_bytes(header + marshal.dumps(code))
    module = load(path)
    assert hasattr(module, "rhs") and not hasattr(module, "rhz")


def test_rebuild_in_the_same_second_runs_the_new_module(tmp_path) -> None:
    from dataclasses import replace

    first = load(generate(PENDULUM.build(), PENDULUM.options, tmp_path))
    other = replace(PENDULUM.options, cse=not PENDULUM.options.cse)
    path = generate(PENDULUM.build(), other, tmp_path)
    second = load(path)
    assert first.__name__ != second.__name__
    assert store.verified_text(path) is not None
    assert not (tmp_path / "__pycache__").exists()


def _numba_module(value: str) -> str:
    """A module text with a valid hash line whose compiled function returns ``value``."""
    body = f"import numba\n\n\n@numba.njit(cache=True)\ndef value():\n    return {value}\n"
    return (
        f"# stlp_sym generated module: body-sha256={store.body_hash(body)} key={'0' * 64}\n{body}"
    )


def test_numba_cache_is_keyed_by_the_body_hash(tmp_path, monkeypatch) -> None:
    """Two bodies written in turn to one path, with the same time and size, each run their own
    machine code; Numba's cache files live in the private cache directory, not beside the
    module."""
    numba = pytest.importorskip("numba")
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")  # Numba's own choice: beside the source
    cache = tmp_path / "cache"
    monkeypatch.setenv("STLP_CACHE_DIR", str(cache))
    out = tmp_path / "out"
    out.mkdir()
    path = out / "model_euler_numba.py"
    texts = [_numba_module("1.25"), _numba_module("2.75")]
    assert len(texts[0]) == len(texts[1])
    results = []
    for text in texts:
        write_atomic(path, text)
        os.utime(path, ns=(1_700_000_000_000_000_000,) * 2)
        results.append(load(path).value())
    assert results == [1.25, 2.75]
    bodies = [store.body_hash(text.partition("\n")[2]) for text in texts]
    compiled = sorted(p.relative_to(cache).parts[:2] for p in cache.rglob("*.nbi"))
    assert compiled == [("numba", body) for body in sorted(bodies)]
    assert not [p for p in out.rglob("*") if p != path]


def test_stale_temporaries_of_a_killed_writer_are_removed(tmp_path) -> None:
    target = tmp_path / "module.py"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f".module.py.{int(dead.stdout)}.0123456789ab.tmp"
    live = tmp_path / f".module.py.{os.getpid()}.0123456789ab.tmp"
    other = tmp_path / ".other.py.1.0123456789ab.tmp"
    for path in (stale, live, other):
        path.write_text("partial")
    write_atomic(target, "whole\n")
    assert not stale.exists() and live.exists() and other.exists()
    assert remove_stale_temporaries(tmp_path / "other.py") in ([], [other])


def test_closed_pipe_ends_quietly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "stlp_sym", "models"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(store.__file__).parents[2])},
    )
    process.stdout.close()  # the reader is gone before the first line
    _, err = process.communicate(timeout=60)
    assert err == b"" and process.returncode == 141


# ---- module file names --------------------------------------------------------------------------

_OPTIONS = st.builds(
    Options,
    flip=st.booleans(),
    normalise=st.booleans(),
    policy=st.sampled_from(POLICIES),
    integrator=st.sampled_from(INTEGRATORS),
    cse=st.booleans(),
    backend=st.sampled_from(BACKENDS),
)
#: names close to each other: case, separators and the words the file name itself uses
_WORDS = st.sampled_from(["net", "Net", "v1", "euler", "rk4", "numba", "semi", "penalty", "0"])
_SEPARATORS = st.sampled_from(["-", ".", "_", "+", "--"])
_NAMES = st.builds(
    lambda first, parts: first + "".join(sep + word for sep, word in parts),
    _WORDS,
    st.lists(st.tuples(_SEPARATORS, _WORDS), max_size=3),
)


@settings(max_examples=60, deadline=1000, derandomize=True)
@given(st.lists(st.tuples(_NAMES, _OPTIONS), min_size=2, max_size=12, unique=True))
def test_module_file_names_are_injective(pairs) -> None:
    """Distinct (name, options, backend) give distinct file names, even on a file system that
    ignores case; every name is a plain, short, importable-looking file name."""
    action = PENDULUM.build()
    names = [module_filename(action.replace(name=name), options) for name, options in pairs]
    assert len({name.lower() for name in names}) == len(pairs), list(zip(pairs, names, strict=True))
    for name in names:
        assert name.endswith(".py") and len(name) < 120
        assert name[:-3].replace("_", "").isalnum() and name == name.lower()


def test_module_file_names_that_once_met(tmp_path) -> None:
    action, options = PENDULUM.build(), Options(backend="numpy")
    names = [
        module_filename(action.replace(name=n), options) for n in ("net-v1", "net.v1", "Net-v1")
    ]
    assert names[0] == "net_v1_euler.py" and len(set(names)) == 3
    assert names[1].startswith("net_v1_euler_") and names[2].startswith("net_v1_euler_")
    # every option enters the name: two option sets never share an --out file
    paths = {generate(action, replace(PENDULUM.options, cse=c), tmp_path) for c in (True, False)}
    assert len(paths) == 2 and all(store.read_valid(path) for path in paths)


# ---- divergence messages ------------------------------------------------------------------------

_GROWTH = """
name = "growth"
[parameters]
a = 1.0
b = 1.0
[fields]
x = "node"
w = "edge"
[terms]
node = "Dt(x)**2 / 2 + a * x**2 / 2 + x"
edge = "Dt(w)**2 / 2 + b * w**2 / 2"
[options]
flip = false
normalise = false
"""


@pytest.mark.parametrize(("param", "where"), [("a", "node"), ("b", "arc")])
def test_divergence_names_the_graph_files_node_ids(tmp_path, param, where) -> None:
    """x'' = a x + 1 on the nodes, w'' = b w on the arcs: a large ``a`` (``b``) blows up a node
    (an arc), and the message names it by the file's ids, not by its internal number."""
    (tmp_path / "growth.toml").write_text(_GROWTH)
    (tmp_path / "net.csv").write_text(
        "# inputs: sensor\n# outputs: motor\nsrc,dst\nsensor,hidden\nhidden,motor\nsensor,motor\n"
    )
    action, options = read_model(tmp_path / "growth.toml")
    graph = read_graph(tmp_path / "net.csv")
    module = load(generate(action, replace(options, backend="numpy"), tmp_path))
    task = make_task("tracking-sine", graph)
    trace = run(module, graph, task, steps=200, params={param: 1e8}, progress=False)
    diverged = trace.diverged
    assert diverged is not None and diverged.state.startswith("x" if where == "node" else "w")
    ids = [repr(label) for label in graph.labels]  # the file's ids: 'hidden', 'motor', 'sensor'
    if where == "node":
        assert f"on node {ids[diverged.index]}: " in str(diverged)
    else:
        arcs = [f"on arc {ids[j]} -> {ids[i]}: " for j, i in zip(graph.src, graph.dst, strict=True)]
        assert any(arc in str(diverged) for arc in arcs), str(diverged)
    assert diverged.where in str(diverged) and "'" in diverged.where
