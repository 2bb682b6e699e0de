"""Lowering: frame expressions -> a typed step IR of gathers, scatters and assignments.

Every assignment has a domain: ``scalar`` (parameters and ``t`` only), ``node`` (one value per
node) or ``edge`` (one value per arc). A gather (``x[src]``, ``x[dst]``) is the only move from
node to edge, a scatter (sum over incoming arcs into ``dst``, over outgoing arcs into ``src``)
the only move from edge to node. Subexpressions of an edge expression that depend on one end only
(``c/r * lambda_hat_i * sigma'(a_i)``) are computed on the nodes and gathered once (*hoisting*),
and CSE runs per domain. Because the moves are explicit, the locality of each output is the
number of gathers and scatters on its longest path (:attr:`Kernel.hops`).

>>> from stlp_sym.models import MODELS
>>> from stlp_sym.transforms import apply_options
>>> step = lower(apply_options(MODELS["stlp"].build(), MODELS["stlp"].options))
>>> step.rhs.hops["lambda_hat"], step.rhs.hops["x"], step.rhs.hops["w_d1"]
(4, 2, 3)
"""

from __future__ import annotations

import keyword
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import sympy as sp
from sympy.core.function import AppliedUndef

from .action import (
    ROLE_INDICATORS,
    Action,
    Aggregate,
    Clamp,
    Field,
    Parameter,
    Signal,
    split_end,
    t,
)
from .codeprint import check_supported
from .derivation import Derivation
from .errors import StructureError
from .frames import InSum, NeighbourSum, OutSum

Domain = Literal["scalar", "node", "edge"]
#: The ``rhs`` kernel's outputs are multiplied by this argument (default 1).
SCALE = sp.Symbol("_scale")
_ROLE_NAMES = {s.name for s in ROLE_INDICATORS.values()}


def identifier(name: str) -> str:
    """A Python identifier for a variable name (``lambda`` -> ``lambda_``)."""
    return f"{name}_" if keyword.iskeyword(name) else name


def jet_name(base: str, order: int) -> str:
    """``x`` for order 0, ``x_dK`` for the K-th time derivative."""
    return base if order == 0 else f"{base}_d{order}"


@dataclass(frozen=True)
class Op:
    """One IR instruction.

    ``kind`` is ``"expr"`` (``target = expr``), ``"gather"`` (``target = source[end]``, node to
    edge) or ``"scatter"`` (``target = sum of source over arcs into dst (end "dst") or out of
    src (end "src")``, edge to node).
    """

    target: str
    domain: Domain
    kind: Literal["expr", "gather", "scatter"]
    expr: sp.Expr | None = None
    source: str | None = None
    end: Literal["src", "dst"] | None = None

    @property
    def reads(self) -> set[str]:
        """The variables this op reads."""
        if self.kind == "expr":
            return {s.name for s in self.expr.free_symbols}
        return {self.source}


@dataclass(frozen=True)
class Kernel:
    """A straight-line program: ``ops`` in execution order, from ``inputs`` to ``outputs``.

    ``inputs`` maps each variable read from outside to ``(domain, source, key)``: source is
    ``"jet"``, ``"signal"``, ``"role"``, ``"param"``, ``"time"`` or ``"argument"`` (the scale
    factor ``_scale``), key the name it is read by.
    ``outputs`` maps output names to the variable holding them; ``hops`` counts gathers and
    scatters on the longest path to each output (its neighbourhood radius).
    """

    inputs: Mapping[str, tuple[Domain, str, str]]
    ops: tuple[Op, ...]
    outputs: Mapping[str, str]
    hops: Mapping[str, int]


@dataclass(frozen=True)
class StateInfo:
    """A state of the generated module: its name, field, derivative order, domain and role."""

    name: str
    field: str
    order: int
    top: int
    domain: Literal["node", "edge"]
    role: str
    clamp_signal: str | None = None
    clamp_role: str | None = None


