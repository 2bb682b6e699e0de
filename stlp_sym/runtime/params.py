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


def merged_params(params, defaults) -> dict:
    """The defaults overridden by ``params`` (floats); an unknown name is refused. A value
    per batch member, a ``(B,)`` array, becomes ``(B, 1)`` so that it meets ``(B, n)`` arrays."""
    merged = dict(defaults)
    if params:
        unknown = set(params) - set(defaults)
        if unknown:
            raise KeyError(f"unknown parameter(s) {sorted(unknown)}; known: {sorted(defaults)}")
        for name, value in params.items():
            if type(value) is float:
                merged[name] = value
                continue
            value = np.asarray(value, dtype=float)
            merged[name] = float(value) if value.ndim == 0 else value.reshape(-1, 1)
    return merged


def member_params(p, b) -> dict:
    """The merged parameters ``p`` of batch member ``b`` (floats)."""
    return {name: v if np.ndim(v) == 0 else float(np.reshape(v, -1)[b]) for name, v in p.items()}


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
