"""The run loop of a module: ``steps`` steps with the signals read from a table, recording every
``stride`` steps and stopping at the first divergence.

``table`` holds the signals sampled on the step grid and the integrator's stage times:
``table["per_step"]`` rows a step (the common denominator ``D`` of the stage times, 1 for
Euler, 2 for RK4) and ``table["signals"][name]`` an array of ``steps * D + 1`` rows, row
``k D + j`` the value at ``t0 + (k + j / D) dt``.

``record`` says what to record and holds where to: ``stride`` (steps between two record
points); ``start`` (record at ``t0`` first) and ``final`` (record after the last step even off
the stride); ``row`` (the number of the next record point: a monitor records at the points whose
number its ``every`` divides, and at a closing record); ``limit`` (a state beyond it, or not
finite, diverges); ``monitors``, each a dict with ``source`` (``"state"``, ``"signal"``,
``"energy"`` or ``"norm"``), ``name`` (a state or signal name; ``"L"``, ``"H"`` or
``"L_node"``, ``"H_edge"``, ... for an energy, the first two summed; for a norm, a list of
states), ``index`` (the entries recorded, or None for all; unused by totals), ``every``,
preallocated ``t`` and ``values`` (one row per record, a member axis after it for a batch) and
``count`` (rows written); ``good`` (arrays like the state: the state at the last record) and
``diverged`` (None, or where the run diverged: ``t``, ``state``, ``member``, ``index``,
``value``).

>>> table = {"per_step": 1, "signals": {"u": np.arange(4.0)[:, None] * np.ones(2)}}
>>> table_row(table, 3)["u"].tolist()
[3.0, 3.0]
"""

import numpy as np

from .energy import energy_parts, energy_total


def table_row(table, row) -> dict:
    """The signals of row ``row`` of the table (views, one node array each)."""
    return {name: values[row] for name, values in table["signals"].items()}


def first_divergence(state, limit):
    """``(state, flat index, value)`` of the largest entry beyond ``limit`` or not finite, or
    None. A sum of squares below ``limit**2`` proves every entry within, so that the common
    case costs one dot product per state."""
    for name, values in state.items():
        flat = values.reshape(-1)
        if np.dot(flat, flat) <= limit * limit:
            continue
        size = np.where(np.isfinite(flat), np.abs(flat), np.inf)
        index = int(np.argmax(size))
        if size[index] > limit:
            return name, index, float(flat[index])
    return None


def divergence_site(t, state, name, flat, value, model) -> dict:
    """Where a run diverged: ``flat`` indexes state ``name`` flattened; a batch's member is its
    row (a global state has one value per member and no index of its own)."""
    values = state[name]
    if model["states"][name]["domain"] == "global":
        member, index = (flat if values.ndim else None), 0
    else:
        size = values.shape[-1]
        member, index = (flat // size if values.ndim > 1 else None), flat % size
    return {"t": t, "state": name, "member": member, "index": index, "value": value}


def monitor_value(monitor, state, signals, energies):
    """The value a monitor records now (see the module docstring); ``energies`` are the
    module's per node and arc energies, or None when no monitor needs them."""
    source, name, index = monitor["source"], monitor["name"], monitor["index"]
    if source == "norm":
        squares = 0.0
        for each in name:
            squares = squares + np.sum(state[each] * state[each], axis=-1)
        return np.sqrt(squares)
    if source == "energy" and name in ("L", "H"):
        return energy_total(energies, name)
    values = {"state": state, "signal": signals, "energy": energies}[source][name]
    return values if index is None else values[..., index]


def record_row(t, state, plan, params, signals, record, model) -> None:
    """Record, at time ``t``, every monitor due at this record point, and keep the state as
    the last good."""
    row, closing = record["row"], record.get("closing", False)
    due = [m for m in record["monitors"] if closing or row % m["every"] == 0]
    # energies last: computing them sets the clamped entries from the signals at t
    due.sort(key=lambda m: m["source"] == "energy")
    energies = None
    for monitor in due:
        if monitor["source"] == "energy" and energies is None and "energy_kernel" in model:
            energies = energy_parts(t, state, plan, params, signals, model)
        missing = (monitor["source"] == "energy" and energies is None) or (
            monitor["source"] == "signal" and monitor["name"] not in signals
        )  # a module generated without energies, a signal the task lacks: NaN rows
        value = np.nan if missing else monitor_value(monitor, state, signals, energies)
        monitor["t"][monitor["count"]] = t
        monitor["values"][monitor["count"]] = value
        monitor["count"] += 1
    for name, value in state.items():
        np.copyto(record["good"][name], value)
    record["row"] = row + 1


def run_steps_loop(t0, dt, steps, state, plan, params, table, record, model) -> int:
    """Advance ``state`` (in place) by ``steps`` steps of ``dt`` from ``t0`` with the signals of
    ``table``, recording into ``record`` every ``record["stride"]`` steps; stop at the first
    divergence (``record["diverged"]`` says where). Returns the number of steps taken."""
    per, step = table["per_step"], model["step"]
    here = [0]  # the first table row of the step under way

    def signals(t):
        tk = t0 + here[0] // per * dt
        return table_row(table, here[0] + round((t - tk) * per / dt))

    record["closing"] = False
    if record["start"]:
        record_row(t0, state, plan, params, table_row(table, 0), record, model)
    for k in range(steps):
        here[0] = k * per
        step(t0 + k * dt, dt, state, plan, params, signals, model)
        t = t0 + (k + 1) * dt
        found = first_divergence(state, record["limit"])
        if found is not None:
            record["diverged"] = divergence_site(t, state, *found, model)
            return k + 1
        record["closing"] = record["final"] and k + 1 == steps
        if (k + 1) % record["stride"] == 0 or record["closing"]:
            record_row(t, state, plan, params, table_row(table, (k + 1) * per), record, model)
    return steps