@dataclass(frozen=True)
class StepIR:
    """Everything render needs: states, parameters, signals and the kernels."""

    name: str
    states: tuple[StateInfo, ...]
    parameters: tuple[Parameter, ...]
    signals: tuple[Signal, ...]
    rhs: Kernel
    #: top state -> ``k`` (parameters only) with ``rate = rhs kernel output - k * state``.
    decays: Mapping[str, sp.Expr]
    energy: Kernel | None
    el: Kernel | None
    #: the sparse system of the exact policy (then ``rhs`` computes its coefficients).
    exact: object | None = None
    fields: tuple[Field, ...] = ()
    clamps: tuple[Clamp, ...] = ()


class _Lowering:
    """Builds one kernel from node-frame and edge-frame target expressions."""

    def __init__(self, action: Action, aggregates: Iterable[Aggregate]):
        self.action = action
        self.aggregates = {a.name: a for a in aggregates}
        self.ops: list[Op] = []
        self.inputs: dict[str, tuple[Domain, str, str]] = {}
        self.defined: dict[str, Domain] = {}
        self.hoisted: dict[sp.Expr, str] = {}
        self.sums: dict[tuple[type, sp.Expr], str] = {}
        self.counter = defaultdict(int)

    def fresh(self, prefix: str) -> str:
        self.counter[prefix] += 1
        return f"_{prefix}{self.counter[prefix] - 1}"

    def emit(self, op: Op) -> str:
        if op.target not in self.defined:
            self.ops.append(op)
            self.defined[op.target] = op.domain
        return op.target

    # -- frame atoms -> variables ------------------------------------------------------------

    def node_variable(self, base: str, order: int) -> str:
        """The node variable of a node quantity (input, temp, or an aggregate's scatter)."""
        if self.defined.get(base) == "node":
            return base
        if base in _ROLE_NAMES:
            self.inputs[base] = ("node", "role", base)
            return base
        if base in self.aggregates:
            if order:
                raise StructureError(f"aggregate {base!r} differentiated in generated code")
            return self.aggregate(base)
        item = self.action.lookup(base)
        kind = "signal" if isinstance(item, Signal) else "jet"
        key = jet_name(base, order)
        self.inputs[identifier(key)] = ("node", kind, key)
        return identifier(key)

    def aggregate(self, name: str) -> str:
        if name not in self.defined:
            agg = self.aggregates[name]
            summand = self.edge_expr(agg.expr, f"aggregate {name!r}")
            source = self.emit(Op(self.fresh("e"), "edge", "expr", summand))
            self.emit(Op(name, "node", "scatter", source=source, end=agg.home))
        return name

    def gather(self, node_var: str, end: str) -> sp.Symbol:
        target = f"{node_var}__{end}"
        self.emit(Op(target, "edge", "gather", source=node_var, end=end))
        return sp.Symbol(target)

    def _atom(self, atom: sp.Expr, frame: str) -> sp.Symbol:
        order = 0
        if isinstance(atom, sp.Derivative):
            order, atom = int(atom.derivative_count), atom.expr
        name = atom.name if isinstance(atom, sp.Symbol) else atom.func.__name__
        base, end = split_end(name)
        if end is not None:
            return self.gather(self.node_variable(base, order), end)
        if frame == "node" or base in _ROLE_NAMES:
            return sp.Symbol(self.node_variable(base, order))
        key = jet_name(base, order)
        self.inputs[identifier(key)] = ("edge", "jet", key)
        return sp.Symbol(identifier(key))

    def substitute(self, expr: sp.Expr, frame: str) -> sp.Expr:
        """Frame atoms -> variable symbols (registering inputs, gathers and aggregates)."""
        replacements: dict[sp.Basic, sp.Basic] = {}
        for d in _sorted(expr.atoms(sp.Derivative)):
            replacements[d] = self._atom(d, frame)
        for f in _sorted(expr.atoms(AppliedUndef)):
            # xreplace works top-down: a derivative is replaced before the function inside it.
            replacements[f] = self._atom(f, frame)
        for s in _sorted(expr.free_symbols):
            if s.name in self.defined:
                continue
            if split_end(s.name)[0] in _ROLE_NAMES:
                replacements[s] = self._atom(s, frame)
            elif s == t:
                self.inputs["t"] = ("scalar", "time", "t")
            elif s == SCALE:
                self.inputs[s.name] = ("scalar", "argument", s.name)
            elif s not in replacements:
                self.inputs[identifier(s.name)] = ("scalar", "param", s.name)
                replacements[s] = sp.Symbol(identifier(s.name))
        return expr.xreplace(replacements)

    # -- hoisting -----------------------------------------------------------------------------

    def edge_expr(self, expr: sp.Expr, where: str) -> sp.Expr:
        """An edge-frame expression as edge variables, single-end parts hoisted to nodes."""
        check_supported(_opaque(expr), where)
        for end in ("dst", "src"):
            expr = self.hoist(expr, end)
        return self.substitute(expr, "edge")

    def hoist(self, expr: sp.Expr, end: str) -> sp.Expr:
        """Replace the parts of ``expr`` that depend on one arc end only by gathered node temps."""
        if expr.is_Add:
            groups: dict[sp.Expr, list[sp.Expr]] = defaultdict(list)
            for term in expr.args:
                local, rest = _split(term, end)
                groups[rest].append(local)
            return sp.Add(
                *(self._hoisted(sp.Add(*parts), end) * rest for rest, parts in groups.items())
            )
        if expr.is_Mul:
            local, rest = _split(expr, end)
            return self._hoisted(local, end) * rest
        if isinstance(expr, sp.Function) and _ends(expr) == {end}:
            return self._hoisted(expr, end)
        if expr.args and not isinstance(expr, sp.Derivative | AppliedUndef):
            return expr.func(*(self.hoist(a, end) for a in expr.args))
        return expr

    def _hoisted(self, local: sp.Expr, end: str) -> sp.Expr:
        if _ends(local) != {end} or _is_atom(local):
            return local
        node_expr = _strip_end(local, end)
        if node_expr not in self.hoisted:
            value = self.substitute(node_expr, "node")
            self.hoisted[node_expr] = self.emit(Op(self.fresh("n"), "node", "expr", value))
        return sp.Function(f"{self.hoisted[node_expr]}__{end}")(t)

    # -- node expressions with neighbour sums ----------------------------------------------------

    def node_expr(self, expr: sp.Expr, where: str) -> sp.Expr:
        """A node-frame expression as node variables, its neighbour sums as scatters."""
        sums = {}
        for s in _sorted(expr.atoms(NeighbourSum)):
            if not isinstance(s, InSum | OutSum):
                raise StructureError(f"{where}: {type(s).__name__} needs global fields")
            key = (type(s), s.args[0])
            if key not in self.sums:
                summand = self.edge_expr(s.args[0], where)
                source = self.emit(Op(self.fresh("e"), "edge", "expr", summand))
                end = "dst" if isinstance(s, InSum) else "src"
                self.sums[key] = self.emit(
                    Op(self.fresh("s"), "node", "scatter", source=source, end=end)
                )
            sums[s] = sp.Symbol(self.sums[key])
        expr = expr.xreplace(sums)
        check_supported(_opaque(expr), where)
        return self.substitute(expr, "node")

    def output(self, name: str, value: sp.Expr, domain: Domain) -> str:
        """Emit ``value`` as the output variable for ``name`` (no copy for a plain variable)."""
        if isinstance(value, sp.Symbol) and value.name in self.defined | self.inputs:
            return value.name
        return self.emit(Op(f"_out_{identifier(name)}", domain, "expr", value))

    def kernel(self, outputs: Mapping[str, str], cse: bool) -> Kernel:
        domains = {name: domain for name, (domain, _, _) in self.inputs.items()}
        ops = _common_subexpressions(self.ops, domains) if cse else list(self.ops)
        ops = _schedule(ops, set(self.inputs))
        hops = _hops(ops)
        return Kernel(
            inputs=dict(sorted(self.inputs.items())),
            ops=tuple(ops),
            outputs=dict(outputs),
            hops={name: hops.get(var, 0) for name, var in outputs.items()},
        )


