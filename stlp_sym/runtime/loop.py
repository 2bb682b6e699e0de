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

from .chunk import snapshot_arrays
from .energy import energy_parts, energy_parts_of, energy_total
from .params import model_params
from .plan import batch_shape, global_fields_of


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


def record_points(times, rows, states, plan, params, table, record, model) -> None:
    """Record at several record points at once: ``states`` holds the state at each point
    (arrays ``(points, *state shape)``), ``rows`` their table rows; energies are evaluated at
    all points in one call, the points taken as the rows of one batch."""
    count = len(times)
    if count == 0:
        return
    numbers = record["row"] + np.arange(count)
    signals = {name: values[rows] for name, values in table["signals"].items()}
    due = {id(m): numbers % m["every"] == 0 for m in record["monitors"]}
    energies = None
    if "energy_kernel" in model and any(
        m["source"] == "energy" and due[id(m)].any() for m in record["monitors"]
    ):
        energies = energies_at(times, states, plan, params, signals, model)
    for monitor in record["monitors"]:
        at = due[id(monitor)]
        if not at.any():
            continue
        missing = (monitor["source"] == "energy" and energies is None) or (
            monitor["source"] == "signal" and monitor["name"] not in signals
        )  # a module generated without energies, a signal the task lacks: NaN rows
        value = np.nan if missing else monitor_value(monitor, states, signals, energies)[at]
        append_rows(monitor, times[at], value)
    for name, value in states.items():
        np.copyto(record["good"][name], value[-1])
    record["row"] += count


def append_rows(monitor, times, value) -> None:
    """Append records at ``times`` to a monitor: ``value`` has one row per time (a signal's
    rows are shared by a batch's members) or is one value for all."""
    written, end = monitor["count"], monitor["count"] + len(times)
    monitor["t"][written:end] = times
    target = monitor["values"][written:end]
    if 0 < np.ndim(value) < target.ndim:
        value = np.expand_dims(value, tuple(range(1, 1 + target.ndim - np.ndim(value))))
    target[...] = value
    monitor["count"] = end


def energies_at(times, states, plan, params, signals, model) -> dict:
    """:func:`energy_parts` at each of several points (leading axis of ``states`` and of
    ``signals``), evaluated in one call on a batch whose rows are the points' members."""
    count = len(times)
    lead = batch_shape({k: v[0] for k, v in states.items()}, global_fields_of(model))
    members = int(np.prod(lead, dtype=int))
    flat = {  # copies: computing energies sets the clamped entries
        name: value.reshape((count * members, *value.shape[1 + len(lead) :])).copy()
        for name, value in states.items()
    }
    flat_signals = {name: np.repeat(values, members, axis=0) for name, values in signals.items()}
    p = {
        name: np.tile(value, (count, 1)) if np.ndim(value) == 2 else value
        for name, value in model_params(params, plan, model).items()
    }
    kept = plan.pop("multipliers", None)  # exact policy: the run's own stay as they are
    try:
        t = np.repeat(times, members).reshape(-1, 1)
        parts = energy_parts_of(t, flat, plan, p, flat_signals, model)
    finally:
        if kept is not None:
            plan["multipliers"] = kept
    return {name: value.reshape((count, *lead, *value.shape[1:])) for name, value in parts.items()}


def snapshot_capacity(state, steps, stride, budget=1 << 23) -> int:
    """How many record points of ``steps`` steps the snapshot arrays hold: all of them, at
    most ``budget`` bytes' worth, at least one."""
    each = sum(np.asarray(value).nbytes for value in state.values())
    return max(1, min(steps // stride, budget // max(1, each)))


def snapshots_taken(snaps, count, state) -> dict:
    """The first ``count`` snapshots as arrays ``(count, *shape of the state)``."""
    return {
        name: values[:count].reshape((count, *np.shape(state[name])))
        for name, values in snaps.items()
    }


def python_advance(t0, dt, state, plan, params, table, limit, stride, model):
    """The run loop's ``advance(k0, count, info, snaps)`` as a Python loop over the module's
    ``step`` (the contract of a compiled chunk, see :func:`run_recorded`)."""
    per, step, names = table["per_step"], model["step"], list(state)
    here = [0]  # the first table row of the step under way

    def signals(t):
        tk = t0 + here[0] // per * dt
        return table_row(table, here[0] + round((t - tk) * per / dt))

    def advance(k0, count, info, snaps):
        for k in range(k0, k0 + count):
            here[0] = k * per
            step(t0 + k * dt, dt, state, plan, params, signals, model)
            found = first_divergence(state, limit)
            if found is not None:
                info[:5] = (t0 + (k + 1) * dt, names.index(found[0]), found[1], found[2], 1.0)
                return k - k0 + 1
            if (k + 1) % stride == 0:
                taken = int(info[5])
                for name, value in state.items():
                    snaps[name][taken] = value.reshape(snaps[name].shape[1:])
                info[5] = taken + 1
                if taken + 1 == len(snaps[names[0]]):
                    return k - k0 + 1
        return count

    return advance


def run_recorded(advance, t0, dt, steps, state, plan, params, table, record, model) -> int:
    """``steps`` steps through ``advance``, recording at the record points (see the module
    docstring); returns the steps taken.

    ``advance(k0, count, info, snaps)`` takes steps ``k0 .. k0 + count - 1`` in place and
    returns how many it took: it stops at the first divergence (``info[:5]``: time, state
    number, flat index, value, 1) or when ``snaps`` is full. After step ``k``, when ``k + 1``
    is a multiple of the stride, it copies the state into ``snaps[name][info[5]]`` and adds 1
    to ``info[5]``. The records are then evaluated from the copies, all points at once."""
    stride, per = record["stride"], table["per_step"]
    record["closing"] = False
    if record["start"]:
        record_row(t0, state, plan, params, table_row(table, 0), record, model)
    snaps = snapshot_arrays(state, model, snapshot_capacity(state, steps, stride))
    info, done = np.zeros(6), 0
    while done < steps:
        info[5] = 0
        taken = advance(done, steps - done, info, snaps)
        points = (done // stride + 1 + np.arange(int(info[5]))) * stride
        closing = record["final"] and len(points) > 0 and points[-1] == steps
        kept = points[:-1] if closing else points  # the closing record: on the state itself
        taken_states = snapshots_taken(snaps, len(kept), state)
        record_points(t0 + kept * dt, kept * per, taken_states, plan, params, table, record, model)
        done += taken
        if info[4] > 0:
            name = list(state)[int(info[1])]
            site = divergence_site(float(info[0]), state, name, int(info[2]), float(info[3]), model)
            record["diverged"] = site
            return done
    record["closing"] = record["final"] and steps > 0
    if record["closing"]:
        t = t0 + steps * dt
        record_row(t, state, plan, params, table_row(table, steps * per), record, model)
    return steps


def run_steps_loop(t0, dt, steps, state, plan, params, table, record, model) -> int:
    """Advance ``state`` (in place) by ``steps`` steps of ``dt`` from ``t0`` with the signals of
    ``table``, recording into ``record`` every ``record["stride"]`` steps; stop at the first
    divergence (``record["diverged"]`` says where). Returns the number of steps taken."""
    advance = python_advance(
        t0, dt, state, plan, params, table, record["limit"], record["stride"], model
    )
    return run_recorded(advance, t0, dt, steps, state, plan, params, table, record, model)
