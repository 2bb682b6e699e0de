"""Time steps: explicit Runge-Kutta from a tableau, semi-implicit Euler, and explicit Euler's
fast path with ``dt`` folded into the rates.

Every step updates ``state`` in place and returns it; ``signals(t)`` is called at every stage.
The stages' arrays are work arrays of the plan (allocated once), so a step allocates no
edge-sized array. The methods and their properties are the records of
``stlp_sym.codegen.integrators``; a module's ``model["tableau"]`` is the one it was made for.

>>> rk4 = {"a": ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), "c": (0.0, 0.5, 0.5, 1.0),
...        "weights": (1.0, 2.0, 2.0, 1.0), "divisor": 6.0}
>>> model = {  # y' = -y: no kernel output, a decay of 1
...     "params": {}, "states": {"y": {"field": "y", "order": 0}}, "tops": {"y": ["y"]},
...     "update_order": ["y"], "key": "", "tableau": rk4, "clamps": [],
...     "top_rates": lambda t, state, plan, p, signals, scale, model: {"y": 0.0},
...     "decay_kernel": lambda p: {"y": 1.0},
... }
>>> plan = {"buffers": {}, "live": {}}
>>> state = runge_kutta_step(0.0, 0.1, {"y": np.ones(1)}, plan, None, lambda t: {}, model)
>>> bool(abs(state["y"][0] - np.exp(-0.1)) < 1e-6)
True
"""

import numpy as np

from .clamps import apply_clamps
from .params import model_params
from .plan import work_arrays
from .rates import next_state, rates_of


def add_scaled(target, source, factor, scratch) -> None:
    """``target += factor * source`` in place, through ``scratch`` (no allocation)."""
    np.multiply(source, factor, out=scratch)
    np.add(target, scratch, out=target)


def euler_step(t, dt, state, plan, params, signals, model) -> dict:
    """One explicit Euler step ``s <- s + dt rate(s)`` with ``dt`` folded into the rates.

    The kernels return ``dt`` times each leading derivative and a top state with a decay ``k``
    moves as ``s <- s (1 - dt k) + dt rest``: the decay needs no pass of its own. Lower states
    move first, each with the old value of the next one.
    """
    p = model_params(params, plan, model)
    rates = model["top_rates"](t, state, plan, p, signals(t), dt, model)  # already times dt
    decays = model["decay_kernel"](p)
    scratch = work_arrays(plan, (model["key"], "euler"), state, 1)[0]
    frozen = plan.get("frozen", ())
    for name in model["update_order"]:
        if name in frozen:
            continue
        if name not in rates:
            add_scaled(state[name], state[next_state(name, model)], dt, scratch[name])
            continue
        if name in decays:
            live = plan["live"].get(name)
            if live is None:
                np.multiply(state[name], 1.0 - dt * decays[name], out=state[name])
            else:
                np.multiply(state[name], 1.0 - dt * decays[name], out=state[name], where=live)
        np.add(state[name], rates[name], out=state[name])
    return state


def semi_implicit_step(t, dt, state, plan, params, signals, model) -> dict:
    """One semi-implicit (symplectic) Euler step: the highest derivative of each field moves
    first, and each lower one then moves with the updated next one."""
    p = model_params(params, plan, model)
    k = rates_of(t, state, plan, p, signals(t), model)
    scratch = work_arrays(plan, (model["key"], "semi-implicit"), state, 1)[0]
    frozen = plan.get("frozen", ())
    for name in reversed(model["update_order"]):
        if name in frozen:
            continue
        info = model["states"][name]
        chain = model["tops"][info["field"]]
        rate = k[name] if info["order"] == len(chain) - 1 else state[chain[info["order"] + 1]]
        add_scaled(state[name], rate, dt, scratch[name])
    return state


def runge_kutta_step(t, dt, state, plan, params, signals, model) -> dict:
    """One explicit Runge-Kutta step of the tableau ``model["tableau"]``:

        k_i = f(t + c_i dt, y + dt sum_j a_ij k_j),   y <- y + (dt / divisor) sum_i w_i k_i

    with the weights ``b_i = w_i / divisor`` as small integers over a common divisor. Clamped
    entries are set from ``signals(t + dt)`` at the end.
    """
    p = model_params(params, plan, model)
    tableau, order = model["tableau"], model["update_order"]
    stages = len(tableau["weights"])
    start, total, scratch, *slopes = work_arrays(plan, (model["key"], "rk"), state, stages + 3)
    for name in order:
        np.copyto(start[name], state[name])
    for i, (row, node) in enumerate(zip(tableau["a"], tableau["c"], strict=True)):
        if i:
            for name in order:
                np.copyto(state[name], start[name])
                for j, a in enumerate(row):
                    if a:
                        add_scaled(state[name], slopes[j][name], a * dt, scratch[name])
        k = rates_of(t + node * dt, state, plan, p, signals(t + node * dt), model)
        for name in order:
            np.copyto(slopes[i][name], k[name])  # rates may be work buffers or states
            if i:
                add_scaled(total[name], slopes[i][name], tableau["weights"][i], scratch[name])
            else:
                np.multiply(slopes[i][name], tableau["weights"][i], out=total[name])
    for name in order:
        np.multiply(total[name], dt / tableau["divisor"], out=scratch[name])
        np.add(start[name], scratch[name], out=state[name])
    apply_clamps(t + dt, state, plan, signals(t + dt), model)
    return state
