"""The numba backend's compiled steps: ``count`` steps of any explicit integrator in one compiled
call (clamps from the signal table at every stage time, the compiled ``rhs`` kernel, decays,
live masks, the updates, the divergence check and snapshots every ``stride`` steps), so that
``run_steps`` returns to Python only when its snapshot arrays are full (or at a divergence, or
the end) and ``step`` gets the fused updates too.

The printed function ``_steps`` is a frame (the time loop, divergence, snapshots) around a body
per integrator kind: explicit Euler with ``dt`` folded into the kernel, semi-implicit Euler, and
an explicit Runge-Kutta tableau, each with the semantics of the runtime's Python step
(``stlp_sym/runtime/integrate.py``): every clamp is set from the table row of its stage time
(row ``k D + j`` is the time ``t0 + (k + j / D) dt``), a Runge-Kutta step clamps once more at
``t + dt``, and a frozen state (flag ``_F[j]``) is never updated. A Runge-Kutta method keeps, per
state, one work array ``G`` of the plan: the start value, the weighted sum of the slopes and one
slope per stage (allocated once per plan and batch size).

:func:`compiled_steps` returns the compiled function's source and the lines of its Python
adapter ``_chunk`` (see :data:`CHUNK_ARGUMENTS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .fusion import fused_kernel, fused_runs
from .integrators import Integrator
from .ir import StepIR
from .loops import LoopKernel, lead_line

#: The adapter's signature (``model["chunk"]``).
#: Every name the adapter and ``_steps`` introduce starts with an underscore: a model's own names
#: (fields, parameters, signals) start with a letter, so none can shadow them.
CHUNK_ARGUMENTS = (
    "_t0, _dt, _k0, _count, _state, _plan, _p, _table, _limit, _info, _stride, _snaps, _frozen"
)
_SIZES = {"node": "_n", "edge": "_m", "global": "1"}
_PLAN_SIZES = {"node": "_plan['n']", "edge": "_plan['m']", "global": "1"}


@dataclass(frozen=True)
class StepNames:
    """What the printed steps refer to, derived once from the IR and its compiled rhs."""

    states: list[str]  # in the order of the module's STATES (frozen flags, divergence)
    domain: dict[str, str]
    order: list[str]  # each field's chain, lowest derivative first
    nxt: dict[str, str]  # a lower state's rate: the next state of its chain
    rates: dict[str, str]  # a top state's kernel output array
    decays: list[str]  # top states with a decay: columns of _K
    signals: list[str]
    roles: list[str]
    kernel_arrays: list[str]
    param_arrays: list[str]
    clamps: list[dict]

    def size(self, name: str) -> str:
        return _SIZES[self.domain[name]]


def step_names(ir: StepIR, rhs: LoopKernel, clamps: list[dict]) -> StepNames:
    """The :class:`StepNames` of ``ir`` with the compiled rhs kernel ``rhs``."""
    states = [s.name for s in ir.states]
    tops: dict[str, list[str]] = {}
    for s in ir.states:
        tops.setdefault(s.field, []).append(s.name)
    order = [name for chain in tops.values() for name in chain]
    signals = sorted({key for _, source, key in rhs.inputs.values() if source == "signal"}
                     | {c["signal"] for c in clamps})  # fmt: skip
    extra = rhs.arguments[9:]  # after _T, _scale, _P, _n, _m and the four plan arrays
    return StepNames(
        states=states,
        domain={s.name: s.domain for s in ir.states},
        order=order,
        nxt={c[k]: c[k + 1] for c in tops.values() for k in range(len(c) - 1)},
        rates={out: arg for out, arg in rhs.results.items() if out in states},
        decays=[name for name in order if ir.decays.get(name, 0) != 0],
        signals=signals,
        roles=[v for v, (_, source, _) in rhs.inputs.items() if source == "role"],
        kernel_arrays=[a for a in extra if a not in rhs.inputs],
        param_arrays=[a for a in extra if a in rhs.inputs and rhs.inputs[a][1] == "param"],
        clamps=clamps,
    )


def _indent(lines: list[str], depth: int = 1) -> list[str]:
    return ["    " * depth + line for line in lines]


def _entries(names: StepNames, name: str, inner: list[str]) -> list[str]:
    """``inner`` for every entry ``[_mb, _ni]`` of state ``name``."""
    return [
        "for _mb in range(_rows):",
        f"    for _ni in range({names.size(name)}):",
        *_indent(inner, 2),
    ]


def _unfrozen(names: StepNames, name: str, inner: list[str]) -> list[str]:
    """``inner`` for every entry of state ``name`` unless the state is held fixed."""
    return [f"if _F[{names.states.index(name)}] == 0.0:", *_indent(_entries(names, name, inner))]


def _at(name: str) -> str:
    return f"_S_{name}[_mb, _ni]"


def _live(names: StepNames, name: str) -> str | None:
    """Where a node state exists (a kernel output elsewhere is no rate), else None."""
    return f"_L_{name}[_ni] > 0" if names.domain[name] == "node" else None


def _rate(names: StepNames, name: str) -> str:
    """The rate of entry ``[_mb, _ni]`` of ``name`` (as the runtime's ``rates_of``)."""
    if name not in names.rates:
        return _at(names.nxt[name])
    rate = f"{names.rates[name]}[_mb, _ni]"
    if name in names.decays:
        rate = f"{rate} - _K[_mb, {names.decays.index(name)}] * {_at(name)}"
    live = _live(names, name)
    return f"(({rate}) if {live} else 0.0)" if live else f"({rate})"


def _kernel_call(names: StepNames, rhs: LoopKernel, scale: str) -> str:
    """The compiled rhs kernel on the state arrays at time ``_tv``, table row ``_row``."""
    call = []
    for a in rhs.arguments:
        spec = rhs.inputs.get(a)
        if a in ("_T", "_scale"):
            call.append("_tv" if a == "_T" else scale)
        elif a.startswith("_u_"):  # a state the fused kernel updates
            call.append(f"_S_{a[3:]}")
        elif spec is not None and spec[1] == "jet":
            call.append(f"_S_{spec[2]}")
        elif spec is not None and spec[1] == "signal":
            call.append(f"_T_{spec[2]}[_row:_row + 1]")
        else:
            call.append(a)
    return f"{rhs.name}_loops({', '.join(call)})"


def _clamp_lines(names: StepNames) -> list[str]:
    """Clamped entries set from table row ``_row`` (an optional signal only when present)."""
    lines = []
    for j, c in enumerate(names.clamps):
        setting = [
            "for _mb in range(_rows):",
            "    for _ni in range(_n):",
            f"        if _C_{j}[_ni] > 0:",
            f"            _S_{c['state']}[_mb, _ni] = _T_{c['signal']}[_row, _ni]",
        ]
        lines += setting if c["required"] else [f"if _has[{j}] > 0:", *_indent(setting)]
    return lines


def _stage(names: StepNames, rhs: LoopKernel, node: float, scale: str) -> list[str]:
    """Clamps and kernel at the stage time ``t + node dt`` (the table row of that time)."""
    time, row = f"_t + {node!r} * _dt", f"_base + int({node!r} * _per + 0.5)"
    if node == 0:
        time, row = "_t", "_base"
    return [
        f"_tv[0] = {time}",
        f"_row = {row}",
        *_clamp_lines(names),
        _kernel_call(names, rhs, scale),
    ]


def _euler_update(names: StepNames, name: str, array: str, at: str, scale: str) -> list[str]:
    """Explicit Euler's update of entry ``[_mb, at]`` of state ``name`` (arrays ``array``
    + state name; ``scale`` is ``dt``): ``s <- s (1 - dt k) + dt rest``."""
    target = f"{array}{name}[_mb, {at}]"
    if name not in names.rates:
        return [f"{target} += {scale} * {array}{names.nxt[name]}[_mb, {at}]"]
    value = target
    if name in names.decays:
        value = f"{value} * (1.0 - {scale} * _K[_mb, {names.decays.index(name)}])"
    return [f"{target} = {value} + {names.rates[name]}[_mb, {at}]"]


def _fused(ir: StepIR, names: StepNames) -> tuple[dict[str, int], LoopKernel | None]:
    """Euler's edge updates placed in the rhs kernel's arc passes, and that kernel."""
    chains: dict[str, list[str]] = {}
    for s in ir.states:
        if s.domain == "edge":
            chains.setdefault(s.field, []).append(s.name)
    placed = fused_runs(ir.rhs, list(chains.values()))
    if not placed:
        return placed, None
    updates = {
        name: [f"if _F[{names.states.index(name)}] == 0.0:",
               *_indent(_euler_update(names, name, "_u_", "_ea", "_scale"))]
        for name in placed
    }  # fmt: skip
    return placed, fused_kernel(ir.rhs, ir.global_fields, placed, names.order, updates)


def _euler_body(names: StepNames, rhs: LoopKernel, placed: dict[str, int]) -> list[str]:
    """Explicit Euler, ``dt`` folded into the kernel: ``s <- s (1 - dt k) + dt rest`` on live
    entries, lower states first with the old value of the next one (the ``placed`` states are
    updated inside the kernel ``rhs``)."""
    lines = _stage(names, rhs, 0.0, "_dt")
    for name in names.order:
        if name in placed:
            continue
        inner = _euler_update(names, name, "_S_", "_ni", "_dt")
        live = _live(names, name) if name in names.rates else None
        lines += _unfrozen(names, name, [f"if {live}:", *_indent(inner)] if live else inner)
    return lines


def _semi_implicit_body(names: StepNames, rhs: LoopKernel) -> list[str]:
    """Semi-implicit Euler: every rate at ``t``, then the highest derivative first and each lower
    state with its updated next one."""
    lines = _stage(names, rhs, 0.0, "1.0")
    for name in reversed(names.order):
        lines += _unfrozen(names, name, [f"{_at(name)} = {_at(name)} + {_rate(names, name)} * _dt"])
    return lines


def _restart_lines(names: StepNames, row: tuple[float, ...]) -> list[str]:
    """A stage's state: the start plus ``dt`` times the tableau row's slopes, in order."""
    lines = []
    for name in names.order:
        value = f"_G_{name}[0, _mb, _ni]"
        for j, a in enumerate(row):
            if a:
                value = f"{value} + _G_{name}[{2 + j}, _mb, _ni] * ({a!r} * _dt)"
        lines += _unfrozen(names, name, [f"{_at(name)} = {value}"])
    return lines


def _slope_lines(names: StepNames, i: int, weight: float) -> list[str]:
    """Slope ``i`` kept, and added with its integer weight to the sum of slopes."""
    lines = []
    for name in names.order:
        total = f"_G_{name}[1, _mb, _ni]"
        weighted = f"_r * {weight!r}" if i == 0 else f"{total} + _r * {weight!r}"
        inner = [f"_r = {_rate(names, name)}", f"_G_{name}[{2 + i}, _mb, _ni] = _r",
                 f"{total} = {weighted}"]  # fmt: skip
        lines += _unfrozen(names, name, inner)
    return lines


def _runge_kutta_body(names: StepNames, rhs: LoopKernel, tableau: dict) -> list[str]:
    """An explicit Runge-Kutta step of ``tableau`` (see :meth:`Tableau.as_floats`), the clamps
    set once more at ``t + dt``."""
    lines = []
    for name in names.order:
        lines += _entries(names, name, [f"_G_{name}[0, _mb, _ni] = {_at(name)}"])
    stages = zip(tableau["a"], tableau["c"], tableau["weights"], strict=True)
    for i, (row, node, weight) in enumerate(stages):
        lines += _restart_lines(names, row) if i else []
        lines += _stage(names, rhs, node, "1.0") + _slope_lines(names, i, weight)
    scale = f"(_dt / {tableau['divisor']!r})"
    for name in names.order:
        inner = [f"{_at(name)} = _G_{name}[0, _mb, _ni] + _G_{name}[1, _mb, _ni] * {scale}"]
        lines += _unfrozen(names, name, inner)
    return [*lines, "_row = _base + _per", *_clamp_lines(names)]


def _divergence_lines(names: StepNames) -> list[str]:
    """The first state (in STATES order) with an entry beyond ``limit`` or not finite: its
    largest entry is reported in ``info`` and the steps taken returned."""
    lines = []
    for j, name in enumerate(names.states):
        # one comparison an entry (false for nan too); the largest is sought only then
        lines += [
            "_off = False",
            f"for _e in range(_S_{name}.size):",
            f"    if not abs(_S_{name}.flat[_e]) <= _limit:",
            "        _off = True",
            "        break",
            "if _off:",
            "    _best, _at = -1.0, -1",
            f"    for _e in range(_S_{name}.size):",
            f"        _v = _S_{name}.flat[_e]",
            "        _a = abs(_v) if np.isfinite(_v) else np.inf",
            "        if _a > _limit and _a > _best:",
            "            _best, _at = _a, _e",
            f"    _info[0], _info[1], _info[2] = _t + _dt, {j}, _at",
            f"    _info[3], _info[4] = _S_{name}.flat[_at], 1.0",
            "    return _k + 1",
        ]
    return lines


def _snapshot_lines(names: StepNames) -> list[str]:
    """Every ``stride`` steps, each state copied into its snapshot array at ``info[5]``; a full
    snapshot array ends the call."""
    # element by element: a slice assignment would compile Numba's string formatting of its
    # shape errors, seconds of compilation
    copies = [
        line
        for name in names.states
        for line in _entries(names, name, [f"_N_{name}[_j, _mb, _ni] = _S_{name}[_mb, _ni]"])
    ]
    return [
        "if (_k0 + _k + 1) % _stride == 0:",
        "    _j = int(_info[5])",
        *_indent(copies),
        "    _info[5] += 1",
        f"    if _info[5] == _N_{names.states[0]}.shape[0]:",
        "        return _k + 1",
    ]


def _body(
    names: StepNames, rhs: LoopKernel, integrator: Integrator, placed: dict[str, int]
) -> list[str]:
    """One step of ``integrator`` (its rule, or its tableau); ``rhs`` the kernel it calls."""
    if integrator.folds_dt:
        return _euler_body(names, rhs, placed)
    if integrator.tableau is None:
        return _semi_implicit_body(names, rhs)
    return _runge_kutta_body(names, rhs, integrator.tableau.as_floats())


def _arguments(names: StepNames, integrator: Integrator) -> list[str]:
    """The compiled function's arguments."""
    states, nodes = names.states, [n for n in names.states if names.domain[n] == "node"]
    buffers = [f"_G_{n}" for n in states] if _buffered(integrator) else []
    return ["_t0", "_dt", "_k0", "_count", "_per", "_limit", "_info", "_stride", "_F", "_P",
            "_K", "_n", "_m", "_src", "_in_ptr", "_out_ptr", "_by_src", *names.roles,
            *[f"_S_{n}" for n in states], *[f"_T_{g}" for g in names.signals], "_has",
            *[f"_C_{j}" for j in range(len(names.clamps))], *[f"_L_{n}" for n in nodes],
            *[f"_N_{n}" for n in states], *buffers, *names.kernel_arrays,
            *names.param_arrays]  # fmt: skip


def _buffered(integrator: Integrator) -> bool:
    """A Runge-Kutta method keeps start, sum and slopes per state; the Euler steps need none."""
    return integrator.tableau is not None and not integrator.folds_dt


def compiled_steps(
    ir: StepIR, rhs: LoopKernel, clamps: list[dict], integrator: Integrator
) -> tuple[str, list[str], str]:
    """``(source of _steps, lines of the adapter _chunk, its result)`` for ``ir``, its compiled
    rhs, its clamps and the integrator."""
    names = step_names(ir, rhs, clamps)
    arguments = _arguments(names, integrator)
    placed, fused = _fused(ir, names) if integrator.folds_dt else ({}, None)
    frame = [
        "for _k in range(_count):",
        "    _t = _t0 + (_k0 + _k) * _dt",
        "    _base = (_k0 + _k) * _per",
        *_indent(_body(names, fused or rhs, integrator, placed)),
        *_indent(_divergence_lines(names)),
        *_indent(_snapshot_lines(names)),
    ]
    source = "\n".join([
        '@numba.njit(cache=True, error_model="numpy")',
        f"def _steps({', '.join(arguments)}):",
        *_indent(["_rows = _P.shape[0]", "_tv = np.empty(1)", *frame, "return _count"]),
    ])  # fmt: skip
    if fused is not None:  # the kernel with the fused updates goes first
        source = f"{fused.source}\n\n\n{source}"
    passed = {"_per": '_table["per_step"]', "_F": "_frozen", "_n": "_plan['n']", "_m": "_plan['m']"}
    adapter = _adapter(ir, names, rhs, integrator)
    adapter.append(f"_taken = _steps({', '.join(passed.get(a, a) for a in arguments)})")
    adapter.append(f"write_back(_state, {{{', '.join(f'{n!r}: _S_{n}' for n in names.states)}}})")
    return source, adapter, "_taken"


def _adapter(ir: StepIR, names: StepNames, rhs: LoopKernel, integrator: Integrator) -> list[str]:
    """The adapter's lines before the call: the state, table, plan and parameters as the
    compiled function's arrays."""
    params = [v for v, (d, source, _) in rhs.inputs.items() if source == "param" and d == "scalar"]
    lines = [
        lead_line("_state", ir.global_fields),
        "_rows = batch_rows(_lead)",
        "_src, _in_ptr, _out_ptr, _by_src = loop_plan(_plan)",
        f"_P = param_rows(_p, {params!r}, _rows)",
        f"_K = decay_rows(_decay_kernel(_p), {names.decays!r}, _rows)",
        *[f'{v} = _plan["roles"]["{rhs.inputs[v][2]}"]' for v in names.roles],
        *[f'{v} = signal_rows(_p["{rhs.inputs[v][2]}"], _rows)' for v in names.param_arrays],
    ]
    for name in names.states:
        domain = names.domain[name]
        if domain == "global":  # a view: the compiled steps update the state in place
            lines.append(f'_S_{name} = global_rows(_state["{name}"], _rows)')
        else:
            lines.append(f'_S_{name} = as_rows(_state["{name}"], _rows, {_PLAN_SIZES[domain]})')
    lines.append(f"_present = table_signals(_table, {names.signals!r}, _plan['n'])")
    lines += [f'_T_{g} = _present["{g}"]' for g in names.signals]
    has = [f'float("{c["signal"]}" in _table["signals"])' for c in names.clamps]
    lines.append(f"_has = np.array([{', '.join(has)}] or [0.0])")
    lines += [f'_C_{j} = _plan["roles"]["is_{c["role"]}"]' for j, c in enumerate(names.clamps)]
    nodes = [n for n in names.states if names.domain[n] == "node"]
    lines += [f'_L_{n} = live_rows(_plan, "{n}")' for n in nodes]
    lines += [f'_N_{n} = _snaps["{n}"]' for n in names.states]
    if _buffered(integrator):
        stages = len(integrator.tableau.b) + 2
        shapes = [f"({stages}, _rows, {_PLAN_SIZES[names.domain[n]]})" for n in names.states]
        buffers = ", ".join(f"_G_{n}" for n in names.states)
        lines.append(f'{buffers}, = loop_buffers(_plan, (_KEY, "_steps"), ({", ".join(shapes)},))')
    return lines + [line for line in rhs.wrapper if "loop_buffers(" in line]
