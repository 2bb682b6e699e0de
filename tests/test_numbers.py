"""The committed modules give the numbers recorded before code generation was restructured:
one step to 1e-13 and 1,000 steps to 1e-10 (relative to the state's scale)."""

from __future__ import annotations

import numpy as np
import pytest
from recorded_numbers import DATA, graph_of, run_numbers

from stlp_sym.cache.manifest import DEFAULT_DIR, read_manifest
from stlp_sym.cache.store import load

RECORDED = dict(np.load(DATA))


@pytest.mark.parametrize("entry", read_manifest(), ids=lambda e: e.file)
@pytest.mark.parametrize(("steps", "tolerance"), [(1, 1e-13), (1000, 1e-10)])
def test_committed_module_reproduces_the_recorded_numbers(entry, steps, tolerance) -> None:
    module = load(DEFAULT_DIR / entry.file)
    state = run_numbers(module, graph_of(entry.model), steps)
    keys = sorted(k for k in RECORDED if k.startswith(f"{entry.file}|{steps}|"))
    assert [k.rsplit("|", 1)[1] for k in keys] == sorted(state), "the states changed"
    for key in keys:
        expected, got = RECORDED[key], state[key.rsplit("|", 1)[1]]
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        assert np.max(np.abs(got - expected), initial=0.0) <= tolerance * scale, key


def test_a_changed_number_is_caught() -> None:
    entry = read_manifest()[0]
    state = run_numbers(load(DEFAULT_DIR / entry.file), graph_of(entry.model), 1)
    name = sorted(state)[0]
    assert np.max(np.abs(state[name] + 1e-9 - RECORDED[f"{entry.file}|1|{name}"])) > 1e-13
