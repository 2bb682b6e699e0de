"""Render a :class:`~stlp_sym.codegen.ir.StepIR` into the source of a NumPy module with Jinja.

The template only places what :func:`render_context` prepared (printed code lines, literal
dicts); the environment is strict (``StrictUndefined``) and :func:`render_module` checks that
the template's variables are exactly the context's keys, so a renamed key cannot go unnoticed.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2
import jinja2.meta
import sympy as sp

from .. import __version__
from ..options import Options
from .buffers import kernel_lines
from .integrators import INTEGRATORS
from .ir import Kernel, StepIR
from .loops import LoopKernel, lead_line, loop_kernel, wrapper_result
from .module_parts import (
    clamp_entries,
    compiles_steps,
    entry_points,
    model_entries,
    module_tables,
)
from .paste import functions_called, pasted_source
from .printer import numpy_code
from .steploop import CHUNK_ARGUMENTS, compiled_steps

TEMPLATE = "module.py.j2"
_LOADS = {
    "jet": '{var} = _jet["{name}"]',
    "signal": '{var} = signal_array(_sig, "{name}")',
    "role": '{var} = _plan["roles"]["{name}"]',
    "param": '{var} = _p["{name}"]',
}
_SIZES = {"node": '(*_lead, _plan["n"])', "edge": '(*_lead, _plan["m"])', "global": "_lead"}
#: A global value is read as a column ``(*_lead, 1)``, so that it meets node and edge arrays.
_GLOBAL_LOAD = '{var} = np.reshape(_jet["{name}"], (*_lead, 1))'


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


def _scalar_valued(kernel: Kernel) -> set[str]:
    """Variables without a node or arc axis, outside the edge buffers: computed from
    parameters, ``t`` and global values only (a global value is one per batch member)."""
    scalars = {v for v, (domain, _, _) in kernel.inputs.items() if domain in ("scalar", "global")}
    for op in kernel.ops:
        if op.domain == "global" or (
            op.kind == "expr" and op.domain != "edge" and op.reads <= scalars | {"t"}
        ):
            scalars.add(op.target)
    return scalars


def _kernel_context(kernel: Kernel, function: str, doc: str, globals_: tuple[str, ...]) -> dict:
    """Signature, body and result of one kernel function of the module; ``globals_`` are the
    action's global fields (their values carry no node or arc axis)."""
    lines, columns = [], []
    # Inputs the lowering registered but that cancelled out of every expression are not loaded.
    used = set(kernel.outputs.values()).union(*(op.reads for op in kernel.ops))
    for var, (domain, source, key) in kernel.inputs.items():
        if source not in ("time", "argument") and var in used:
            load = _GLOBAL_LOAD if domain == "global" else _LOADS[source]
            (columns if domain == "global" else lines).append(load.format(var=var, name=key))
    body, buffers = kernel_lines(kernel)
    # An output computed from parameters only (a free particle's x'' = 0) still fills its
    # domain, so that every caller sees one value per node or arc (per member of a batch).
    scalars, result = _scalar_valued(kernel), []
    if buffers or globals_ or scalars & set(kernel.outputs.values()):
        lines.append(lead_line("_jet", globals_))
    lines += columns
    if buffers:
        lines.append(f'_b = edge_buffers(_plan, (_KEY, "{function}"), {buffers}, _lead)')
    lines += body
    for name, var in kernel.outputs.items():
        value = var
        if kernel.domains[name] == "global":
            value = f"np.broadcast_to({var}, (*_lead, 1))[..., 0]"
        elif var in scalars:
            value = f"np.broadcast_to({var}, {_SIZES[kernel.domains[name]]})"
        result.append(f'"{name}": {value}')
    return {
        "function": function,
        "arguments": "t, _jet, _plan, _p, _sig, _scale=1.0",
        "doc": doc,
        "lines": lines,
        "result": "{" + ", ".join(result) + "}",
    }


def _decay_context(ir: StepIR) -> dict:
    """The kernel of the decay rate ``k`` of each top state (parameters only)."""
    entries = [f'        "{state}": {code},' for state, code in _decays(ir)]
    return {
        "function": "_decay_kernel",
        "arguments": "_p",
        "doc": "``k`` per top state with ``rate = rhs kernel output - k * state``.",
        "lines": [],
        "result": "{\n" + "".join(line + "\n" for line in entries) + "    }" if entries else "{}",
    }


