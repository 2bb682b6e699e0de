"""Parameters and signals as a generated module reads them.

Parameters are run-time arguments: ``params`` overrides the module's defaults ``PARAMS`` and is
never folded into the code. Signals arrive as a dict of node arrays at each time.

>>> merged_params({"c": 2}, {"c": 1.0, "theta": 1.0})
{'c': 2.0, 'theta': 1.0}
>>> signal_array({"u": [1, 2]}, "u").tolist()
[1.0, 2.0]
"""

import numpy as np


def merged_params(params, defaults) -> dict:
    """The defaults overridden by ``params`` (floats); an unknown name is refused."""
    merged = dict(defaults)
    if params:
        unknown = set(params) - set(defaults)
        if unknown:
            raise KeyError(f"unknown parameter(s) {sorted(unknown)}; known: {sorted(defaults)}")
        merged.update({k: float(v) for k, v in params.items()})
    return merged


def signal_array(signals, name) -> np.ndarray:
    """The node array of signal ``name`` at this time, as floats."""
    try:
        return np.asarray(signals[name], dtype=float)
    except KeyError:
        given = sorted(signals)
        raise KeyError(
            f"signals(t) must provide {name!r} (a node array); it gave {given}"
        ) from None
