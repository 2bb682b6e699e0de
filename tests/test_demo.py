"""The demo's screening of the tracking models: in a worker process or in this one, the same
scores in the same order, the same warnings, and the modules for the runs that follow."""

from __future__ import annotations

import warnings
from dataclasses import replace

import stlp_sym.display.demo as demo
import stlp_sym.display.screening as screening_module
from stlp_sym.cache.store import generate
from stlp_sym.errors import StlpWarning
from stlp_sym.symbolic.models import MODELS

#: coarse steps keep the screening short
DT = 0.05
#: a step at which explicit Euler is unstable on each model's fastest decay (rate 2)
UNSTABLE_DT = 1.1


def _candidates(backend: str) -> dict:
    return {
        name: replace(MODELS[name].options, integrator=demo.DEMO_INTEGRATOR, backend=backend)
        for name in demo.tracking_models()
        if name != "stlp"
    }


def _finished(monkeypatch, worker: bool, stlp_module, dt: float = DT):
    monkeypatch.setattr(screening_module, "idle_cores", lambda: 2.0 if worker else 0.0)
    monkeypatch.setattr(screening_module, "compiles_afresh", lambda candidates: True)
    screening = screening_module.Screening.start(_candidates("numpy"), "complete:6:in=1", dt, 0)
    assert (screening.worker is not None) == worker
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        modules, scores = screening.finish(stlp_module)
    if worker:  # the worker answered (a failed one would be replaced by this process)
        assert screening.worker.returncode == 0
    return modules, scores, sorted({str(w.message) for w in caught if w.category is StlpWarning})


def test_a_worker_screens_as_this_process_does(monkeypatch, numpy_stlp) -> None:
    here = _finished(monkeypatch, False, numpy_stlp)
    there = _finished(monkeypatch, True, numpy_stlp)
    modules, scores, said = there
    assert list(scores.items()) == list(here[1].items())  # equal floats, in the same order
    assert [name for name, _ in scores][: len(modules)] == list(modules)
    assert list(modules) == list(here[0]) and modules["stlp"] is numpy_stlp
    assert all(module.OPTIONS["backend"] == "numpy" for module in modules.values())
    assert said == here[2] == []
    assert demo.choose(scores) == demo.choose(here[1])


def test_the_workers_warnings_are_shown_here(monkeypatch, numpy_stlp) -> None:
    """At an unstable step each model warns; stlp-holonomic's fastest decay is of ``x_d1``, a
    state only it has, and it is screened in the worker."""
    said = _finished(monkeypatch, True, numpy_stlp, UNSTABLE_DT)[2]
    assert said == _finished(monkeypatch, False, numpy_stlp, UNSTABLE_DT)[2]
    assert any("'x_d1'" in message and "unstable" in message for message in said)


def test_only_new_numba_modules_are_compiled_afresh(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STLP_CACHE_DIR", str(tmp_path))
    numba_ones, numpy_ones = _candidates("numba"), _candidates("numpy")
    afresh = screening_module.compiles_afresh
    assert afresh(numba_ones) and not afresh(numpy_ones)
    for name, options in numba_ones.items():
        generate(MODELS[name].build(), options)
    assert not afresh(numba_ones)


def test_a_busy_machine_screens_here(monkeypatch, numpy_stlp) -> None:
    monkeypatch.setattr(screening_module, "idle_cores", lambda: 1.2)  # one core and a bit
    monkeypatch.setattr(screening_module, "compiles_afresh", lambda candidates: True)
    screening = screening_module.Screening.start(_candidates("numpy"), "complete:6:in=1", DT, 0)
    assert screening.worker is None


def test_a_failed_worker_is_replaced_by_this_process(monkeypatch, numpy_stlp) -> None:
    """A worker that dies (here: it is killed) costs time, not the answer."""
    here = _finished(monkeypatch, False, numpy_stlp)[1]
    monkeypatch.setattr(screening_module, "idle_cores", lambda: 2.0)
    monkeypatch.setattr(screening_module, "compiles_afresh", lambda candidates: True)
    screening = screening_module.Screening.start(_candidates("numpy"), "complete:6:in=1", DT, 0)
    screening.worker.kill()
    assert list(screening.finish(numpy_stlp)[1].items()) == list(here.items())


def test_warning_categories_come_back_by_name() -> None:
    assert screening_module.warning_category("StlpWarning") is StlpWarning
    assert screening_module.warning_category("RuntimeWarning") is RuntimeWarning
    assert screening_module.warning_category("ValueError") is UserWarning  # not a warning
    assert screening_module.warning_category("NoSuchName") is UserWarning
