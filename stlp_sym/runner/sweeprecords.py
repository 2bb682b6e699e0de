"""A sweep's results as labelled data: one dataset per run, written as that run's record, and
the sweep's dataset gathered from them along a ``run`` dimension.

A run's dataset holds its score, where it diverged (if it did), its recorded trace (outputs and
targets for every output node, ``L/phi``, ``H/phi``, the weight norm) and its final state; its
coordinates are its ``seed`` and one per swept parameter, so that gathering needs nothing else.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import xarray as xr

from ..errors import StlpError
from ..files import write_atomic
from ..graph.digraph import Digraph
from .sweepbatch import RunResult
from .sweepplan import SweepRun
from .trace import Trace

#: Where a sweep directory keeps its runs' records.
RUNS = "runs"
#: A record's copy of its configuration, as in a directory of ``stlp run --out``.
CONFIG = "config.json"


def node_ids(graph: Digraph, nodes: Iterable[int]) -> list[str]:
    """The graph's own ids of ``nodes`` (its labels, else the indices), as text."""
    labels = graph.labels or range(graph.n)
    return [str(labels[i]) for i in nodes]


def _state_dims(module: ModuleType, graph: Digraph, name: str) -> tuple[str, ...]:
    domain = module.STATES[name]["domain"]
    return {"node": ("node",), "edge": ("arc",)}.get(domain, ())


def run_dataset(result: RunResult, module: ModuleType, graph: Digraph) -> xr.Dataset:
    """One run's dataset (see the module docstring)."""
    trace, divergence = result.trace, result.trace.diverged
    outputs = node_ids(graph, np.flatnonzero(graph.outputs))
    ends = zip(node_ids(graph, graph.src), node_ids(graph, graph.dst), strict=True)
    arcs = [f"{a}->{b}" for a, b in ends]
    data = {
        "score": ((), result.score),
        "diverged": ((), divergence is not None),
        "divergence_t": ((), divergence.t if divergence else np.nan),
        "divergence": ((), str(divergence or "")),
        "divergence_state": ((), divergence.state if divergence else ""),
        "divergence_at": ((), divergence.where if divergence else ""),
        "output": (("time", "output_node"), trace.output.reshape(len(trace.t), -1)),
        "target": (("time", "output_node"), trace.reference.reshape(len(trace.t), -1)),
        "lagrangian": (("time",), trace.lagrangian),
        "hamiltonian": (("time",), trace.hamiltonian),
        "weight_norm": (("time",), trace.weight_norm),
        "batch": ((), result.batch),
        "members": ((), result.members),
        "worker": ((), result.worker),
    }
    for name, value in trace.state.items():
        data[f"final_{name}"] = (_state_dims(module, graph, name), value)
    monitored = _monitored(trace)
    data.update(monitored[0])
    coords = {
        **monitored[1],
        "time": trace.t,
        "output_node": outputs,
        "node": node_ids(graph, range(graph.n)),
        "arc": arcs,
        "run": result.run.index,
        "seed": result.run.seed,
        **result.run.values,
    }
    return xr.Dataset(data, coords=coords)


#: The series every run records (the dataset's own variables); any other is a monitor's.
DEFAULT_SERIES = ("output", "reference", "input", "lagrangian", "hamiltonian", "weight_norm")


def _monitored(trace) -> tuple[dict, dict]:
    """The variables ``monitor_<NAME>`` of the monitors a run was given, each over its own
    times ``time_<NAME>`` (and its nodes or arcs ``<NAME>_entry``), with their coordinates."""
    data, coords = {}, {}
    for name, series in trace.series.items():
        if name in DEFAULT_SERIES:
            continue
        dims = (f"time_{name}",) + ((f"{name}_entry",) if series.dim else ())
        data[f"monitor_{name}"] = (dims, series.values, {"spec": series.spec})
        coords[f"time_{name}"] = series.t
        if series.dim:
            coords[f"{name}_entry"] = [str(label) for label in series.labels]
    return data, coords


def write_dataset(dataset: xr.Dataset, path: Path) -> None:
    """Write ``dataset`` as NetCDF at ``path`` atomically: a killed writer leaves the old file
    or none, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        dataset.to_netcdf(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def record_path(directory: Path, index: int) -> Path:
    """The record of run ``index`` in a sweep directory: a run directory like those of
    ``stlp run --out DIR`` (``config.json`` and ``trace.nc``)."""
    return directory / RUNS / f"run-{index:06d}"


def write_record(directory: Path, result: RunResult, config: dict) -> Path:
    """Write run ``result`` as ``stlp run --out`` writes a run: its ``config.json`` (the
    sweep's ``config`` with the run's seed and parameter values) and then its ``trace.nc``
    (:meth:`~stlp_sym.runner.trace.Trace.write`, provenance included), whose ``meta`` also
    says where the run sits in the sweep. A record counts once its trace is there."""
    run, folder = result.run, record_path(directory, result.run.index)
    folder.mkdir(parents=True, exist_ok=True)
    params = {**config.get("fixed", {}), **run.values}
    flags = {**config, "seed": run.seed, "param": [f"{k}={v!r}" for k, v in params.items()]}
    write_atomic(folder / CONFIG, json.dumps(flags, indent=2, sort_keys=True) + "\n")
    where = {"run": run.index, "seed": run.seed, "params": run.values, "score": result.score}
    where.update(batch=result.batch, members=result.members, worker=result.worker)
    meta = {**result.trace.meta, "params": {**result.trace.meta.get("params", {}), **params}}
    return replace(result.trace, meta={**meta, "sweep": where}).write(folder)


def finished_runs(directory: Path, module: ModuleType, graph: Digraph) -> dict[int, xr.Dataset]:
    """The datasets of the runs whose records a sweep directory holds (a record that cannot be
    read is treated as missing, so the run is done again)."""
    found = {}
    for folder in sorted((directory / RUNS).glob("run-*")):
        try:
            trace = Trace.load(folder)
            where = trace.meta["sweep"]
        except (StlpError, OSError, ValueError, KeyError):
            continue
        run = SweepRun(where["run"], where["seed"], tuple(where["params"].items()))
        result = RunResult(
            run, trace, where["score"], where["batch"], where["members"], where["worker"]
        )
        found[run.index] = run_dataset(result, module, graph)
    return found


def gather(records: Iterable[xr.Dataset], attrs: dict) -> xr.Dataset:
    """The sweep's dataset: the runs' datasets along ``run`` (runs that diverged early are
    padded with NaN after their last record)."""
    records = sorted(records, key=lambda record: int(record["run"]))
    if not records:
        raise StlpError("the sweep finished no run, so there is nothing to gather")
    dataset = xr.concat(records, dim="run", join="outer", coords="different", compat="equals")
    dataset.attrs.update({key: _attr(value) for key, value in attrs.items()})
    return dataset


def _attr(value: object) -> str | int | float:
    """NetCDF attributes are numbers or text: anything else is written as JSON."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    return json.dumps(value, sort_keys=True, default=str)
