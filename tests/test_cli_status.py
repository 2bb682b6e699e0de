"""Exit statuses of ``stlp``: 0 success, 1 diverged or failed check, 2 bad input (one line),
130 interrupted; one-line warnings; the progress bar only on a terminal."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import stlp_sym.runner.loop as loop
from stlp_sym import cli
from stlp_sym.cache.store import body_hash, generate
from stlp_sym.cli import main
from stlp_sym.cli_status import show_progress
from stlp_sym.symbolic.action import Action
from stlp_sym.symbolic.denominators import parameter_denominators, zero_denominators
from stlp_sym.symbolic.derivation import derive
from stlp_sym.symbolic.models import MODELS
from stlp_sym.symbolic.vocabulary import Field, Parameter, fn, t

REPO = Path(cli.__file__).parents[1]
RUN = ["run", "pendulum", "--graph", "chain:2", "--backend", "numpy"]


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line on standard error, which must be an ``stlp: error:`` line."""
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stlp: error: "), lines
    return lines[0]


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any run that starts fails the test: bad input must be refused before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(loop, "run", refuse)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--steps", "0"], "--steps"),
        (["--steps", "-5"], "--steps"),
        (["--steps", "2.5"], "--steps"),
        (["--horizon", "-3"], "--horizon"),
        (["--horizon", "0"], "--horizon"),
        (["--horizon", "nan"], "--horizon"),
        (["--dt", "0"], "--dt"),
        (["--seed", "-1"], "--seed"),
        (["--seeds", "-2:3"], "--seeds"),
        (["--steps", "3", "--horizon", "1"], "--horizon"),
        (["--hoizon", "3"], "--hoizon"),
        (["--policy", "penalti"], "--policy"),
        (["--param", "nosuch=1"], "--param nosuch"),
    ],
)
def test_bad_run_arguments_are_one_line_and_status_2_before_the_run(
    extra, named, capsys, no_run
) -> None:
    assert main([*RUN, *extra]) == 2
    line = error_line(capsys)
    assert named in line


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["derivee", "stlp"], "did you mean 'derive'?"),
        (["derive", "stlq"], "did you mean 'stlp'?"),
        (["run", "stlp", "--graph", "chain:2", "--hoizon", "3"], "did you mean '--horizon'?"),
        (["derive", "stlp", "--policy", "penalti"], "did you mean 'penalty'?"),
        (["run", "stlp", "--graph", "chain:2", "--param", "rr=1"], "did you mean 'r'?"),
        (["run", "stlp"], "stlp run needs MODEL and --graph SPEC"),
        ([], "the following arguments are required: command"),
    ],
)
def test_argparse_errors_are_one_line_with_a_suggestion(argv, fragment, capsys, no_run) -> None:
    assert main(argv) == 2
    assert fragment in error_line(capsys)


def test_through_a_real_process_the_status_and_the_line(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stlp_sym", *RUN, "--steps", "0"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "STLP_CACHE_DIR": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "stlp: error: argument --steps: '0': must be a positive integer (1 or more)"
    ]


def test_help_and_version_exit_0(capsys) -> None:
    assert main(["--version"]) == 0
    assert "stlp_sym" in capsys.readouterr().out
    assert main(["run", "--help"]) == 0
    assert "--quiet" in capsys.readouterr().out


def test_a_parameter_that_zeroes_a_denominator_is_refused_before_the_run(capsys, no_run) -> None:
    """``w'' = ... / r`` in model stlp: ``r = 0`` cannot run; ``c = 0`` (a numerator) can."""
    base = ["run", "stlp", "--graph", "chain:2", "--backend", "numpy"]
    assert main([*base, "--param", "r=0"]) == 2
    assert "--param r=0: makes the denominator r" in error_line(capsys)
    assert main([*base, "--param", "r=2*0"]) == 2
    error_line(capsys)
    with pytest.raises(AssertionError, match="the run started"):
        main([*base, "--param", "c=0"])


def test_denominators_follow_the_solved_system_of_each_builtin() -> None:
    """stlp divides by r (``r w''``), cal4 by alpha (``alpha w''''``), the penalty adds beta,
    the holonomic model's massive neurons divide by m_x and m_w; the pendulum by nothing."""
    from stlp_sym.options import Options
    from stlp_sym.symbolic.transforms import apply_options

    def names(model: str, **options: str) -> set[str]:
        chosen = Options(**{**MODELS[model].options.__dict__, **options})
        found = parameter_denominators(apply_options(MODELS[model].build(), chosen))
        return {str(factor) for factor in found}

    assert names("stlp") == {"r"}
    assert names("cal4") == {"alpha"}
    assert names("stlp", policy="penalty") == {"r", "beta"}
    assert names("stlp-holonomic") == {"m_x", "m_w"}
    assert names("pendulum") == set()


