"""The numba backend's kernels: one IR kernel as fused loops over nodes and destination-sorted
arcs, compiled with ``numba.njit(cache=True, error_model="numpy")`` (a division by zero
gives ``inf`` or ``nan`` as in NumPy, which the runner reports, instead of an exception).

The ops of a kernel are reordered so that ops of one domain run together (:func:`fused_order`)
and grouped into runs: parameter-only ops go before the loops (once per batch member), a run of
node ops is one loop over the nodes, a run of edge ops one loop over the arcs nested in the
loop over their destinations, merged with the node run after it (owner computes: the value at
an arc's destination is the loop's node value, a sum into a destination is accumulated in the
arc loop of the node that owns the segment, and the node's own ops follow). An edge run after
it that reads the node's values at the arcs' destinations is a second loop over the same
segment in the same node iteration (its node values still scalars, its arcs still in cache),
unless it reads at the sources a value of that node loop. A sum into sources
is one sequential pass over the arcs before its run (serial code: no race, no atomics). A value
lives in a scalar of its loop, unless a later loop reads it: then in a work array of the plan.
Global values (a global field, a sum over every node or arc, what is computed from them) are
scalars of the member loop, outside the node and arc loops, which read them as they read
parameters; a sum over every node or arc is one sequential pass after the run of its summand.
A leading loop over batch members makes the same code serve every batch size.

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

from dataclasses import dataclass, field

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
    #: the compiled function's arguments, the kernel's inputs ``{var: (domain, source, key)}``
    #: and, per output, the array argument that holds it
    arguments: tuple[str, ...] = ()
    inputs: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)


def lead_line(jet: str, globals_: tuple[str, ...]) -> str:
    """``_lead = batch_shape(...)``: the batch's leading axes, global fields skipped."""
    skip = f", {globals_!r}" if globals_ else ""
    return f"_lead = batch_shape({jet}{skip})"


def fused_order(ops: tuple[Op, ...]) -> list[Op]:
    """The ops reordered (each still after what it reads) so that ops of one domain run
    together: parameter-only ops first, then as many ready ops of the current domain as
    there are before switching to the other one (fewer loops, fewer arrays between them)."""
    defined = {op.target for op in ops}
    pending, order, done, current = list(ops), [], set(), None
    while pending:
        ready = [op for op in pending if op.reads & defined <= done]
        chosen = next((op for op in ready if op.domain == "scalar"), None)
        chosen = chosen or next((op for op in ready if op.domain == current), ready[0])
        current = chosen.domain if chosen.domain != "scalar" else current
        order.append(chosen)
        done.add(chosen.target)
        pending.remove(chosen)
    return order


def _groups(ops: tuple[Op, ...]) -> tuple[list[Op], list[tuple[str, list[Op]]]]:
    """Parameter-only ops, and runs of consecutive node or edge ops (in :func:`fused_order`)."""
    before, runs = [], []
    for op in fused_order(ops):
        if op.domain == "scalar":
            before.append(op)
        elif runs and runs[-1][0] == op.domain:
            runs[-1][1].append(op)
        else:
            runs.append((op.domain, [op]))
    return before, runs


def _merged(runs: list[tuple[str, list[Op]]]) -> list[tuple[str, list[Op], list[Op]]]:
    """``(domain, ops, tail)``: an edge run is merged with the node run after it (``tail``,
    run per destination after its arcs) unless that node run sums into sources a value of the
    edge run (a source's sum needs every arc first)."""
    merged: list[tuple[str, list[Op], list[Op]]] = []
    k = 0
    while k < len(runs):
        domain, ops = runs[k]
        if domain == "edge" and k + 1 < len(runs) and runs[k + 1][0] == "node":
            defined = {op.target for op in ops}
            tail = runs[k + 1][1]
            if not any(op.kind == "scatter" and op.end == "src" and op.source in defined
                       for op in tail):  # fmt: skip
                merged.append((domain, ops, tail))
                k += 2
                continue
        merged.append((domain, ops, []))
        k += 1
    return merged


def _owner_fused(merged: list[tuple[str, list[Op], list[Op]]]) -> list[tuple]:
    """``(domain, ops, tail, after)``: an edge run that reads node values only at the arcs'
    destinations, or values of earlier loops at their sources, becomes a second loop over the
    arcs of each node (``after``), in the node loop before it: the node's values are still
    scalars there and its arcs' arrays are still in cache."""
    fused: list[tuple] = []
    for domain, ops, tail in merged:
        if fused and domain == "edge" and not tail and _nests(fused[-1], ops):
            fused[-1] = (*fused[-1][:3], ops)
            continue
        fused.append((domain, ops, tail, []))
    return fused


