"""Render a :class:`~stlp_sym.codegen.ir.StepIR` into the source of a NumPy module with Jinja.

The template only places what :func:`render_context` prepared (printed code lines, literal
dicts); the environment is strict (``StrictUndefined``) and :func:`render_module` checks that
the template's variables are exactly the context's keys, so a renamed key cannot go unnoticed.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import jinja2
import jinja2.meta
import sympy as sp

from .. import __version__
from ..options import Options
from .ir import Kernel, Op, StepIR
from .printer import BufferPool, InPlaceEmitter, numpy_code

TEMPLATE = "module.py.j2"
_LOADS = {
    "jet": '{var} = _jet["{name}"]',
    "signal": '{var} = _signal(_sig, "{name}")',
    "role": '{var} = _plan["roles"]["{name}"]',
    "param": '{var} = _p["{name}"]',
}


def template_dir() -> Path:
    """The templates shipped in the wheel, or the repository's ``templates/`` in a checkout."""
    packaged = resources.files("stlp_sym") / "templates"
    if packaged.is_dir() and (packaged / TEMPLATE).is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "templates"


@cache
def environment() -> jinja2.Environment:
    """The strict Jinja environment of the templates."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def template_bytes() -> bytes:
    """The template's bytes (part of every cache key)."""
    return (template_dir() / TEMPLATE).read_bytes()


def _line(op: Op) -> str:
    if op.kind == "gather":
        return f"{op.target} = _gather_{op.end}({op.source}, _plan)"
    if op.kind == "scatter":
        return f"{op.target} = _scatter_{op.end}({op.source}, _plan)"
    return f"{op.target} = {numpy_code(op.expr)}"


def _last_uses(kernel: Kernel) -> dict[str, int]:
    """Index of the last op reading each variable (outputs live to the end)."""
    last = {}
    for index, op in enumerate(kernel.ops):
        for name in op.reads:
            last[name] = index
    for name in kernel.outputs.values():
        last[name] = len(kernel.ops)
    return last


def _kernel_lines(kernel: Kernel) -> tuple[list[str], int]:
    """The kernel body; edge arrays live in reusable plan buffers ``_b[k]`` (no allocation)."""
    scalars = {v for v, (domain, _, _) in kernel.inputs.items() if domain == "scalar"}
    scalars |= {op.target for op in kernel.ops if op.domain == "scalar"}
    pool, held, lines = BufferPool(), {}, []
    last = _last_uses(kernel)
    for index, op in enumerate(kernel.ops):
        if op.domain != "edge":
            lines.append(_line(op))
            continue
        if op.kind == "gather" and op.end == "dst":
            # np.repeat of the dst-sorted segments beats any gather into a buffer.
            lines.append(f"{op.target} = _gather_dst({op.source}, _plan)")
            continue
        held[op.target] = buffer = pool.take()
        if op.kind == "gather":
            lines.append(f"{op.target} = _gather_src({op.source}, _plan, {buffer})")
        else:
            lines.append(f"{op.target} = {buffer}")
            lines += InPlaceEmitter(scalars, pool).assign(buffer, op.expr)
        for name in sorted(held):
            if last.get(name, -1) <= index:
                pool.give(held.pop(name))
    return lines, pool.count


def _kernel_context(kernel: Kernel, function: str, doc: str) -> dict:
    loads = []
    for var, (_domain, source, key) in kernel.inputs.items():
        if source not in ("time", "argument"):
            loads.append(_LOADS[source].format(var=var, name=key))
    lines, buffers = _kernel_lines(kernel)
    loads.append(f'_b = _edge_buffers(_plan, "{function}", {buffers})')
    result = ", ".join(f'"{name}": {var}' for name, var in kernel.outputs.items())
    return {
        "function": function,
        "doc": doc,
        "loads": loads,
        "lines": lines,
        "result": "{" + result + "}",
    }


