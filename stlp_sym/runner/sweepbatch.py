"""One batch of a sweep, as a worker runs it: the module from its verified text, the runs as one
batch (the member axis), and a member that diverges split off so that the others run on.

A batch stops at its first divergence; the member that diverged is then a result (its trace up
to there is the one it would have had alone), and the rest of the batch runs again without it.
A single remaining run is run unbatched, exactly as ``stlp run --seed S`` runs it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

import numpy as np

from ..cache.store import load, private_cache_dir, verified_text
from ..files import write_atomic
from ..graph.digraph import Digraph
from .loop import Trace, run
from .sweepplan import SweepRun
from .tasks import make_task

_MODULES: dict[str, ModuleType] = {}


@dataclass(frozen=True)
class BatchJob:
    """What a worker needs for one batch: everything is data (no closures), so it pickles."""

    number: int
    module_file: str
    module_text: str
    graph: Digraph
    task: str
    signal_file: str | None
    fixed: tuple[tuple[str, float], ...]
    runs: tuple[SweepRun, ...]
    horizon: float | None
    dt: float
    record_every: float
    monitor: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunResult:
    """A finished run: its trace, the batch it ran in (and how many members that batch had
    when it ran) and the worker that ran it."""

    run: SweepRun
    trace: Trace
    score: float
    batch: int
    members: int
    worker: str


def module_from_text(file_name: str, text: str) -> ModuleType:
    """The module whose verified text is ``text``, written into this machine's private cache
    under ``file_name`` unless already there, and loaded once per process."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    if digest not in _MODULES:
        path = private_cache_dir() / Path(file_name).name
        if verified_text(path) != text:
            write_atomic(path, text)
        _MODULES[digest] = load(path)
    return _MODULES[digest]


def member(trace: Trace, b: int) -> Trace:
    """Member ``b`` of a batch's trace, as the trace of a run of its own."""
    diverged = trace.diverged
    if diverged is not None:
        diverged = replace(diverged, member=None) if diverged.member == b else None
    return replace(
        trace,
        series={name: replace(s, values=s.values[:, b]) for name, s in trace.series.items()},
        state={name: value[b] for name, value in trace.state.items()},
        diverged=diverged,
        meta={**trace.meta, "seed": np.ravel(trace.meta.get("seed", [0]))[b].item()},
        members=None,
    )


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "local"


def _params(job: BatchJob, runs: list[SweepRun]) -> dict:
    """The fixed values, and the swept ones: floats for one run, ``(B,)`` arrays for a batch."""
    params: dict = dict(job.fixed)
    for name in runs[0].values:
        values = [r.values[name] for r in runs]
        params[name] = values[0] if len(runs) == 1 else np.array(values)
    return params


def run_batch(job: BatchJob) -> list[RunResult]:
    """Run every run of ``job``; a run that diverges is a result like any other."""
    module = module_from_text(job.module_file, job.module_text)
    task = make_task(job.task, job.graph, job.runs[0].seed, job.signal_file)
    worker, pending, results = _worker_address(), list(job.runs), []
    while pending:
        seeds = pending[0].seed if len(pending) == 1 else [r.seed for r in pending]
        trace = run(
            module,
            job.graph,
            task,
            horizon=job.horizon,
            dt=job.dt,
            params=_params(job, pending),
            seed=seeds,
            record_every=job.record_every,
            monitor=list(job.monitor),
            progress=False,
        )
        size = len(pending)
        done = range(size) if trace.diverged is None or size == 1 else [trace.diverged.member]
        for b in done:
            alone = trace if size == 1 else member(trace, b)
            score = float(alone.score(task.score_fraction))
            results.append(RunResult(pending[b], alone, score, job.number, size, worker))
        pending = [r for b, r in enumerate(pending) if b not in done]
    return results
