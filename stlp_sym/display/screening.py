"""The demo's screening of the tracking models other than ``stlp``, in a worker process when
that pays: when their numba modules are new (their kernels will be compiled) and a second core
is idle, their generation, compilation and screening run beside the demo's own work (deriving,
verifying and screening ``stlp``). The scores are the same either way: the same code on the
same numbers.

The worker is a fresh interpreter (``python -P -c``) importing this very package, not a
:mod:`multiprocessing` child, so nothing of the caller's ``__main__`` runs again in it; the
job goes to its standard input and the answer comes back on its standard output, as JSON.
"""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

from .. import errors
from ..cache.store import build, cached_path
from ..graph.digraph import Digraph
from ..options import Options
from .demo import SCREEN_HORIZON, screen

_WORKER = "from stlp_sym.display.screening import serve; serve()"

Scores = dict[tuple[str, str], float]


def screen_candidates(
    candidates: Mapping[str, Options], graph_spec: str, tasks: list[str], dt: float, seed: int
) -> tuple[Scores, list[tuple[str, type[Warning]]]]:
    """:func:`~stlp_sym.display.demo.screen` of the built-in models named in ``candidates``,
    each built under its options (resolved), on the graph of ``graph_spec``: the scores, and
    the warnings raised, as ``(message, category)``."""
    from ..symbolic.models import MODELS

    with warnings.catch_warnings(record=True) as caught:
        modules = {name: build(MODELS[name].build(), o) for name, o in candidates.items()}
        scores = screen(modules, Digraph.from_spec(graph_spec), tasks, dt, seed)
    return scores, [(str(w.message), w.category) for w in caught]


def serve() -> None:
    """The worker's side: a job (:meth:`Screening.job`) from standard input, the scores and
    the warnings' messages and category names on standard output, on one line."""
    job = json.loads(sys.stdin.read())
    candidates = {name: Options(**options) for name, options in job["candidates"].items()}
    scores, caught = screen_candidates(
        candidates, job["graph"], job["tasks"], job["dt"], job["seed"]
    )
    answer = {
        "scores": [[model, task, score] for (model, task), score in scores.items()],
        "warnings": [[message, category.__name__] for message, category in caught],
    }
    sys.stdout.write("\n" + json.dumps(answer) + "\n")


def warning_category(name: str) -> type[Warning]:
    """The warning class of that name: the package's own or a built-in one (else
    ``UserWarning``)."""
    found = getattr(errors, name, None) or getattr(builtins, name, None)
    return found if isinstance(found, type) and issubclass(found, Warning) else UserWarning


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


def start_worker(job: str) -> subprocess.Popen:
    """A fresh interpreter running :func:`serve` on ``job``, importing this package from where
    this process imported it (``-P``: not from the working directory)."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    worker = subprocess.Popen(
        [sys.executable, "-P", "-c", _WORKER],
        # its errors are not shown: a failed worker's screening is run here again
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    worker.stdin.write(job)  # a few hundred bytes: the pipe takes them without waiting
    worker.stdin.close()
    return worker


@dataclass
class Screening:
    """The screening of the tracking models other than ``stlp`` (``candidates``: their
    options, resolved) on the graph of ``graph_spec``: started by :meth:`start`, in a worker
    when that pays (see the module docstring), and collected by :meth:`finish`."""

    candidates: dict[str, Options]
    graph_spec: str
    dt: float
    seed: int
    worker: subprocess.Popen | None = None

    @classmethod
    def start(
        cls, candidates: Mapping[str, Options], graph_spec: str, dt: float, seed: int
    ) -> Screening:
        """The screening, under way in a worker when that pays."""
        screening = cls(dict(candidates), graph_spec, dt, seed)
        # this process needs one core, the worker another: both about idle (on a busy
        # machine the two would share a core, and the worker's start-up is a loss)
        if idle_cores() > 1.5 and compiles_afresh(screening.candidates):
            screening.worker = start_worker(screening.job())
        return screening

    def job(self) -> str:
        """The worker's job, as JSON."""
        return json.dumps(
            {
                "candidates": {name: asdict(o) for name, o in self.candidates.items()},
                "graph": self.graph_spec,
                "tasks": list(SCREEN_HORIZON),
                "dt": self.dt,
                "seed": self.seed,
            }
        )

    def finish(self, stlp_module: ModuleType) -> tuple[dict[str, ModuleType], Scores]:
        """The modules (``stlp_module`` as ``stlp``; the candidates built, from the cache when
        the worker made them) and every score, model by model within each task."""
        tasks, graph = list(SCREEN_HORIZON), Digraph.from_spec(self.graph_spec)
        if self.worker is None:
            modules = {"stlp": stlp_module} | self._built()
            return modules, screen(modules, graph, tasks, self.dt, self.seed)
        scores = screen({"stlp": stlp_module}, graph, tasks, self.dt, self.seed)
        found, caught = self._collected(tasks)
        for message, category in caught:
            warnings.warn(message, category, stacklevel=2)
        modules = {"stlp": stlp_module} | self._built()  # the worker's, from the cache
        scores |= found
        return modules, {(name, task): scores[name, task] for task in tasks for name in modules}

    def _collected(self, tasks: list[str]) -> tuple[Scores, list[tuple[str, type[Warning]]]]:
        """The worker's answer; when it failed (killed, out of memory, an error), the screening
        run here instead (which raises the error, if it is one)."""
        with self.worker.stdout as stream:
            out = stream.read()
        if self.worker.wait() != 0:
            return screen_candidates(self.candidates, self.graph_spec, tasks, self.dt, self.seed)
        answer = json.loads(out.strip().splitlines()[-1])
        scores = {(model, task): float(score) for model, task, score in answer["scores"]}
        return scores, [(text, warning_category(name)) for text, name in answer["warnings"]]

    def _built(self) -> dict[str, ModuleType]:
        from ..symbolic.models import MODELS

        return {name: build(MODELS[name].build(), o) for name, o in self.candidates.items()}