def build_kernel(
    action: Action,
    aggregates: Iterable[Aggregate],
    targets: Mapping[str, tuple[Literal["node", "edge"], sp.Expr]],
    cse: bool = True,
) -> Kernel:
    """Lower named node- and edge-frame expressions into one :class:`Kernel`."""
    lowering = _Lowering(action, aggregates)
    outputs = {}
    for name, (domain, expr) in targets.items():
        where = f"{domain} expression {name!r}"
        if domain == "node":
            value = lowering.node_expr(expr, where)
        else:
            value = lowering.edge_expr(expr, where)
        outputs[name] = lowering.output(name, value, domain)
    return lowering.kernel(outputs, cse)


def _domain_of(expr: sp.Expr, domains: Mapping[str, Domain]) -> Domain:
    found = {domains.get(s.name, "scalar") for s in expr.free_symbols}
    return "edge" if "edge" in found else "node" if "node" in found else "scalar"


def _common_subexpressions(ops: list[Op], input_domains: Mapping[str, Domain]) -> list[Op]:
    """CSE per domain; temporaries are named ``_ncN`` / ``_ecN`` and typed by what they read."""
    result = list(ops)
    for domain in ("node", "edge"):
        indices = [i for i, op in enumerate(result) if op.kind == "expr" and op.domain == domain]
        if not indices:
            continue
        symbols = sp.numbered_symbols(f"_{domain[0]}c")
        replacements, reduced = sp.cse([result[i].expr for i in indices], symbols=symbols)
        domains = {**input_domains, **{op.target: op.domain for op in result}}
        temps = []
        for symbol, value in replacements:
            kind = _domain_of(value, domains)
            domains[symbol.name] = kind
            temps.append(Op(symbol.name, kind, "expr", value))
        for i, expr in zip(indices, reduced, strict=True):
            result[i] = Op(result[i].target, result[i].domain, "expr", expr)
        result = temps + result
    return result


