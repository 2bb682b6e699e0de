"""Verification of a generated module against finite differences (MATH.md section 7).

:func:`verify` runs four groups of checks on one graph and returns a :class:`Report`:

1. **discrete action** -- ``S_h = sum_k h L(t_k, q_k, D q_k, ...)`` over the interior of the grid
   ``t_k = k h``, with central differences ``D``; for a direction ``v`` that vanishes near both
   ends and on clamped entries, ``dS_h/de (q + e v)`` must approach ``sum_k h EL(t_k) . v_k``
   (``EL = P0 + P1`` from the module's ``el_parts``) as ``O(h^2)``.
2. **rhs identities** at seeded random states: (i) ``P0 = dL/dq`` against central differences
   of ``L``; (ii) ``s P0 + P1 = 0`` with the leading derivatives from the module's ``rhs``;
   (iii) the normalised and the raw module agree under ``lambda = phi lambda_hat``.
3. **integrator order** -- ``p = log2(|y_h - y_{h/2}| / |y_{h/2} - y_{h/4}|)`` of ``step``.
4. **unrolled reference** -- ``rhs`` against the derivation written out on the graph
   (:func:`stlp_sym.expansion.expand`), evaluated at random points.

A module of the exact policy (multipliers from a sparse solve per step, no explicit system) is
checked with the runner's solver: its multipliers join the jets, and the unrolled reference checks
that the expanded equations vanish instead of comparing with an explicit solution.

``L`` is evaluated independently of the derivation and of the generated code: the action's node,
edge and global terms are written out node by node and arc by arc (:func:`unrolled_lagrangian`)
and lambdified once. The action checked is the module's own, i.e. after the options' transforms
(for a normalised module it is written in ``lambda_hat``), so ``lagrangian``, ``el_parts`` and
the independent ``L`` all refer to the same functional.

>>> Digraph.from_spec(DEFAULT_GRAPH).n_arcs
12
>>> central_weights(2).tolist()
[1.0, -2.0, 1.0]
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from .action import ROLE_INDICATORS, Action, Field, t
from .derivation import Derivation
from .errors import StlpError
from .expansion import ExpandedEquations, edge_function, expand, node_function
from .graph import Digraph
from .transforms import Options, apply_options

if TYPE_CHECKING:
    from .models import Model

#: A small graph with a cycle, a self-loop (1 -> 1), one input (0) and one output (5, which has
#: children of its own): arcs 0->1 1->1 2->1 5->1 0->2 3->2 1->3 2->3 4->3 5->3 3->4 0->5.
DEFAULT_GRAPH = "random:6,12,0:in=1:out=1"
#: The unrolled-reference check runs on graphs of at most this many arcs.
MAX_UNROLLED_ARCS = 60
NOMINAL_ORDER = {"euler": 1, "semi-implicit": 1, "heun": 2, "rk4": 4}

_ACTION_HORIZON = 2.0  # T of the discrete-action check
_ACTION_STEPS = (100, 200, 400, 800)  # h = T/100 .. T/800
_ORDER_RANGE = (1.8, 2.2)
_ACTION_TOLERANCE = 1e-3
_ROUNDING = 1e-11  # relative error below which the discrete EL counts as exact
_P0_TOLERANCE = 1e-6
_IDENTITY_TOLERANCE = 1e-9
_FLOW_TOLERANCE = 1e-6  # (ii) when derivatives above the leading ones come from the flow
_NORMALISE_TOLERANCE = 1e-9
_UNROLLED_TOLERANCE = 1e-9
_INTEGRATOR_HORIZON = 0.5
_INTEGRATOR_STEPS = {"euler": 128, "semi-implicit": 128, "heun": 32, "rk4": 8}
_INTEGRATOR_ROUNDING = 1e-12  # |y_{h/2} - y_{h/4}| / |y| below which rounding may dominate
_POINTS = 3  # random states per pointwise check

Source = Callable[[str, int], np.ndarray]


@dataclass(frozen=True)
class Check:
    """One verification result: an error, an observed order (or ``None``) and pass/fail."""

    name: str
    error: float
    order: float | None
    passed: bool
    note: str = ""


@dataclass(frozen=True)
class Report:
    """The checks of one module on one graph; ``passed`` when every check passed."""

    model: str
    graph: str
    options: Options
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def table(self) -> str:
        """A plain-text table: check, error, observed order, PASS/FAIL, note."""
        head = ("check", "error", "observed order", "result", "note")
        rows = [head]
        for c in self.checks:
            error = "n/a" if math.isnan(c.error) else f"{c.error:.2e}"
            order = "-" if c.order is None else f"{c.order:.2f}"
            rows.append((c.name, error, order, "PASS" if c.passed else "FAIL", c.note))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [
            f"model {self.model} on {self.graph}",
            f"options: {self.options.describe()}",
            *self.notes,
        ]
        for r in rows:
            cells = [f"{v:<{w}}" for v, w in zip(r, widths, strict=False)]
            lines.append("  ".join([*cells, r[4]]))
        lines.append(f"overall: {'PASS' if self.passed else 'FAIL'}")
        return "\n".join(line.rstrip() for line in lines)


# -- finite differences ---------------------------------------------------------------------------


def central_weights(order: int) -> np.ndarray:
    """Weights of the second-order central difference of the given derivative order.

    The stencil has half-width ``r = floor((order + 1) / 2)`` (offsets ``-r..r``) and error
    ``O(h^2)``: ``[-1/2, 0, 1/2]`` for ``D``, ``[1, -2, 1]`` for ``D^2``,
    ``[-1/2, 1, 0, -1, 1/2]`` for ``D^3``, ``[1, -4, 6, -4, 1]`` for ``D^4``.
    """
    half = (order + 1) // 2
    weights = sp.finite_diff_weights(order, list(range(-half, half + 1)), 0)[order][-1]
    return np.array([float(w) for w in weights])


def _five_point(function: Callable[[float], float], eps: float) -> float:
    """``f'(0) ~ (f(-2e) - 8 f(-e) + 8 f(e) - f(2e)) / (12 e)``, error ``O(e^4)``."""
    values = [function(k * eps) for k in (-2, -1, 1, 2)]
    return (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * eps)


