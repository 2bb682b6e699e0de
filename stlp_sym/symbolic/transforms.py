"""Transforms of an action or a derivation, applied in the order of docs/theory.md section 2.

``penalty`` (on the action) -> derive -> ``flip`` -> ``normalise`` -> ``ascent`` (on the derived
system). Each is a pure function returning a new object; :func:`apply_options` chains them as an
:class:`Options` record says.

Examples
--------
>>> from stlp_sym.symbolic.models import MODELS
>>> d = apply_options(MODELS["stlp"].build(), Options())
>>> d.transforms
('flip', 'normalise')
>>> [s.name for s in d.system.states]
['x', 'lambda_hat', 'w', 'w_d1']
"""

from __future__ import annotations

from dataclasses import replace

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import ActionError, StructureError
from ..options import Options
from .action import Action
from .derivation import Derivation, derive, real_diff
from .frames import InSum, OutSum
from .vocabulary import Field, Parameter, split_end, t

#: The parameters each policy adds to the action: a user's name may not take them.
POLICY_NAMES: dict[str, tuple[str, ...]] = {
    "penalty": ("beta",),
    "ascent": ("rho", "kappa"),
    "exact": ("baumgarte_a", "baumgarte_b"),
}


def check_policy_names(action: Action, policy: str) -> None:
    """Refuse a declaration of ``action`` that takes a parameter name ``policy`` adds.

    Raises
    ------
    ActionError
        Naming the declaration, the policy that owns the name and the way out (rename it).
    """
    for name in POLICY_NAMES.get(policy, ()):
        if action.lookup(name) is not None:
            raise ActionError(
                f"{name!r} is a parameter of policy {policy!r}, and action {action.name!r} "
                f"declares {name!r} too: rename the action's {name!r} (e.g. {name + '_1'!r})"
            )


def _multipliers(action: Action) -> list[Field]:
    return [f for f in action.fields if f.multiplier]


def _role_indicator(field: Field) -> sp.Expr:
    return sp.S.One if field.role == "all" else sp.Symbol(f"is_{field.role}")


def penalty(action: Action, beta: float = 100.0) -> Action:
    """Replace every ``lambda_i G_i`` by ``factor * beta/2 * G_i^2`` (no multiplier fields left).

    ``G_i`` is the coefficient of the multiplier in the node term, which must be linear in it.
    """
    multipliers = _multipliers(action)
    if not multipliers:
        return action
    node = action.node
    beta_symbol = sp.Symbol("beta")
    for lam in multipliers:
        if lam.domain != "node":
            raise ActionError(f"penalty: multiplier {lam.name!r} must be a node field")
        symbol = lam.symbol
        constraint = node.diff(symbol)
        if constraint.has(symbol) or action.edge.has(symbol):
            raise ActionError(
                f"penalty: the action must be linear in multiplier {lam.name!r}, in the node term"
            )
        rest = node.xreplace({symbol: sp.S.Zero})
        node = rest + action.factor * beta_symbol / 2 * _role_indicator(lam) * constraint**2
    return action.replace(
        fields=tuple(f for f in action.fields if not f.multiplier),
        parameters=(*action.parameters, Parameter("beta", beta)),
        node=node,
    )


def flip(derivation: Derivation, sign: int = -1) -> Derivation:
    """Hamiltonian sign flip: ``s P0 + P1 = 0`` with ``s = sign`` for every non-multiplier."""
    if sign not in (-1, 1):
        raise ActionError(f"flip sign must be -1 or +1, not {sign!r}")
    equations = tuple(
        eq if eq.field.multiplier else replace(eq, sign=sign) for eq in derivation.equations
    )
    return derivation.with_equations(equations, "flip" if sign == -1 else "no-flip")


def _substitute_multiplier(expr: sp.Expr, name: str, factor: sp.Expr) -> sp.Expr:
    """``lambda -> factor * lambda_hat`` in every frame, derivatives evaluated."""
    replacements = {}
    for atom in expr.atoms(AppliedUndef):
        base, end = split_end(atom.func.__name__)
        if base == name:
            hat = f"{name}_hat" if end is None else f"{name}_hat__{end}"
            replacements[atom] = factor * sp.Function(hat)(t)
    substituted = expr.xreplace(replacements)
    return substituted.replace(
        lambda e: isinstance(e, sp.Derivative) and not isinstance(e.expr, AppliedUndef),
        lambda e: e.doit(),
    )


def _factor_power(expr: sp.Expr, factor: sp.Expr, phi: sp.Symbol) -> int:
    """The power ``k`` with ``expr = factor**k * (something free of the factor)``, else 0."""
    terms = sp.Add.make_args(sp.expand(sp.powsimp(sp.expand(expr))).subs(factor, phi))
    powers = set()
    for term in terms:
        power = sp.S.Zero
        for part in sp.Mul.make_args(term):
            if part == phi:
                power += 1
            elif part.is_Pow and part.base == phi:
                power += part.exp
            elif part.has(phi):
                return 0
        powers.add(power)
    return int(powers.pop()) if len(powers) == 1 and powers != {sp.nan} else 0


def _divide(expr: sp.Expr, factor: sp.Expr, power: int, where: str) -> sp.Expr:
    result = sp.expand(sp.powsimp(sp.expand(expr / factor**power)))
    if result.has(sp.exp(t * sp.Wild("k", exclude=[t]))) or (
        factor != 1 and result.has(*factor.atoms(sp.exp))
    ):
        raise StructureError(
            f"normalise: the factor {factor} remains in the equation of {where} after "
            f"dividing by its power {power}; the equation does not scale with the factor"
        )
    return result