def _schedule(ops: list[Op], inputs: set[str]) -> list[Op]:
    """Order ops so that each comes after what it reads (stable otherwise)."""
    pending, done, ordered = list(ops), set(inputs), []
    while pending:
        ready = [op for op in pending if op.reads <= done | {"t"}]
        if not ready:
            missing = sorted(set().union(*(op.reads for op in pending)) - done)
            raise StructureError(f"lowering produced a cycle or undefined variables: {missing}")
        for op in ready:
            ordered.append(op)
            done.add(op.target)
        pending = [op for op in pending if op.target not in done]
    return ordered


def _hops(ops: list[Op]) -> dict[str, int]:
    hops: dict[str, int] = {}
    for op in ops:
        base = max((hops.get(name, 0) for name in op.reads), default=0)
        hops[op.target] = base + (op.kind != "expr")
    return hops


def _sorted(items: Iterable[sp.Basic]) -> list[sp.Basic]:
    """Deterministic order (independent of hash randomisation), for reproducible output."""
    return sorted(items, key=sp.default_sort_key)


def _opaque(expr: sp.Expr) -> sp.Expr:
    """``expr`` with fields and their derivatives replaced by ``t``, to check its functions."""
    expr = expr.xreplace({d: t for d in expr.atoms(sp.Derivative)})
    return expr.xreplace({f: t for f in expr.atoms(AppliedUndef)})


def _ends(expr: sp.Expr) -> set[str]:
    """The arc ends (and ``"edge"`` for arc quantities) that ``expr`` depends on."""
    found = set()
    for atom in expr.atoms(AppliedUndef) | expr.free_symbols:
        name = atom.name if isinstance(atom, sp.Symbol) else atom.func.__name__
        _base, end = split_end(name)
        if end is not None:
            found.add(end)
        elif isinstance(atom, AppliedUndef):
            found.add("edge")
    return found


