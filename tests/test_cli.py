"""The ``stlp`` command line."""

from __future__ import annotations

import pytest

from stlp_sym.cli import main


def test_models_lists_every_model_with_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("stlp", "stlp-holonomic", "cal4", "pendulum", "henon-heiles", "high-order"):
        assert name in out
    assert "policy=penalty" in out


def test_derive_prints_system_and_writes_files(tmp_path, capsys) -> None:
    png, tex = tmp_path / "eq.png", tmp_path / "eq.tex"
    assert main(["derive", "stlp", "--png", str(png), "--latex", str(tex)]) == 0
    out = capsys.readouterr().out
    assert "lambda_hat" in out and "w_ij''" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert r"\sum_{k \in ch(i)}" in tex.read_text()


def test_algebraic_constraint_prints_a_note_and_exits_zero(capsys) -> None:
    assert main(["derive", "stlp-holonomic", "--policy", "none"]) == 0
    out = capsys.readouterr().out
    assert "note:" in out and "algebraic" in out and "lambda" in out


def test_no_flip_changes_the_signs(capsys) -> None:
    main(["derive", "stlp", "--no-flip", "--no-normalise"])
    assert "exp(" in capsys.readouterr().out


def test_expand_on_a_graph(capsys) -> None:
    assert main(["derive", "stlp", "--graph", "chain:2", "--expand"]) == 0
    out = capsys.readouterr().out
    assert "w[0->1]" in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["derive", "nosuch"], "unknown model 'nosuch'"),
        (["derive", "stlp", "--expand"], "--expand needs --graph"),
        (["derive", "stlp", "--graph", "chain:x", "--expand"], "chain:x"),
    ],
)
def test_bad_input_is_a_clear_error(argv, fragment, capsys) -> None:
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err


def test_exact_policy_is_explained(capsys) -> None:
    assert main(["derive", "stlp-holonomic", "--policy", "exact"]) == 0
    assert "one sparse linear system" in capsys.readouterr().out
    assert main(["derive", "stlp", "--policy", "exact"]) == 2
    assert "applies to algebraic constraints" in capsys.readouterr().err


def test_demo_builds_and_derives_the_action_once(tmp_path, monkeypatch, capsys) -> None:
    """``stlp demo`` (coarse steps, to keep it short) builds the action once and derives it
    once: every later stage reuses the compiled stages."""
    import sys

    import stlp_sym.symbolic.derivation as derivation
    from stlp_sym.symbolic.models import MODELS

    model = MODELS["stlp"]
    builds, derived = [], []
    real_build, real_derive = model.build, derivation.derive

    def counting_build():
        builds.append(1)
        return real_build()

    def counting_derive(action):
        derived.append(action.name)
        return real_derive(action)

    monkeypatch.setitem(MODELS, "stlp", type(model)(model.name, counting_build, model.options))
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("stlp_sym") and (
            getattr(module, "derive", None) is real_derive
        ):
            monkeypatch.setattr(module, "derive", counting_derive)
    assert main(["demo", "--out", str(tmp_path), "--dt", "0.05"]) == 0
    assert builds == [1]
    # the action itself once; the normalised action (lambda = phi lambda_hat) once for el_parts
    # (the other tracking models the demo screens derive their own)
    assert [name for name in derived if name == "stlp"] == ["stlp", "stlp"]
    assert (tmp_path / "equations.png").is_file()
    out = capsys.readouterr().out
    assert "all checks passed" in out
    _demo_chose_the_best_and_wrote_its_figures(out, tmp_path)


def _demo_chose_the_best_and_wrote_its_figures(out: str, directory) -> None:
    """Every tracking model is scored on each task; the lowest score is chosen and runs it;
    the figures of both runs and of the back-propagation limit are written."""
    import re

    from stlp_sym.display.demo import SCREEN_HORIZON, tracking_models

    tmp_path = directory
    models = tracking_models()
    assert {"stlp", "stlp-holonomic", "cal4"} <= set(models)
    scores = {}
    for name in models:
        row = re.search(rf"^   {re.escape(name)} +(\S+) +(\S+)$", out, re.MULTILINE)
        assert row, f"no score row for {name}"
        scores[name] = [float("inf") if s == "diverged" else float(s) for s in row.groups()]
    for k, task in enumerate(SCREEN_HORIZON):
        best = min(models, key=lambda name: scores[name][k])
        assert f"chosen for {task}: {best}" in out
        assert f"== run {task} with model {best}" in out
        assert (tmp_path / f"{task}-run.png").stat().st_size > 10_000
    assert (tmp_path / "backprop-limit.png").stat().st_size > 10_000
    gap = float(re.search(r"back-propagation limit: gap (\S+)", out).group(1))
    assert gap < 1e-6