identifiers = st.sampled_from(["m", "kappa", "mass2", "rho_x", "b"])


@settings(max_examples=8, derandomize=True, deadline=None)
@given(mass=identifiers, stiffness=st.sampled_from(["k", "spring", "g_1"]), split=st.booleans())
def test_any_mass_in_any_name_is_found(mass, stiffness, split) -> None:
    """``L = M/2 qdot^2 - K/2 q^2``: solving gives ``qddot = -K q / M``; with ``M = a + b``
    split in two parameters the sum is the denominator, zero only when ``a = -b``."""
    q = fn("q")
    k = sp.Symbol(stiffness)
    masses = [sp.Symbol(mass), sp.Symbol(mass + "_2")] if split else [sp.Symbol(mass)]
    parameters = [Parameter(s.name, 1.0) for s in [*masses, k]]
    action = Action(
        fields=[Field("q")],
        parameters=parameters,
        node=sum(masses) / 2 * q.diff(t) ** 2 - k / 2 * q**2,
    )
    derivation = derive(action)
    assert sp.simplify(derivation.system.solution["q"] + k * q / sum(masses)) == 0
    assert parameter_denominators(derivation) == (sum(masses),)
    assert zero_denominators(derivation, {stiffness: 0.0}) == []
    zero = {mass: -1.0} if split else {mass: 0.0}
    assert zero_denominators(derivation, zero) == [(sum(masses), sorted(s.name for s in masses))]
    assert zero_denominators(derivation, {mass: 2.0}) == []


def test_a_diverged_run_exits_1_with_its_message(capsys) -> None:
    argv = ["run", "stlp", "--graph", "chain:3", "--backend", "numpy", "--steps", "200"]
    assert main([*argv, "--param", "c=1e9"]) == 1
    captured = capsys.readouterr()
    assert "diverged at t = " in captured.out
    assert "stlp: warning: dt * k = " in captured.err  # the unstable step, in one line


def test_a_failed_verify_check_exits_1(tmp_path, monkeypatch, capsys) -> None:
    """The cached module with one coefficient of its right-hand side changed (and its hash
    line made to match, so that the cache takes it): ``stlp verify`` finds it and exits 1."""
    monkeypatch.setenv("STLP_CACHE_DIR", str(tmp_path))
    model = MODELS["pendulum"]
    options = model.options.__class__(**{**model.options.__dict__, "backend": "numpy"})
    path = generate(model.build(), options)
    first, _, body = path.read_text(encoding="utf-8").partition("\n")
    body, count = re.subn(r"(\n    _out_q_d1 = )(.+)\n", r"\1(\2) * 1.001\n", body, count=1)
    assert count == 1
    first = re.sub(r"body-sha256=[0-9a-f]{64}", f"body-sha256={body_hash(body)}", first)
    path.write_text(f"{first}\n{body}", encoding="utf-8")
    assert main(["verify", "pendulum", "--backend", "numpy"]) == 1
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["command", "parser"])
def test_an_interrupt_anywhere_exits_130_without_a_traceback(where, monkeypatch, capsys) -> None:
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    if where == "command":
        monkeypatch.setattr(cli, "cmd_models", interrupt)
    else:
        monkeypatch.setattr(cli.Parser, "parse_known_args", interrupt)
    assert main(["models"]) == 130
    assert capsys.readouterr().err == "stlp: interrupted\n"


def test_warnings_are_one_clean_line_and_the_library_keeps_its_own(capsys) -> None:
    import warnings

    def warn(args) -> int:
        warnings.warn("first line\nsecond   line", UserWarning, stacklevel=1)
        return 0

    before = warnings.showwarning
    parser = cli.build_parser()
    args = parser.parse_args(["models"])
    args.func = warn
    original = cli.build_parser
    try:
        cli.build_parser = lambda: _Fixed(parser, args)
        assert main(["models"]) == 0
    finally:
        cli.build_parser = original
    assert capsys.readouterr().err == "stlp: warning: first line second line\n"
    assert warnings.showwarning is before


class _Fixed:
    """A parser stand-in that returns given arguments."""

    def __init__(self, parser, args) -> None:
        self.parser, self.args = parser, args

    def parse_known_args(self, argv):
        return self.args, []


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_only_on_a_terminal_and_not_quiet() -> None:
    assert show_progress(Namespace(quiet=False), _Stream(True))
    assert not show_progress(Namespace(quiet=True), _Stream(True))
    assert not show_progress(Namespace(quiet=False), _Stream(False))


