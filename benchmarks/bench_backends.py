"""The NumPy and numba backends side by side, against hand-written Numba references.

    python benchmarks/bench_backends.py [--repeats 7] [--markdown FILE]

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
  ``step`` and of a hand-written Numba loop over members.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from dataclasses import replace
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


def small_rows(mods) -> dict:
    rows, steps = {}, 20_000
    for b, module in mods.items():
        graph, plan, state = setup(module, SMALL)
        task = make_task("tracking-sine", graph).for_module(module)

        def stepping(module=module, plan=plan, state=state, task=task):
            start = time.perf_counter()
            for k in range(steps):
                module.step(k * DT, DT, state, plan, None, task.signals)
            return (time.perf_counter() - start) / steps

        def running(module=module, graph=graph, task=task):
            trace = run(module, graph, task, steps=steps, record_every=0.05, progress=False)
            return trace.seconds_per_step

        rows[f"{b}: step in a Python loop"] = stepping
        rows[f"{b}: run() (records every 50 steps)"] = running
    graph, plan, state = setup(mods["numpy"], SMALL)
    args = hand_args(mods["numpy"], plan, state)
    hand_loop(1, DT, *args)

    def hand(args=args):
        start = time.perf_counter()
        hand_loop(100_000, DT, *args)
        return (time.perf_counter() - start) / 100_000

    rows["hand-written K-step loop (Numba)"] = hand
    return rows


def large_rows(mods) -> dict:
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

    def floor(a=a, b=b):
        start = time.perf_counter()
        np.copyto(b, a)  # 8 B read and 8 B written per element: 72 B/arc in all
        return (time.perf_counter() - start) / 2  # half: 36 B/arc

    rows["floor: 36 B/arc at the copy bandwidth"] = floor
    return rows


def batch_rows(mods, members: int = 256) -> dict:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    mods = modules()
    worst = check_references(mods)
    lines = [
        f"Machine: {describe(f'NumPy {np.__version__}', f'Numba {numba.__version__}')}; "
        f"load average {os.getloadavg()[0]:.2f} at the start.",
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
        medians = median_rows(rows_of(mods), args.repeats)
        lines += [f"### {title}", "", f"| row | {unit} | x {reference} |", "| --- | ---: | ---: |"]
        for name, value in medians.items():
            lines.append(f"| {name} | {value * scale:.3g} | {value / medians[reference]:.2f} |")
        lines.append("")
    lines.append(f"Load average {os.getloadavg()[0]:.2f} at the end.")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
