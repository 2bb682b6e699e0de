"""Energies and Euler-Lagrange parts of a generated module's own action.

``L`` and ``H = sum p qdot - L`` are summed over nodes and arcs and divided by the dissipation
factor; they need each field's leading derivative, which the state lacks: :func:`jet_with_tops`
adds it from the rates (and, under the exact policy, the solved multipliers).
"""

import numpy as np

from .params import model_params
from .plan import batch_shape
from .rates import rates_of


def jet_with_tops(t, state, plan, p, signals, model) -> dict:
    """The state plus each field's leading derivative (from the rates)."""
    k = rates_of(t, state, plan, p, signals, model)
    jet = dict(state)
    for field, chain in model["tops"].items():
        jet[field + "_d" + str(len(chain))] = k[chain[-1]]
    jet.update(plan.get("multipliers", {}))  # exact policy: solved, not states
    return jet


def energy_sum(t, state, plan, params, signals, model, which):
    """``which`` (``"L"`` or ``"H"``) summed over nodes and arcs, divided by the factor: a
    float, or one per member ``(B,)`` for a batch."""
    p = model_params(params, plan, model)
    out = model["energy_kernel"](
        t, jet_with_tops(t, state, plan, p, signals, model), plan, p, signals
    )
    lead = batch_shape(state)
    total = np.sum(out[which + "_node"], axis=-1) + np.sum(out[which + "_edge"], axis=-1)
    return float(total) if lead == () else np.broadcast_to(total, lead).copy()


def lagrangian_sum(t, state, plan, params, signals, model) -> float:
    """Divided by the dissipation factor: the Lagrangian summed over nodes and arcs."""
    return energy_sum(t, state, plan, params, signals, model, "L")


def hamiltonian_sum(t, state, plan, params, signals, model) -> float:
    """Divided by the dissipation factor: H = sum p qdot - L, summed over nodes and arcs."""
    return energy_sum(t, state, plan, params, signals, model, "H")


def energy_unavailable(t, state, plan, params, signals, model) -> float:
    """Not available: this module was generated without energy functions."""
    raise NotImplementedError("this module was generated without energy functions")


def el_parts_of(t, jet, plan, params, signals, model) -> dict:
    """(P0, P1) per field of the unflipped Euler-Lagrange equations of this module's action;
    ``jet`` holds each field and its time derivatives (``x``, ``x_d1``, ...)."""
    out = model["el_kernel"](t, jet, plan, model_params(params, plan, model), signals)
    return {
        field: (np.array(out["P0_" + field]), np.array(out["P1_" + field]))
        for field in model["el_fields"]
    }