def _loop_context(
    kernel: Kernel, function: str, doc: str, globals_: tuple[str, ...]
) -> tuple[dict, str]:
    """The numba backend's kernel: a wrapper of the NumPy kernel's signature around the
    compiled loops (whose source is returned second)."""
    loops = loop_kernel(kernel, function, globals_)
    context = {
        "function": function,
        "arguments": "t, _jet, _plan, _p, _sig, _scale=1.0",
        "doc": doc + " (compiled loops)",
        "lines": loops.wrapper,
        "result": wrapper_result(kernel),
    }
    return context, loops.source


def _chunk_context(ir: StepIR, rhs: LoopKernel, integrator_name: str) -> tuple[dict, str]:
    """The compiled steps (of a chunk of ``run_steps``, or of one ``step``) and their Python
    adapter."""
    integrator = INTEGRATORS[integrator_name]
    source, lines, result = compiled_steps(ir, rhs, clamp_entries(ir), integrator)
    context = {
        "function": "_chunk",
        "arguments": CHUNK_ARGUMENTS,
        "doc": f"Steps ``k0 .. k0 + count - 1`` of {integrator.name} in one compiled call "
        "(snapshots every ``stride`` steps); returns the steps taken.",
        "lines": lines,
        "result": result,
    }
    return context, source


def _kernels(
    ir: StepIR, backend: str = "numpy", chunked: str | None = None
) -> tuple[list[dict], list[str]]:
    """The kernel functions of the module, and (numba) the compiled loops they call;
    ``chunked`` names the integrator whose steps are compiled (None: none are)."""
    printed = [(ir.rhs, "_rhs_kernel", "Leading derivatives of the states.")]
    if ir.energy is not None:
        printed.append((ir.energy, "_energy_kernel", "L and H per node and arc."))
    if ir.el is not None:
        printed.append((ir.el, "_el_kernel", "P0 and P1 per field."))
    kernels, compiled, globals_ = [], [], ir.global_fields
    for kernel, function, doc in printed:
        if backend == "numba":
            context, source = _loop_context(kernel, function, doc, globals_)
            kernels.append(context)
            compiled.append(source)
            if chunked and function == "_rhs_kernel":
                rhs = loop_kernel(kernel, function, globals_)
                chunk, steps = _chunk_context(ir, rhs, chunked)
                compiled.append(steps)
                kernels.append(chunk)
        else:
            kernels.append(_kernel_context(kernel, function, doc, globals_))
    kernels.insert(1, _decay_context(ir))
    return kernels, compiled


def render_context(ir: StepIR, options: Options, cache_key: str, equations: list[str]) -> dict:
    """Everything the template places, already printed; the pieces follow the options."""
    integrator = INTEGRATORS[options.integrator]
    chunked = compiles_steps(ir, options)
    points = entry_points(ir, integrator, chunked)
    public = [point["name"] for point in points]
    numba = options.backend == "numba"
    kernels, compiled = _kernels(
        ir, "numba" if numba else "numpy", options.integrator if chunked else None
    )
    context = {
        "title": f"Generated {'Numba' if numba else 'NumPy'} step functions of model {ir.name!r}.",
        "imports": ["import numba", "import numpy as np"] if numba else ["import numpy as np"],
        "compiled": compiled,
        "tool_version": __version__,
        "sympy_version": sp.__version__,
        "cache_key": cache_key,
        "options_text": options.describe(),
        "equations": equations,
        "locality": _locality(ir),
        "tables": module_tables(
            ir,
            options,
            integrator,
            cache_key,
            public,
            {"stlp_sym": __version__, "sympy": sp.__version__},
        ),
        "kernels": kernels,
        "model": model_entries(ir, integrator, chunked),
        "entry_points": points,
        "runtime": [],
    }
    text = render_module(context)
    if re.search(r"\bmath\.", text):  # erf: NumPy has none, the standard library does
        context["imports"].insert(0, "import math")
    context["runtime"] = pasted_source(functions_called(text))
    return context


def _locality(ir: StepIR) -> str:
    """Per update, the gathers and scatters on its longest path (its neighbourhood radius), or
    for an update that reads a global quantity, that it is global and what it reads."""
    if ir.exact is not None:
        return "none: the exact policy solves one sparse system over the whole graph per step"
    parts = []
    for name, hops in ir.rhs.hops.items():
        reach = ir.rhs.reach.get(name)
        parts.append(f"{name} global (reads {', '.join(reach)})" if reach else f"{name} {hops}")
    return ", ".join(parts)


def _decays(ir: StepIR) -> list[tuple[str, str]]:
    """``(state, code)`` of each non-zero decay rate (parameters read from ``_p``)."""
    found = []
    for state, rate in ir.decays.items():
        if rate != 0:
            names = {s: sp.Symbol(f'_p["{s.name}"]') for s in rate.free_symbols}
            found.append((state, numpy_code(rate.xreplace(names))))
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
