"""Parameters and signals as a generated module reads them.

Parameters are run-time arguments: ``params`` overrides the module's defaults ``PARAMS`` and is
never folded into the code. Signals arrive as a dict of node arrays at each time.

>>> merged_params({"c": 2}, {"c": 1.0, "theta": 1.0})
{'c': 2.0, 'theta': 1.0}
>>> merged_params({"c": [1, 2]}, {"c": 1.0})["c"].shape
(2, 1)
>>> signal_array({"u": [1, 2]}, "u").tolist()
[1.0, 2.0]
"""

import numpy as np


def merged_params(params, defaults, domains=None, plan=None) -> dict:
    """The defaults overridden by ``params`` (floats); an unknown name is refused. A value
    per batch member, a ``(B,)`` array, becomes ``(B, 1)`` so that it meets ``(B, n)`` arrays.

    ``domains`` (the module's ``PARAM_DOMAINS``) names the parameters with one value per node or
    per arc; with a ``plan`` each becomes an array, ``(n,)``/``(m,)`` or ``(B, n)``/``(B, m)``
    (a scalar is broadcast), arc values taken from the caller's arc order to the plan's."""
    merged = dict(defaults)
    domains = domains or {}
    if params:
        unknown = set(params) - set(defaults)
        if unknown:
            raise KeyError(f"unknown parameter(s) {sorted(unknown)}; known: {sorted(defaults)}")
        for name, value in params.items():
            if type(value) is float:
                merged[name] = value
                continue
            value = np.asarray(value, dtype=float)
            if value.ndim == 0:
                merged[name] = float(value)
            else:
                merged[name] = value if name in domains else value.reshape(-1, 1)
    if plan is not None:
        for name, domain in domains.items():
            merged[name] = placed_param(name, merged[name], domain, plan)
    return merged


def model_params(params, plan, model) -> dict:
    """:func:`merged_params` of a module: its defaults and parameter domains, on ``plan``."""
    return merged_params(params, model["params"], model.get("param_domains"), plan)


def placed_param(name, value, domain, plan) -> np.ndarray:
    """A parameter on nodes or arcs as an array in the plan's order (arc values are given in
    the order of the arcs passed to ``prepare``)."""
    size = plan["n"] if domain == "node" else plan["m"]
    value = np.asarray(value, dtype=float)
    if value.ndim == 0:
        return np.full(size, float(value))
    if value.ndim > 2 or value.shape[-1] != size:
        where = "node" if domain == "node" else "arc"
        raise ValueError(
            f"parameter {name!r} has one value per {where}: give {size} values (or a "
            f"(members, {size}) array), not an array of shape {value.shape}"
        )
    return value if domain == "node" else value[..., plan["arc_order"]]


def member_params(p, b) -> dict:
    """The merged parameters ``p`` of batch member ``b``: floats, and the node or arc arrays of
    parameters on nodes or arcs (shared ``(size,)``, or row ``b`` of ``(B, size)``)."""
    return {name: _member_value(v, b) for name, v in p.items()}


def _member_value(v, b):
    if np.ndim(v) < 2:  # a number, or a node or arc array shared by the members
        return v
    return float(v[b, 0]) if np.shape(v)[-1] == 1 else v[b]  # (B, 1) or (B, size)


def member_signals(signals, b) -> dict:
    """The signals of batch member ``b``: a ``(B, n)`` array gives its row ``b``."""
    return {name: v[b] if np.ndim(v) == 2 else v for name, v in signals.items()}


def signal_array(signals, name) -> np.ndarray:
    """The node array of signal ``name`` at this time, as floats."""
    try:
        return np.asarray(signals[name], dtype=float)
    except KeyError:
        given = sorted(signals)
        raise KeyError(
            f"signals(t) must provide {name!r} (a node array); it gave {given}"
        ) from None