def _is_atom(expr: sp.Expr) -> bool:
    return isinstance(expr, AppliedUndef | sp.Derivative | sp.Symbol)


def _split(term: sp.Expr, end: str) -> tuple[sp.Expr, sp.Expr]:
    """``term = local * rest`` with ``local`` depending on ``end`` only (scalars included)."""
    local, rest, scalars = [], [], []
    for factor in sp.Mul.make_args(term):
        ends = _ends(factor)
        (scalars if not ends else local if ends == {end} else rest).append(factor)
    if local:
        local += scalars
    else:
        rest += scalars
    return sp.Mul(*local), sp.Mul(*rest)


def _strip_end(expr: sp.Expr, end: str) -> sp.Expr:
    """Inverse of moving to an arc end: ``x__dst(t) -> x(t)``, ``is_output__dst -> is_output``."""
    replacements = {}
    for atom in expr.atoms(AppliedUndef):
        base, atom_end = split_end(atom.func.__name__)
        if atom_end == end:
            replacements[atom] = sp.Function(base)(t)
    for s in expr.free_symbols:
        base, atom_end = split_end(s.name)
        if atom_end == end:
            replacements[s] = sp.Symbol(base)
    return expr.xreplace(replacements)


def split_decay(rate: sp.Expr, field: str, order: int) -> tuple[sp.Expr, sp.Expr]:
    """``rate = rest - k * s`` for the top state ``s`` and a parameter-only ``k``.

    Explicit Euler then updates ``s <- s (1 - dt k) + dt rest`` in place: the decay term costs
    no separate pass over the arcs.

    >>> from stlp_sym.action import fn, t
    >>> theta, c = sp.symbols("theta c")
    >>> split_decay(c * fn("y") - theta * fn("w").diff(t), "w", 1)
    (c*y(t), theta)
    """
    own = sp.Function(field)(t)
    own = sp.Derivative(own, (t, order)) if order else own
    rate = sp.expand(rate)
    coefficient = rate.coeff(own)
    if coefficient == 0 or coefficient.has(AppliedUndef, sp.Derivative, *_frame_free(coefficient)):
        return rate, sp.S.Zero
    return sp.expand(rate - coefficient * own), -coefficient


def _frame_free(expr: sp.Expr) -> list[sp.Symbol]:
    """Role indicators in ``expr`` (which vary from node to node)."""
    return [s for s in expr.free_symbols if split_end(s.name)[0] in _ROLE_NAMES]


def _chains(orders: Mapping[str, int], action: Action) -> dict[str, list[str]]:
    """Field -> its chain of state names (``["w", "w_d1"]``); fields of order 0 have none."""
    return {
        f.name: [jet_name(f.name, k) for k in range(orders[f.name])]
        for f in action.fields
        if orders[f.name] > 0
    }


def _state_infos(action: Action, chains: Mapping[str, list[str]]) -> tuple[StateInfo, ...]:
    infos = []
    for name, chain in chains.items():
        f = action.field(name)
        clamp = action.clamp_of(name)
        for order, state in enumerate(chain):
            infos.append(
                StateInfo(
                    name=state,
                    field=name,
                    order=order,
                    top=len(chain),
                    domain=f.domain,
                    role=f.role,
                    clamp_signal=clamp.signal if clamp and order == 0 else None,
                    clamp_role=clamp.role if clamp and order == 0 else None,
                )
            )
    return tuple(infos)


def _scaled(expr: sp.Expr, factor: sp.Expr) -> sp.Expr:
    """``expr / factor``, with exponentials combined so that the factor cancels symbolically."""
    return sp.expand(sp.powsimp(sp.expand(expr / factor)))


