"""The verification context every check shares (:class:`Context`): the generated module, its
action, graph and plan, seeded parameters, test signals and trajectories, the compiled independent
``L``, and the module's ``rhs`` and ``el_parts`` wrapped for the checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from ..errors import StlpError
from ..graph.digraph import Digraph
from ..symbolic.action import Action
from ..symbolic.derivation import Derivation, derive
from ..symbolic.transforms import Options, apply_options, derived_action
from .lagrangian import (
    Compiled,
    compile_expressions,
    discrete_action,
    field_registry,
    unrolled_lagrangian,
)
from .layout import Layout, memoised, random_raw
from .reference import LazyJet, Sinusoids, Source

if TYPE_CHECKING:
    from ..codegen.driver import Stages

#: A small graph with a cycle, a self-loop (1 -> 1), one input (0) and one output (5, which has
#: children of its own): arcs 0->1 1->1 2->1 5->1 0->2 3->2 1->3 2->3 4->3 5->3 3->4 0->5.
DEFAULT_GRAPH = "random:6,12,0:in=1:out=1"
POINTS = 3  # random states per pointwise check


@dataclass(frozen=True)
class Solved:
    """What one ``rhs`` call gives: the rates of the states, and for a module of the exact
    policy the multipliers of its sparse solve (fields without states)."""

    rates: dict[str, np.ndarray]
    multipliers: dict[str, np.ndarray]


@dataclass(frozen=True)
class Context:
    """Everything the checks share: the module, its action and graph, values and ``L``."""

    action: Action
    options: Options
    derived: Derivation  # the untransformed derivation the options' transforms start from
    derivation: Derivation
    graph: Digraph
    module: ModuleType
    layout: Layout
    plan: dict
    params: dict[str, float]
    lagrangian: Compiled
    signals: dict[str, Sinusoids]
    trajectories: dict[str, Sinusoids]
    seed: int
    chains: dict[str, list[str]]

    def signal_source(self, time: float | np.ndarray) -> Source:
        return lambda name, order: self.signals[name](time, order)

    def signals_at(self, time: float) -> LazyJet:
        """The ``signals`` dict of the module at ``time``: ``u``, ``u_d1``, ... on demand."""
        return LazyJet(self.layout.complete(no_raw, self.signal_source(time)))

    def random_point(self, tag: int, point: int) -> tuple[float, Source]:
        """A seeded time in ``[0, 1)`` and random values of every entry (signals at that time)."""
        time = float(np.random.default_rng([self.seed, tag, point]).uniform(0.0, 1.0))
        raw = random_raw(self.layout, self.seed + 100 * tag + point)
        return time, memoised(self.layout.complete(raw, self.signal_source(time)))

    def random_state(self, source: Source) -> dict[str, np.ndarray]:
        """The module's state dict (``x``, ``w``, ``w_d1``, ...) with values from ``source``."""
        return _state_from(self.module, source)

    def solve(self, time: float, state: Mapping[str, np.ndarray]) -> Solved:
        """The module's ``rhs`` at ``time`` on a copy of ``state`` (``rhs`` clamps in place),
        and the multipliers an exact-policy module solved for; copies (``rhs`` may return
        work buffers that its next call overwrites), each rate shaped like its state (the checks
        hold a global field as one entry, ``(1,)``, where the module's rate has shape ``()``)."""
        copy = {n: np.array(v, dtype=float) for n, v in state.items()}
        rates = self.module.rhs(time, copy, self.plan, self.params, self.signals_at(time))
        multipliers = self.plan.get("multipliers", {})
        return Solved(
            {n: np.array(v, dtype=float).reshape(np.shape(copy[n])) for n, v in rates.items()},
            {n: np.array(v, dtype=float) for n, v in multipliers.items()},
        )

    def rates(self, time: float, state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The module's ``rhs`` at ``time`` (a copy)."""
        return self.solve(time, state).rates

    def leading(self, time: float, state: Mapping[str, np.ndarray], field: str) -> np.ndarray:
        """The leading derivative of ``field`` (a solved multiplier for the exact policy)."""
        solved = self.solve(time, state)
        chain = self.chains.get(field)
        return solved.rates[chain[-1]] if chain else solved.multipliers[field]

    def discrete_action(self, time: np.ndarray, grid: Mapping[str, np.ndarray]) -> float:
        return discrete_action(self.lagrangian, self.params, time, grid)

    def el_parts(self, time: float, jet: Mapping[str, np.ndarray]) -> dict:
        """The module's ``el_parts`` at ``time``; signals at ``time``."""
        return self.module.el_parts(time, jet, self.plan, self.params, self.signals_at(time))


def _state_from(module: ModuleType, source: Source) -> dict[str, np.ndarray]:
    return {
        name: np.array(source(info["field"], info["order"]), dtype=float)
        for name, info in module.STATES.items()
    }


def no_raw(name: str, order: int) -> np.ndarray:
    raise KeyError(name)


def state_chains(module: ModuleType) -> dict[str, list[str]]:
    """Field -> its state names by derivative order (``["w", "w_d1"]``)."""
    chains: dict[str, list[str]] = {}
    for name, info in sorted(module.STATES.items(), key=lambda kv: kv[1]["order"]):
        chains.setdefault(info["field"], []).append(name)
    return chains


def install_solver(module: ModuleType) -> None:
    """Modules of the exact policy solve a sparse system per step with the runner's solver."""
    if hasattr(module, "set_solver"):
        from ..runtime.sparse import sparse_solve

        module.set_solver(sparse_solve)


def prepare_module(module: ModuleType, graph: Digraph) -> dict:
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    if not np.array_equal(plan["arc_order"], np.arange(graph.n_arcs)):
        raise StlpError("verify: the module's arc order differs from the graph's (dst, src) order")
    return plan


def build_context(
    action: Action,
    options: Options,
    graph: Digraph,
    module: ModuleType | None,
    seed: int,
    stages: Stages | None = None,
    params: Mapping | None = None,
) -> Context:
    """The shared context of the checks; ``stages`` (:func:`stlp_sym.compile` of ``action`` and
    ``options``) spares deriving again; ``params`` replace seeded parameter values."""
    from ..cache.store import build

    if stages is None:
        derived = derive(derived_action(action, options))
        derivation = apply_options(action, options, derived)
    else:
        derived, derivation = stages.derived, stages.derivation
    if module is None:
        module = build(action, options, stages=stages, derived=derived)
    return context_on(graph, action, options, derived, derivation, module, seed, params)


def seeded_params(action: Action, graph: Digraph, rng: np.random.Generator) -> dict:
    """Each default scaled by a seeded factor in ``[0.8, 1.25]``: one factor per node or arc
    for a parameter on nodes or arcs (so that its values differ from place to place)."""
    sizes = {"node": graph.n, "edge": graph.n_arcs}
    domains = action.parameter_domains
    return {
        name: value * rng.uniform(0.8, 1.25, sizes[domains[name]] if name in domains else None)
        for name, value in action.parameter_defaults.items()
    }


def context_on(
    graph: Digraph,
    action: Action,
    options: Options,
    derived: Derivation,
    derivation: Derivation,
    module: ModuleType,
    seed: int,
    given: Mapping | None = None,
) -> Context:
    """The context of a module and its derivations on ``graph``: layout, plan, seeded values
    (parameters: ``given`` values replace seeded ones)."""
    install_solver(module)
    own = derivation.action
    layout = Layout.of(own, graph)
    rng = np.random.default_rng(seed)
    params = {**seeded_params(own, graph, rng), **(given or {})}
    lagrangian = compile_expressions(
        unrolled_lagrangian(own, graph), field_registry(own, graph), list(params)
    )
    return Context(
        action=action,
        options=options,
        derived=derived,
        derivation=derivation,
        graph=graph,
        module=module,
        layout=layout,
        plan=prepare_module(module, graph),
        params=params,
        lagrangian=lagrangian,
        signals={s.name: Sinusoids.random(rng, graph.n) for s in own.signals},
        trajectories={f: Sinusoids.random(rng, mask.size) for f, mask in layout.unknown.items()},
        seed=seed,
        chains=state_chains(module),
    )