def render_context(ir: StepIR, options: Options, cache_key: str, equations: list[str]) -> dict:
    """Everything the template places, already printed."""
    tops: dict[str, list[str]] = {}
    for state in ir.states:
        tops.setdefault(state.field, []).append(state.name)
    states = {
        s.name: {
            "field": s.field,
            "order": s.order,
            "domain": s.domain,
            "role": s.role,
            "clamp": s.clamp_signal,
            "clamp_role": s.clamp_role,
        }
        for s in ir.states
    }
    kernels = [_kernel_context(ir.rhs, "_rhs_kernel", "Leading derivatives of the states.")]
    if ir.energy is not None:
        kernels.append(_kernel_context(ir.energy, "_energy_kernel", "L and H per node and arc."))
    el_fields = []
    if ir.el is not None:
        kernels.append(_kernel_context(ir.el, "_el_kernel", "P0 and P1 per field."))
        el_fields = sorted({name[3:] for name in ir.el.outputs})
    # A clamped field takes its value from the signal and, where the signals provide them,
    # its derivatives from the signal's derivatives (``u_d1``, ...).
    clamp_of = {c.field: c for c in ir.clamps}
    clamps = [
        {
            "state": s.name,
            "role": clamp_of[s.field].role,
            "signal": clamp_of[s.field].signal + (f"_d{s.order}" if s.order else ""),
            "required": s.order == 0,
        }
        for s in ir.states
        if s.field in clamp_of
    ]
    options_dict = {
        "flip": options.flip,
        "normalise": options.normalise,
        "policy": options.policy,
        "integrator": options.integrator,
        "cse": options.cse,
    }
    return {
        "title": f"Generated NumPy step functions of model {ir.name!r}.",
        "tool_version": __version__,
        "sympy_version": sp.__version__,
        "cache_key": cache_key,
        "options_text": options.describe(),
        "equations": equations,
        "locality": _locality(ir),
        "params": repr({p.name: p.default for p in ir.parameters}),
        "states": _literal(states),
        "options": repr(options_dict),
        "options_dict": options_dict,
        "signals": repr({s.name: s.role for s in ir.signals}),
        "update_order": repr([name for chain in tops.values() for name in chain]),
        "tops": repr(tops),
        "clamps": clamps,
        "kernels": kernels,
        "has_energy": ir.energy is not None,
        "energy_scale": "Divided by the dissipation factor: " if ir.energy is not None else "",
        "el_fields": repr(el_fields),
        "decays": _decays(ir),
        "fields": _literal(_fields(ir)),
        "exact": _exact(ir),
    }


def _fields(ir: StepIR) -> dict[str, dict]:
    """Every field's domain, role and clamp (``prepare`` derives where each one exists)."""
    clamps = {c.field: c for c in ir.clamps}
    return {
        f.name: {
            "domain": f.domain,
            "role": f.role,
            "clamp": clamps[f.name].signal if f.name in clamps else None,
            "clamp_role": clamps[f.name].role if f.name in clamps else None,
        }
        for f in ir.fields
    }


def _exact(ir: StepIR) -> dict[str, str] | None:
    if ir.exact is None:
        return None
    entries = [
        {
            "equation": e.equation,
            "unknown": e.unknown,
            "kind": e.kind,
            "end": e.end,
            "output": e.output,
        }
        for e in ir.exact.entries
    ]
    return {"blocks": _literal(list(ir.exact.unknowns)), "entries": _literal(entries)}


def _literal(value: dict | list) -> str:
    """A Python literal for the generated code with one entry per line (deterministic)."""
    if isinstance(value, dict):
        lines = [f"    {key!r}: {item!r}," for key, item in value.items()]
        return "{\n" + "\n".join(lines) + "\n}"
    return "[\n" + "\n".join(f"    {item!r}," for item in value) + "\n]"


def _locality(ir: StepIR) -> str:
    """Per update, the gathers and scatters on its longest path (its neighbourhood radius)."""
    if ir.exact is not None:
        return "none: the exact policy solves one sparse system over the whole graph per step"
    return ", ".join(f"{name} {hops}" for name, hops in ir.rhs.hops.items())


def _decays(ir: StepIR) -> list[dict[str, str]]:
    """``{state, code}`` of each non-zero decay rate (parameters read from ``p``)."""
    found = []
    for state, rate in ir.decays.items():
        if rate != 0:
            names = {s: sp.Symbol(f'p["{s.name}"]') for s in rate.free_symbols}
            found.append({"state": state, "code": numpy_code(rate.xreplace(names))})
    return found


def render_module(context: dict) -> str:
    """The module source; the template's variables must be exactly the context's keys."""
    env = environment()
    source = env.loader.get_source(env, TEMPLATE)[0]
    used = jinja2.meta.find_undeclared_variables(env.parse(source))
    if used != set(context):
        only_template, only_renderer = sorted(used - set(context)), sorted(set(context) - used)
        raise KeyError(
            f"template {TEMPLATE} and renderer disagree: template only {only_template}, "
            f"renderer only {only_renderer}"
        )
    return env.get_template(TEMPLATE).render(**context)
