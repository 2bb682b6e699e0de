"""The NumPy and numba backends side by side, against hand-written Numba references.

    python benchmarks/bench_backends.py [--repeats 7] [--quick] [--markdown FILE]

Every figure is a median of ``--repeats`` interleaved repetitions (one repetition times every
row once), in one process, single thread. Before timing, the hand-written references are checked
equal to the generated modules: the fused Euler step of model ``stlp`` and its K-step loop
(signals computed inline, inputs clamped, no recording and no divergence check).

Rows:

- ``complete:6:in=1``, tracking-sine: per step, ``step`` of each backend in a Python loop,
  ``run()`` of each backend (recording every 50 steps, the divergence check, tabulated signals),
  and the hand-written K-step loop;
- ``random:10000,1000000,1:in=10:out=10``, one Euler step: each backend's ``step``, the
  hand-fused step, and the floor of 36 B/arc (w and w_d1 read and written, an int32 source
  index) at the copy bandwidth measured in the same run;
- 256 members of ``complete:6:in=1``: member-steps per second of each backend's batched
  ``step``, of the batch through ``run()`` (each backend's run loop, recording every 50 steps)
  and of a hand-written Numba loop over members;
- load and cold start, in fresh subprocesses: the seconds from the start of the process until a
  module of model ``stlp`` is imported (its compiled code loaded from Numba's cache) and its
  first ``run_steps`` chunk on ``complete:6:in=1`` is done, for each backend with the module in
  the cache, and with empty caches (a temporary directory: generation and compilation);
- memory against run length: the ``tracemalloc`` peak of ``run()`` over 10^3, 10^4 and 10^5
  steps on ``complete:6:in=1`` for each backend, with the bytes of the trace it returns.

``--quick`` is a smoke run (one repetition, fewer steps, runs of 10^3 and 10^4 steps for
memory): it checks that every row runs, its figures are not to be quoted.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, replace
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe

from stlp_sym.cache.store import build
from stlp_sym.graph import Digraph
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import make_task
from stlp_sym.symbolic.models import MODELS

DT = 1e-3
SMALL, LARGE = "complete:6:in=1", "random:10000,1000000,1:in=10:out=10"
ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("numpy", "numba")


@dataclass(frozen=True)
class Settings:
    """How much a run measures: repetitions, steps of the timed loops, run lengths of the
    memory rows, steps of the first chunk in the load rows."""

    repeats: int
    steps: int = 20_000
    hand_steps: int = 100_000
    batch_run_steps: int = 2_000
    lengths: tuple[int, ...] = (1_000, 10_000, 100_000)
    first_chunk: int = 1_000


QUICK = Settings(1, steps=2_000, hand_steps=10_000, batch_run_steps=200, lengths=(1_000, 10_000))


@numba.njit(cache=True)
def hand_step(t, dt, x, lam, w, wd, src, in_ptr, is_in, is_out, c, theta, q, r, rw):
    """One Euler step of model ``stlp`` (flipped, normalised), fused by hand."""
    n = x.shape[0]
    s = np.zeros(n)
    u, z = math.cos(t), math.sin(t)
    for i in range(n):  # clamp, then the net inputs a_i
        if is_in[i] > 0:
            x[i] = u
    a = np.empty(n)
    for i in range(n):
        acc = 0.0
        for e in range(in_ptr[i], in_ptr[i + 1]):
            acc += w[e] * x[src[e]]
        a[i] = acc
    xn = np.empty(n)
    ln = np.empty(n)
    for i in range(n):
        th = math.tanh(a[i])
        g = 1.0 - th * th  # sigma'(a_i)
        for e in range(in_ptr[i], in_ptr[i + 1]):
            j = src[e]
            s[j] += lam[i] * w[e] * g  # message of child i to parent j
            acc = c * lam[i] * g / r * x[j] - rw / r * w[e]
            w_new = w[e] + dt * wd[e]
            wd[e] = wd[e] * (1.0 - dt * theta) + dt * acc
            w[e] = w_new
        xn[i] = x[i] if is_in[i] > 0 else x[i] * (1.0 - dt * c) + dt * c * th
    for i in range(n):
        if is_in[i] > 0:
            ln[i] = lam[i]
        else:
            rest = c * s[i] + is_out[i] * q * (z - x[i])
            ln[i] = lam[i] * (1.0 - dt * (c + theta)) + dt * rest
    for i in range(n):
        x[i] = xn[i]
        lam[i] = ln[i]


@numba.njit(cache=True)
def hand_loop(steps, dt, x, lam, w, wd, src, in_ptr, is_in, is_out, c, theta, q, r, rw):
    """``steps`` fused Euler steps from ``t = 0`` (the K-step loop)."""
    for k in range(steps):
        hand_step(k * dt, dt, x, lam, w, wd, src, in_ptr, is_in, is_out, c, theta, q, r, rw)


@numba.njit(cache=True)
def hand_members(steps, dt, X, L, W, WD, src, in_ptr, is_in, is_out, c, theta, q, r, rw):
    """``steps`` steps of every member (rows of ``X``, ``L``, ``W``, ``WD``)."""
    for b in range(X.shape[0]):
        hand_loop(steps, dt, X[b], L[b], W[b], WD[b], src, in_ptr, is_in, is_out, c, theta, q,
                  r, rw)  # fmt: skip


def modules() -> dict:
    action = MODELS["stlp"].build()
    return {
        b: build(action, replace(MODELS["stlp"].options, backend=b)) for b in ("numpy", "numba")
    }


def rk4_modules() -> dict:
    """Model ``stlp`` under RK4 in both backends (four stages: four times Euler's bytes)."""
    action, options = MODELS["stlp"].build(), replace(MODELS["stlp"].options, integrator="rk4")
    return {b: build(action, replace(options, backend=b)) for b in ("numpy", "numba")}


def setup(module, spec: str, seed=0):
    graph = Digraph.from_spec(spec)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = module.init(plan, None, seed)
    return graph, plan, state


def hand_args(module, plan, state):
    p = module.PARAMS
    roles = plan["roles"]
    arrays = (state["x"], state["lambda_hat"], state["w"], state["w_d1"])
    return (*arrays, plan["src"].astype(np.int32), plan["in_ptr"], roles["is_input"],
            roles["is_output"], p["c"], p["theta"], p["q"], p["r"], p["r_w"])  # fmt: skip


def check_references(mods) -> float:
    """The largest relative difference of the hand-written loop from each backend's steps."""
    worst = 0.0
    for module in mods.values():
        graph, plan, state = setup(module, SMALL)
        task = make_task("tracking-sine", graph).for_module(module)
        mine = {k: v.copy() for k, v in state.items()}
        for k in range(1000):
            module.step(k * DT, DT, state, plan, None, task.signals)
        args = hand_args(module, plan, mine)
        hand_loop(1000, DT, *args)
        for name in ("lambda_hat", "w", "w_d1"):
            scale = max(1.0, float(np.max(np.abs(state[name]))))
            worst = max(worst, float(np.max(np.abs(mine[name] - state[name]))) / scale)
        free = ~graph.inputs
        worst = max(worst, float(np.max(np.abs(mine["x"][free] - state["x"][free]))))
    if worst > 1e-12:
        raise SystemExit(f"the hand-written reference differs from the modules by {worst:.3g}")
    return worst


def median_rows(rows: dict, repeats: int) -> dict[str, float]:
    """Each row is ``() -> seconds per unit``; interleaved repetitions, median per row."""
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(repeats):
        for name, measure in rows.items():
            times[name].append(measure())
    return {name: statistics.median(values) for name, values in times.items()}


def small_rows(mods, settings: Settings) -> dict:
    rows, steps = {}, settings.steps
    for b, module in mods.items():
        graph, plan, state = setup(module, SMALL)
        task = make_task("tracking-sine", graph).for_module(module)

        def stepping(module=module, plan=plan, state=state, task=task):
            start = time.perf_counter()
            for k in range(steps):
                module.step(k * DT, DT, state, plan, None, task.signals)
            return (time.perf_counter() - start) / steps

        run(module, graph, task, steps=50, progress=False)  # compiled first

        def running(module=module, graph=graph, task=task):
            trace = run(module, graph, task, steps=steps, record_every=0.05, progress=False)
            return trace.seconds_per_step

        rows[f"{b}: step in a Python loop"] = stepping
        rows[f"{b}: run() (records every 50 steps)"] = running
    graph, plan, state = setup(mods["numpy"], SMALL)
    args = hand_args(mods["numpy"], plan, state)
    hand_loop(1, DT, *args)

    def hand(args=args, steps=settings.hand_steps):
        start = time.perf_counter()
        hand_loop(steps, DT, *args)
        return (time.perf_counter() - start) / steps

    rows["hand-written K-step loop (Numba)"] = hand
    return rows


def large_rows(mods, settings: Settings) -> dict:
    rows = {}
    for b, module in mods.items():
        graph, plan, state = setup(module, LARGE)
        task = make_task("tracking-sine", graph).for_module(module)
        module.step(0.0, DT, state, plan, None, task.signals)

        def stepping(module=module, plan=plan, state=state, task=task):
            start = time.perf_counter()
            for k in range(3):
                module.step(k * DT, DT, state, plan, None, task.signals)
            return (time.perf_counter() - start) / 3

        rows[f"{b}: Euler step"] = stepping
    for b, module in rk4_modules().items():
        graph, plan, state = setup(module, LARGE)
        task = make_task("tracking-sine", graph).for_module(module)
        module.step(0.0, DT, state, plan, None, task.signals)

        def rk4_stepping(module=module, plan=plan, state=state, task=task):
            start = time.perf_counter()
            module.step(0.0, DT, state, plan, None, task.signals)
            return time.perf_counter() - start

        rows[f"{b}: RK4 step (its own floor: 4 x the row below)"] = rk4_stepping
    graph, plan, state = setup(mods["numpy"], LARGE)
    args = hand_args(mods["numpy"], plan, state)
    hand_step(0.0, DT, *args)

    def hand(args=args):
        start = time.perf_counter()
        for k in range(3):
            hand_step(k * DT, DT, *args)
        return (time.perf_counter() - start) / 3

    rows["hand-fused Euler step (Numba)"] = hand
    m = plan["m"]
    a, b = np.random.default_rng(0).random(9 * m // 2), np.empty(9 * m // 2)  # 36 B/arc moved
    np.copyto(b, a)  # the pages of ``b`` touched before timing

    def floor(a=a, b=b):
        start = time.perf_counter()
        np.copyto(b, a)  # 8 B read and 8 B written per element: 72 B/arc in all
        return (time.perf_counter() - start) / 2  # half: 36 B/arc

    rows["floor: 36 B/arc at the copy bandwidth"] = floor
    return rows


def batch_rows(mods, settings: Settings, members: int = 256) -> dict:
    rows, steps = {}, 200
    seeds = list(range(members))
    for b, module in mods.items():
        graph, plan, state = setup(module, SMALL, seeds)
        task = make_task("tracking-sine", graph).for_module(module)
        module.step(0.0, DT, state, plan, None, task.signals)

        def stepping(module=module, plan=plan, state=state, task=task):
            start = time.perf_counter()
            for k in range(steps):
                module.step(k * DT, DT, state, plan, None, task.signals)
            return (time.perf_counter() - start) / (steps * members)

        rows[f"{b}: batched step"] = stepping
    for b, module in mods.items():
        graph = Digraph.from_spec(SMALL)
        task = make_task("tracking-sine", graph)
        run(module, graph, task, steps=50, seed=seeds, progress=False)  # compiled first

        def running(module=module, graph=graph, task=task, count=settings.batch_run_steps):
            trace = run(module, graph, task, steps=count, seed=seeds, progress=False)
            return trace.seconds_per_step / members

        rows[f"{b}: the batch through run() (records every 50 steps)"] = running
    graph, plan, state = setup(mods["numpy"], SMALL, seeds)
    p, roles = mods["numpy"].PARAMS, plan["roles"]
    args = (state["x"], state["lambda_hat"], state["w"], state["w_d1"],
            plan["src"].astype(np.int32), plan["in_ptr"], roles["is_input"], roles["is_output"],
            p["c"], p["theta"], p["q"], p["r"], p["r_w"])  # fmt: skip
    hand_members(1, DT, *args)

    def hand(args=args):
        start = time.perf_counter()
        hand_members(2000, DT, *args)
        return (time.perf_counter() - start) / (2000 * members)

    rows["hand-written loop over members (Numba)"] = hand
    return rows


#: The child of the load rows: seconds to import, to build (load or generate) the module of
#: model ``stlp`` on the backend ``argv[1]``, and to run its first chunk of ``argv[3]`` steps on
#: ``argv[2]`` (the compiled code loaded from Numba's cache, or compiled).
_READY = """
import json, sys, time
started = time.perf_counter()
from dataclasses import replace
from stlp_sym.cache.store import build
from stlp_sym.graph import Digraph
from stlp_sym.runner.loop import run
from stlp_sym.runner.tasks import make_task
from stlp_sym.symbolic.models import MODELS
imported = time.perf_counter()
backend, spec, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
module = build(MODELS["stlp"].build(), replace(MODELS["stlp"].options, backend=backend))
built = time.perf_counter()
graph = Digraph.from_spec(spec)
trace = run(module, graph, make_task("tracking-sine", graph), steps=steps, progress=False)
if trace.steps != steps or trace.diverged is not None:
    raise SystemExit(f"the first chunk did not run: {trace.steps} steps, {trace.diverged}")
ran = time.perf_counter()
print(json.dumps([imported - started, built - imported, ran - built]))
"""
LOAD_PHASES = ("imports", "module built or loaded", "first chunk")


def ready_seconds(backend: str, cache: Path, steps: int) -> list[float]:
    """In a fresh interpreter with ``cache`` as the package cache (and Numba's, which lies
    beside the modules): the seconds of each of :data:`LOAD_PHASES`."""
    env = {**os.environ, "STLP_CACHE_DIR": str(cache)}
    env.pop("NUMBA_CACHE_DIR", None)  # Numba's cache beside the module, in ``cache``
    result = subprocess.run(
        [sys.executable, "-c", _READY, backend, SMALL, str(steps)],
        capture_output=True, text=True, check=True, cwd=ROOT, env=env,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def load_rows(settings: Settings) -> dict[str, list[float]]:
    """Median seconds of each phase, per backend, with the module cached and with empty
    caches (a new temporary directory each time); interleaved repetitions."""
    samples: dict[str, list[list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="stlp_bench_") as top:
        cached = Path(top) / "cached"
        for b in BACKENDS:  # the modules and their machine code into the cache, untimed
            ready_seconds(b, cached, settings.first_chunk)
        for repetition in range(settings.repeats):
            for b in BACKENDS:
                empty = Path(top) / f"empty-{b}-{repetition}"
                samples.setdefault(f"{b}: cached", []).append(
                    ready_seconds(b, cached, settings.first_chunk)
                )
                samples.setdefault(f"{b}: empty caches", []).append(
                    ready_seconds(b, empty, settings.first_chunk)
                )
    return {
        name: [statistics.median(phase) for phase in zip(*values, strict=True)]
        for name, values in samples.items()
    }


def load_table(load: dict[str, list[float]], first_chunk: int) -> list[str]:
    """The load rows as Markdown, with the two differences the targets speak of."""
    lines = [
        f"| row | {' | '.join(f'{phase} [s]' for phase in LOAD_PHASES)} | ready [s] |",
        "| --- |" + " ---: |" * (len(LOAD_PHASES) + 1),
    ]
    for name, phases in load.items():
        cells = " | ".join(f"{value:.3f}" for value in (*phases, sum(phases)))
        lines.append(f"| {name} | {cells} |")
    over = sum(load["numba: cached"]) - sum(load["numpy: cached"])
    cold = sum(load["numba: empty caches"][1:])
    return [
        *lines,
        "",
        f"Ready (first chunk of {first_chunk:,} steps done), numba cached minus NumPy cached: "
        f"{over:.3f} s (target: at most 0.8 s). Numba with empty caches, generation and "
        f"compilation (module built, then the first chunk) after the imports: {cold:.2f} s "
        "(target: under 2.5 s).",
    ]


def memory_rows(mods, settings: Settings) -> dict[str, list[tuple[int, int, int]]]:
    """Per backend, for each run length: the steps, the ``tracemalloc`` peak of ``run()``
    over them and the bytes of the trace's records."""
    rows = {}
    for b, module in mods.items():
        graph = Digraph.from_spec(SMALL)
        task = make_task("tracking-sine", graph)
        run(module, graph, task, steps=50, progress=False)  # imports and compilation first
        rows[b] = []
        for steps in settings.lengths:
            gc.collect()
            tracemalloc.start()
            try:
                trace = run(module, graph, task, steps=steps, progress=False)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            kept = sum(s.t.nbytes + s.values.nbytes for s in trace.series.values())
            rows[b].append((steps, peak, kept))
    return rows


def memory_table(memory: dict[str, list[tuple[int, int, int]]]) -> list[str]:
    """The memory rows as Markdown: peak and records per run length, and the peak without
    the records."""
    lines = [
        "| backend | steps | peak [KiB] | the trace's records [KiB] | peak - records [KiB] |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for b, rows in memory.items():
        for steps, peak, kept in rows:
            lines.append(
                f"| {b} | {steps:,} | {peak / 1024:.0f} | {kept / 1024:.0f} | "
                f"{(peak - kept) / 1024:.0f} |"
            )
    return lines


def ratio_table(medians: dict[str, float], reference: str, scale: float, unit: str) -> list[str]:
    """Rows of seconds per unit as Markdown, with their ratio to ``reference``."""
    lines = [f"| row | {unit} | x {reference} |", "| --- | ---: | ---: |"]
    for name, value in medians.items():
        lines.append(f"| {name} | {value * scale:.3g} | {value / medians[reference]:.2f} |")
    return lines


def settings_of(args: argparse.Namespace) -> Settings:
    """The full settings, or :data:`QUICK` for ``--quick``; ``--repeats`` overrides both."""
    base = QUICK if args.quick else Settings(7)
    return replace(base, repeats=args.repeats) if args.repeats else base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, help="interleaved repetitions (default 7)")
    parser.add_argument("--quick", action="store_true", help="smoke run: every row, briefly")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    settings = settings_of(args)
    mods = modules()
    worst = check_references(mods)
    lines = [
        f"Machine: {describe(f'NumPy {np.__version__}', f'Numba {numba.__version__}')}; "
        f"load average {os.getloadavg()[0]:.2f} at the start"
        + (" (--quick: a smoke run, figures not to be quoted)." if args.quick else "."),
        f"Hand-written references equal to the modules' steps over 1,000 steps: "
        f"largest relative difference {worst:.1e}.",
        "",
    ]
    sections = [
        (f"`{SMALL}`, tracking-sine, per step", small_rows, "hand-written K-step loop (Numba)",
         1e6, "us/step"),
        (f"`{LARGE}`, one Euler step", large_rows, "floor: 36 B/arc at the copy bandwidth",
         1e3, "ms/step"),
        (f"256 members of `{SMALL}`, per member-step", batch_rows,
         "hand-written loop over members (Numba)", 1e6, "us/member-step"),
    ]  # fmt: skip
    for title, rows_of, reference, scale, unit in sections:
        medians = median_rows(rows_of(mods, settings), settings.repeats)
        lines += [f"### {title}", "", *ratio_table(medians, reference, scale, unit), ""]
    memory = memory_rows(mods, settings)
    lines += [f"### Memory of `run()` on `{SMALL}` against the run length", ""]
    lines += [*memory_table(memory), ""]
    lines += ["### Load and cold start, in fresh processes", ""]
    lines += [*load_table(load_rows(settings), settings.first_chunk), ""]
    lines.append(f"Load average {os.getloadavg()[0]:.2f} at the end.")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
