"""Energies and Euler-Lagrange parts of a generated module's own action.

``L`` and ``H = sum p qdot - L`` are summed over nodes and arcs and divided by the dissipation
factor; they need each field's leading derivative, which the state lacks: :func:`jet_with_tops`
adds it from the rates (and, under the exact policy, the solved multipliers).
"""

import numpy as np

from .params import model_params
from .plan import batch_shape, global_fields_of
from .rates import rates_of


def jet_with_tops(t, state, plan, p, signals, model) -> dict:
    """The state plus each field's leading derivative (from the rates)."""
    k = rates_of(t, state, plan, p, signals, model)
    jet = dict(state)
    for field, chain in model["tops"].items():
        jet[field + "_d" + str(len(chain))] = k[chain[-1]]
    jet.update(plan.get("multipliers", {}))  # exact policy: solved, not states
    return jet


def energy_parts(t, state, plan, params, signals, model) -> dict:
    """``L`` and ``H`` per node and per arc, divided by the factor: ``L_node``, ``H_node``
    (node arrays) and ``L_edge``, ``H_edge`` (edge arrays, in the plan's arc order), with a
    member axis first for a batch; and ``L_global``, ``H_global`` (one value, or one per
    member) when the action has a global term."""
    return energy_parts_of(t, state, plan, model_params(params, plan, model), signals, model)


def energy_parts_of(t, state, plan, p, signals, model) -> dict:
    """:func:`energy_parts` with merged parameters ``p``."""
    out = model["energy_kernel"](
        t, jet_with_tops(t, state, plan, p, signals, model), plan, p, signals
    )
    lead = batch_shape(state, global_fields_of(model))
    sizes = {"node": plan["n"], "edge": plan["m"]}
    parts = {
        f"{which}_{domain}": np.broadcast_to(out[f"{which}_{domain}"], (*lead, size)).copy()
        for which in ("L", "H")
        for domain, size in sizes.items()
    }
    for which in ("L", "H"):
        if which + "_global" in out:
            parts[which + "_global"] = np.broadcast_to(out[which + "_global"], lead).copy()
    return parts


def energy_total(parts, which):
    """``which`` (``"L"`` or ``"H"``) of :func:`energy_parts` summed over nodes and arcs, plus
    the global term where there is one."""
    total = np.sum(parts[which + "_node"], axis=-1) + np.sum(parts[which + "_edge"], axis=-1)
    return total + parts.get(which + "_global", 0.0)


def energy_sum(t, state, plan, params, signals, model, which):
    """``which`` (``"L"`` or ``"H"``) summed over nodes and arcs, plus the global term where
    there is one, divided by the factor: a float, or one per member ``(B,)`` for a batch."""
    total = energy_total(energy_parts(t, state, plan, params, signals, model), which)
    return float(total) if np.ndim(total) == 0 else total


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
