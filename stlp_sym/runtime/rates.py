"""The time derivative of every state: the kernels' leading derivatives, decays, the chains.

A field ``q`` whose leading derivative is ``q^(k)`` has the states ``q, q_d1, ..., q_d(k-1)``
(its chain, ``model["tops"][q]``); the rate of each is the next one, and the rate of the top one
is the ``rhs`` kernel's output minus its decay: ``rate = kernel output - k * state`` with ``k``
from ``model["decay_kernel"]`` (parameters only). Explicit Euler folds ``dt`` into the kernel
(``scale``) and the decay into the update; the other integrators call :func:`rates_of`.

``plan["frozen"]`` (optional) names states held fixed: their rates are zero and no step moves
them.
"""

import numpy as np

from .clamps import apply_clamps
from .params import model_params


def explicit_top_rates(t, state, plan, p, signals, scale, model) -> dict:
    """``scale`` times the leading derivative of each field's top state, zero where the field
    does not exist or is clamped (clamped entries are first set from ``signals``, in place)."""
    apply_clamps(t, state, plan, signals, model)
    out = model["rhs_kernel"](t, state, plan, p, signals, scale)
    for name, live in plan["live"].items():
        if name in out and not live.all():
            out[name] = np.where(live, out[name], 0.0)
    return out


def rates_of(t, state, plan, p, signals, model) -> dict:
    """Time derivative of every state entry, with merged parameters ``p`` (see ``rhs``)."""
    out = model["top_rates"](t, state, plan, p, signals, 1.0, model)
    for name, k in model["decay_kernel"](p).items():
        live = plan["live"].get(name)
        decay = k * state[name] if live is None else np.where(live, k * state[name], 0.0)
        out[name] = out[name] - decay
    rates = {
        name: out[name] if name in out else state[next_state(name, model)]
        for name in model["states"]
    }
    for name in plan.get("frozen", ()):  # held fixed: no state of the field moves
        rates[name] = np.zeros_like(state[name])
    return rates


def next_state(name, model) -> str:
    """The state one derivative above ``name`` in its field's chain (its rate)."""
    info = model["states"][name]
    return model["tops"][info["field"]][info["order"] + 1]


def state_rates(t, state, plan, params, signals, model) -> dict:
    """Time derivative of every state entry (clamped entries are first set from ``signals``,
    in place). Derivatives are zero where a field does not exist or is clamped. The arrays
    returned may be the plan's work buffers, overwritten by the next call: copy to keep."""
    return rates_of(t, state, plan, model_params(params, plan, model), signals, model)


def decay_rates_of(params, model) -> dict:
    """The decay rate ``k`` of each top state with a linear decay (``rate = rest - k * state``,
    ``k`` from parameters only): what an explicit step's stability depends on."""
    return model["decay_kernel"](model_params(params, None, model))