def _central_difference(grid: np.ndarray, order: int, h: float, margin: int) -> np.ndarray:
    """``D^order`` of ``grid`` (time on the last axis) at the points ``margin .. K-1-margin``."""
    size = grid.shape[-1]
    if order == 0:
        return grid[..., margin : size - margin]
    weights = central_weights(order)
    half = len(weights) // 2
    total = sum(
        w * grid[..., margin + j : size - margin + j]
        for w, j in zip(weights, range(-half, half + 1), strict=True)
        if w
    )
    return total / h**order


def _fitted_order(steps: Sequence[float], errors: Sequence[float]) -> float:
    """Least-squares slope of ``log(error)`` against ``log(h)``."""
    return float(np.polyfit(np.log(steps), np.log(errors), 1)[0])


# -- smooth test functions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sinusoids:
    """``q_e(t) = sum_j A_ej sin(omega_ej t + phase_ej)``, one row per entry ``e``.

    The ``m``-th derivative is ``sum_j A_ej omega_ej^m sin(omega_ej t + phase_ej + m pi/2)``.
    """

    amplitude: np.ndarray
    omega: np.ndarray
    phase: np.ndarray

    @classmethod
    def random(cls, rng: np.random.Generator, count: int, terms: int = 3) -> Sinusoids:
        shape = (count, terms)
        return cls(
            amplitude=rng.uniform(0.2, 1.0, shape) / terms,
            omega=rng.uniform(0.5, 3.0, shape),
            phase=rng.uniform(0.0, 2 * np.pi, shape),
        )

    def __call__(self, time: float | np.ndarray, order: int = 0) -> np.ndarray:
        """Values ``(count,) + shape(time)`` of the ``order``-th derivative."""
        time = np.asarray(time, dtype=float)
        arg = self.omega[..., None] * time.reshape(-1) + (self.phase + order * np.pi / 2)[..., None]
        value = np.sum((self.amplitude * self.omega**order)[..., None] * np.sin(arg), axis=1)
        return value.reshape(self.amplitude.shape[:1] + time.shape)


def _bump(time: np.ndarray, horizon: float) -> np.ndarray:
    """``sin(pi s)^4`` on ``s = (t - 0.1 T) / (0.8 T)`` in ``[0, 1]``, zero outside."""
    s = np.clip((np.asarray(time) - 0.1 * horizon) / (0.8 * horizon), 0.0, 1.0)
    return np.sin(np.pi * s) ** 4


_JET_KEY = re.compile(r"(.+)_d([0-9]+)")


def split_jet_key(key: str) -> tuple[str, int]:
    """``"w_d2" -> ("w", 2)``, ``"x" -> ("x", 0)`` (names never end in ``_dK``)."""
    match = _JET_KEY.fullmatch(key)
    return (match.group(1), int(match.group(2))) if match else (key, 0)


class LazyJet(dict):
    """A jet (or signal dict) whose entry ``q_dK`` is ``source(q, K)``, computed on first use."""

    def __init__(self, source: Source):
        super().__init__()
        self.source = source

    def __missing__(self, key: str) -> np.ndarray:
        value = np.asarray(self.source(*split_jet_key(key)), dtype=float)
        self[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        """True for every key the source can produce (``"u_d2" in signals``)."""
        try:
            self[key]
        except KeyError:
            return False
        return True


# -- the graph layout: which entries are unknowns, clamped or absent ------------------------------


@dataclass(frozen=True)
class Layout:
    """Where each quantity of an action lives on a graph.

    ``unknown[f]`` marks the entries of field ``f`` that are unknowns (in its role, not
    clamped); ``clamped[f] = (signal, mask)``; ``present[q]`` is the role mask of a node field or
    signal (entries outside it are zero, MATH.md section 1).
    """

    action: Action
    graph: Digraph
    counts: Mapping[str, int]
    unknown: Mapping[str, np.ndarray]
    clamped: Mapping[str, tuple[str, np.ndarray]]
    present: Mapping[str, np.ndarray]

    @classmethod
    def of(cls, action: Action, graph: Digraph) -> Layout:
        counts, unknown, clamped, present = {}, {}, {}, {}
        sizes = {"node": graph.n, "edge": graph.n_arcs, "global": 1}
        for s in action.signals:
            counts[s.name], present[s.name] = graph.n, graph.role_mask(s.role).copy()
        for f in action.fields:
            counts[f.name] = sizes[f.domain]
            mask = np.ones(counts[f.name], dtype=bool)
            if f.domain == "node":
                mask = graph.role_mask(f.role).copy()
                present[f.name] = mask.copy()
                clamp = action.clamp_of(f.name)
                if clamp is not None:
                    where = graph.role_mask(clamp.role) & mask
                    clamped[f.name] = (clamp.signal, where)
                    mask &= ~where
            unknown[f.name] = mask
        return cls(action, graph, counts, unknown, clamped, present)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.action.fields)

    def complete(self, raw: Source, signal: Source) -> Source:
        """Values of every quantity: ``raw`` on unknowns, signals on clamped entries, else 0."""

        def source(name: str, order: int) -> np.ndarray:
            if name not in self.counts:
                raise KeyError(name)
            if name not in self.unknown:  # a signal
                return _masked(signal(name, order), self.present[name])
            value = np.asarray(raw(name, order), dtype=float)
            if name in self.clamped:
                sig, mask = self.clamped[name]
                value = np.where(_column(mask, value), source(sig, order), value)
            if name in self.present:
                value = _masked(value, self.present[name])
            return value

        return source


