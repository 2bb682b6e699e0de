"""The driver: from an action to the source of its module, keeping every stage.

:func:`compile` is the whole pipeline in one place (the stages are the package's folders):

1. ``derived``, ``derivation`` -- one derivation (of the penalised action under ``penalty``) and
   the options' transforms of it: flip -> normalise -> ascent or exact (:func:`apply_options`);
2. ``raw`` -- the unflipped derivation of the transformed action, whose ``P0 + P1`` the module's
   ``el_parts`` returns and the checks compare with finite differences;
3. ``ir`` -- the step IR (:func:`~stlp_sym.codegen.ir.lower`);
4. ``source`` -- the module text rendered from the IR (:mod:`stlp_sym.codegen.render`).

:func:`module_key` names what the source depends on (action, options, template, versions and the
generator's own sources) without deriving anything; the cache files modules under it.

>>> from stlp_sym.symbolic.models import MODELS
>>> stages = compile(MODELS["pendulum"].build(), MODELS["pendulum"].options)
>>> [s.name for s in stages.ir.states], "def step(" in stages.source
(['q', 'q_d1'], True)
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import sympy as sp

from .. import __version__
from ..errors import ActionError, InternalError, StlpError
from ..options import Options, resolved
from ..symbolic.action import Action
from ..symbolic.derivation import Derivation, derive
from ..symbolic.printing import text_equations
from ..symbolic.transforms import apply_options, derived_action
from .backends import numba_supports
from .ir import StepIR, lower
from .render import render_context, render_module, template_bytes


@dataclass(frozen=True)
class Stages:
    """Every intermediate of one :func:`compile`, so that one can stop at any stage and look."""

    action: Action
    options: Options
    key: str
    #: ``derive`` of the action the options derive (penalised under ``penalty``), untransformed
    derived: Derivation
    derivation: Derivation
    raw: Derivation
    ir: StepIR
    source: str


def compile(
    action: Action,
    options: Options | None = None,
    *,
    key: str | None = None,
    derived: Derivation | None = None,
) -> Stages:
    """Derive once, transform once, lower and render the module of ``action`` under ``options``.

    Parameters
    ----------
    action : the action, before the options' transforms.
    options : how it becomes code (default :class:`~stlp_sym.options.Options`).
    key : the key stamped into the module (default :func:`module_key`).
    derived : :attr:`Stages.derived` of an earlier compile of the same action under options
        with the same policy, reused instead of deriving again.

    Raises
    ------
    StructureError
        When the equations have no local explicit form that the options can generate.
    InternalError
        When the generator itself fails on an action it accepted (a bug: please report it).
    """
    options = resolved(options or Options())
    if options.backend == "numba" and not numba_supports(options):
        raise ActionError(
            f"the numba backend does not generate {options.describe()}; use backend numpy"
        )
    try:
        derived = derived or derive(derived_action(action, options))
        derivation = apply_options(action, options, derived)
        # el_parts are those of the unflipped derivation of the action the module integrates
        same = derivation.action == derived.action
        raw = derived if same else derive(derivation.action)
        ir = lower(derivation, cse=options.cse, raw=raw)
        key = key or module_key(action, options)
        context = render_context(ir, options, key, text_equations(derivation))
        source = render_module(context)
    except StlpError:
        raise
    except Exception as error:  # a fault of the generator, not of the action
        raise InternalError(
            f"compiling action {action.name!r} failed: {type(error).__name__}: {error}"
        ) from error
    return Stages(action, options, key, derived, derivation, raw, ir, source)


def canonical_text(action: Action, options: Options) -> str:
    """A deterministic text of everything the generated module depends on."""
    parts = [
        f"action {action.name}",
        *(repr(f) for f in action.fields),
        *(repr(s) for s in action.signals),
        *(repr(c) for c in action.clamps),
        *(f"aggregate {a.name} {a.direction} {sp.srepr(a.expr)}" for a in action.aggregates),
        *(f"parameter {p.name} {p.default!r} on={p.on}" for p in action.parameters),
        f"node {sp.srepr(action.node)}",
        f"edge {sp.srepr(action.edge)}",
        f"global {sp.srepr(action.global_)}",
        f"factor {sp.srepr(action.factor)}",
        f"observed {action.observed}",
        f"options {sorted(asdict(options).items())}",
        f"versions stlp_sym={__version__} sympy={sp.__version__}",
    ]
    return "\n".join(parts)


@cache
def generator_fingerprint() -> str:
    """sha256 of the package's own sources: a changed generator never reuses an old module."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def module_key(action: Action, options: Options) -> str:
    """sha256 of the action, options (their backend resolved), template, versions and generator
    (no derivation needed)."""
    digest = hashlib.sha256(canonical_text(action, resolved(options)).encode())
    digest.update(template_bytes())
    digest.update(generator_fingerprint().encode())
    return digest.hexdigest()
