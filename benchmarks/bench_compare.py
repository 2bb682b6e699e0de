"""Benchmark of online learning: the generated STLP step against truncated BPTT and RTRL.

Run from the repository root::

    python benchmarks/bench_compare.py                # default run, about 2.5 minutes
    python benchmarks/bench_compare.py --quick        # smoke run, a few seconds
    python benchmarks/bench_compare.py --check        # gradient checks only (a second)
    python benchmarks/bench_compare.py --markdown results.md

All three methods learn the same network on the same task (docs/theory.md sections 3 and 6):

- **graph**: ``complete:N:in=1``, the fully connected network of the paper's tracking experiment
  (node 0 is the input, node N-1 the output, no self-loops, ``|A| = (N-1)^2`` arcs). It is the
  densest graph, so it is the hardest case for RTRL, whose ``O(n^2 |A|)`` time is then
  ``O(n^4)``, and there ``O(n^2 |A|)`` and the sparse bound ``O(|A|^2)`` coincide.
- **task**: ``tracking-sine`` (``u = cos t`` on the input, ``z = sin t`` on the output).
- **network**: ``x_{k+1} = x_k + tau c (tanh(a_k) - x_k)`` on the free nodes with
  ``a_k = sum_{e: dst(e)=i} w_e x_src(e)`` (explicit Euler, ``tau = 1e-3``), inputs clamped to
  ``u(t)``, loss ``tau q/2 (x_o - z)^2`` per step; ``c`` and ``q`` are the module's defaults, the
  initial weights are the module's ``init`` (seed 0) for all three.

Methods:

- **STLP**: ``step`` of ``build(MODELS["stlp"].build(), MODELS["stlp"].options)`` on the NumPy
  backend, called once per step.
- **STLP numba**: the same model on the numba backend through ``run()``, its compiled run loop
  (the steps between two records in one call, recording every 50 steps: outputs, L/phi, H/phi,
  the weights' norm), continued chunk by chunk from a checkpoint of the last state. Checked
  equal to the NumPy ``step`` before timing. Left out when Numba does not import.
- **BPTT**: truncated back-propagation through time on non-overlapping windows of ``T`` steps:
  the forward pass stores ``x_k`` and ``sigma'(a_k)`` per step, the backward pass accumulates the
  window's gradient over the arcs (``np.add.reduceat`` / ``np.bincount``, like the generated
  module), then one gradient-descent update per window. The weights are constant within a window,
  so nothing arc-sized is stored per step: memory ``O(T n + |A|)``.
- **RTRL**: real-time recurrent learning: the sensitivity ``P = dx/dw`` (``n x |A|``) is updated
  every step, ``P <- (1 - tau c) P + tau c diag(sigma') (W P + E_k)``, with ``W P`` a dense BLAS
  product (``n^2 |A|`` multiply-adds), and the weights are updated online every step.

BPTT and RTRL follow the gradient flow ``dw/dt = -eta dloss/dw`` with ``eta =``
:data:`LEARNING_RATE` (the learning quality is not measured). Their gradients are checked
against central finite differences on a small cyclic graph with self-loops before anything is
timed (``--check`` runs only that), and their forward pass against the generated module with the
weights frozen.

Time per step: the median over interleaved repetitions (each repetition runs every method once,
at least 200 steps and whole BPTT windows; STLP numba in whole runs of 1,000 steps). The STLP
rows and RTRL have no window, so they are timed once per ``n``. Memory: ``tracemalloc`` peak over
building the learner's state (index arrays, weights, plan or sensitivities or activation store)
and a run of ``max(T, 200)`` steps (RTRL at large ``n``: fewer, see the ``steps`` column; STLP
numba: whole runs of 1,000); NumPy reports its buffers to ``tracemalloc``, BLAS workspace and
Numba's own allocations inside compiled code are not seen.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np
from machine import describe

from stlp_sym.cache.store import build
from stlp_sym.graph import Digraph
from stlp_sym.options import numba_available
from stlp_sym.runner.checkpoint import Checkpoint
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import Signals, Task, make_task
from stlp_sym.symbolic.models import MODELS

MODEL = "stlp"
TASK = "tracking-sine"
TAU = 1e-3
SIZES = (8, 32, 128)
WINDOWS = (100, 1_000, 10_000)
QUICK_SIZES = (8, 32)
QUICK_WINDOWS = (100, 1_000)
MIN_STEPS = 200
LOOP_STEPS = 1_000
LEARNING_RATE = 1e-3
SEED = 0
CHECK_GRAPH = "random:6,20,3:in=1:out=1"  # cycles and self-loops
CHECK_TAU = 0.05
CHECK_STEPS = 40
CHECK_TOLERANCE = 1e-6

Phases = dict[str, float]


def progress(message: str) -> None:
    """A progress line on stderr (stdout keeps only the table)."""
    print(f".. {message}", file=sys.stderr, flush=True)


def graph_spec(n: int) -> str:
    """The benchmark graph with ``n`` nodes: fully connected, one input, one output."""
    return f"complete:{n}:in=1"


# ---- the network shared by BPTT and RTRL -----------------------------------------------------


@dataclass(frozen=True)
class Network:
    """The discretised network: arcs sorted by destination, roles and constants.

    The index arrays are copied from the graph, so that building a network inside a
    ``tracemalloc`` region counts them, as the generated module's ``prepare`` is counted.
    """

    n: int
    src: np.ndarray
    dst: np.ndarray
    seg_starts: np.ndarray
    nonempty: np.ndarray
    inputs: np.ndarray
    outputs: np.ndarray
    free: np.ndarray
    tau: float
    c: float
    q: float

    @classmethod
    def of(cls, graph: Digraph, tau: float, c: float, q: float) -> Network:
        """The network of ``graph`` (whose arcs are already sorted by ``(dst, src)``)."""
        nonempty = np.flatnonzero(graph.in_degree)
        return cls(
            n=graph.n,
            src=graph.src.copy(),
            dst=graph.dst.copy(),
            seg_starts=graph.in_ptr[nonempty].copy(),
            nonempty=nonempty,
            inputs=np.flatnonzero(graph.inputs),
            outputs=np.flatnonzero(graph.outputs),
            free=(~graph.inputs).astype(float),
            tau=tau,
            c=c,
            q=q,
        )

    @property
    def m(self) -> int:
        """Number of arcs."""
        return int(self.src.size)

    def net_input(self, w: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``a_i = sum_{e: dst(e)=i} w_e x_src(e)`` (segments of the destination-sorted arcs)."""
        a = np.zeros(self.n)
        if self.m:
            a[self.nonempty] = np.add.reduceat(w * np.take(x, self.src), self.seg_starts)
        return a

    def transpose_times(self, w: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """``(W^T delta)_j = sum_{e: src(e)=j} w_e delta_dst(e)``."""
        return np.bincount(self.src, weights=w * np.take(delta, self.dst), minlength=self.n)

    def dense(self, w: np.ndarray) -> np.ndarray:
        """The dense ``n x n`` weight matrix, ``W[dst, src] = w``."""
        W = np.zeros((self.n, self.n))
        W[self.dst, self.src] = w
        return W

    def clamp(self, x: np.ndarray, t: float, signals: Signals) -> np.ndarray:
        """Set the inputs of ``x`` to ``u(t)`` (in place) and return ``x``."""
        x[self.inputs] = signals(t)["u"][self.inputs]
        return x

    def error(self, x: np.ndarray, t: float, signals: Signals) -> np.ndarray:
        """``x_o - z_o(t)`` on the outputs."""
        return x[self.outputs] - signals(t)["z"][self.outputs]

    def advance(
        self, w: np.ndarray, x: np.ndarray, t: float, signals: Signals
    ) -> tuple[np.ndarray, np.ndarray]:
        """One Euler step from ``x`` at ``t``: ``x`` at ``t + tau`` (inputs clamped) and
        ``sigma'(a)`` at ``t``."""
        s = np.tanh(self.net_input(w, x))
        new = x + (self.tau * self.c) * (s - x) * self.free
        return self.clamp(new, t + self.tau, signals), 1.0 - s * s


def start_state(net: Network, signals: Signals, t: float = 0.0) -> np.ndarray:
    """``x = 0`` with the inputs clamped to ``u(t)``."""
    return net.clamp(np.zeros(net.n), t, signals)


# ---- truncated BPTT --------------------------------------------------------------------------


@dataclass
class Window:
    """What the forward pass over one window stores: ``O(T n)`` floats."""

    xs: np.ndarray  # (T + 1, n): x_0 .. x_T
    slopes: np.ndarray  # (T, n): sigma'(a_k)
    errors: np.ndarray  # (T, outputs): x_{k+1,o} - z_o(t_{k+1})

    @classmethod
    def empty(cls, net: Network, length: int) -> Window:
        """Buffers for a window of ``length`` steps."""
        return cls(
            np.zeros((length + 1, net.n)),
            np.zeros((length, net.n)),
            np.zeros((length, net.outputs.size)),
        )

    @property
    def length(self) -> int:
        """Number of steps ``T``."""
        return len(self.slopes)


def bptt_forward(net: Network, w: np.ndarray, win: Window, t0: float, signals: Signals) -> None:
    """Run the window from ``win.xs[0]`` at ``t0``, storing the activations."""
    for k in range(win.length):
        t = t0 + k * net.tau
        win.xs[k + 1], win.slopes[k] = net.advance(w, win.xs[k], t, signals)
        win.errors[k] = net.error(win.xs[k + 1], t + net.tau, signals)


def bptt_gradient(net: Network, w: np.ndarray, win: Window) -> np.ndarray:
    """d/dw of ``sum_{k=1..T} tau q/2 |x_{k,o} - z_o|^2`` with ``x_0`` held fixed.

    ``g`` is the adjoint ``dJ/dx_{k+1}``; ``delta = dJ/da_k``; the arcs accumulate
    ``delta_dst x_src``; ``g`` then goes back through ``x_{k+1} = (1 - tau c) x_k + tau c
    tanh(W x_k)`` on the free nodes (clamped inputs depend on nothing).
    """
    g = np.zeros(net.n)
    grad = np.zeros(net.m)
    decay, gain = 1.0 - net.tau * net.c, net.tau * net.c
    for k in range(win.length - 1, -1, -1):
        g[net.outputs] += net.tau * net.q * win.errors[k]
        g *= net.free
        delta = g * gain * win.slopes[k]
        grad += np.take(delta, net.dst) * np.take(win.xs[k], net.src)
        g = decay * g + net.transpose_times(w, delta)
    return grad


class BPTT:
    """Truncated BPTT: windows of ``T`` steps, one gradient-descent update per window."""

    def __init__(self, net: Network, w0: np.ndarray, window: int, signals: Signals) -> None:
        self.net, self.signals, self.w = net, signals, w0.copy()
        self.win = Window.empty(net, window)
        self.win.xs[0] = start_state(net, signals)
        self.k = 0

    def run(self, steps: int) -> Phases:
        """Run whole windows covering at least ``steps`` steps; time forward and backward."""
        phases = {"forward": 0.0, "backward": 0.0}
        for _ in range(math.ceil(steps / self.win.length)):
            start = time.perf_counter()
            bptt_forward(self.net, self.w, self.win, self.k * self.net.tau, self.signals)
            middle = time.perf_counter()
            self.w -= LEARNING_RATE * bptt_gradient(self.net, self.w, self.win)
            self.win.xs[0] = self.win.xs[-1]
            self.k += self.win.length
            phases["forward"] += middle - start
            phases["backward"] += time.perf_counter() - middle
        return phases


# ---- RTRL ------------------------------------------------------------------------------------


def rtrl_sensitivity(
    net: Network, W: np.ndarray, P: np.ndarray, work: np.ndarray, x: np.ndarray, slope: np.ndarray
) -> None:
    """``P <- dx_{k+1}/dw`` from ``P = dx_k/dw``, in place (``work`` is an ``n x |A|`` buffer).

    ``da_k/dw = W P + E_k`` with ``E_k[dst(e), e] = x_src(e)``; the rows of the inputs stay zero.
    """
    np.matmul(W, P, out=work)  # n^2 |A|: the cost of RTRL
    work[net.dst, np.arange(net.m)] += np.take(x, net.src)
    work *= (net.tau * net.c * slope * net.free)[:, None]
    P *= 1.0 - net.tau * net.c
    P += work


class RTRL:
    """RTRL with a dense ``W``: sensitivities updated and weights changed every step."""

    def __init__(self, net: Network, w0: np.ndarray, signals: Signals, rate: float) -> None:
        self.net, self.signals, self.rate = net, signals, rate
        self.w = w0.copy()
        self.W = net.dense(self.w)
        self.P = np.zeros((net.n, net.m))
        self.work = np.empty_like(self.P)
        self.x = start_state(net, signals)
        self.k = 0
        self.gradient_sum = np.zeros(net.m)

    def run(self, steps: int) -> Phases:
        """Run ``steps`` steps; time the sensitivity update and the rest."""
        net, phases = self.net, {"P update": 0.0, "rest": 0.0}
        for _ in range(steps):
            t = self.k * net.tau
            start = time.perf_counter()
            new, slope = net.advance(self.w, self.x, t, self.signals)
            middle = time.perf_counter()
            rtrl_sensitivity(net, self.W, self.P, self.work, self.x, slope)
            end = time.perf_counter()
            error = net.error(new, t + net.tau, self.signals)
            gradient = net.tau * net.q * (error @ self.P[net.outputs])
            if self.rate:
                self.w -= self.rate * gradient
                self.W[net.dst, net.src] = self.w
            else:
                self.gradient_sum += gradient
            self.x, self.k = new, self.k + 1
            phases["P update"] += end - middle
            phases["rest"] += middle - start + time.perf_counter() - end
        return phases


# ---- STLP ------------------------------------------------------------------------------------


class STLP:
    """The generated module's ``step`` with its default parameters."""

    def __init__(
        self, module: ModuleType, graph: Digraph, signals: Signals, **params: float
    ) -> None:
        self.module, self.signals = module, signals
        self.params = {**module.PARAMS, **params}
        self.plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
        self.state = module.init(self.plan, self.params, SEED)
        module.clamp(0.0, self.state, self.plan, signals(0.0))
        self.k = 0

    def run(self, steps: int) -> Phases:
        """Run ``steps`` steps (one ``step`` call each)."""
        step, state, plan, params = self.module.step, self.state, self.plan, self.params
        for k in range(self.k, self.k + steps):
            step(k * TAU, TAU, state, plan, params, self.signals)
        self.k += steps
        return {}


class STLPLoop:
    """A module's compiled run loop: ``run()`` continued from a checkpoint of the last state,
    with its default parameters and recording."""

    def __init__(self, module: ModuleType, graph: Digraph, task: Task) -> None:
        self.module, self.graph, self.task = module, graph, task
        plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
        self.state = module.init(plan, module.PARAMS, SEED)
        self.k = 0

    def run(self, steps: int) -> Phases:
        """Run ``steps`` steps (one ``run()`` call)."""
        resume = Checkpoint(self.k, self.state, {})
        trace = run(
            self.module, self.graph, self.task, steps=self.k + steps, dt=TAU, seed=SEED,
            resume=resume, progress=False,
        )  # fmt: skip
        self.state, self.k = trace.state, trace.steps
        return {}


class Learner(Protocol):
    """What the benchmark runs: ``run(steps)`` returns seconds per phase; ``k`` counts the
    steps done so far (BPTT runs whole windows, so possibly more than asked)."""

    k: int

    def run(self, steps: int) -> Phases: ...


# ---- checks ----------------------------------------------------------------------------------


def window_loss(
    net: Network, w: np.ndarray, x0: np.ndarray, t0: float, steps: int, signals: Signals
) -> float:
    """``sum_{k=1..T} tau q/2 |x_{k,o} - z_o|^2`` from ``x0`` at ``t0`` with weights ``w``."""
    win = Window.empty(net, steps)
    win.xs[0] = x0
    bptt_forward(net, w, win, t0, signals)
    return 0.5 * net.tau * net.q * float(np.sum(win.errors**2))


def finite_differences(
    loss: Callable[[np.ndarray], float], w: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Central differences of ``loss`` at ``w``, one arc at a time."""
    grad = np.zeros_like(w)
    for e in range(w.size):
        step = np.zeros_like(w)
        step[e] = h
        grad[e] = (loss(w + step) - loss(w - step)) / (2 * h)
    return grad


def relative_error(value: np.ndarray, reference: np.ndarray) -> float:
    """``max |value - reference| / max |reference|``."""
    return float(np.max(np.abs(value - reference)) / np.max(np.abs(reference)))


def check(module: ModuleType) -> dict[str, float]:
    """BPTT and RTRL window gradients against central differences, and the baselines'
    forward pass against the generated module with frozen weights, on :data:`CHECK_GRAPH`."""
    graph = Digraph.from_spec(CHECK_GRAPH)
    signals = make_task(TASK, graph).for_module(module).signals
    p = module.PARAMS
    net = Network.of(graph, CHECK_TAU, p["c"], p["q"])
    rng = np.random.default_rng(1)
    w = rng.normal(0.0, 0.5, net.m)
    t0 = 0.3
    x0 = net.clamp(rng.uniform(-0.5, 0.5, net.n), t0, signals)
    win = Window.empty(net, CHECK_STEPS)
    win.xs[0] = x0
    bptt_forward(net, w, win, t0, signals)
    reference = finite_differences(lambda v: window_loss(net, v, x0, t0, CHECK_STEPS, signals), w)
    rtrl = RTRL(net, w, signals, rate=0.0)
    rtrl.x, rtrl.k = x0.copy(), round(t0 / CHECK_TAU)
    rtrl.run(CHECK_STEPS)
    return {
        "BPTT gradient vs finite differences": relative_error(
            bptt_gradient(net, w, win), reference
        ),
        "RTRL gradient (frozen w) vs finite differences": relative_error(
            rtrl.gradient_sum, reference
        ),
        "forward pass vs generated module (frozen w)": frozen_module_gap(module, graph, net, w),
    }


def frozen_module_gap(module: ModuleType, graph: Digraph, net: Network, w: np.ndarray) -> float:
    """Max |x| difference after :data:`CHECK_STEPS` steps between :meth:`Network.advance` and
    the generated module's ``step`` with ``r`` so large that its weights do not move."""
    signals = make_task(TASK, graph).for_module(module).signals
    stlp = STLP(module, graph, signals, r=1e300)
    stlp.state["w"][:] = w
    x = start_state(net, signals)
    for k in range(CHECK_STEPS):
        module.step(k * net.tau, net.tau, stlp.state, stlp.plan, stlp.params, signals)
        x, _ = net.advance(w, x, k * net.tau, signals)
    module.clamp(CHECK_STEPS * net.tau, stlp.state, stlp.plan, signals(CHECK_STEPS * net.tau))
    return float(np.max(np.abs(stlp.state["x"] - x)))


def loop_gap(module: ModuleType, loop_module: ModuleType) -> float:
    """Largest relative difference of the weights after :data:`MIN_STEPS` steps on
    ``complete:8:in=1``: ``loop_module`` through :class:`STLPLoop` (two ``run()`` calls, the
    second continuing the first) against ``module``'s ``step`` (:class:`STLP`)."""
    graph = Digraph.from_spec(graph_spec(8))
    task = make_task(TASK, graph)
    signals = task.for_module(module).signals  # by the module's signal names, as Network reads
    stepped, looped = STLP(module, graph, signals), STLPLoop(loop_module, graph, task)
    stepped.run(MIN_STEPS)
    looped.run(MIN_STEPS // 2)
    looped.run(MIN_STEPS - MIN_STEPS // 2)
    w, reference = looped.state["w"], stepped.state["w"]
    return float(np.max(np.abs(w - reference)) / np.max(np.abs(reference)))


def run_checks(module: ModuleType, loop_module: ModuleType | None = None) -> bool:
    """Print the checks on stderr; True if all pass :data:`CHECK_TOLERANCE`."""
    passed = True
    results = check(module)
    if loop_module is not None:
        results["STLP numba run loop vs NumPy step (weights)"] = loop_gap(module, loop_module)
    for name, value in results.items():
        ok = value < CHECK_TOLERANCE
        passed &= ok
        progress(f"check {name}: {value:.2e} ({'ok' if ok else 'FAILED'})")
    return passed


# ---- measurement -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Median seconds per step over the repetitions, and the median share of each phase."""

    per_step: float
    shares: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Memory:
    """``tracemalloc`` figures of one run, in bytes."""

    setup: int
    peak: int
    steps: int


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    method: str
    n: int
    arcs: int
    window: int
    timing: Timing
    memory: Memory


@dataclass(frozen=True)
class Settings:
    """What a run measures."""

    sizes: tuple[int, ...]
    windows: tuple[int, ...]
    repeats: int
    chunk_seconds: float
    rtrl_memory_seconds: float


@dataclass
class Setup:
    """Everything one graph size needs, built outside the measured regions."""

    module: ModuleType
    graph: Digraph
    signals: Signals
    w0: np.ndarray
    loop_module: ModuleType | None = None

    def network(self) -> Network:
        """A fresh network (index arrays copied)."""
        p = self.module.PARAMS
        return Network.of(self.graph, TAU, p["c"], p["q"])

    def make(self, method: str, window: int) -> Learner:
        """A fresh learner of ``method`` (``window`` matters to BPTT only)."""
        if method == "STLP":
            return STLP(self.module, self.graph, self.signals)
        if method == "STLP numba":
            return STLPLoop(self.loop_module, self.graph, make_task(TASK, self.graph))
        if method == "BPTT":
            return BPTT(self.network(), self.w0, window, self.signals)
        return RTRL(self.network(), self.w0, self.signals, LEARNING_RATE)


def setup(module: ModuleType, n: int, loop_module: ModuleType | None = None) -> Setup:
    """The graph, the task's signals and the initial weights (the module's ``init``)."""
    graph = Digraph.from_spec(graph_spec(n))
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    if not np.array_equal(plan["src"], graph.src) or not np.array_equal(plan["dst"], graph.dst):
        raise RuntimeError("the module's arc order differs from the graph's")
    w0 = module.init(plan, module.PARAMS, SEED)["w"].copy()
    signals = make_task(TASK, graph).for_module(module).signals
    return Setup(module, graph, signals, w0, loop_module)


def seconds_per_step(learner: Learner, steps: int) -> tuple[float, int, Phases]:
    """Wall-clock seconds per step of ``learner.run(steps)``, the steps run and the phases."""
    before, start = learner.k, time.perf_counter()
    phases = learner.run(steps)
    elapsed = time.perf_counter() - start
    done = learner.k - before
    return elapsed / done, done, phases


def finite(learner: Learner) -> bool:
    """True if every array the learner holds (its state, weights, sensitivities) is finite."""
    arrays = [*vars(learner).values(), *getattr(learner, "state", {}).values()]
    return all(np.all(np.isfinite(a)) for a in arrays if isinstance(a, np.ndarray))


def chunk_steps(per_step: float, window: int, seconds: float) -> int:
    """Steps of one timed repetition: about ``seconds``, at least :data:`MIN_STEPS`, whole
    windows (``window`` = 1 for methods without one)."""
    steps = max(MIN_STEPS, min(50_000, round(seconds / per_step)))
    return window * math.ceil(steps / window)


def time_interleaved(
    learners: dict[str, tuple[Learner, int]], settings: Settings
) -> dict[str, Timing]:
    """Median seconds per step of each learner; each repetition runs every learner once.

    ``learners`` maps a key to ``(learner, window)``. A first warm-up run sizes the chunks.
    """
    chunks = {}
    for key, (learner, window) in learners.items():
        per_step, _, _ = seconds_per_step(learner, window if window > 1 else 20)
        chunks[key] = chunk_steps(per_step, window, settings.chunk_seconds)
    samples: dict[str, list[float]] = {key: [] for key in learners}
    shares: dict[str, list[dict[str, float]]] = {key: [] for key in learners}
    for _ in range(settings.repeats):
        for key, (learner, _) in learners.items():
            per_step, done, phases = seconds_per_step(learner, chunks[key])
            samples[key].append(per_step)
            shares[key].append({k: v / (per_step * done) for k, v in phases.items()})
    return {
        key: Timing(
            statistics.median(samples[key]),
            {p: statistics.median(s[p] for s in shares[key]) for p in shares[key][0]},
        )
        for key in learners
    }


def measure_memory(make: Callable[[], Learner], steps: int) -> Memory:
    """``tracemalloc`` over building a learner (setup) and running it ``steps`` steps (peak)."""
    gc.collect()
    tracemalloc.start()
    try:
        learner = make()
        setup_bytes = tracemalloc.get_traced_memory()[0]
        learner.run(steps)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return Memory(setup_bytes, peak, steps)


def memory_steps(method: str, window: int, per_step: float, settings: Settings) -> int:
    """``max(T, 200)`` steps (whole windows for BPTT); RTRL capped by its time budget."""
    steps = max(window, MIN_STEPS)
    if method == "STLP numba":
        return LOOP_STEPS * math.ceil(steps / LOOP_STEPS)
    if method == "BPTT":
        return window * math.ceil(steps / window)
    if method == "RTRL":
        budget = max(MIN_STEPS, int(settings.rtrl_memory_seconds / per_step))
        return min(steps, budget)
    return steps


def methods(loop_module: ModuleType | None) -> tuple[str, ...]:
    """The methods measured: STLP numba only with a numba module."""
    return ("STLP", "STLP numba", "BPTT", "RTRL") if loop_module else ("STLP", "BPTT", "RTRL")


def measure_size(
    module: ModuleType, n: int, settings: Settings, loop_module: ModuleType | None = None
) -> list[Row]:
    """All rows of one graph size: interleaved timing, then one memory run per row."""
    env = setup(module, n, loop_module)
    progress(f"n = {n}: {graph_spec(n)}, {env.graph.n_arcs:,} arcs; timing")
    learners: dict[str, tuple[Learner, int]] = {"STLP": (env.make("STLP", 1), 1)}
    if loop_module is not None:
        loop = env.make("STLP numba", 1)
        loop.run(MIN_STEPS)  # compiled (or loaded from the cache) before anything is timed
        # timed in whole runs of 1,000 steps: a run() call's own set-up is then amortised
        learners["STLP numba"] = (loop, LOOP_STEPS)
    for window in settings.windows:
        learners[f"BPTT {window}"] = (env.make("BPTT", window), window)
    learners["RTRL"] = (env.make("RTRL", 1), 1)
    timings = time_interleaved(learners, settings)
    for key, (learner, _) in learners.items():
        if not finite(learner):
            progress(f"warning: n = {n}, {key}: non-finite values after the timed runs")
    del learners
    rows = []
    for method in methods(loop_module):
        for window in settings.windows:
            timing = timings[f"BPTT {window}" if method == "BPTT" else method]
            steps = memory_steps(method, window, timing.per_step, settings)
            progress(f"n = {n}: memory of {method}, T = {window:,}, {steps:,} steps")
            memory = measure_memory(lambda m=method, w=window: env.make(m, w), steps)
            rows.append(Row(method, n, env.graph.n_arcs, window, timing, memory))
    return rows


# ---- report ----------------------------------------------------------------------------------

HEADER = (
    "method",
    "n",
    "|A|",
    "T",
    "time/step [ms]",
    "memory steps",
    "setup [MB]",
    "peak [MB]",
    "peak / (n+|A|) [B]",
    "where the cost goes",
)


def cost_note(row: Row) -> str:
    """Where the time and the memory go, with the measured phase shares."""
    shares = row.timing.shares
    if row.method == "STLP":
        return "rhs kernel + Euler update of x, lambda, w, wdot: O(n+|A|) per step, no history"
    if row.method == "STLP numba":
        return "compiled run loop, records every 50 steps: O(n+|A|) per step, no history"
    if row.method == "BPTT":
        return (
            f"forward {shares['forward']:.0%}, backward {shares['backward']:.0%}; "
            f"activation store 2n(T+1) floats = {2 * 8 * row.n * (row.window + 1) / 1e6:.3g} MB"
        )
    return (
        f"P update {shares['P update']:.0%} (W P: n^2|A| = {row.n * row.n * row.arcs:.3g} "
        f"mult-adds); P + work: 2n|A| floats = {2 * 8 * row.n * row.arcs / 1e6:.3g} MB"
    )


def cells(row: Row) -> list[str]:
    """One table row."""
    mb = 1e6
    return [
        row.method,
        f"{row.n:,}",
        f"{row.arcs:,}",
        f"{row.window:,}",
        f"{row.timing.per_step * 1e3:.3g}",
        f"{row.memory.steps:,}",
        f"{row.memory.setup / mb:.3g}",
        f"{row.memory.peak / mb:.3g}",
        f"{row.memory.peak / (row.n + row.arcs):,.0f}",
        cost_note(row),
    ]


def render(header: Sequence[str], rows: list[list[str]], markdown: bool) -> str:
    """A Markdown table, or an aligned plain-text one."""
    if markdown:
        aligns = ["---", *["--:"] * (len(header) - 2), "---"]
        lines = [[c.replace("|", "\\|") for c in cells] for cells in [list(header), *rows]]
        lines.insert(1, aligns)
        return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
    widths = [max(len(r[i]) for r in [list(header), *rows]) for i in range(len(header))]
    lines = [list(header), ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in lines)


def machine() -> str:
    """CPU model, core count, OS, Python and NumPy versions."""
    return describe(f"NumPy {np.__version__}")


def memory_slopes(rows: list[Row], method: str) -> list[float]:
    """Marginal peak bytes per unit of ``n + |A|`` between consecutive sizes, at the longest T
    (the slope of a line through the points: constant if memory is linear in ``n + |A|``)."""
    longest = max(r.window for r in rows)
    points = [
        (r.n + r.arcs, r.memory.peak) for r in rows if r.method == method and r.window == longest
    ]
    return [(b[1] - a[1]) / (b[0] - a[0]) for a, b in pairwise(points)]


def report(rows: list[Row], settings: Settings, markdown: bool) -> str:
    """The table, with the machine and the settings."""
    described = (
        f"graphs `complete:N:in=1`, task `{TASK}`, explicit Euler tau = "
        f"{TAU:g}, model `{MODEL}` ({replace(MODELS[MODEL].options, backend='numpy').describe()}; "
        "STLP numba: backend=numba); time/step: median of "
        f"{settings.repeats} interleaved repetitions (STLP and RTRL timed once per n, shown on "
        "every T row); memory: tracemalloc over setup + run"
    )
    table = render(HEADER, [cells(r) for r in rows], markdown)
    slopes = "; ".join(
        f"{method} " + ", ".join(f"{s:,.0f}" for s in memory_slopes(rows, method))
        for method in dict.fromkeys(r.method for r in rows)
    )
    return (
        f"Machine: {machine()}\n\nSettings: {described}\n\n{table}\n\n"
        f"Peak memory at T = {max(settings.windows):,}, marginal bytes per unit of n + |A| "
        f"between consecutive sizes: {slopes}\n"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: n = 8, 32; T <= 1000")
    parser.add_argument("--check", action="store_true", help="only the gradient checks")
    parser.add_argument("--repeats", type=int, help="interleaved repetitions (default 5)")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def settings_of(args: argparse.Namespace) -> Settings:
    """The measurement settings of a full or a quick run."""
    if args.quick:
        return Settings(QUICK_SIZES, QUICK_WINDOWS, args.repeats or 3, 0.05, 2.0)
    return Settings(SIZES, WINDOWS, args.repeats or 5, 0.25, 20.0)


def main(argv: Sequence[str] | None = None) -> None:
    """Check the gradients, run every measurement, print the table."""
    args = parse_args(argv)
    progress(f"machine: {machine()}")
    action, options = MODELS[MODEL].build(), MODELS[MODEL].options
    module = build(action, replace(options, backend="numpy"))
    loop_module = build(action, replace(options, backend="numba")) if numba_available() else None
    if not run_checks(module, loop_module):
        sys.exit(1)
    if args.check:
        return
    settings = settings_of(args)
    started = time.perf_counter()
    rows = [row for n in settings.sizes for row in measure_size(module, n, settings, loop_module)]
    progress(f"done in {time.perf_counter() - started:.1f} s")
    print(report(rows, settings, markdown=False))
    if args.markdown is not None:
        args.markdown.write_text(report(rows, settings, markdown=True))
        progress(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