def normalise(derivation: Derivation) -> Derivation:
    """Substitute ``lambda = factor * lambda_hat`` and divide each field's equation by the power
    of the factor that comes out of it; constraint equations are left alone (docs/theory.md
    section 2).
    """
    action = derivation.action
    factor = action.factor
    phi = sp.Dummy("phi")
    names = [f.name for f in _multipliers(action)]
    for name in names:
        if action.lookup(f"{name}_hat") is not None:
            raise ActionError(f"normalise: {name}_hat is already declared; rename it")
    equations = []
    for eq in derivation.equations:
        p0, p1 = eq.P0, eq.P1
        for name in names:
            p0, p1 = (_substitute_multiplier(p, name, factor) for p in (p0, p1))
        field = eq.field
        if field.multiplier:
            field = replace(field, name=f"{field.name}_hat")
        else:
            power = _factor_power(eq.sign * p0 + p1, factor, phi)
            where = f"field {field.name!r}"
            p0, p1 = _divide(p0, factor, power, where), _divide(p1, factor, power, where)
        equations.append(replace(eq, field=field, P0=p0, P1=p1, momentum=sp.S.Zero))
    fields = tuple(replace(f, name=f"{f.name}_hat") if f.multiplier else f for f in action.fields)
    terms = {}
    for key in ("node", "edge", "global_"):
        expr = getattr(action, key)
        for name in names:
            expr = _substitute_multiplier(expr, name, factor)
        terms[key] = expr
    output = f"{action.output}_hat" if action.output in names else action.output
    new_action = action.replace(fields=fields, output=output, **terms)
    return replace(derivation, action=new_action).with_equations(tuple(equations), "normalise")


def ascent(derivation: Derivation, rho: float = 5.0, kappa: float = 20.0) -> Derivation:
    """Saddle-point search on the multipliers: ``lambdadot = rho G - kappa lambda``.

    Replaces each multiplier's constraint ``G = 0`` by that equation (with ``P0 = rho G -
    kappa lambda`` and ``P1 = -lambdadot``); adds the parameters ``rho`` and ``kappa``.
    """
    rho_s, kappa_s = sp.symbols("rho kappa")
    equations = []
    for eq in derivation.equations:
        if eq.field.multiplier:
            lam = eq.field.symbol
            eq = replace(eq, P0=rho_s * eq.lhs - kappa_s * lam, P1=-lam.diff(t), sign=1)
        equations.append(eq)
    action = derivation.action.replace(
        parameters=(
            *derivation.action.parameters,
            Parameter("rho", rho),
            Parameter("kappa", kappa),
        )
    )
    return replace(derivation, action=action).with_equations(tuple(equations), "ascent")


def expand_aggregate_derivatives(expr: sp.Expr, action: Action) -> sp.Expr:
    """``d^k a / dt^k`` of a node's own aggregate as the sum of ``d^k g / dt^k`` over its arcs."""
    aggregates = {a.name: a for a in action.aggregates}
    replacements = {}
    for d in expr.atoms(sp.Derivative):
        if isinstance(d.expr, AppliedUndef) and d.expr.func.__name__ in aggregates:
            agg = aggregates[d.expr.func.__name__]
            arc_sum = InSum if agg.direction == "in" else OutSum
            replacements[d] = arc_sum(sp.expand(agg.expr.diff(t, int(d.derivative_count))))
    return expr.xreplace(replacements)


def exact(derivation: Derivation, a: float = 10.0, b: float = 10.0) -> Derivation:
    """Replace each algebraic constraint ``G = 0`` by ``Gddot + 2 a Gdot + b^2 G = 0``.

    The result has no local explicit form (``Gddot`` reaches the parents' accelerations): the
    equations are linear in the leading derivatives and the multipliers, and the generated code
    assembles them as one sparse system per step (docs/policies.md).
    """
    if derivation.system is not None:
        raise ActionError(
            f"policy exact applies to algebraic constraints, and model {derivation.action.name!r} "
            "has none (its equations are already explicit): use --policy none"
        )
    a_s, b_s = sp.symbols("baumgarte_a baumgarte_b")
    action = derivation.action
    equations = []
    for eq in derivation.equations:
        if eq.field.multiplier:
            constraint = eq.lhs
            first = real_diff(constraint, t)
            second = real_diff(first, t)
            stabilised = second + 2 * a_s * first + b_s**2 * constraint
            eq = replace(
                eq, P0=expand_aggregate_derivatives(stabilised, action), P1=sp.S.Zero, sign=1
            )
        equations.append(eq)
    action = action.replace(
        parameters=(*action.parameters, Parameter("baumgarte_a", a), Parameter("baumgarte_b", b))
    )
    return replace(derivation, action=action).with_equations(tuple(equations), "exact")


def apply_options(
    action: Action, options: Options, derived: Derivation | None = None
) -> Derivation:
    """penalty -> derive -> flip -> normalise -> ascent, as ``options`` says.

    ``derived`` is :func:`derive` of the action the options derive (the penalised one under the
    ``penalty`` policy), when the caller has it already (:func:`derived_action`): it is reused
    instead of deriving again. With the ``exact`` policy the derivation has no explicit system:
    the code generator assembles its sparse linear system instead (:mod:`stlp_sym.codegen.exact`).
    """
    check_policy_names(action, options.policy)
    derivation = derived or derive(derived_action(action, options))
    if options.flip:
        derivation = flip(derivation)
    if options.normalise:
        derivation = normalise(derivation)
    if options.policy == "ascent":
        derivation = ascent(derivation)
    if options.policy == "exact":
        derivation = exact(derivation)
    return derivation


def derived_action(action: Action, options: Options) -> Action:
    """The action that :func:`apply_options` derives: ``action``, penalised under ``penalty``."""
    check_policy_names(action, options.policy)
    return penalty(action) if options.policy == "penalty" else action
