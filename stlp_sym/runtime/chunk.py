"""The numba backend's compiled steps as ``step`` and ``run_steps`` call them.

``model["chunk"](t0, dt, k0, count, state, plan, p, table, limit, info, stride, snaps, frozen)``
advances steps ``k0 .. k0 + count - 1`` in place (step ``k`` starts at ``t0 + k dt`` and reads
the table from row ``k * table["per_step"]``), stops at the first divergence (``info[0..4]``:
time, state number, flat index, value, flag) and, after every step ``k`` with ``(k + 1) %
stride == 0``, copies each state into ``snaps[name][int(info[5])]`` (an array ``(cap, rows,
size)``) and counts ``info[5]`` up, returning when it reaches ``cap``. ``frozen`` has one flag
per state of ``model["states"]`` (1.0: held fixed). The helpers here build those arguments.

>>> model = {"states": {"x": {"domain": "node"}, "g": {"domain": "global"}}}
>>> state = {"x": np.zeros((3, 5)), "g": np.zeros(3)}
>>> {k: v.shape for k, v in snapshot_arrays(state, model, 2).items()}
{'x': (2, 3, 5), 'g': (2, 3, 1)}
>>> frozen_flags({"frozen": ["g"]}, model).tolist()
[0.0, 1.0]
"""

import numpy as np

from .params import model_params


def frozen_flags(plan, model) -> np.ndarray:
    """One flag per state of ``model["states"]``: 1.0 for a state ``plan["frozen"]`` holds."""
    frozen = plan.get("frozen", ())
    return np.array([float(name in frozen) for name in model["states"]])


def snapshot_arrays(state, model, cap) -> dict:
    """Room for ``cap`` snapshots of every state: ``(cap, rows, size)`` arrays (a global
    state's size is 1), one row per batch member."""
    arrays = {}
    for name, info in model["states"].items():
        shape = np.shape(state[name])
        if info["domain"] != "global":  # (*lead, size); a graph may have no arcs
            shape, size = shape[:-1], shape[-1]
        else:
            size = 1
        arrays[name] = np.empty((cap, int(np.prod(shape)), size))
    return arrays


def write_back(state, rows) -> None:
    """Copy the compiled steps' ``(rows, size)`` arrays into states they are not views of (a
    state that was not a C-contiguous float array)."""
    for name, values in rows.items():
        target = state[name]
        if not np.may_share_memory(target, values):
            target[...] = values.reshape(np.shape(target))


def stage_table(t, dt, signals, stages, n):
    """The signal table of one step from ``t``: row ``round(c per_step)`` holds
    ``signals(t + c dt)`` for each stage node ``c``, row ``per_step`` ``signals(t + dt)`` when
    the step clamps again at its end. None when the compiled steps cannot read the signals (a
    value per batch member, a required signal missing): the Python step then takes it."""
    per = stages["per_step"]
    times = {}
    for node in stages["nodes"]:
        times.setdefault(round(node * per), t + node * dt)
    if stages["final_clamp"]:
        times[per] = t + dt
    columns = {}
    for row, time in times.items():
        given = signals(time)
        if any(name not in given for name in stages["required"]):
            return None
        for name in stages["signals"]:
            if name in given:
                value = np.asarray(given[name], dtype=np.float64)
                if value.ndim > 1:
                    return None
                column = columns.setdefault(name, np.zeros((max(times) + 1, n)))
                column[row] = value
    return {"per_step": per, "signals": columns}


def compiled_step(t, dt, state, plan, params, signals, model) -> dict:
    """One step from ``t`` to ``t + dt`` through the module's compiled steps (the same updates
    as its integrator's Python step; the signals tabulated at the stage times first)."""
    table = stage_table(t, dt, signals, model["stages"], plan["n"])
    if table is None:
        return model["step"](t, dt, state, plan, params, signals, model)
    p = model_params(params, plan, model)
    # one step from k0 = 0 with stride 2 takes no snapshot: placeholders of the arrays' type
    snaps = {name: np.empty((1, 1, 1)) for name in model["states"]}
    frozen, info = frozen_flags(plan, model), np.zeros(6)
    model["chunk"](t, dt, 0, 1, state, plan, p, table, np.inf, info, 2, snaps, frozen)
    return state