def _column(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    return mask.reshape(mask.shape + (1,) * (np.ndim(like) - 1))


def _masked(value: np.ndarray, mask: np.ndarray) -> np.ndarray:
    value = np.asarray(value, dtype=float)
    return np.where(_column(mask, value), value, 0.0)


def _cached(source: Source) -> Source:
    cache: dict[tuple[str, int], np.ndarray] = {}

    def cached(name: str, order: int) -> np.ndarray:
        if (name, order) not in cache:
            cache[name, order] = source(name, order)
        return cache[name, order]

    return cached


def _random_raw(layout: Layout, seed: int) -> Source:
    """Seeded uniform values in ``[-1, 1]`` per (quantity, order), independent of call order."""

    def raw(name: str, order: int) -> np.ndarray:
        rng = np.random.default_rng([seed, zlib.crc32(name.encode()), order])
        return rng.uniform(-1.0, 1.0, layout.counts[name])

    return raw


# -- the independent Lagrangian -------------------------------------------------------------------


def _registry(action: Action, graph: Digraph) -> dict[str, tuple[str, int]]:
    """Concrete function name (``x[3]``, ``w[0->1]``) -> ``(quantity, entry index)``."""
    names: dict[str, tuple[str, int]] = {}
    node_quantities = [s.name for s in action.signals] + [f.name for f in action.fields_on("node")]
    for name in node_quantities:
        for k in range(graph.n):
            names[node_function(name, k).func.__name__] = (name, k)
    for f in action.fields_on("edge"):
        for e, (j, i) in enumerate(graph.arcs()):
            names[edge_function(f.name, j, i).func.__name__] = (f.name, e)
    for f in action.fields_on("global"):
        names[f.name] = (f.name, 0)
    return names


class _Unroller:
    """Writes the action's terms out on a graph, one concrete function per entry."""

    def __init__(self, action: Action, graph: Digraph):
        self.action, self.graph, self.arcs = action, graph, graph.arcs()
        self.aggregates: dict[tuple[str, int], sp.Expr] = {}

    def entry(self, name: str, node: int) -> sp.Expr:
        """A node field or signal at ``node``: its function, its clamp's signal, or zero."""
        item = self.action.lookup(name)
        if not self.graph.role_mask(item.role)[node]:
            return sp.S.Zero
        clamp = self.action.clamp_of(name) if isinstance(item, Field) else None
        if clamp is not None and self.graph.role_mask(clamp.role)[node]:
            return node_function(clamp.signal, node)
        return node_function(name, node)

    def node_map(self, node: int, suffix: str = "") -> dict[sp.Basic, sp.Basic]:
        mapping: dict[sp.Basic, sp.Basic] = {}
        for item in (*self.action.signals, *self.action.fields_on("node")):
            mapping[sp.Function(item.name + suffix)(t)] = self.entry(item.name, node)
        for role, symbol in ROLE_INDICATORS.items():
            flag = bool(self.graph.role_mask(role)[node])
            mapping[sp.Symbol(symbol.name + suffix)] = sp.Integer(flag)
        if not suffix:
            for agg in self.action.aggregates:
                mapping[sp.Function(agg.name)(t)] = self.aggregate(agg.name, node)
        return mapping

    def on_arc(self, expr: sp.Expr, e: int) -> sp.Expr:
        j, i = self.arcs[e]
        mapping = {**self.node_map(j, "__src"), **self.node_map(i, "__dst")}
        for f in self.action.fields_on("edge"):
            mapping[f.symbol] = edge_function(f.name, j, i)
        return expr.xreplace(mapping).doit()

    def aggregate(self, name: str, node: int) -> sp.Expr:
        if (name, node) not in self.aggregates:
            agg = next(a for a in self.action.aggregates if a.name == name)
            end = 1 if agg.direction == "in" else 0
            arcs = [e for e, arc in enumerate(self.arcs) if arc[end] == node]
            self.aggregates[name, node] = sp.Add(*(self.on_arc(agg.expr, e) for e in arcs))
        return self.aggregates[name, node]


def unrolled_lagrangian(action: Action, graph: Digraph) -> sp.Expr:
    """``L = L_global + sum_i L_node(i) + sum_e L_edge(e)`` with every sum written out.

    Node fields become ``x[i](t)`` (their clamp's signal ``u[i](t)`` on clamped nodes, zero
    outside their role), edge fields ``w[j->i](t)``, role indicators 0 or 1, aggregates the
    explicit sums of their summands over the arcs entering (leaving) the node. Nothing of the
    derivation is used.
    """
    unroller = _Unroller(action, graph)
    total = action.global_
    for node in range(graph.n):
        total += action.node.xreplace(unroller.node_map(node)).doit()
    for e in range(graph.n_arcs):
        total += unroller.on_arc(action.edge, e)
    return total


@dataclass(frozen=True)
class Compiled:
    """Expressions in concrete functions of a graph, lambdified once.

    ``arguments`` lists ``(quantity, entry, order)`` per value argument; calling with
    ``lookup(quantity, order) -> array over entries (+ trailing axes)`` evaluates them.
    """

    function: Callable
    parameters: tuple[str, ...]
    arguments: tuple[tuple[str, int, int], ...]

    def __call__(self, time: float | np.ndarray, params: Mapping[str, float], lookup: Source):
        values = [lookup(name, order)[index] for name, index, order in self.arguments]
        return self.function(time, *(params[p] for p in self.parameters), *values)


def compile_expressions(
    exprs: sp.Expr | Sequence[sp.Expr],
    registry: Mapping[str, tuple[str, int]],
    parameters: Sequence[str],
) -> Compiled:
    """Replace concrete functions and their derivatives by plain symbols and lambdify."""
    exprs_list = [exprs] if isinstance(exprs, sp.Expr) else list(exprs)
    found: dict[sp.Basic, tuple[str, int, int]] = {}
    for expr in exprs_list:
        for atom in expr.atoms(sp.Derivative) | expr.atoms(AppliedUndef):
            inner, order = atom, 0
            if isinstance(atom, sp.Derivative):
                inner, order = atom.expr, int(atom.derivative_count)
            name = inner.func.__name__
            if name not in registry or inner.args != (t,):
                raise StlpError(f"verify: cannot evaluate {atom} on the graph")
            found[atom] = (*registry[name], order)
    arguments = sorted(set(found.values()))
    symbols = {arg: sp.Symbol(f"_v{k}") for k, arg in enumerate(arguments)}
    replacements = {atom: symbols[arg] for atom, arg in found.items()}
    time = sp.Symbol("_t")
    names = sorted({s.name for e in exprs_list for s in e.free_symbols} - {t.name})
    unknown = sorted(set(names) - set(parameters))
    if unknown:
        raise StlpError(f"verify: unexpected symbols {unknown} in the unrolled expressions")
    params = {sp.Symbol(n): sp.Symbol(f"_p{k}") for k, n in enumerate(names)}
    replacements.update({t: time, **params})
    ready = [e.xreplace(replacements) for e in exprs_list]
    function = sp.lambdify(
        [time, *params.values(), *symbols.values()],
        ready[0] if isinstance(exprs, sp.Expr) else ready,
        modules="numpy",
        cse=True,
    )
    return Compiled(function, tuple(names), tuple(arguments))


# -- the verification context ---------------------------------------------------------------------


@dataclass(frozen=True)
class Solved:
    """What one ``rhs`` call gives: the rates of the states, and for a module of the exact
    policy the multipliers of its sparse solve (fields without states)."""

    rates: dict[str, np.ndarray]
    multipliers: dict[str, np.ndarray]


@dataclass(frozen=True)
class _Context:
    """Everything the checks share: the module, its action and graph, values and ``L``."""

    action: Action
    options: Options
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
        return LazyJet(self.layout.complete(_no_raw, self.signal_source(time)))

    def random_point(self, tag: int, point: int) -> tuple[float, Source]:
        """A seeded time in ``[0, 1)`` and random values of every entry (signals at that time)."""
        time = float(np.random.default_rng([self.seed, tag, point]).uniform(0.0, 1.0))
        raw = _random_raw(self.layout, self.seed + 100 * tag + point)
        return time, _cached(self.layout.complete(raw, self.signal_source(time)))

    def random_state(self, source: Source) -> dict[str, np.ndarray]:
        """The module's state dict (``x``, ``w``, ``w_d1``, ...) with values from ``source``."""
        return _state_from(self.module, source)

    def solve(self, time: float, state: Mapping[str, np.ndarray]) -> Solved:
        """The module's ``rhs`` at ``time`` on a copy of ``state`` (``rhs`` clamps in place),
        and the multipliers an exact-policy module solved for; copies (``rhs`` may return
        work buffers that its next call overwrites)."""
        copy = {n: np.array(v, dtype=float) for n, v in state.items()}
        rates = self.module.rhs(time, copy, self.plan, self.params, self.signals_at(time))
        multipliers = self.plan.get("multipliers", {})
        return Solved(
            {n: np.array(v, dtype=float) for n, v in rates.items()},
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


def _no_raw(name: str, order: int) -> np.ndarray:
    raise KeyError(name)


def _chains(module: ModuleType) -> dict[str, list[str]]:
    """Field -> its state names by derivative order (``["w", "w_d1"]``)."""
    chains: dict[str, list[str]] = {}
    for name, info in sorted(module.STATES.items(), key=lambda kv: kv[1]["order"]):
        chains.setdefault(info["field"], []).append(name)
    return chains


def _install_solver(module: ModuleType) -> None:
    """Modules of the exact policy solve a sparse system per step with the runner's solver."""
    if hasattr(module, "set_solver"):
        from .run import sparse_solve

        module.set_solver(sparse_solve)


def _prepare(module: ModuleType, graph: Digraph) -> dict:
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    if not np.array_equal(plan["arc_order"], np.arange(graph.n_arcs)):
        raise StlpError("verify: the module's arc order differs from the graph's (dst, src) order")
    return plan


def _context(
    action: Action,
    options: Options,
    graph: Digraph,
    module: ModuleType | None,
    seed: int,
    derivation: Derivation | None = None,
) -> _Context:
    from .build import build

    derivation = derivation or apply_options(action, options)
    module = module if module is not None else build(action, options)
    _install_solver(module)
    own = derivation.action
    layout = Layout.of(own, graph)
    rng = np.random.default_rng(seed)
    params = {
        name: value * rng.uniform(0.8, 1.25) for name, value in own.parameter_defaults.items()
    }
    lagrangian = compile_expressions(
        unrolled_lagrangian(own, graph), _registry(own, graph), list(params)
    )
    return _Context(
        action=action,
        options=options,
        derivation=derivation,
        graph=graph,
        module=module,
        layout=layout,
        plan=_prepare(module, graph),
        params=params,
        lagrangian=lagrangian,
        signals={s.name: Sinusoids.random(rng, graph.n) for s in own.signals},
        trajectories={f: Sinusoids.random(rng, mask.size) for f, mask in layout.unknown.items()},
        seed=seed,
        chains=_chains(module),
    )


# -- 1. the discrete action -----------------------------------------------------------------------


def _trajectory_source(ctx: _Context, time: np.ndarray) -> Source:
    """The smooth test trajectories on a time grid: ``(entries, len(time))`` per quantity."""
    raw = lambda name, order: ctx.trajectories[name](time, order)  # noqa: E731
    return _cached(ctx.layout.complete(raw, ctx.signal_source(time)))


def _el_on_grid(ctx: _Context, time: np.ndarray, source: Source, active: np.ndarray) -> dict:
    """``EL = P0 + P1`` of every field from the module's ``el_parts``, exact jets, per point."""
    fields = ctx.layout.fields
    el = {f: np.zeros((ctx.layout.counts[f], time.size)) for f in fields}
    for k in np.flatnonzero(active):
        jet = LazyJet(lambda name, order, k=k: source(name, order)[:, k])
        parts = ctx.module.el_parts(time[k], jet, ctx.plan, ctx.params, jet)
        for f in fields:
            el[f][:, k] = np.broadcast_to(parts[f][0] + parts[f][1], el[f].shape[:1])
    return el


def discrete_action(
    lagrangian: Compiled, params: Mapping[str, float], time: np.ndarray, grid: Mapping
) -> float:
    """``S_h = sum_k h L(t_k, q_k, D q_k, D^2 q_k, ...)`` over the interior points ``k``.

    ``grid[q]`` holds the values of quantity ``q`` at ``time`` (last axis); ``D^m`` are the
    central differences of :func:`central_weights`, and the interior leaves out the widest
    stencil's half-width at both ends.
    """
    h = float(time[1] - time[0])
    margin = max(((o + 1) // 2 for _, _, o in lagrangian.arguments), default=0)
    cache = _cached(lambda name, order: _central_difference(grid[name], order, h, margin))
    inner = time[margin : time.size - margin]
    values = np.broadcast_to(lagrangian(inner, params, cache), inner.shape)
    return h * float(np.sum(values))


def _moved(base: Mapping[str, np.ndarray], direction: Mapping, eps: float) -> dict:
    """``q + eps v`` for the quantities that have a direction, ``q`` for the others."""
    return {n: q + eps * direction[n] if n in direction else q for n, q in base.items()}


def _action_error(
    ctx: _Context, time: np.ndarray, source: Source, el: dict, weights: dict, stride: int
) -> float:
    """Relative gap between ``dS_h/de (q + e v)`` (five-point in ``e``) and
    ``sum_k h EL(t_k) . v_k`` on the grid ``time[::stride]``, with ``v = weights * bump(t)``."""
    grid_t = time[::stride]
    h = float(grid_t[1] - grid_t[0])
    v = {f: w[:, None] * _bump(grid_t, _ACTION_HORIZON) for f, w in weights.items()}
    exact = h * sum(float(np.sum(el[f][:, ::stride] * v[f])) for f in v)
    used = {name for name, _, _ in ctx.lagrangian.arguments}
    base = {name: source(name, 0)[:, ::stride] for name in used}
    along = _five_point(lambda e: ctx.discrete_action(grid_t, _moved(base, v, e)), 1e-3)
    return abs(along - exact) / max(abs(exact), 1e-300)


def check_discrete_action(ctx: _Context) -> Check:
    """MATH.md 7.1: ``dS_h/de`` along ``v`` against ``sum_k h EL(t_k) . v_k``, order 2 in ``h``.

    ``EL`` is computed once on the finest grid (the coarser grids are its subsets). When the
    error is at rounding level for every ``h`` (the discrete Euler-Lagrange equations are exact,
    which happens e.g. when no derivative enters them), the order is ``None`` and the check
    passes on the error alone.
    """
    fine = _ACTION_STEPS[-1]
    time = np.arange(fine + 1) * _ACTION_HORIZON / fine
    source = _trajectory_source(ctx, time)
    el = _el_on_grid(ctx, time, source, _bump(time, _ACTION_HORIZON) > 0)
    rng = np.random.default_rng([ctx.seed, 1])
    weights = {f: rng.normal(size=mask.size) * mask for f, mask in ctx.layout.unknown.items()}
    errors = [_action_error(ctx, time, source, el, weights, fine // n) for n in _ACTION_STEPS]
    note = f"T = {_ACTION_HORIZON:g}, h = T/{_ACTION_STEPS[0]}..T/{fine}"
    if max(errors) < _ROUNDING:
        return Check("discrete action", errors[-1], None, True, note + "; EL exact (rounding)")
    order = _fitted_order([_ACTION_HORIZON / n for n in _ACTION_STEPS], errors)
    lo, hi = _ORDER_RANGE
    passed = lo <= order <= hi and errors[-1] < _ACTION_TOLERANCE
    return Check("discrete action", errors[-1], order, passed, note + "; error at finest h")


# -- 2. right-hand-side identities ----------------------------------------------------------------


def _p0_by_differences(ctx: _Context, time: float, source: Source, delta: float = 1e-3) -> dict:
    """``dL/dq`` of every unknown entry by five-point central differences of the unrolled L.

    All entries are perturbed at once: column ``4 j + s`` holds entry ``j`` moved by
    ``(-2, -1, 1, 2)[s] * delta``.
    """
    layout = ctx.layout
    entries = [(f, i) for f in layout.fields for i in np.flatnonzero(layout.unknown[f])]
    columns = 4 * len(entries)
    offsets = np.array([-2.0, -1.0, 1.0, 2.0]) * delta

    def lookup(name: str, order: int) -> np.ndarray:
        value = np.repeat(np.asarray(source(name, order), float)[:, None], columns, axis=1)
        if order == 0:
            js = np.array([j for j, (f, _) in enumerate(entries) if f == name], dtype=int)
            rows = np.array([entries[j][1] for j in js], dtype=int)
            value[np.repeat(rows, 4), (4 * js[:, None] + np.arange(4)).ravel()] += np.tile(
                offsets, js.size
            )
        return value

    values = np.broadcast_to(ctx.lagrangian(time, ctx.params, _cached(lookup)), (columns,))
    derivative = values.reshape(-1, 4) @ np.array([1.0, -8.0, 8.0, -1.0]) / (12 * delta)
    result = {f: np.full(layout.counts[f], np.nan) for f in layout.fields}
    for (f, i), d in zip(entries, derivative, strict=True):
        result[f][i] = d
    return result


def check_p0(ctx: _Context) -> Check:
    """MATH.md 7.2(i): the generated ``P0`` equals ``dL/dq`` of the independent ``L``."""
    worst = scale = 0.0
    for point in range(_POINTS):
        time, source = ctx.random_point(2, point)
        parts = ctx.el_parts(time, LazyJet(source))
        reference = _p0_by_differences(ctx, time, source)
        for f, ref in reference.items():
            mask = ctx.layout.unknown[f]
            got = np.broadcast_to(parts[f][0], ref.shape)[mask]
            worst = max(worst, float(np.max(np.abs(got - ref[mask]), initial=0.0)))
            scale = max(scale, float(np.max(np.abs(ref[mask]), initial=0.0)))
    error = worst / (scale or 1.0)
    note = f"{_POINTS} random states, 5-point differences of the unrolled L"
    return Check("P0 = dL/dq", error, None, error < _P0_TOLERANCE, note)


def _rk4_state(ctx: _Context, time: float, state: dict, dt: float) -> dict:
    """One classical RK4 step of the module's ``rhs`` (used to move along the flow)."""

    f = ctx.rates
    k1 = f(time, state)
    k2 = f(time + dt / 2, {n: state[n] + dt / 2 * k1[n] for n in state})
    k3 = f(time + dt / 2, {n: state[n] + dt / 2 * k2[n] for n in state})
    k4 = f(time + dt, {n: state[n] + dt * k3[n] for n in state})
    return {n: state[n] + dt / 6 * (k1[n] + 2 * k2[n] + 2 * k3[n] + k4[n]) for n in state}


def flow_derivative(ctx: _Context, time: float, state: dict, field: str, extra: int) -> np.ndarray:
    """``d^extra/dt^extra`` of the leading derivative of ``field`` along the flow (1 or 2).

    Five-point central differences of ``rhs`` at ``t + j delta``, ``j = -2..2``, the states
    moved there by one RK4 step; error ``O(delta^4)`` (plus rounding ``eps / delta^extra``).
    """
    if extra not in (1, 2):
        raise StlpError(f"verify: cannot take {extra} derivatives above the leading one")
    delta = 1e-3 if extra == 1 else 1e-2
    values = []
    for j in (-2, -1, 0, 1, 2):
        moved = _rk4_state(ctx, time, state, j * delta) if j else state
        values.append(ctx.leading(time + j * delta, moved, field))
    weights = {1: [1, -8, 0, 8, -1], 2: [-1, 16, -30, 16, -1]}[extra]
    return sum(w * v for w, v in zip(weights, values, strict=True)) / (12 * delta**extra)


def _flow_jet(
    ctx: _Context, time: float, state: dict, used: set[str], lead: float = 1.0
) -> LazyJet:
    """The jet of a state: its states, the leading derivatives from ``rhs`` and the solved
    multipliers (times ``lead``), higher orders along the flow (their names are added to
    ``used``), clamped entries from the signals."""
    solved = ctx.solve(time, state)

    def raw(name: str, order: int) -> np.ndarray:
        chain = ctx.chains.get(name, [])
        if order < len(chain):
            return state[chain[order]]
        if order == len(chain):
            return lead * (solved.rates[chain[-1]] if chain else solved.multipliers[name])
        used.add(f"{name}_d{order}")
        return flow_derivative(ctx, time, state, name, order - len(chain))

    return LazyJet(ctx.layout.complete(raw, ctx.signal_source(time)))


def check_rhs_identity(ctx: _Context) -> Check:
    """MATH.md 7.2(ii): ``s P0 + P1 = 0`` at random states with leading derivatives from rhs.

    ``s = -1`` on non-multipliers when flipped, else ``+1``; multipliers are skipped under the
    ascent and exact policies, which replace their equation. The jet holds the states, the
    leading derivatives (and an exact-policy module's solved multipliers); ``P0`` and ``P1`` need
    no more for an explicit system (its leading unknowns are the highest derivatives in the
    equations), but any higher one asked for is taken along the flow (:func:`flow_derivative`)
    and named in the note. The error is
    ``max |s P0 + P1| / max(|P0|, |P1|, |P0|_0, |P1|_0)`` over the fields, ``_0`` with the
    leading derivatives set to zero (the size of what they must cancel).
    """
    replaced = ctx.options.policy in ("ascent", "exact")
    multipliers = {f.name for f in ctx.derivation.action.fields if f.multiplier}
    fields = [f for f in ctx.layout.fields if not (replaced and f in multipliers)]
    worst, used = 0.0, set()
    for point in range(_POINTS):
        time, source = ctx.random_point(3, point)
        state = ctx.random_state(source)
        parts = ctx.el_parts(time, _flow_jet(ctx, time, state, used))
        rest = ctx.el_parts(time, _flow_jet(ctx, time, state, set(), lead=0.0))
        residual = scale = 0.0
        for f in fields:
            mask = ctx.layout.unknown[f]
            sign = -1 if ctx.options.flip and f not in multipliers else 1
            p0, p1 = (np.broadcast_to(p, mask.shape)[mask] for p in parts[f])
            r0, r1 = (np.broadcast_to(p, mask.shape)[mask] for p in rest[f])
            sizes = np.abs(np.concatenate([p0, p1, r0, r1]))
            scale = max(scale, float(np.max(sizes, initial=0.0)))
            residual = max(residual, float(np.max(np.abs(sign * p0 + p1), initial=0.0)))
        worst = max(worst, residual / (scale or 1.0))
    notes = [f"{_POINTS} random states; jet = states + leading derivatives from rhs"]
    if replaced and multipliers:
        policy = ctx.options.policy
        notes.append(f"skipped {sorted(multipliers)} ({policy} replaces their equation)")
    if ctx.options.policy == "exact":
        notes.append("multipliers from the sparse solve")
    tolerance = _IDENTITY_TOLERANCE
    if used:
        notes.append(f"{sorted(used)} by differences of rhs along the flow")
        tolerance = _FLOW_TOLERANCE
    return Check("s P0 + P1 = 0", worst, None, worst < tolerance, "; ".join(notes))


# -- 2(iii). normalised against raw ---------------------------------------------------------------


def _factor_derivatives(ctx: _Context, time: float, count: int) -> list[float]:
    """``phi(t), phi'(t), ..., phi^(count-1)(t)`` of the action's dissipation factor."""
    exprs = [sp.diff(ctx.action.factor, t, j) for j in range(count)]
    compiled = compile_expressions(exprs, {}, list(ctx.params))
    return [float(v) for v in compiled(time, ctx.params, _no_raw)]


def _hat_derivatives(raw: list[np.ndarray], phis: list[float]) -> list[np.ndarray]:
    """Leibniz: ``lambda^(m) = sum_j C(m, j) phi^(j) lambda_hat^(m-j)`` solved for the hats."""
    hats: list[np.ndarray] = []
    for m, value in enumerate(raw):
        rest = sum(math.comb(m, j) * phis[j] * hats[m - j] for j in range(1, m + 1))
        hats.append((value - rest) / phis[0])
    return hats


def _raw_to_normalised(
    ctx: _Context, raw: _Context, time: float, raw_state: dict, solved: Solved
) -> tuple[dict, dict, dict]:
    """The normalised state and its expected rates and solved multipliers: multiplier chains
    through :func:`_hat_derivatives` (solved multipliers of the exact policy: divided by
    ``phi``), every other state and rate unchanged."""
    state, expected, multipliers = dict(raw_state), dict(solved.rates), {}
    for lam in (f.name for f in ctx.action.fields if f.multiplier):
        chain, hat_chain = raw.chains.get(lam, []), ctx.chains.get(f"{lam}_hat", [])
        phis = _factor_derivatives(ctx, time, len(chain) + 1)
        if not chain:
            multipliers[f"{lam}_hat"] = solved.multipliers[lam] / phis[0]
            continue
        hats = _hat_derivatives([raw_state[n] for n in chain] + [solved.rates[chain[-1]]], phis)
        for m, (name, hat) in enumerate(zip(chain, hat_chain, strict=True)):
            del state[name], expected[name]
            state[hat], expected[hat] = hats[m], hats[m + 1]
    return state, expected, multipliers


def _largest_gap(got: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]) -> float:
    """``max |got - expected| / max |expected|`` over every array of ``expected``."""
    scale = max((float(np.max(np.abs(v), initial=0.0)) for v in expected.values()), default=0)
    gaps = [float(np.max(np.abs(got[n] - v), initial=0.0)) for n, v in expected.items()]
    return max(gaps, default=0.0) / (scale or 1.0)


def check_normalised(ctx: _Context) -> Check:
    """MATH.md 7.2(iii): ``lambda = phi lambda_hat`` maps the raw system onto the normalised one.

    The raw module is built with ``normalise=False``; at random raw states, the normalised
    ``rhs`` must give ``lambda_hat^(m+1)`` from the Leibniz rule (for ``phi = exp(theta t)``:
    ``lambda_hatdot = lambdadot / phi - theta lambda_hat``) and every other rate unchanged;
    under the exact policy the solved multipliers must satisfy ``lambda_hat = lambda / phi``.
    """
    from .build import build

    name = "normalised vs raw"
    if not ctx.options.normalise:
        return Check(name, math.nan, None, True, "n/a: normalise is off")
    if ctx.options.policy == "penalty" or not any(f.multiplier for f in ctx.action.fields):
        return Check(name, math.nan, None, True, "n/a: no multipliers to normalise")
    if ctx.options.policy == "ascent":
        return Check(name, math.nan, None, True, "n/a: ascent acts on lambda_hat itself")
    module = build(ctx.action, replace(ctx.options, normalise=False))
    _install_solver(module)
    raw = replace(ctx, module=module, layout=Layout.of(ctx.action, ctx.graph))
    raw = replace(raw, plan=_prepare(module, ctx.graph), chains=_chains(module))
    worst = 0.0
    for point in range(_POINTS):
        time, source = raw.random_point(4, point)
        raw_state = raw.random_state(source)
        state, rates, multipliers = _raw_to_normalised(
            ctx, raw, time, raw_state, raw.solve(time, raw_state)
        )
        got = ctx.solve(time, state)
        worst = max(
            worst, _largest_gap(got.rates, rates), _largest_gap(got.multipliers, multipliers)
        )
    note = f"{_POINTS} random raw states mapped by lambda = phi lambda_hat"
    return Check(name, worst, None, worst < _NORMALISE_TOLERANCE, note)


# -- 3. integrator order --------------------------------------------------------------------------


def _flat(state: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(state[n]) for n in sorted(state)])


def _unflat(vector: np.ndarray, like: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    sizes = np.cumsum([like[n].size for n in sorted(like)])[:-1]
    return dict(zip(sorted(like), np.split(vector, sizes), strict=True))


def stiffness(ctx: _Context, state: Mapping[str, np.ndarray], iterations: int = 20) -> float:
    """Spectral scale ``rho ~ |J v| / |v|`` of ``J = d rhs / d state`` at ``t = 0``.

    Power iteration with ``J v ~ (rhs(y + e v) - rhs(y - e v)) / (2 e)`` from a seeded start.
    """
    y = _flat(state)
    v = np.random.default_rng([ctx.seed, 6]).normal(size=y.size)
    rho, eps = 0.0, 1e-6
    for _ in range(iterations):
        v /= np.linalg.norm(v) or 1.0
        ahead, behind = (_flat(ctx.rates(0.0, _unflat(y + e * v, state))) for e in (eps, -eps))
        v = (ahead - behind) / (2 * eps)
        rho = float(np.linalg.norm(v))
    return rho


def _integrate(ctx: _Context, start: dict, horizon: float, steps: int) -> np.ndarray:
    """The state after ``steps`` calls of the module's ``step`` from 0 to ``horizon``."""
    state, h = {n: v.copy() for n, v in start.items()}, horizon / steps
    for k in range(steps):
        state = ctx.module.step(k * h, h, state, ctx.plan, ctx.params, ctx.signals_at)
    return _flat(state)


def _observed_orders(
    ctx: _Context, start: dict, horizon: float, base: int
) -> tuple[list[float], int, float]:
    """Orders ``log2(|y_h - y_{h/2}| / |y_{h/2} - y_{h/4}|)`` for ``h = T/base, T/(2 base), ...``
    until two successive estimates agree within 0.1 (the asymptotic regime), rounding would
    dominate the differences, or ``h`` reaches ``T / (64 base)``.

    Returns the estimates, the finest step count and ``|y_{h/2} - y_{h/4}| / max(|y|, 1)`` there.
    """
    ends = [_integrate(ctx, start, horizon, base), _integrate(ctx, start, horizon, 2 * base)]
    orders: list[float] = []
    steps, fine = 2 * base, math.nan
    while steps < 64 * base:
        ends.append(_integrate(ctx, start, horizon, 2 * steps))
        size = max(float(np.linalg.norm(ends[-1])), 1.0)
        coarse, difference = (float(np.linalg.norm(a - b)) for a, b in pairwise(ends[-3:]))
        if difference < _INTEGRATOR_ROUNDING * size:
            break
        steps, fine = 2 * steps, difference / size
        orders.append(math.log2(coarse / difference))
        if len(orders) >= 2 and abs(orders[-1] - orders[-2]) < 0.1:
            break
    return orders, steps, fine


def check_integrator(ctx: _Context) -> Check:
    """MATH.md 7.3: ``p = log2(|y_h - y_{h/2}| / |y_{h/2} - y_{h/4}|)`` within 0.2 of nominal.

    The horizon is ``T = min(0.5, 2 / rho)`` with ``rho`` the stiffness (:func:`stiffness`), so
    that a stiff model reaches the asymptotic regime at a moderate number of steps; ``h`` is
    halved until the estimate is stable. The error column is ``|y_{h/2} - y_{h/4}| / max(|y|,
    1)`` at the finest ``h``.
    """
    integrator = ctx.module.OPTIONS["integrator"]
    nominal = NOMINAL_ORDER[integrator]
    base = _INTEGRATOR_STEPS[integrator]
    start = {n: 0.5 * v for n, v in ctx.random_state(ctx.random_point(6, 0)[1]).items()}
    rho = stiffness(ctx, start)
    horizon = min(_INTEGRATOR_HORIZON, 2.0 / rho) if rho > 0 else _INTEGRATOR_HORIZON
    orders, steps, fine = _observed_orders(ctx, start, horizon, base)
    order = orders[-1] if orders else math.nan
    passed = abs(order - nominal) <= 0.2
    note = (
        f"{integrator} (nominal {nominal}), T = {horizon:.3g} (stiffness {rho:.3g}), "
        f"h = T/{steps // 4}..T/{steps}"
    )
    return Check(f"integrator order ({integrator})", fine, order, passed, note)


# -- 4. unrolled reference ------------------------------------------------------------------------


def _jet_source(jet: LazyJet) -> Source:
    return lambda name, order: jet[name if order == 0 else f"{name}_d{order}"]


def _solution_gap(ctx: _Context, expanded: ExpandedEquations) -> tuple[float, str]:
    """Generated leading derivatives against the expanded solution, relative to its size."""
    keys = list(expanded.solution)
    registry = _registry(ctx.layout.action, expanded.graph)
    exprs = [expanded.solution[k] for k in keys]
    compiled = compile_expressions(exprs, registry, list(ctx.params))
    worst = scale = 0.0
    for point in range(_POINTS):
        time, source = ctx.random_point(5, point)
        rates = ctx.rates(time, ctx.random_state(source))
        reference = np.array(compiled(time, ctx.params, source), dtype=float).reshape(-1)
        got = np.array([rates[ctx.chains[f][-1]][i] for f, i in keys], dtype=float)
        worst = max(worst, float(np.max(np.abs(got - reference), initial=0.0)))
        scale = max(scale, float(np.max(np.abs(reference), initial=0.0)))
    return worst / (scale or 1.0), f"{len(keys)} leading derivatives"


def _equation_residual(ctx: _Context, expanded: ExpandedEquations) -> tuple[float, str]:
    """Residual of the expanded equations with the generated leading derivatives and solved
    multipliers, relative to their size with those set to zero (systems with no explicit form,
    e.g. the exact policy)."""
    keys = list(expanded.equations)
    registry = _registry(ctx.layout.action, expanded.graph)
    exprs = [expanded.equations[k] for k in keys]
    compiled = compile_expressions(exprs, registry, list(ctx.params))
    worst = 0.0
    for point in range(_POINTS):
        time, source = ctx.random_point(5, point)
        state = ctx.random_state(source)
        values = []
        for lead in (1.0, 0.0):
            jet = _flow_jet(ctx, time, state, set(), lead=lead)
            values.append(np.array(compiled(time, ctx.params, _jet_source(jet)), dtype=float))
        scale = float(np.max(np.abs(np.concatenate(values)), initial=0.0)) or 1.0
        worst = max(worst, float(np.max(np.abs(values[0]), initial=0.0)) / scale)
    return worst, f"residuals of {len(keys)} equations"


def check_unrolled(ctx: _Context) -> Check:
    """MATH.md 7.4: ``rhs`` against the derivation expanded on the graph
    (:func:`stlp_sym.expansion.expand`), lambdified and evaluated at random states.

    With an explicit system the leading derivatives are compared with the expanded solution;
    without one (the exact policy) the expanded equations must vanish at the generated leading
    derivatives and solved multipliers. Graphs of more than :data:`MAX_UNROLLED_ARCS` arcs are
    replaced by :data:`DEFAULT_GRAPH`.
    """
    note = ""
    if ctx.graph.n_arcs > MAX_UNROLLED_ARCS:
        note = f"graph has {ctx.graph.n_arcs} > {MAX_UNROLLED_ARCS} arcs: run on {DEFAULT_GRAPH}; "
        small = Digraph.from_spec(DEFAULT_GRAPH)
        ctx = _context(ctx.action, ctx.options, small, ctx.module, ctx.seed, ctx.derivation)
    expanded = expand(ctx.derivation, ctx.graph)
    if ctx.derivation.system is not None:
        error, what = _solution_gap(ctx, expanded)
    else:
        error, what = _equation_residual(ctx, expanded)
    note += f"{what} at {_POINTS} random states"
    return Check("unrolled reference", error, None, error < _UNROLLED_TOLERANCE, note)


# -- entry points ---------------------------------------------------------------------------------


def is_one_node(action: Action) -> bool:
    """True for actions with no edge fields and no aggregates (one-node mechanics models)."""
    return not action.fields_on("edge") and not action.aggregates


def _graph_text(graph: Digraph) -> str:
    name = graph.name or "graph"
    return f"{name} ({graph.n} nodes, {graph.n_arcs} arcs)"


def verify(
    action: Action,
    options: Options,
    graph: Digraph,
    *,
    module: ModuleType | None = None,
    seed: int = 0,
) -> Report:
    """Run the checks of MATH.md section 7 on the module of ``action`` under ``options``.

    Parameters
    ----------
    action : the action (before the options' transforms).
    options : the options the module is built with.
    graph : the graph the checks run on.
    module : a generated module to check instead of ``build(action, options)`` (e.g. an edited
        one); it must have been generated from ``action`` and ``options``.
    seed : seeds every random trajectory, state, direction and parameter value.
    """
    ctx = _context(action, options, graph, module, seed)
    checks = (
        check_discrete_action(ctx),
        check_p0(ctx),
        check_rhs_identity(ctx),
        check_normalised(ctx),
        check_integrator(ctx),
        check_unrolled(ctx),
    )
    notes = (f"parameters: defaults scaled by seeded factors in [0.8, 1.25] (seed {seed})",)
    return Report(action.name, _graph_text(graph), options, checks, notes)


def verify_model(model: Model, options: Options, graph_spec: str = DEFAULT_GRAPH) -> Report:
    """:func:`verify` for a built-in :class:`~stlp_sym.models.Model` on a graph spec.

    A one-node mechanics model (:func:`is_one_node`) given :data:`DEFAULT_GRAPH` runs on a
    one-node graph instead, and the report says so.
    """
    action = model.build()
    graph = Digraph.from_spec(graph_spec)
    replaced = graph_spec == DEFAULT_GRAPH and is_one_node(action)
    if replaced:
        graph = Digraph.from_arcs(1, [], name="one-node")
    report = verify(action, options, graph)
    if replaced:
        note = f"one-node mechanics model: default graph {DEFAULT_GRAPH} replaced by one node"
        report = replace(report, notes=(note, *report.notes))
    return replace(report, model=model.name)


__all__ = [
    "DEFAULT_GRAPH",
    "Check",
    "Report",
    "central_weights",
    "discrete_action",
    "unrolled_lagrangian",
    "verify",
    "verify_model",
]
