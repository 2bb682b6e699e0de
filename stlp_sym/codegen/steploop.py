"""The numba backend's compiled Euler steps: ``count`` explicit Euler steps in one compiled call
(clamps from the signal table, the compiled ``rhs`` kernel with ``dt`` folded, the decays, the
updates and the divergence check), so that ``run_steps`` calls Python only at record points.

Printed for the explicit policies under the ``euler`` integrator; :func:`euler_steps` returns
the compiled function's source and the lines of its Python adapter ``_euler_chunk``.
"""

from __future__ import annotations

from .ir import StepIR
from .loops import LoopKernel, lead_line


def euler_steps(ir: StepIR, rhs: LoopKernel, clamps: list[dict]) -> tuple[str, list[str], str]:
    """``(source of _euler_steps, lines of _euler_chunk, its call)`` for ``ir`` and its
    compiled rhs."""
    states = [s.name for s in ir.states]
    domain = {s.name: s.domain for s in ir.states}
    size = {name: {"node": "_n", "edge": "_m", "global": "1"}[domain[name]] for name in states}
    tops: dict[str, list[str]] = {}
    for s in ir.states:
        tops.setdefault(s.field, []).append(s.name)
    order = [name for chain in tops.values() for name in chain]
    nxt = {c[k]: c[k + 1] for c in tops.values() for k in range(len(c) - 1)}
    rates = {out: arg for out, arg in rhs.results.items() if out in states}
    signals = sorted({key for _, source, key in rhs.inputs.values() if source == "signal"}
                     | {c["signal"] for c in clamps})  # fmt: skip
    roles = [v for v, (_, source, _) in rhs.inputs.items() if source == "role"]
    kernel_arrays = [a for a in rhs.arguments[9:] if a not in rhs.inputs]
    # parameters on nodes or arcs: rows read by the compiled rhs, made once per chunk
    param_arrays = [a for a in rhs.arguments[9:] if a in rhs.inputs and rhs.inputs[a][1] == "param"]
    arguments = ["t0", "dt", "k0", "count", "per", "limit", "info", "_P", "_K", "_n", "_m",
                 "_src", "_in_ptr", "_out_ptr", "_by_src", *roles,
                 *[f"S_{n}" for n in states], *[f"T_{g}" for g in signals], "_has",
                 *[f"C_{j}" for j in range(len(clamps))],
                 *[f"L_{n}" for n in states if domain[n] == "node"], *kernel_arrays,
                 *param_arrays]  # fmt: skip
    call = []
    for a in rhs.arguments:
        if a == "_T":
            call.append("_tv")
        elif a == "_scale":
            call.append("dt")
        elif a in rhs.inputs and rhs.inputs[a][1] == "jet":
            call.append(f"S_{rhs.inputs[a][2]}")
        elif a in rhs.inputs and rhs.inputs[a][1] == "signal":
            call.append(f"T_{rhs.inputs[a][2]}[_row:_row + 1]")
        else:
            call.append(a)
    body = [
        "_rows = _P.shape[0]",
        "_tv = np.empty(1)",
        "for _k in range(count):",
        "    _t = t0 + (k0 + _k) * dt",
        "    _tv[0] = _t",
        "    _row = (k0 + _k) * per",
    ]
    for j, c in enumerate(clamps):
        guard = "" if c["required"] else f"if _has[{j}] > 0:"
        lines = [
            "for _mb in range(_rows):",
            "    for _ni in range(_n):",
            f"        if C_{j}[_ni] > 0:",
            f"            S_{c['state']}[_mb, _ni] = T_{c['signal']}[_row, _ni]",
        ]
        if guard:
            body.append("    " + guard)
            lines = ["    " + line for line in lines]
        body += ["    " + line for line in lines]
    body.append(f"    {rhs.name}_loops({', '.join(call)})")
    decays = [name for name in order if name in ir.decays and ir.decays[name] != 0]
    for name in order:
        target, n = f"S_{name}", size[name]
        body += ["    for _mb in range(_rows):", f"        for _ni in range({n}):"]
        if name not in rates:
            body.append(f"            {target}[_mb, _ni] += dt * S_{nxt[name]}[_mb, _ni]")
            continue
        live = f"L_{name}[_ni] > 0" if domain[name] == "node" else "True"
        value = f"{target}[_mb, _ni]"
        if name in decays:
            value = f"{value} * (1.0 - dt * _K[_mb, {decays.index(name)}])"
        body += [
            f"            if {live}:",
            f"                {target}[_mb, _ni] = {value} + {rates[name]}[_mb, _ni]",
        ]
    for j, name in enumerate(states):
        body += [
            "    _best, _at = -1.0, -1",
            f"    for _e in range(S_{name}.size):",
            f"        _v = S_{name}.flat[_e]",
            "        _a = abs(_v) if np.isfinite(_v) else np.inf",
            "        if _a > limit and _a > _best:",
            "            _best, _at = _a, _e",
            "    if _at >= 0:",
            f"        info[0], info[1], info[2] = _t + dt, {j}, _at",
            f"        info[3], info[4] = S_{name}.flat[_at], 1.0",
            "        return _k + 1",
        ]
    body.append("return count")
    source = "\n".join(
        ['@numba.njit(cache=True, error_model="numpy")']
        + [f"def _euler_steps({', '.join(arguments)}):"]
        + ["    " + line for line in body]
    )
    params = [v for v, (d, source, _) in rhs.inputs.items() if source == "param" and d == "scalar"]
    adapter = [
        lead_line("state", ir.global_fields),
        "_rows = batch_rows(_lead)",
        "_src, _in_ptr, _out_ptr, _by_src = loop_plan(_plan)",
        f"_P = param_rows(p, {params!r}, _rows)",
        f"_K = decay_rows(_decay_kernel(p), {decays!r}, _rows)",
    ]
    for v in roles:
        adapter.append(f'{v} = _plan["roles"]["{rhs.inputs[v][2]}"]')
    for v in param_arrays:
        adapter.append(f'{v} = signal_rows(p["{rhs.inputs[v][2]}"], _rows)')
    for name in states:
        sized = "_plan['n']" if domain[name] == "node" else "_plan['m']"
        if domain[name] == "global":  # a view: the compiled steps update the state in place
            adapter.append(f'S_{name} = global_rows(state["{name}"], _rows)')
        else:
            adapter.append(f'S_{name} = as_rows(state["{name}"], _rows, {sized})')
    adapter.append(f"_present = table_signals(table, {signals!r}, _plan['n'])")
    for g in signals:
        adapter.append(f'T_{g} = _present["{g}"]')
    has = [f'float("{c["signal"]}" in table["signals"])' for c in clamps]
    adapter.append(f"_has = np.array([{', '.join(has)}] or [0.0])")
    for j, c in enumerate(clamps):
        adapter.append(f'C_{j} = _plan["roles"]["is_{c["role"]}"]')
    for name in states:
        if domain[name] == "node":
            adapter.append(f'L_{name} = live_rows(_plan, "{name}")')
    adapter += [line for line in rhs.wrapper if "loop_buffers(" in line]
    passed = {"per": 'table["per_step"]', "_n": "_plan['n']", "_m": "_plan['m']"}
    call = f"_euler_steps({', '.join(passed.get(a, a) for a in arguments)})"
    return source, adapter, call
