"""Sweeps: seeds x parameter values of one model on one graph, compiled once, packed into
batches and mapped over a Dask ``distributed`` client.

The module is generated once, here; workers receive its verified text and load it from their
own cache. Runs that differ only in seed and parameter values share a batch (the modules' member
axis). A lost worker costs a retry of its batch; with ``out`` every finished run is written as
a record at once, so an interrupted sweep keeps what finished and a second call with the same
``out`` runs only what is missing. See ``docs/sweeps.md``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

import xarray as xr

from ..cache.store import generate, load
from ..errors import StlpError
from ..files import write_atomic
from ..graph.digraph import Digraph
from ..options import Options, resolved
from .loop import check_params
from .monitors import resolve_all
from .sweepbatch import BatchJob, RunResult, run_batch
from .sweepplan import SweepRun, batch_size, pack, sweep_runs
from .sweeprecords import finished_runs, gather, run_dataset, write_dataset, write_record
from .tasks import make_task

#: The file a sweep directory describes its sweep in; ``stlp sweep --resume`` reads it.
CONFIG = "sweep.json"
#: The sweep's gathered dataset in its directory.
DATASET = "sweep.nc"


def _resolve_model(model: Any, options: Options | None):
    """``(action, options, label)`` of a built-in name, a model file, a model or an action."""
    from ..parse.modelfile import is_model_file, load_model
    from ..symbolic.models import MODELS

    if isinstance(model, str | os.PathLike):
        text = str(model)
        if is_model_file(text):
            model = load_model(text)
        elif text in MODELS:
            model = MODELS[text]
        else:
            raise StlpError(f"unknown model {text!r}; built-in models: {', '.join(MODELS)}")
    if hasattr(model, "build"):
        return model.build(), options or model.options, model.name
    return model, options or Options(), getattr(model, "name", "action")


def _model_reference(model: Any, label: str) -> str:
    """How a sweep's record names its model so that a resume finds it again: a built-in's name,
    a model file's absolute path, else the model's own name."""
    from ..parse.modelfile import is_model_file

    if isinstance(model, str | os.PathLike):
        return str(Path(model).resolve()) if is_model_file(str(model)) else str(model)
    return label


def _graph(graph: Digraph | str) -> Digraph:
    return graph if isinstance(graph, Digraph) else Digraph.from_spec(graph)


def _check_config(out: Path, config: dict) -> None:
    """A sweep directory belongs to one sweep: refuse to mix another one's runs into it."""
    path = out / CONFIG
    if path.exists():
        stored = json.loads(path.read_text())
        if stored != config:
            changed = sorted(
                k for k in config.keys() | stored.keys() if config.get(k) != stored.get(k)
            )
            raise StlpError(
                f"{out} holds another sweep (it differs in {', '.join(changed)}); "
                "use a new --out directory, or --resume it as it is"
            )
    else:
        write_atomic(path, json.dumps(config, indent=2, sort_keys=True) + "\n")


def _jobs(module_path: Path, graph: Digraph, runs: list[SweepRun], size: int, settings) -> list:
    text = module_path.read_text()
    by_seed = make_task(settings["task"], graph, 0, settings["signal_file"]).seeded
    return [
        BatchJob(
            number,
            module_path.name,
            text,
            graph,
            settings["task"],
            settings["signal_file"],
            tuple(sorted(settings["fixed"].items())),
            tuple(batch),
            settings["horizon"],
            settings["dt"],
            settings["record_every"],
            tuple(settings["monitor"]),
        )
        for number, batch in enumerate(pack(runs, size, by_seed))
    ]


def _client(stack: ExitStack, client, workers: int | None):
    """The given client, else a ``LocalCluster`` of ``workers`` processes on the loopback
    address (closed with ``stack``)."""
    if client is not None:
        return client
    from distributed import Client, LocalCluster

    cluster = stack.enter_context(
        LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    )
    return stack.enter_context(Client(cluster))