def _energy_targets(derivation: Derivation) -> dict[str, tuple[str, sp.Expr]]:
    """``L/phi`` and ``H/phi = (sum p qdot - L)/phi`` per node and per arc."""
    action = derivation.action
    raw = derive_raw(derivation)
    targets = {}
    for domain, term in (("node", action.node), ("edge", action.edge)):
        kinetic = sp.S.Zero
        for eq in raw.equations:
            if eq.field.domain == domain:
                kinetic += eq.momentum * eq.field.symbol.diff(t)
        targets[f"L_{domain}"] = (domain, _scaled(term, action.factor))
        targets[f"H_{domain}"] = (domain, _scaled(kinetic - term, action.factor))
    return targets


def derive_raw(derivation: Derivation) -> Derivation:
    """The untransformed derivation of the (possibly transformed) action of ``derivation``."""
    from .derivation import derive

    return derive(derivation.action)


def _explicit_rhs(derivation: Derivation, cse: bool) -> tuple[Kernel, dict, dict]:
    """The kernel of the leading derivatives (times ``_scale``) and each top state's decay."""
    action, system = derivation.action, derivation.require_system()
    if system.algebraic:
        raise StructureError(
            f"fields {list(system.algebraic)} have no state (algebraic); code generation needs "
            "a multiplier policy for them (penalty, ascent or exact)"
        )
    orders = {f.name: 0 for f in action.fields}
    for state in system.states:
        orders[state.field.name] = state.order + 1
    chains = _chains(orders, action)
    # Outputs carry a scale factor (dt for explicit Euler): folded into scalar coefficients
    # and hoisted node factors, it saves a pass over the arcs per edge state.
    targets, decays = {}, {}
    for name, chain in chains.items():
        rest, decays[chain[-1]] = split_decay(system.solution[name], name, len(chain) - 1)
        targets[chain[-1]] = (action.field(name).domain, sp.expand(SCALE * rest))
    return build_kernel(action, derivation.aggregates, targets, cse), decays, chains


def lower(derivation: Derivation, cse: bool = True, energy: bool = True) -> StepIR:
    """The step IR of a derivation: the ``rhs`` kernel, energies and Euler-Lagrange parts.

    With the exact policy the ``rhs`` kernel computes the sparse system's coefficients
    (:mod:`stlp_sym.exact`) and :attr:`StepIR.exact` describes its blocks.

    Raises
    ------
    StructureError
        If the derivation has no explicit system (and is not exact), uses global fields or
        algebraic fields, or contains a construct the NumPy printer does not support.
    """
    action = derivation.action
    if action.fields_on("global"):
        names = [f.name for f in action.fields_on("global")]
        raise StructureError(f"global fields {names} are not supported by code generation yet")
    exact = None
    if "exact" in derivation.transforms:
        from .exact import lower_exact

        exact = lower_exact(derivation, cse)
        rhs, decays = exact.kernel, {}
        chains = _chains({name: order for name, _, order in exact.unknowns}, action)
        chains = {
            name: chain for name, chain in chains.items() if not action.field(name).multiplier
        }
    else:
        rhs, decays, chains = _explicit_rhs(derivation, cse)
    energy_kernel = el_kernel = None
    if energy:
        energy_kernel = build_kernel(
            action, derivation.aggregates, _energy_targets(derivation), cse
        )
        raw = derive_raw(derivation)
        el_targets = {}
        for eq in raw.equations:
            el_targets[f"P0_{eq.field.name}"] = (eq.field.domain, eq.P0)
            el_targets[f"P1_{eq.field.name}"] = (eq.field.domain, eq.P1)
        el_kernel = build_kernel(action, raw.aggregates, el_targets, cse)
    return StepIR(
        name=action.name,
        decays=decays,
        states=_state_infos(action, chains),
        parameters=action.parameters,
        signals=action.signals,
        rhs=rhs,
        energy=energy_kernel,
        el=el_kernel,
        exact=exact,
        fields=action.fields,
        clamps=action.clamps,
    )