def _nests(before: tuple, ops: list[Op]) -> bool:
    """True when edge ``ops`` can run per destination in the node loop of ``before``."""
    domain, prior, tail, after = before
    if domain == "global" or after or (domain == "edge" and not tail):
        return False
    defined = {op.target for op in prior + tail}
    return not any(op.kind == "gather" and op.end == "src" and op.source in defined for op in ops)


def kernel_runs(kernel: Kernel) -> list[tuple]:
    """The loops of the compiled kernel in order: ``(domain, ops, tail, after)`` per run (a
    node run, an edge run with the node ops after its arcs, or a global run, each with the
    second arc loop of its nodes; see :func:`loop_kernel`)."""
    return _owner_fused(_merged(_groups(kernel.ops)[1]))


def loop_kernel(
    kernel: Kernel,
    name: str,
    globals_: tuple[str, ...] = (),
    arc_tails: dict[int, list[str]] | None = None,
    extra: tuple[str, ...] = (),
) -> LoopKernel:
    """The compiled loops of ``kernel`` (``name`` is the NumPy kernel's function name;
    ``globals_`` the action's global fields, whose values carry no node or arc axis).

    ``arc_tails`` (for fused updates) gives lines run at the end of each arc's body in the
    edge run of that number (:func:`kernel_runs`), ``extra`` the arguments they read."""
    used = set(kernel.outputs.values()).union(*(op.reads for op in kernel.ops))
    inputs = {v: spec for v, spec in kernel.inputs.items() if v in used}
    before = _groups(kernel.ops)[0]
    runs = kernel_runs(kernel)
    # where each value is made: (run, part), part 0 the arc loop, 1 the node ops, 2 the second
    # arc loop of the run
    made = {
        op.target: (k, part)
        for k, run in enumerate(runs)
        for part, ops in enumerate(run[1:])
        for op in ops
    }
    run_of = {var: k for var, (k, _) in made.items()}
    domain_of = {op.target: op.domain for op in kernel.ops}
    domain_of.update({v: d for v, (d, _, _) in inputs.items()})
    outputs = {var for var in kernel.outputs.values() if var in run_of}
    arrays = {
        var
        for k, run in enumerate(runs)
        for part, ops in enumerate(run[1:])
        for op in ops
        for var in op.reads
        if var in made
        and (made[var][0] != k or (part == 2 and made[var][1] == 0))  # another loop reads it
        and var not in outputs
        and domain_of[var] != "global"
    }
    # a sum into sources is one sequential pass over the arcs before its run (writes into a
    # node array indexed by source: serial, so no race; reads the arcs in order)
    out_sums = {op.target for op in kernel.ops if op.kind == "scatter" and op.end == "src"}
    arrays |= out_sums - outputs

    def slot(var: str, at: str) -> str:
        """Where ``var`` is kept beyond its loop (an output or a work array)."""
        return f"_o_{var}[{_MEMBER}, {at}]" if var in outputs else f"_t_{var}[{at}]"

    def ref(var: str, at: str) -> str:
        """How ``var`` is read at index expression ``at`` of its domain."""
        if domain_of.get(var) == "scalar" or var in ("t", "_scale"):
            return var
        if domain_of.get(var) == "global":  # an input column, or a scalar of the member loop
            return f"{var}[{_MEMBER}, 0]" if var in inputs else var
        if var in outputs or var in arrays:
            return slot(var, at)
        if var in inputs:
            source = inputs[var][1]
            if source in ("signal", "param"):  # one row per member, or one shared by all
                return f"{var}[_sg_{var}, {at}]"
            return f"{var}[{at}]" if source == "role" else f"{var}[{_MEMBER}, {at}]"
        return var  # a scalar of the current loop

    def expr_line(op: Op, at: str) -> str:
        names = {s: sp.Symbol(ref(s.name, at)) for s in op.expr.free_symbols}
        return numpy_code(op.expr.xreplace(names), scalar=True)

    def store(var: str, value: str, at: str) -> list[str]:
        if var in outputs or var in arrays:
            return [f"{var} = {value}", f"{slot(var, at)} = {var}"]
        return [f"{var} = {value}"]

    def global_lines(op: Op) -> list[str]:
        """A global op in the member loop; a sum over every node or arc is one pass."""
        if op.kind == "expr":
            return store(op.target, expr_line(op, "0"), "0")
        at, size = (_NODE, "_n") if op.end == "nodes" else (_ARC, "_m")
        return [
            "_acc = 0.0",
            f"for {at} in range({size}):",
            f"    _acc += {ref(op.source, at)}",
            *store(op.target, "_acc", "0"),
        ]

    def op_lines(op: Op, at: str, fused: dict[str, str]) -> list[str]:
        if op.target in fused:
            return store(op.target, fused[op.target], at)
        if op.kind == "expr":
            return store(op.target, expr_line(op, at), at)
        if op.kind == "gather":
            end = f"_src[{_ARC}]" if op.end == "src" else _NODE
            return store(op.target, ref(op.source, end), at)
        if op.end == "dst":
            return [
                "_acc = 0.0",
                f"for {_ARC} in range(_in_ptr[{_NODE}], _in_ptr[{_NODE} + 1]):",
                f"    _acc += {ref(op.source, _ARC)}",
                *store(op.target, "_acc", at),
            ]
        return [f"{op.target} = {ref(op.target, at)}"]

    def out_sum_lines(ops: list[Op]) -> list[str]:
        lines = []
        for op in ops:
            if op.kind == "scatter" and op.end == "src":
                target = ref(op.target, _NODE).split("[")[0]
                member = f"{_MEMBER}, " if op.target in outputs else ""
                lines += [
                    f"for {_NODE} in range(_n):",
                    f"    {target}[{member}{_NODE}] = 0.0",
                    f"for {_ARC} in range(_m):",
                    f"    {target}[{member}_src[{_ARC}]] += {ref(op.source, _ARC)}",
                ]
        return lines

    # the time is one value per member row (records of a run are evaluated as rows), or shared
    body = [f"for {_MEMBER} in range(_rows):", f"    t = _T[{_MEMBER} if _T.shape[0] > 1 else 0]"]
    params = [v for v, (d, source, _) in inputs.items() if source == "param" and d == "scalar"]
    for j, var in enumerate(params):
        body.append(f"    {var} = _P[{_MEMBER}, {j}]")
    for var in _row_arrays(inputs):
        body.append(f"    _sg_{var} = {_MEMBER} if {var}.shape[0] > 1 else 0")
    body += [f"    {op.target} = {expr_line(op, '0')}" for op in before]
    for run, (domain, ops, tail, after) in enumerate(runs):
        if domain == "global":
            body += ["    " + line for op in ops for line in global_lines(op)]
            continue
        lines = [*out_sum_lines(ops + tail), f"for {_NODE} in range(_n):"]
        tails = ["        " + line for line in (arc_tails or {}).get(run, [])]
        second = [f"    for {_ARC} in range(_in_ptr[{_NODE}], _in_ptr[{_NODE} + 1]):"] * bool(after)
        second += ["        " + line for op in after for line in op_lines(op, _ARC, {})]
        second += tails if after else []  # fused updates: after the last pass over the arcs
        if domain == "node":
            lines += ["    " + line for op in ops for line in op_lines(op, _NODE, {})]
            body += ["    " + line for line in lines + second]
            continue
        defined = {op.target for op in ops}
        fused = {
            op.target: f"_acc{j}"
            for j, op in enumerate(tail)
            if op.kind == "scatter" and op.end == "dst" and op.source in defined
        }
        sums = {op.target: op.source for op in tail if op.target in fused}
        lines += [f"    {fused[target]} = 0.0" for target in sums]
        lines.append(f"    for {_ARC} in range(_in_ptr[{_NODE}], _in_ptr[{_NODE} + 1]):")
        lines += ["        " + line for op in ops for line in op_lines(op, _ARC, {})]
        lines += [f"        {fused[t]} += {ref(v, _ARC)}" for t, v in sums.items()]
        lines += [] if after else tails
        lines += ["    " + line for op in tail for line in op_lines(op, _NODE, fused)]
        body += ["    " + line for line in lines + second]
    # outputs read straight from an input or computed from parameters only fill their domain
    filled = {}
    for out, var in kernel.outputs.items():
        if var in outputs:
            continue
        filled[out] = f"_f_{out}"
        size = {"node": "_n", "edge": "_m", "global": "1"}[kernel.domains.get(out, "node")]
        body += [
            f"    for {_NODE} in range({size}):",
            f"        _f_{out}[{_MEMBER}, {_NODE}] = {ref(var, _NODE)}",
        ]
    out_arrays = sorted(outputs)
    rows = _row_arrays(inputs)
    arguments = [
        "_T",
        "_scale",
        "_P",
        "_n",
        "_m",
        "_src",
        "_in_ptr",
        "_out_ptr",
        "_by_src",
        *[v for v in inputs if inputs[v][1] in ("jet", "signal", "role") or v in rows],
        *[f"_o_{v}" for v in out_arrays],
        *filled.values(),
        *[f"_t_{v}" for v in sorted(arrays)],
        *extra,
    ]
    temps = {f"_t_{v}": "node" if domain_of[v] == "node" else "edge" for v in sorted(arrays)}
    source = "\n".join(
        [
            '@numba.njit(cache=True, error_model="numpy")',
            f"def {name}_loops({', '.join(arguments)}):",
            "    _rows = _P.shape[0]",
            *("    " + line for line in body),
        ]
    )
    wrapper = [
        lead_line("_jet", globals_),
        *_wrapper(kernel, name, inputs, params, out_arrays, filled, arguments, temps),
    ]
    results = {
        out: f"_o_{var}" if var in outputs else f"_f_{out}" for out, var in kernel.outputs.items()
    }
    return LoopKernel(name, source, wrapper, "", tuple(arguments), inputs, results)


