"""The demo's experiments: which built-in model tracks each task best, and the
back-propagation limit on the demo graph.

>>> "stlp" in tracking_models() and "pendulum" not in tracking_models()
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import ModuleType

import numpy as np

from ..checks.backprop import BackpropLimit, backprop_limit, static_params
from ..graph.digraph import Digraph
from ..runner.loop import run
from ..runner.tasks import make_task
from ..symbolic.action import Action

#: The horizon of each task's screening run: long enough for a first change of the target.
SCREEN_HORIZON = {"tracking-sine": 10.0, "tracking-piecewise": 20.0}
#: The integrator of every model in the demo's runs: explicit Euler has a compiled run loop
#: (a few microseconds a step on the demo graph), so that all candidates are screened quickly.
DEMO_INTEGRATOR = "euler"
#: The spectral radius of ``|W|`` at which the back-propagation limit is shown: below 1, the
#: static network's equilibrium is unique and stable (a contraction for a 1-Lipschitz sigma).
SPECTRAL_RADIUS = 0.8


def tracking_models(built: Mapping[str, Action] | None = None) -> list[str]:
    """The built-in models whose action has a signal on the inputs and one on the outputs
    (``built``: actions already built, by model name, not built again)."""
    from ..symbolic.models import MODELS

    found = []
    for name, model in MODELS.items():
        action = (built or {}).get(name) or model.build()
        roles = {signal.role for signal in action.signals}
        if {"input", "output"} <= roles:
            found.append(name)
    return found


def screen(
    modules: dict[str, ModuleType], graph: Digraph, tasks: list[str], dt: float, seed: int
) -> dict[tuple[str, str], float]:
    """The score of each module on each task over :data:`SCREEN_HORIZON` (inf: diverged)."""
    scores = {}
    for task_name in tasks:
        task = make_task(task_name, graph, seed)
        horizon = SCREEN_HORIZON.get(task_name, task.horizon / 10)
        for name, module in modules.items():
            trace = run(module, graph, task, horizon=horizon, dt=dt, seed=seed, progress=False)
            scores[name, task_name] = float(trace.score(task.score_fraction))
    return scores


def choose(scores: dict[tuple[str, str], float]) -> dict[str, str]:
    """The model of lowest score for each task (the first one when all diverged)."""
    best: dict[str, str] = {}
    for (model, task), score in scores.items():
        if task not in best or score < scores[best[task], task]:
            best[task] = model
    return best


def _scaled_weights(weights: np.ndarray, graph: Digraph) -> np.ndarray:
    """``weights`` scaled so that the spectral radius of ``|W|`` is at most
    :data:`SPECTRAL_RADIUS`."""
    matrix = np.zeros((graph.n, graph.n))
    np.add.at(matrix, (graph.dst, graph.src), np.abs(weights))
    radius = float(np.abs(np.linalg.eigvals(matrix)).max())
    return weights * (SPECTRAL_RADIUS / radius if radius > SPECTRAL_RADIUS else 1.0)


def demo_backprop(
    module: ModuleType, action: Action, graph: Digraph, seed: int = 0
) -> BackpropLimit:
    """The back-propagation limit of ``module`` on ``graph``: seeded weights (scaled, see
    :func:`_scaled_weights`), constant inputs spread over ``[-0.6, 0.7]`` and targets ``0.3``
    on the outputs, by the module's own signal names."""
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = {name: np.array(value) for name, value in module.init(plan, None, seed).items()}
    for name, info in module.STATES.items():
        if info["domain"] == "edge" and info["order"] == 0:
            state[name] = _scaled_weights(state[name], graph)
    signals = {}
    for name, role in module.SIGNALS.items():
        mask = graph.inputs if role == "input" else graph.outputs
        spread = np.linspace(-0.6, 0.7, graph.n) if role == "input" else np.full(graph.n, 0.3)
        signals[name] = np.where(mask, spread, 0.0)
    return backprop_limit(module, graph, static_params(action), signals, state)


def early_and_late(trace, fraction: float = 0.2) -> tuple[float, float]:
    """The tracking error ``mean (output - target)^2 / var(target)`` over the first and the
    last ``fraction`` of a single run: learning shows as the second below the first."""
    errors = []
    for window in (trace.t <= trace.t[-1] * fraction, trace.t >= trace.t[-1] * (1 - fraction)):
        output, target = trace.output[window], trace.reference[window]
        variance = float(np.var(target))
        error = float(np.mean((output - target) ** 2))
        errors.append(error / variance if variance > 0 else error)
    return errors[0], errors[1]


def format_score(score: float) -> str:
    """A score for a table: ``0.0123`` or ``diverged``."""
    return "diverged" if math.isinf(score) else f"{score:.4f}"
