"""``compile``: one derivation, every stage kept, faults of the generator named as such."""

from __future__ import annotations

import pytest

import stlp_sym.codegen.driver as driver
from stlp_sym import InternalError, Options, StructureError, compile, derive
from stlp_sym.cache.store import body_hash, source_of
from stlp_sym.symbolic.models import MODELS
from stlp_sym.symbolic.transforms import apply_options


def test_stages_are_those_of_the_separate_steps() -> None:
    action = MODELS["stlp"].build()
    stages = compile(action, Options())
    assert stages.derived.equations == derive(action).equations
    assert stages.derivation.equations == apply_options(action, Options()).equations
    # el_parts come from the unflipped derivation of the normalised action
    assert stages.raw.equations == derive(stages.derivation.action).equations
    assert {s.name for s in stages.ir.states} == {"x", "lambda_hat", "w", "w_d1"}
    text = source_of(action, Options())
    assert text.partition("\n")[2] == stages.source
    assert body_hash(stages.source) in text.partition("\n")[0]


def test_compile_derives_once_when_the_transforms_keep_the_action(monkeypatch) -> None:
    calls = []
    real = driver.derive
    monkeypatch.setattr(driver, "derive", lambda action: calls.append(action) or real(action))
    compile(MODELS["pendulum"].build(), MODELS["pendulum"].options)
    assert len(calls) == 1


def test_a_derived_stage_is_reused(monkeypatch) -> None:
    action = MODELS["cal4"].build()
    first = compile(action, Options(integrator="rk4"))
    monkeypatch.setattr(driver, "derive", lambda action: pytest.fail("derived again"))
    second = compile(action, Options(integrator="euler", normalise=False), derived=first.derived)
    assert second.derived is first.derived and "def step(" in second.source


def test_user_faults_pass_through_and_generator_faults_ask_for_a_report(monkeypatch) -> None:
    with pytest.raises(StructureError, match="algebraic"):
        compile(MODELS["stlp-holonomic"].build(), Options(policy="none"))

    def broken(*args, **kwargs):
        raise KeyError("sign_d1")

    monkeypatch.setattr(driver, "lower", broken)
    with pytest.raises(InternalError, match=r"KeyError: 'sign_d1'.*please report it"):
        compile(MODELS["pendulum"].build(), MODELS["pendulum"].options)