def _wrapper(kernel, name, inputs, params, out_arrays, filled, arguments, temps) -> list[str]:
    """The lines of the NumPy-signature function that calls the compiled loops (after the line
    of ``_lead``); its outputs and temporaries are work arrays of the plan (allocated once per
    plan and batch size)."""
    sizes = {"node": "_plan['n']", "edge": "_plan['m']", "global": "1"}
    lines = [
        "_rows = batch_rows(_lead)",
        "_src, _in_ptr, _out_ptr, _by_src = loop_plan(_plan)",
        f"_P = param_rows(_p, {params!r}, _rows)",
    ]
    for var, (domain, source, key) in inputs.items():
        if source == "jet" and domain == "global":
            lines.append(f'{var} = global_rows(_jet["{key}"], _rows)')
        elif source == "jet":
            lines.append(f'{var} = as_rows(_jet["{key}"], _rows, {sizes[domain]})')
        elif source == "signal":
            lines.append(f'{var} = signal_rows(signal_array(_sig, "{key}"), _rows)')
        elif source == "role":
            lines.append(f'{var} = _plan["roles"]["{key}"]')
        elif source == "param" and domain != "scalar":  # on nodes or arcs, in the plan's order
            lines.append(f'{var} = signal_rows(_p["{key}"], _rows)')
    domains = {var: kernel.domains.get(out, "node") for out, var in kernel.outputs.items()}
    domains.update({f"_f_{out}": kernel.domains.get(out, "node") for out in filled})
    shapes = [f"(_rows, {sizes[domains[var]]})" for var in out_arrays]
    shapes += [f"(_rows, {sizes[kernel.domains.get(out, 'node')]})" for out in filled]
    shapes += [f"({sizes[domain]},)" for domain in temps.values()]
    names = [f"_o_{var}" for var in out_arrays] + list(filled.values()) + list(temps)
    if names:
        lines.append(
            f'{", ".join(names)}, = loop_buffers(_plan, (_KEY, "{name}"), ({", ".join(shapes)},))'
        )
    lines.append(f"{name}_loops({', '.join(_call_arguments(arguments))})")
    return lines


def _row_arrays(inputs: dict) -> list[str]:
    """Inputs read as one row per member or one shared row: signals, parameters on nodes or
    arcs."""
    return [
        v
        for v, (domain, source, _) in inputs.items()
        if source == "signal" or (source == "param" and domain != "scalar")
    ]


def _call_arguments(arguments: list[str]) -> list[str]:
    plan = {"_n": "_plan['n']", "_m": "_plan['m']", "_T": "time_rows(t)", "_scale": "float(_scale)"}
    return [plan.get(a, a) for a in arguments]


def wrapper_result(kernel: Kernel, filled_prefix: str = "_f_") -> str:
    """The wrapper's result: each output reshaped to the batch's leading axes (a global
    output to the batch's shape alone)."""
    parts = []
    outputs = {op.target for op in kernel.ops if op.domain != "scalar"}
    for out, var in kernel.outputs.items():
        array = f"_o_{var}" if var in outputs else f"{filled_prefix}{out}"
        shape = "_lead" if kernel.domains.get(out) == "global" else f"(*_lead, {array}.shape[1])"
        parts.append(f'"{out}": {array}.reshape({shape})')
    return "{" + ", ".join(parts) + "}"
