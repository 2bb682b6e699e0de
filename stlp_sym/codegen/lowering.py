"""Lowering of node- and edge-frame expressions into one :class:`~stlp_sym.codegen.kernel.Kernel`.

:class:`_Lowering` turns frame atoms into variables (inputs, gathers, aggregates as scatters),
neighbour sums into scatters, sums over every node or arc (global-frame expressions) into
reductions, and hoists the parts of an edge expression that depend on one arc end only to node
temporaries gathered once; the helpers after it split and strip those parts. A global field is
read by every node and arc as a parameter is: its value (one per batch member) broadcasts.
:func:`build_kernel` (re-exported by :mod:`stlp_sym.codegen.ir`) drives it for named targets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Literal

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import StructureError
from ..symbolic.action import Action
from ..symbolic.frames import EdgeSum, InSum, NeighbourSum, NodeSum, OutSum
from ..symbolic.vocabulary import ROLE_NAMES, Aggregate, Parameter, Signal, split_end, t
from .cse import common_subexpressions
from .kernel import SCALE, Domain, Kernel, Op, identifier, jet_name
from .printer import check_supported
from .schedule import count_hops, global_reach, schedule


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
        self.globals = {f.name for f in action.fields_on("global")}
        self.global_vars: set[str] = set()

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
        if base in ROLE_NAMES:
            self.inputs[base] = ("node", "role", base)
            return base
        if base in self.aggregates:
            if order:
                raise StructureError(f"aggregate {base!r} differentiated in generated code")
            return self.aggregate(base)
        item = self.action.lookup(base)
        kind = "signal" if isinstance(item, Signal) else "jet"
        kind = "param" if isinstance(item, Parameter) else kind  # a parameter on nodes
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

    def globals_as_symbols(self, expr: sp.Expr) -> sp.Expr:
        """Global fields and their derivatives -> global input symbols, which (like parameters)
        belong to no arc end and are read as they are by every node and arc."""
        replacements: dict[sp.Basic, sp.Basic] = {}
        for atom in _sorted(expr.atoms(sp.Derivative, AppliedUndef)):
            order, base = 0, atom
            if isinstance(atom, sp.Derivative):
                order, base = int(atom.derivative_count), atom.expr
            if isinstance(base, AppliedUndef) and base.func.__name__ in self.globals:
                key = jet_name(base.func.__name__, order)
                self.inputs[identifier(key)] = ("global", "jet", key)
                self.global_vars.add(identifier(key))
                replacements[atom] = sp.Symbol(identifier(key))
        return expr.xreplace(replacements)

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
        if frame == "node" or base in ROLE_NAMES:
            return sp.Symbol(self.node_variable(base, order))
        key = jet_name(base, order)
        kind = "param" if isinstance(self.action.lookup(base), Parameter) else "jet"
        self.inputs[identifier(key)] = ("edge", kind, key)
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
            if s.name in self.defined or s.name in self.global_vars:
                continue
            if split_end(s.name)[0] in ROLE_NAMES:
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
        expr = self.globals_as_symbols(expr)
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
        expr = self.globals_as_symbols(expr)
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

    def global_expr(self, expr: sp.Expr, where: str) -> sp.Expr:
        """A global-frame expression as global variables, its sums over every node or arc as
        reductions (of a node or edge summand computed first)."""
        expr = self.globals_as_symbols(expr)
        sums = {}
        for s in _sorted(expr.atoms(NodeSum, EdgeSum)):
            key = (type(s), s.args[0])
            if key not in self.sums:
                if isinstance(s, NodeSum):
                    summand, domain, end = self.node_expr(s.args[0], where), "node", "nodes"
                else:
                    summand, domain, end = self.edge_expr(s.args[0], where), "edge", "arcs"
                source = self.emit(Op(self.fresh(domain[0]), domain, "expr", summand))
                self.sums[key] = self.emit(
                    Op(self.fresh("r"), "global", "reduce", source=source, end=end)
                )
            sums[s] = sp.Symbol(self.sums[key])
        expr = expr.xreplace(sums)
        check_supported(_opaque(expr), where)
        return self.substitute(expr, "global")

    def output(self, name: str, value: sp.Expr, domain: Domain) -> str:
        """Emit ``value`` as the output variable for ``name`` (no copy for a plain variable,
        unless a node or edge output would be a global value)."""
        if isinstance(value, sp.Symbol) and value.name in self.defined | self.inputs:
            known = self.defined.get(value.name) or self.inputs[value.name][0]
            if known != "global" or domain == "global":
                return value.name
        return self.emit(Op(f"_out_{identifier(name)}", domain, "expr", value))

    def kernel(
        self, outputs: Mapping[str, str], output_domains: Mapping[str, Domain], cse: bool
    ) -> Kernel:
        domains = {name: domain for name, (domain, _, _) in self.inputs.items()}
        ops = common_subexpressions(self.ops, domains) if cse else list(self.ops)
        ops = schedule(ops, set(self.inputs))
        hops = count_hops(ops)
        reach = global_reach(ops, self.inputs)
        return Kernel(
            inputs=dict(sorted(self.inputs.items())),
            ops=tuple(ops),
            outputs=dict(outputs),
            hops={name: hops.get(var, 0) for name, var in outputs.items()},
            domains=dict(output_domains),
            reach={out: tuple(sorted(reach[var])) for out, var in outputs.items() if var in reach},
        )


def build_kernel(
    action: Action,
    aggregates: Iterable[Aggregate],
    targets: Mapping[str, tuple[Literal["node", "edge", "global"], sp.Expr]],
    cse: bool = True,
) -> Kernel:
    """Lower named node-, edge- and global-frame expressions into one :class:`Kernel`."""
    lowering = _Lowering(action, aggregates)
    lower_in = {"node": lowering.node_expr, "edge": lowering.edge_expr}
    lower_in["global"] = lowering.global_expr
    outputs = {}
    for name, (domain, expr) in targets.items():
        where = f"{domain} expression {name!r}"
        value = lower_in[domain](expr, where)
        outputs[name] = lowering.output(name, value, domain)
    domains = {name: domain for name, (domain, _expr) in targets.items()}
    return lowering.kernel(outputs, domains, cse)


def _sorted(items: Iterable[sp.Basic]) -> list[sp.Basic]:
    """Deterministic order (independent of hash randomisation), for reproducible output."""
    return sorted(items, key=sp.default_sort_key)


def _opaque(expr: sp.Expr) -> sp.Expr:
    """``expr`` with fields and their derivatives replaced by ``t``, to check its functions.

    Only time derivatives of fields are replaced: any other derivative (of a function, with
    respect to a field) stays and is refused by the check, rather than read as a field."""
    fields = [d for d in expr.atoms(sp.Derivative) if isinstance(d.expr, AppliedUndef)]
    expr = expr.xreplace({d: t for d in fields if set(d.variables) == {t}})
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
