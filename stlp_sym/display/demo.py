"""The demo's experiments: which built-in model tracks each task best, and the
back-propagation limit on the demo graph.

>>> "stlp" in tracking_models() and "pendulum" not in tracking_models()
True
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from types import ModuleType

import numpy as np

from ..cache.store import build, cached_path
from ..checks.backprop import BackpropLimit, backprop_limit, static_params
from ..graph.digraph import Digraph
from ..options import Options
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


def screen_candidates(
    candidates: Mapping[str, Options], graph_spec: str, tasks: list[str], dt: float, seed: int
) -> tuple[dict[tuple[str, str], float], list[tuple[str, type[Warning]]]]:
    """:func:`screen` of the built-in models named in ``candidates``, each built under its
    options (resolved), on the graph of ``graph_spec`` (a worker process's job): the scores,
    and the warnings raised, as ``(message, category)``, for the parent to show."""
    from ..symbolic.models import MODELS

    with warnings.catch_warnings(record=True) as caught:
        modules = {name: build(MODELS[name].build(), o) for name, o in candidates.items()}
        scores = screen(modules, Digraph.from_spec(graph_spec), tasks, dt, seed)
    return scores, [(str(w.message), w.category) for w in caught]


def idle_cores() -> float:
    """About how many of the cores this process may run on are idle: their number less the
    load average of the last minute (what runs and waits to run)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return (cores or 1) - load


def compiles_afresh(candidates: Mapping[str, Options]) -> bool:
    """True when some candidate is a numba module not yet in the cache (its kernels will be
    compiled on their first call)."""
    from ..symbolic.models import MODELS

    return any(
        o.backend == "numba" and not cached_path(MODELS[name].build(), o).is_file()
        for name, o in candidates.items()
    )


@dataclass
class Screening:
    """The demo's screening of the tracking models other than ``stlp`` (``candidates``: their
    options, resolved). When their modules are new numba modules and a second core is idle,
    it runs in a worker process from :meth:`start` on, so that their generation and
    compilation overlap the parent's own work (deriving, verifying and screening ``stlp``);
    else in the parent, in :meth:`finish`. The scores are the same either way: the same code
    on the same numbers."""

    candidates: dict[str, Options]
    graph_spec: str
    dt: float
    seed: int
    pending: Future | None = None

    @classmethod
    def start(
        cls, candidates: Mapping[str, Options], graph_spec: str, dt: float, seed: int
    ) -> Screening:
        """The screening, under way in a worker process when that pays (see the class)."""
        screening = cls(dict(candidates), graph_spec, dt, seed)
        # this process needs one core, the worker another: both about idle (on a busy
        # machine the two would share a core, and the worker's start-up is a loss)
        if idle_cores() > 1.5 and compiles_afresh(screening.candidates):
            # spawned, not forked: the parent may hold Numba's and LLVM's state and threads
            workers = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
            screening.pending = workers.submit(
                screen_candidates, screening.candidates, graph_spec, list(SCREEN_HORIZON), dt, seed
            )
            workers.shutdown(wait=False)  # the worker ends when its one job is done
        return screening

    def finish(
        self, stlp_module: ModuleType
    ) -> tuple[dict[str, ModuleType], dict[tuple[str, str], float]]:
        """The modules (``stlp_module`` as ``stlp``; the candidates built, from the cache when
        the worker made them) and every score, model by model within each task."""
        from ..symbolic.models import MODELS

        tasks, graph = list(SCREEN_HORIZON), Digraph.from_spec(self.graph_spec)
        if self.pending is None:
            modules = {"stlp": stlp_module} | self._built(MODELS)
            return modules, screen(modules, graph, tasks, self.dt, self.seed)
        scores = screen({"stlp": stlp_module}, graph, tasks, self.dt, self.seed)
        try:
            found, caught = self.pending.result()
        except BrokenProcessPool:  # the worker died (killed, out of memory): screen here
            found, caught = screen_candidates(
                self.candidates, self.graph_spec, tasks, self.dt, self.seed
            )
        for message, category in caught:
            warnings.warn(message, category, stacklevel=2)
        modules = {"stlp": stlp_module} | self._built(MODELS)  # the worker's, from the cache
        scores |= found
        return modules, {(name, task): scores[name, task] for task in tasks for name in modules}

    def _built(self, models: Mapping) -> dict[str, ModuleType]:
        return {name: build(models[name].build(), o) for name, o in self.candidates.items()}


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
