"""``stlp run --out DIR``, ``--monitor``, ``--freeze``, ``--checkpoint-every``, ``--resume``,
``stlp show`` and Ctrl-C on a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from stlp_sym.cli import main
from stlp_sym.runner.trace import Trace

ROOT = Path(__file__).resolve().parents[1]
GRAPH = "complete:6:in=1"
PLOTS = ["tracking-sine-run.png"]


def _same_runs(one: Path, other: Path) -> None:
    """Two run directories hold the same trace and final state, to the bit."""
    first, second = Trace.load(one).to_xarray(), Trace.load(other).to_xarray()
    for dataset in (first, second):
        del dataset.attrs["seconds_per_step"]
    assert list(first.data_vars) == list(second.data_vars)
    for name in first.data_vars:
        assert np.array_equal(first[name].values, second[name].values, equal_nan=True), name
    assert first.identical(second)


def test_out_writes_config_trace_and_plots_and_show_reads_them(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    argv = ["run", "stlp", "--graph", GRAPH, "--steps", "300", "--backend", "numpy"]
    argv += ["--monitor", "w@2->1", "--monitor", "L@nodes", "--freeze", "w", "--out", str(out)]
    old = os.umask(0o022)
    try:
        assert main(argv) == 0
    finally:
        os.umask(old)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "trace.nc", *PLOTS]
    for path in out.iterdir():  # user outputs: the umask's permissions, not private ones
        assert path.stat().st_mode & 0o777 == 0o644, path
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "stlp" and config["steps"] == 300 and config["freeze"] == ["w"]
    assert config["monitor"] == ["w@2->1", "L@nodes"] and config["backend"] == "numpy"
    trace = Trace.load(out)
    assert trace.meta["graph"]["name"] == GRAPH and trace.steps == 300
    assert np.all(trace.series["w"].values == trace.series["w"].values[0])  # frozen
    capsys.readouterr()
    plots = tmp_path / "plots"
    assert main(["show", str(out), "--plot", str(plots)]) == 0
    shown = capsys.readouterr().out
    assert "300 steps (ended)" in shown and "L@nodes" in shown
    assert sorted(p.name for p in plots.iterdir()) == PLOTS  # named after the run's task


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--monitor", "nosuch"], "--monitor nosuch"),
        (["--monitor", "x:every=0"], "every=N"),
        (["--freeze", "nosuch"], "--freeze 'nosuch'"),
        (["--checkpoint-every", "100"], "needs --out"),
        (["--out", "{tmp}/o", "--checkpoint-every", "0"], "--checkpoint-every '0'"),
        (["--out", "{tmp}/o", "--checkpoint-every", "soon"], "--checkpoint-every 'soon'"),
        (["--out", "{tmp}/file"], "not a directory"),
        (["--out", "{tmp}/done"], "holds a run already"),
    ],
)
def test_bad_run_flags_are_one_line_errors_before_the_run(extra, fragment, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "config.json").write_text("{}")
    argv = ["run", "stlp", "--graph", GRAPH, "--steps", "50", "--backend", "numpy"]
    assert main([*argv, *(a.format(tmp=tmp_path) for a in extra)]) == 2
    captured = capsys.readouterr()
    assert fragment in captured.err and captured.err.count("\n") == 1
    assert "records" not in captured.out  # nothing ran


def test_resume_refuses_what_it_cannot_continue(tmp_path, capsys) -> None:
    assert main(["run", "--resume", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err
    out = tmp_path / "run"
    main(
        ["run", "stlp", "--graph", GRAPH, "--steps", "20", "--backend", "numpy", "--out", str(out)]
    )
    capsys.readouterr()
    assert main(["run", "--resume", str(out)]) == 2
    assert "has ended" in capsys.readouterr().err
    assert main(["run", "stlp", "--resume", str(out)]) == 2
    assert "drop model" in capsys.readouterr().err


def _stlp(*argv: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stlp_sym", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_ctrl_c_saves_the_partial_run_and_resume_continues_it_bit_for_bit(tmp_path) -> None:
    """A real process: SIGINT after its first checkpoint; exit 130 with the partial trace, the
    plots and a checkpoint; ``--resume`` then ends exactly where a run never stopped ends."""
    flags = ["run", "stlp", "--graph", GRAPH, "--steps", "40000", "--checkpoint-every", "2000"]
    flags += ["--backend", "numba", "--monitor", "L@nodes", "--monitor", "w@0->1:every=10"]
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    process = _stlp(*flags, "--out", str(stopped))
    deadline = time.monotonic() + 600
    while not (stopped / "checkpoint.npz").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=600)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert sorted(p.name for p in stopped.iterdir()) == sorted(
        ["checkpoint.npz", "config.json", "trace.nc", *PLOTS]
    )
    partial = Trace.load(stopped)
    assert partial.interrupted and 0 < partial.steps < 40000 and partial.steps % 50 == 0
    assert partial.t[-1] == pytest.approx(partial.steps * 1e-3)
    resumed = _stlp("run", "--resume", str(stopped))
    never_stopped = _stlp(*flags, "--out", str(whole))
    for process in (resumed, never_stopped):
        _out, err = process.communicate(timeout=900)
        assert process.returncode == 0, err
    assert not (stopped / "checkpoint.npz").exists()
    assert not Trace.load(stopped).interrupted and Trace.load(stopped).steps == 40000
    _same_runs(stopped, whole)