def test_a_run_into_a_pipe_has_no_progress_bar_and_quiet_no_notes(tmp_path) -> None:
    argv = [sys.executable, "-m", "stlp_sym", "run", "stlp", "--graph", "chain:2", "--steps", "50"]
    env = {**os.environ, "STLP_CACHE_DIR": str(tmp_path)}
    loud = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert loud.returncode == 0, loud.stderr
    assert "step" not in loud.stderr and "%|" not in loud.stderr
    assert "backend" in loud.stderr  # the note says which backend was chosen
    quiet = subprocess.run(
        [*argv, "--quiet"], capture_output=True, text=True, cwd=REPO, env=env, timeout=300
    )
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert "score" in quiet.stdout


@pytest.mark.parametrize(
    ("horizon", "steps", "fragment"),
    [
        (None, 0, "steps = 0"),
        (None, -5, "steps = -5"),
        (-3.0, None, "horizon = -3.0"),
        (0.0, None, "horizon = 0.0"),
        (1e-5, None, "shorter than one step"),
        (1.0, 10, "not both"),
    ],
)
def test_the_library_refuses_a_run_length_that_is_not_positive(horizon, steps, fragment) -> None:
    from stlp_sym.errors import StlpError
    from stlp_sym.runner.tasks import Task

    task = Task("flat", lambda time: {}, horizon=100.0)
    with pytest.raises(StlpError, match=re.escape(fragment)):
        loop.run_length(task, horizon, steps, 1e-3)
    assert loop.run_length(task, None, None, 1e-3) == 100_000
    assert loop.run_length(task, 2.0, None, 1e-3) == 2000


def test_a_model_file_dividing_by_its_global_mass_is_refused(capsys, no_run) -> None:
    """examples/leaky-tracker.toml: the global gain g has the kinetic term m/2 g'^2, so its
    equation divides by m; the weights' by r; kappa is only a coefficient."""
    path = str(REPO / "examples" / "leaky-tracker.toml")
    base = ["run", path, "--graph", "chain:3", "--backend", "numpy"]
    assert main([*base, "--param", "m=0"]) == 2
    assert "--param m=0: makes the denominator m" in error_line(capsys)
    assert main([*base, "--param", "r=0"]) == 2
    assert "--param r=0: makes the denominator r" in error_line(capsys)
    from stlp_sym.parse.modelfile import load_model
    from stlp_sym.symbolic.transforms import apply_options

    model = load_model(path)
    derivation = apply_options(model.build(), model.options)
    assert {str(f) for f in parameter_denominators(derivation)} == {"m", "r"}


def test_unwritable_save_and_plot_paths_are_refused_before_the_run(
    tmp_path, capsys, no_run
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main([*RUN, "--save", str(afile / "trace.npz")]) == 2
    assert "--save" in error_line(capsys)
    assert main([*RUN, "--plot", str(afile)]) == 2
    assert "--plot" in error_line(capsys)
    assert main([*RUN, "--save", str(tmp_path)]) == 2
    assert "is a directory" in error_line(capsys)


def _stderr_on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Run ``argv`` with standard error on a pseudo-terminal 100 columns wide."""
    pty = pytest.importorskip("pty")
    fcntl, termios, struct = (pytest.importorskip(m) for m in ("fcntl", "termios", "struct"))
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=slave, cwd=REPO, env=env)
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return process.wait(timeout=300), data


def test_a_terminal_gets_the_progress_bar_unless_quiet(tmp_path) -> None:
    argv = [sys.executable, "-m", "stlp_sym", *RUN, "--steps", "2000"]
    env = {**os.environ, "STLP_CACHE_DIR": str(tmp_path)}
    status, shown = _stderr_on_a_terminal(argv, env)
    assert status == 0 and b"/2000 [" in shown and b"step/s" in shown
    status, quiet = _stderr_on_a_terminal([*argv, "--quiet"], env)
    assert status == 0 and b"step" not in quiet


def test_ctrl_c_of_a_real_process_exits_130_without_a_traceback(tmp_path) -> None:
    """SIGINT a few seconds into a run far too long to finish: whatever it is doing then
    (importing, deriving, generating, stepping), status 130 and no traceback."""
    import signal
    import time

    argv = [sys.executable, "-m", "stlp_sym", *RUN, "--steps", "1000000000", "--quiet"]
    env = {**os.environ, "STLP_CACHE_DIR": str(tmp_path)}
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env
    )
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
