"""Multiplier policies of model stlp-holonomic on tracking-sine: penalty, ascent, exact.

    python benchmarks/bench_policies.py [--horizon 100] [--markdown FILE]

For each policy: the tracking score (mean of (x_o - z)^2 / var z over the last fifth), the
constraint violation (mean over the last fifth of max_i |x_i - tanh(a_i)| on the free nodes) and
the time per step, measured in one run on `complete:6:in=1` with the default parameters.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from stlp_sym.cache.store import build
from stlp_sym.graph import Digraph
from stlp_sym.runner.loop import sparse_solve
from stlp_sym.runner.tasks import make_task
from stlp_sym.symbolic.models import MODELS

GRAPH = "complete:6:in=1"
POLICIES = ("penalty", "ascent", "exact")


def violation(graph: Digraph, state: dict[str, np.ndarray]) -> float:
    """max over the free nodes of |x_i - tanh(a_i)|."""
    net = np.zeros(graph.n)
    np.add.at(net, graph.dst, state["w"] * state["x"][graph.src])
    return float(np.abs(state["x"] - np.tanh(net))[~graph.inputs].max())


def measure(policy: str, horizon: float, dt: float = 1e-3) -> dict[str, float]:
    """Run one policy; return its score, mean violation and seconds per step."""
    entry = MODELS["stlp-holonomic"]
    module = build(entry.build(), replace(entry.options, policy=policy))
    if hasattr(module, "set_solver"):
        module.set_solver(sparse_solve)
    graph = Digraph.from_spec(GRAPH)
    task = make_task("tracking-sine", graph).for_module(module)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = module.init(plan)
    output = int(np.flatnonzero(graph.outputs)[0])
    steps, errors, violations = round(horizon / dt), [], []
    start = time.perf_counter()
    for k in range(steps):
        module.step(k * dt, dt, state, plan, None, task.signals)
        t = (k + 1) * dt
        if t >= 0.8 * horizon and k % 20 == 0:
            errors.append((state["x"][output] - np.sin(t)) ** 2)
            violations.append(violation(graph, state))
    elapsed = time.perf_counter() - start
    return {
        "score": float(np.mean(errors) / 0.5),
        "violation": float(np.mean(violations)),
        "us_per_step": 1e6 * elapsed / steps,
    }


def table(results: dict[str, dict[str, float]]) -> str:
    lines = [
        "| policy | score | mean max abs(G), last fifth | time per step [us] | local |",
        "| --- | --: | --: | --: | --- |",
    ]
    for policy, r in results.items():
        local = "no (sparse solve over the graph)" if policy == "exact" else "yes"
        lines.append(
            f"| {policy} | {r['score']:.4f} | {r['violation']:.2e} | {r['us_per_step']:.0f} "
            f"| {local} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=float, default=100.0)
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args()
    results = {}
    for policy in POLICIES:
        print(f"running {policy} ...", flush=True)
        results[policy] = measure(policy, args.horizon)
    text = table(results)
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
