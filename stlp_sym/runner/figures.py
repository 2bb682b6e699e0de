"""The figure of a run, as one would show it in a talk (:meth:`Trace.plot`).

One panel per output node with its target and the input signal(s), then the tracking error
(a moving average, on a log scale: learning shows as a falling curve), ``L/phi`` and ``H/phi``,
and the norm of the weights, all against time. Labels are mathtext, legends sit outside the
axes, and the figure is a bare :class:`matplotlib.figure.Figure` on an Agg canvas (no pyplot:
no display is needed; it is saved with ``savefig`` and shows itself in a notebook).

The names of the output field, the target and the input signal come from the trace
(:func:`observed_names`), never from a fixed model.
"""

from __future__ import annotations

import numpy as np

#: Panels of inputs shown at most (a graph with many inputs shows the first few).
MAX_INPUTS = 3
_DEFAULT_NAMES = {"output": "x", "target": "z", "input": "u"}


def observed_names(trace) -> dict[str, str | None]:
    """``{"output": field, "target": signal, "input": signal}`` of the run: the names its
    module observes (``trace.meta["observed"]``, ``trace.meta["input_signal"]``), else
    ``x``, ``z`` and ``u``. None: not observed."""
    names = dict(_DEFAULT_NAMES)
    names.update(trace.meta.get("observed", {}))
    names["input"] = trace.meta.get("input_signal", names["input"])
    return names


def _math_body(name: str, node: object = None) -> str:
    body = name if len(name) == 1 else r"\mathrm{" + name.replace("_", r"\_") + "}"
    return body + ("" if node is None else "_{" + str(node).replace("_", r"\_") + "}")


def math_symbol(name: str, node: object = None) -> str:
    """Mathtext of a field or signal, with its node as a subscript: ``$x_{5}$``,
    ``$\\mathrm{lambda\\_hat}_{3}$``."""
    return f"${_math_body(name, node)}$"


def moving_error(t: np.ndarray, output: np.ndarray, target: np.ndarray, window: float):
    """``(output - target)^2 / var(target)`` averaged over the last ``window`` time units at
    each record, NaN until a whole window has passed (the variance is the target's over the
    whole run)."""
    error = (output - target) ** 2
    variance = np.var(target)
    error = error / variance if variance > 0 else error
    cumulative = np.concatenate([[0.0], np.cumsum(error)])
    first = np.searchsorted(t, t - window, side="left")
    count = np.arange(1, t.size + 1) - first
    mean = (cumulative[1:] - cumulative[first]) / count
    return np.where(t - t[0] >= window * (1 - 1e-9), mean, np.nan)


def _member(values: np.ndarray, trace, member: int) -> np.ndarray:
    """The values of one member of a batch (all of them for a single run)."""
    return values[:, member] if trace.members else values


def _legend_outside(axes) -> None:
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _output_panel(axes, trace, k: int, names: dict, member: int) -> None:
    """Output node ``k``: its field, its target and the inputs driving the network."""
    nodes = trace.meta.get("output_nodes") or list(range(trace.output.shape[-1]))
    node = nodes[k]
    t = trace.t
    inputs = trace.meta.get("input_nodes") or []
    for j, values in enumerate(trace.inputs.T[:MAX_INPUTS] if trace.inputs is not None else []):
        label = f"{math_symbol(names['input'], inputs[j] if inputs else j)} input"
        axes.plot(t, values, color="0.6", lw=0.9, ls="--", label=label)
    if names["target"] is not None:
        target = _member(trace.reference, trace, member)[:, k]
        label = f"{math_symbol(names['target'], node)} target"
        axes.plot(t, target, color="k", lw=1.3, label=label)
    output = _member(trace.output, trace, member)[:, k]
    axes.plot(t, output, color="C0", lw=1.1, label=f"{math_symbol(names['output'], node)} output")
    axes.set_ylabel(f"node {node}")
    _legend_outside(axes)


def _error_panel(axes, trace, names: dict, member: int, window: float) -> None:
    output, target = (_member(v, trace, member) for v in (trace.output, trace.reference))
    nodes = trace.meta.get("output_nodes") or list(range(output.shape[-1]))
    for k in range(output.shape[-1]):
        error = moving_error(trace.t, output[:, k], target[:, k], window)
        axes.plot(trace.t, error, color=f"C{k}", lw=1.1, label=f"node {nodes[k]}")
    o, z = _math_body(names["output"]), _math_body(names["target"])
    axes.set_ylabel(f"$({o} - {z})^2 / \\mathrm{{var}}\\,{z}$")
    axes.set_yscale("log")
    axes.set_title(f"tracking error: moving mean over {window:g} time units", fontsize=9)
    _legend_outside(axes)


def _energy_panel(axes, trace, member: int) -> None:
    axes.plot(trace.t, _member(trace.lagrangian, trace, member), color="C1", label=r"$L/\phi$")
    axes.plot(trace.t, _member(trace.hamiltonian, trace, member), color="C4", label=r"$H/\phi$")
    axes.set_ylabel(r"energy$\,/\,\phi$")
    axes.set_title(
        r"Lagrangian $L$ and Hamiltonian $H$ divided by the dissipation factor "
        r"$\phi = e^{\theta t}$",
        fontsize=9,
    )
    _legend_outside(axes)


def _weights_panel(axes, trace, member: int) -> None:
    axes.plot(trace.t, _member(trace.weight_norm, trace, member), color="C2", label=r"$\|w\|$")
    axes.set_ylabel(r"$\|w\|$")
    axes.set_title("norm of the weights (every arc field, Euclidean)", fontsize=9)
    _legend_outside(axes)


def trace_figure(trace, title: str = "", member: int = 0, window: float | None = None):
    """The figure of ``trace`` (see the module's docstring); ``member`` picks a member of a
    batch, ``window`` the averaging of the error panel (default: a twentieth of the run)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = observed_names(trace)
    outputs = trace.output.shape[-1] if names["output"] is not None else 0
    tracked = outputs > 0 and names["target"] is not None
    rows = outputs + tracked + 2
    figure = Figure(figsize=(10, 1.9 * rows + 0.6), layout="constrained")
    FigureCanvasAgg(figure)  # renders without a display, whatever pyplot's backend
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    for k in range(outputs):
        _output_panel(axes[k], trace, k, names, member)
    span = float(trace.t[-1] - trace.t[0]) if trace.t.size > 1 else 1.0
    if tracked:
        _error_panel(axes[outputs], trace, names, member, window or span / 20)
    _energy_panel(axes[-2], trace, member)
    _weights_panel(axes[-1], trace, member)
    if trace.diverged is not None:
        for panel in axes:
            label = f"diverged, $t = {trace.diverged.t:.4g}$" if panel is axes[0] else None
            panel.axvline(trace.diverged.t, color="C3", ls=":", lw=1.0, label=label)
        _legend_outside(axes[0])
    axes[-1].set_xlabel("time $t$")
    suffix = f" (member {member} of {trace.members})" if trace.members else ""
    if f"{title}{suffix}".strip():
        figure.suptitle(f"{title}{suffix}".strip())
    return figure
