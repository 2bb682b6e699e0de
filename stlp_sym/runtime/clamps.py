"""Clamped entries: a field held to a signal on the nodes of a role (the inputs, say).

``model["clamps"]`` lists one entry per clamped state: its ``state``, the ``role`` of the nodes
it is clamped on, the ``signal`` it takes (``u`` for the field, ``u_d1`` for its first
derivative, ...) and whether that signal is ``required`` (the field itself) or used only when
``signals`` provides it (its derivatives).

>>> import numpy as np
>>> plan = {"roles": {"is_input": np.array([1.0, 0.0])}}
>>> model = {"clamps": [{"state": "x", "role": "input", "signal": "u", "required": True}]}
>>> apply_clamps(0.0, {"x": np.zeros(2)}, plan, {"u": np.array([5.0, 6.0])}, model)["x"].tolist()
[5.0, 0.0]
"""

from .params import signal_array


def apply_clamps(t, state, plan, signals, model) -> dict:
    """Overwrite clamped entries from the signals (in place); derivatives of a clamped field
    come from the signal's derivatives when ``signals`` has them."""
    for clamp in model["clamps"]:
        if clamp["required"] or clamp["signal"] in signals:
            where = plan["roles"]["is_" + clamp["role"]] > 0
            state[clamp["state"]][..., where] = signal_array(signals, clamp["signal"])[..., where]
    return state
