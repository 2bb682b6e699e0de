"""The numbers a generated module produces on the checks' default graph, as a reference.

A module is run from seed 0 with smooth signals on every node (each signal ``s`` of the module
gets ``sin(0.7 t + k + 0.3 i)`` on node ``i``, ``k`` its index) for one and for 1,000 Euler-sized
steps ``dt = 1e-3``. ``tests/data/generated_numbers.npz`` holds these states as they were before
code generation was restructured; ``tests/test_numbers.py`` compares today's modules with them.

Run ``python tests/recorded_numbers.py`` to record them again (only when a change of numbers
is meant).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "generated_numbers.npz"
DT = 1e-3


def graph_of(model: str):
    from stlp_sym.checks import DEFAULT_GRAPH, is_one_node
    from stlp_sym.graph import Digraph
    from stlp_sym.symbolic.models import MODELS

    if is_one_node(MODELS[model].build()):
        return Digraph.from_arcs(1, [], name="one-node")
    return Digraph.from_spec(DEFAULT_GRAPH)


def signals_for(module, n: int):
    names = sorted(module.SIGNALS)
    nodes = np.arange(n)

    def signals(t: float) -> dict[str, np.ndarray]:
        return {s: np.sin(0.7 * t + k + 0.3 * nodes) for k, s in enumerate(names)}

    return signals


def run_numbers(module, graph, steps: int) -> dict[str, np.ndarray]:
    """The state after ``steps`` steps from seed 0, in the plan's arc order."""
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    state = module.init(plan, None, 0)
    signals = signals_for(module, graph.n)
    module.clamp(0.0, state, plan, signals(0.0))
    for k in range(steps):
        module.step(k * DT, DT, state, plan, None, signals)
    return {name: np.array(value, dtype=float) for name, value in state.items()}


def record() -> None:
    from stlp_sym.cache.manifest import DEFAULT_DIR, read_manifest
    from stlp_sym.cache.store import load

    arrays = {}
    for entry in read_manifest():
        module = load(DEFAULT_DIR / entry.file)
        graph = graph_of(entry.model)
        for steps in (1, 1000):
            for name, value in run_numbers(module, graph, steps).items():
                arrays[f"{entry.file}|{steps}|{name}"] = value
    np.savez_compressed(DATA, **arrays)
    print(f"wrote {len(arrays)} arrays to {DATA}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    record()
