"""The numba backend's kernels: one IR kernel as fused loops over nodes and destination-sorted
arcs, compiled with ``numba.njit(cache=True)``.

The ops of a kernel are grouped into runs of one domain, in order: parameter-only ops go before
the loops (once per batch member), a run of node ops is one loop over the nodes, a run of edge
ops one loop over the arcs, nested in the loop over their destinations (owner computes: the
value at an arc's destination is the loop's node value, a sum into destinations is accumulated
by the node that owns the segment, a sum into sources by the source over the by-source
permutation, so nothing is written by two iterations and no atomics are needed). A value lives
in a scalar of its loop, unless a later loop reads it: then in an array of the kernel. A
leading loop over batch members makes the same code serve every batch size.

:func:`loop_kernel` returns the compiled function's source and the wrapper's lines: the wrapper
has the NumPy kernel's signature and result (a dict of node and edge arrays), so that every
runtime helper of the NumPy backend (integrators, clamps, energies, the exact policy, batches)
runs on the compiled kernels unchanged.

>>> import sympy as sp
>>> from stlp_sym.codegen.kernel import Kernel, Op
>>> w, x = sp.symbols("w x__src")
>>> ops = (Op("x__src", "edge", "gather", source="x", end="src"),
...        Op("p", "edge", "expr", w * x),
...        Op("s", "node", "scatter", source="p", end="dst"))
>>> inputs = {"w": ("edge", "jet", "w"), "x": ("node", "jet", "x")}
>>> loops = loop_kernel(Kernel(inputs, ops, {"out": "s"}, {}, {"out": "node"}), "_k")
>>> "for _ea in range(_in_ptr[_ni], _in_ptr[_ni + 1]):" in loops.source
True
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .kernel import Kernel, Op
from .printer import numpy_code

#: Loop variables and plan arrays of a compiled kernel (names no IR variable takes).
_MEMBER, _NODE, _ARC, _OUT = "_mb", "_ni", "_ea", "_eo"


@dataclass(frozen=True)
class LoopKernel:
    """A compiled kernel: ``source`` (the ``@njit`` function) and ``wrapper`` (its lines)."""

    name: str
    source: str
    wrapper: list[str]
    result: str


def _groups(ops: tuple[Op, ...]) -> tuple[list[Op], list[tuple[str, list[Op]]]]:
    """Parameter-only ops, and runs of consecutive node or edge ops."""
    before, runs = [], []
    for op in ops:
        if op.domain == "scalar":
            before.append(op)
        elif runs and runs[-1][0] == op.domain:
            runs[-1][1].append(op)
        else:
            runs.append((op.domain, [op]))
    return before, runs


def loop_kernel(kernel: Kernel, name: str) -> LoopKernel:
    """The compiled loops of ``kernel`` (``name`` is the NumPy kernel's function name)."""
    used = set(kernel.outputs.values()).union(*(op.reads for op in kernel.ops))
    inputs = {v: spec for v, spec in kernel.inputs.items() if v in used}
    before, runs = _groups(kernel.ops)
    run_of = {op.target: k for k, (_, ops) in enumerate(runs) for op in ops}
    domain_of = {op.target: op.domain for op in kernel.ops}
    domain_of.update({v: d for v, (d, _, _) in inputs.items()})
    outputs = {var for var in kernel.outputs.values() if var in run_of}
    arrays = {
        var
        for k, (_, ops) in enumerate(runs)
        for op in ops
        for var in op.reads
        if var in run_of and run_of[var] != k and var not in outputs
    }

    def ref(var: str, at: str) -> str:
        """How ``var`` is read at index expression ``at`` of its domain."""
        if domain_of.get(var) == "scalar" or var in ("t", "_scale"):
            return var
        if var in outputs:
            return f"_o_{var}[{_MEMBER}, {at}]"
        if var in arrays:
            return f"_t_{var}[{at}]"
        if var in inputs:
            source = inputs[var][1]
            return f"{var}[{at}]" if source == "role" else f"{var}[{_MEMBER}, {at}]"
        return var  # a scalar of the current loop

    def expr_line(op: Op, at: str) -> str:
        names = {s: sp.Symbol(ref(s.name, at)) for s in op.expr.free_symbols}
        return numpy_code(op.expr.xreplace(names))

    def store(var: str, value: str, at: str) -> list[str]:
        if var in outputs or var in arrays:
            return [f"{var} = {value}", f"{ref(var, at)} = {var}"]
        return [f"{var} = {value}"]

    body = [f"for {_MEMBER} in range(_rows):"]
    params = [v for v, (_, source, _) in inputs.items() if source == "param"]
    for j, var in enumerate(params):
        body.append(f"    {var} = _P[{_MEMBER}, {j}]")
    body += [f"    {op.target} = {expr_line(op, '0')}" for op in before]
    for domain, ops in runs:
        if domain == "node":
            lines, indent = [f"for {_NODE} in range(_n):"], "    "
            at = _NODE
        else:
            lines = [
                f"for {_NODE} in range(_n):",
                f"    for {_ARC} in range(_in_ptr[{_NODE}], _in_ptr[{_NODE} + 1]):",
            ]
            indent, at = "        ", _ARC
        for op in ops:
            if op.kind == "expr":
                new = store(op.target, expr_line(op, at), at)
            elif op.kind == "gather":
                end = f"_src[{_ARC}]" if op.end == "src" else _NODE
                new = store(op.target, ref(op.source, end), at)
            elif op.end == "dst":
                new = [
                    "_acc = 0.0",
                    f"for {_ARC} in range(_in_ptr[{_NODE}], _in_ptr[{_NODE} + 1]):",
                    f"    _acc += {ref(op.source, _ARC)}",
                    *store(op.target, "_acc", at),
                ]
            else:
                new = [
                    "_acc = 0.0",
                    f"for {_OUT} in range(_out_ptr[{_NODE}], _out_ptr[{_NODE} + 1]):",
                    f"    _acc += {ref(op.source, f'_by_src[{_OUT}]')}",
                    *store(op.target, "_acc", at),
                ]
            lines += [indent + line for line in new]
        body += ["    " + line for line in lines]
    # outputs read straight from an input or computed from parameters only fill their domain
    filled = {}
    for out, var in kernel.outputs.items():
        if var in outputs:
            continue
        filled[out] = f"_f_{out}"
        size = "_n" if kernel.domains.get(out, "node") == "node" else "_m"
        body += [
            f"    for {_NODE} in range({size}):",
            f"        _f_{out}[{_MEMBER}, {_NODE}] = {ref(var, _NODE)}",
        ]
    out_arrays = sorted(outputs)
    arguments = [
        "t",
        "_scale",
        "_P",
        "_n",
        "_m",
        "_src",
        "_in_ptr",
        "_out_ptr",
        "_by_src",
        *[v for v in inputs if inputs[v][1] in ("jet", "signal", "role")],
        *[f"_o_{v}" for v in out_arrays],
        *filled.values(),
    ]
    temps = [
        f"_t_{v} = np.empty({'_n' if domain_of[v] == 'node' else '_m'})" for v in sorted(arrays)
    ]
    rows = "_rows = _P.shape[0]"
    source = "\n".join(
        [
            "@numba.njit(cache=True)",
            f"def {name}_loops({', '.join(arguments)}):",
            f"    {rows}",
            *("    " + line for line in temps),
            *("    " + line for line in body),
        ]
    )
    return LoopKernel(
        name, source, _wrapper(kernel, name, inputs, params, out_arrays, filled, arguments), ""
    )


def _wrapper(kernel, name, inputs, params, out_arrays, filled, arguments) -> list[str]:
    """The lines of the NumPy-signature function that calls the compiled loops."""
    sizes = {"node": "_plan['n']", "edge": "_plan['m']"}
    lines = [
        "_lead = batch_shape(_jet)",
        "_rows = batch_rows(_lead)",
        "_src, _in_ptr, _out_ptr, _by_src = loop_plan(_plan)",
        f"_P = param_rows(_p, {params!r}, _rows)",
    ]
    for var, (domain, source, key) in inputs.items():
        if source == "jet":
            lines.append(f'{var} = as_rows(_jet["{key}"], _rows, {sizes[domain]})')
        elif source == "signal":
            lines.append(f'{var} = as_rows(signal_array(_sig, "{key}"), _rows, {sizes[domain]})')
        elif source == "role":
            lines.append(f'{var} = _plan["roles"]["{key}"]')
    domains = {var: kernel.domains.get(out, "node") for out, var in kernel.outputs.items()}
    domains.update({f"_f_{out}": kernel.domains.get(out, "node") for out in filled})
    for var in out_arrays:
        lines.append(f"_o_{var} = np.empty((_rows, {sizes[domains[var]]}))")
    for out, var in filled.items():
        lines.append(f"{var} = np.empty((_rows, {sizes[kernel.domains.get(out, 'node')]}))")
    lines.append(f"{name}_loops({', '.join(_call_arguments(arguments))})")
    return lines


def _call_arguments(arguments: list[str]) -> list[str]:
    plan = {"_n": "_plan['n']", "_m": "_plan['m']", "t": "float(t)", "_scale": "float(_scale)"}
    return [plan.get(a, a) for a in arguments]


def wrapper_result(kernel: Kernel, filled_prefix: str = "_f_") -> str:
    """The wrapper's result: each output reshaped to the batch's leading axes."""
    parts = []
    outputs = {op.target for op in kernel.ops if op.domain != "scalar"}
    for out, var in kernel.outputs.items():
        array = f"_o_{var}" if var in outputs else f"{filled_prefix}{out}"
        parts.append(f'"{out}": {array}.reshape((*_lead, {array}.shape[1]))')
    return "{" + ", ".join(parts) + "}"
