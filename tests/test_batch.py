"""The batch axis: member ``b`` of a batch equals the unbatched run of member ``b``.

Every built-in model under every integrator (and the exact policy) runs 1,000 steps as a batch
of three seeds, one of its parameters given one value per member, and alone, seed by seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from recorded_numbers import graph_of, signals_for

from stlp_sym.cache.store import build
from stlp_sym.options import INTEGRATORS
from stlp_sym.runtime.sparse import sparse_solve
from stlp_sym.symbolic.models import MODELS

SEEDS = [0, 3, 7]
STEPS, DT = 1000, 1e-3
CASES = [(model, integrator, None) for model in MODELS for integrator in INTEGRATORS]
CASES += [("stlp-holonomic", "euler", "exact")]


def _module(model: str, integrator: str, policy: str | None):
    options = replace(MODELS[model].options, integrator=integrator)
    if policy is not None:
        options = replace(options, policy=policy)
    module = build(MODELS[model].build(), options)
    if hasattr(module, "set_solver"):
        module.set_solver(sparse_solve)
    return module


def _member_params(module) -> tuple[dict, list[dict]]:
    """One parameter per member (1, 1.1, 1.2 times its default), the others shared."""
    if not module.PARAMS:
        return {}, [{} for _ in SEEDS]
    name = sorted(module.PARAMS)[0]
    values = module.PARAMS[name] * (1.0 + 0.1 * np.arange(len(SEEDS)))
    return {name: values}, [{name: float(v)} for v in values]


@pytest.mark.parametrize(("model", "integrator", "policy"), CASES)
def test_member_of_a_batch_equals_its_own_run(model, integrator, policy) -> None:
    module = _module(model, integrator, policy)
    graph = graph_of(model)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    signals = signals_for(module, graph.n)
    params, alone = _member_params(module)
    batch = module.init(plan, params, SEEDS)
    singles = [module.init(plan, p, seed) for p, seed in zip(alone, SEEDS, strict=True)]
    for b, single in enumerate(singles):
        assert all(np.array_equal(batch[name][b], single[name]) for name in single)
    for state in (batch, *singles):
        module.clamp(0.0, state, plan, signals(0.0))
    for k in range(STEPS):
        module.step(k * DT, DT, batch, plan, params, signals)
        for p, single in zip(alone, singles, strict=True):
            module.step(k * DT, DT, single, plan, p, signals)
    for b, single in enumerate(singles):
        for name, value in single.items():
            scale = max(1.0, float(np.max(np.abs(value), initial=0.0)))
            assert np.max(np.abs(batch[name][b] - value), initial=0.0) <= 1e-12 * scale, name
    # rhs clamps its state in place: compared after the states
    rates = module.rhs(1.0, batch, plan, params, signals(1.0))
    rates = {name: np.array(value) for name, value in rates.items()}
    for b, (p, single) in enumerate(zip(alone, singles, strict=True)):
        for name, value in module.rhs(1.0, single, plan, p, signals(1.0)).items():
            np.testing.assert_allclose(rates[name][b], value, rtol=1e-12, atol=1e-12)
    try:
        energies = [
            (
                f(1.0, batch, plan, params, signals(1.0)),
                [f(1.0, s, plan, p, signals(1.0)) for p, s in zip(alone, singles, strict=True)],
            )
            for f in (module.lagrangian, module.hamiltonian)
        ]
    except NotImplementedError:
        return
    for batched, own in energies:
        assert np.shape(batched) == (len(SEEDS),)
        np.testing.assert_allclose(batched, own, rtol=1e-12, atol=1e-12)


def test_a_batch_of_one_seed_sequence_has_a_member_axis() -> None:
    module = _module("stlp", "euler", None)
    graph = graph_of("stlp")
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = module.init(plan, None, [5])
    assert state["x"].shape == (1, graph.n)
    assert state["w"].shape == (1, len(graph.src))