def _workers(client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def _map(client, jobs: list[BatchJob], on_result: Callable[[RunResult], None]) -> None:
    """Run the jobs on the client, handing each run's result over as its batch finishes; on an
    interrupt, cancel what is left and re-raise."""
    from distributed import as_completed

    futures = [client.submit(run_batch, job, retries=3, pure=False) for job in jobs]
    try:
        for future in as_completed(futures):
            for result in future.result():
                on_result(result)
    except BaseException:
        client.cancel(futures)
        raise


def sweep(
    model_or_action: Any,
    graph: Digraph | str,
    task: str = "tracking-sine",
    seeds: Sequence[int] = (0,),
    params: Mapping[str, Sequence[float]] | None = None,
    options: Options | None = None,
    horizon: float | None = None,
    dt: float = 1e-3,
    client: Any = None,
    *,
    grid: bool = True,
    fixed: Mapping[str, float] | None = None,
    out: str | os.PathLike | None = None,
    workers: int | None = None,
    members: int | None = None,
    signal_file: str | None = None,
    record_every: float = 0.05,
    monitor: Sequence[str] = (),
    on_result: Callable[[RunResult], None] | None = None,
) -> xr.Dataset:
    """Run ``seeds`` x the values of ``params`` and gather the runs into one dataset.

    Parameters
    ----------
    model_or_action : a built-in model's name, a model file, a model, or an action.
    graph : a :class:`Digraph` or a graph spec such as ``"complete:6:in=1"``.
    task : the task every run is driven by (``--task`` of ``stlp run``).
    seeds : the runs' seeds, as ``stlp run --seed`` takes them.
    params : swept parameters: ``{name: [v1, v2, ...]}``, crossed with each other (``grid``)
        or paired in order (``grid=False``), and always crossed with the seeds.
    client : a ``distributed.Client``; by default a ``LocalCluster`` of ``workers`` processes
        (the cores) is started on the loopback address for this sweep.
    fixed : parameter values every run shares (``--param NAME=V``).
    out : a directory: each finished run is written there at once as ``runs/run-NNNNNN/`` (as
        ``stlp run --out`` writes a run: ``config.json``, ``trace.nc``),
        the gathered dataset as ``sweep.nc``; a directory that holds some of the runs of the
        same sweep is resumed (only the missing runs run).
    members : at most this many runs a batch (default: about two batches a worker).
    monitor : monitors recorded in every run besides the default ones (``stlp run
        --monitor``: ``"w@2->1"``, ``"L@nodes:every=10"``, ...), each a variable
        ``monitor_<NAME>`` of the dataset over its own time ``time_<NAME>``.
    on_result : called with each run's :class:`RunResult` as it arrives.

    Returns
    -------
    xarray.Dataset
        Dimension ``run`` with coordinates ``seed`` and one per swept parameter; data
        ``score``, ``diverged`` and where (``divergence_t``, ``divergence_state``,
        ``divergence_at``, the message ``divergence``), the recorded traces (``output``,
        ``target`` by output node, ``lagrangian``, ``hamiltonian``, ``weight_norm`` over
        ``time``; ``monitor_<NAME>``), the final states (``final_<state>``) and where each run
        ran (``batch``, ``members``, ``worker``).
    """
    runs = sweep_runs(seeds, params, grid)
    action, options, label = _resolve_model(model_or_action, options)
    spec, options, graph = graph, resolved(options), _graph(graph)
    path = generate(action, options)
    module = load(path)
    check_params(module, {**(fixed or {}), **runs[0].values}, dt)
    plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
    resolve_all(list(monitor), module, graph, plan, 1)  # a bad spec fails here, not on workers
    settings = {
        "task": task,
        "signal_file": None if signal_file is None else str(signal_file),
        "fixed": {name: float(value) for name, value in (fixed or {}).items()},
        "horizon": horizon,
        "dt": float(dt),
        "record_every": float(record_every),
        "monitor": [str(spec) for spec in monitor],
    }
    attrs = {
        "model": _model_reference(model_or_action, label),
        "options": asdict(options),
        "cache_key": module._KEY,
        "graph": spec if isinstance(spec, str) else graph.name,
        **settings,
        "seeds": [int(seed) for seed in seeds],
        "params": {name: list(map(float, values)) for name, values in (params or {}).items()},
        "grid": grid,
    }
    return _execute(
        module, path, graph, runs, settings, attrs, client, workers, members, out, on_result
    )


def _execute(module, path, graph, runs, settings, attrs, client, workers, members, out, on_result):
    directory = None if out is None else Path(out)
    records = {}
    if directory is not None:
        _check_config(directory, json.loads(json.dumps(attrs, default=str)))
        found = finished_runs(directory, module, graph)
        records = {i: r for i, r in found.items() if i < len(runs)}
    missing = [run for run in runs if run.index not in records]

    def keep(result: RunResult) -> None:
        record = run_dataset(result, module, graph)
        if directory is not None:
            write_record(directory, result, attrs)
        records[result.run.index] = record
        if on_result is not None:
            on_result(result)

    try:
        if missing:
            with ExitStack() as stack:
                live = _client(stack, client, workers)
                size = members or batch_size(len(missing), _workers(live))
                _map(live, _jobs(path, graph, missing, size, settings), keep)
    finally:  # also on an interrupt: what finished is written
        dataset = gather(records.values(), attrs) if records else None
        if dataset is not None and directory is not None:
            write_dataset(dataset, directory / DATASET)
    return gather(records.values(), attrs) if dataset is None else dataset


def resume(out: str | os.PathLike, client: Any = None, workers: int | None = None) -> xr.Dataset:
    """Finish the sweep of a directory from its ``sweep.json``: only the missing runs run."""
    directory = Path(out)
    try:
        config = json.loads((directory / CONFIG).read_text())
    except (OSError, ValueError):
        raise StlpError(f"{directory} is not a sweep directory (no readable {CONFIG})") from None
    return sweep(
        config["model"],
        config["graph"],
        config["task"],
        config["seeds"],
        config["params"],
        Options(**config["options"]),
        config["horizon"],
        config["dt"],
        client,
        grid=config["grid"],
        fixed=config["fixed"],
        out=directory,
        workers=workers,
        signal_file=config["signal_file"],
        record_every=config["record_every"],
        monitor=config.get("monitor", ()),
    )
