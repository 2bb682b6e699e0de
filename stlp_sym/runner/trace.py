"""What a run recorded: the :class:`Trace`, and where a run diverged (:class:`Divergence`)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from ..errors import StlpError
from ..files import atomic_stream, write_atomic
from ..graph.digraph import Digraph
from .monitors import DEFAULT_NAMES

#: The file a trace is written to in a directory (``stlp run --out DIR``).
TRACE_FILE = "trace.nc"
#: xarray's NetCDF engine: scipy's NetCDF-3 writer (no system library needed)
ENGINE = "scipy"
#: The provenance keys of a trace's ``attrs`` (``Trace.meta``), in this order.
PROVENANCE = ("model", "options", "cache_key", "graph", "params", "dt", "seed", "versions")
#: A run diverges when any state exceeds this in absolute value (docs/theory.md section 2).
DIVERGENCE = 1e6


@dataclass(frozen=True)
class Divergence:
    """Where a run blew up: the time, the state (and its field), the node or arc, and the
    member of a batch (None unbatched). ``index`` numbers the node (the arc, in the plan's
    order); ``where`` names it by the graph's ids (those of its file)."""

    t: float
    state: str
    index: int
    value: float
    where: str = ""
    member: int | None = None

    def __str__(self) -> str:
        member = "" if self.member is None else f"member {self.member}: "
        size = f"|value| = {abs(self.value):.6g} exceeds {DIVERGENCE:g}"
        if not math.isfinite(self.value):
            size = (
                f"value {self.value} is not finite (an overflow, a division by zero or a "
                "function outside its domain)"
            )
        where = self.where or f"{self.state}[{self.index}]"
        return f"diverged at t = {self.t:.4g}: {member}{where}: {size}"


def locate(module: ModuleType, graph: Digraph, plan: dict, state: str, index: int) -> str:
    """``field w (state w_d1) on arc 3 -> 1``, ``field x on node 'hub'`` or ``global field g``
    (``index`` in the plan's arc order), nodes named by the graph's ids (a graph file's own)."""
    info = module.STATES[state]
    name = info["field"] if info["field"] == state else f"{info['field']} (state {state})"
    if info["domain"] == "edge":
        ends = (node_id(graph, plan["src"][index]), node_id(graph, plan["dst"][index]))
        return f"field {name} on arc {ends[0]} -> {ends[1]}"
    if info["domain"] == "global":
        return f"global field {name}"
    return f"field {name} on node {node_id(graph, index)}"


def node_id(graph: Digraph, node: int) -> str:
    """The id of node number ``node`` as the graph file spells it (quoted when a string)."""
    label = graph.labels[int(node)]
    return repr(label) if isinstance(label, str) else str(label)


@dataclass
class Series:
    """What one monitor recorded: times ``t``, ``values`` (time first, then the member axis of a
    batch, then the entries), the monitor's ``spec``, ``every`` (steps between records), the
    entries' dimension ``dim`` (``node``, ``arc``, ``NAME_node``, ``NAME_arc``; None for a
    total) and their ``labels`` (the graph's node ids, or ``SRC->DST`` for arcs)."""

    t: np.ndarray
    values: np.ndarray
    spec: str
    every: int
    dim: str | None = None
    labels: tuple = ()


@dataclass
class Trace:
    """What a run recorded: one :class:`Series` per monitor (``series``).

    ``output`` and ``reference`` have one column per output node; ``lagrangian`` and
    ``hamiltonian`` are ``L/phi`` and ``H/phi`` for normalised modules, ``weight_norm`` the
    norm of the weights, ``t`` their times; ``state`` is the last state that did not diverge
    (the first state of a resumed run, ``run(..., state=trace.state)``). A batch
    (``run(..., seed=[...])``) has a member axis after time in every series (``output`` is
    ``(records, B, outputs)``) and first in ``state``. ``meta`` is the provenance (model,
    options, cache key, graph, parameters, ``dt``, seed, versions); ``steps`` the steps taken;
    ``interrupted`` says that the run was stopped before its end.
    """

    series: dict[str, Series]
    state: dict[str, np.ndarray]
    seconds_per_step: float
    diverged: Divergence | None = None
    meta: dict[str, object] = field(default_factory=dict)
    steps: int = 0
    interrupted: bool = False
    members: int | None = None

    def _repr_html_(self) -> str:
        """A summary table and a small figure of the run, for notebooks."""
        from .summary import trace_html

        return trace_html(self)

    def _values(self, name: str) -> np.ndarray:
        if name in self.series:
            return self.series[name].values
        shape = (len(self.t),) + (() if self.members is None else (self.members,))
        return np.full((*shape, 0) if name in ("output", "reference") else shape, np.nan)

    @property
    def t(self) -> np.ndarray:
        """Times of the default records (those of ``output``, ``lagrangian``, ...)."""
        for name in DEFAULT_NAMES:
            if name in self.series:
                return self.series[name].t
        return next(iter(self.series.values())).t if self.series else np.zeros(0)

    output = property(lambda self: self._values("output"), doc="The observed outputs.")
    reference = property(lambda self: self._values("reference"), doc="Their targets.")
    lagrangian = property(lambda self: self._values("lagrangian"), doc="L (total).")
    hamiltonian = property(lambda self: self._values("hamiltonian"), doc="H (total).")
    weight_norm = property(lambda self: self._values("weight_norm"), doc="Norm of the weights.")

    @property
    def inputs(self) -> np.ndarray | None:
        """The input signal at the input nodes, ``(records, inputs)`` (the same for every
        member of a batch), or None when the run has no input signal."""
        if "input" not in self.series:
            return None
        values = self.series["input"].values
        return values[:, 0] if self.members is not None else values

    def plot(self, title: str = "", member: int = 0, window: float | None = None):
        """The run as a :class:`matplotlib.figure.Figure`: one panel per output node (its
        field, its target and the input), the tracking error's moving average (log scale),
        ``L/phi`` and ``H/phi``, and the weights' norm against time (see
        :func:`~stlp_sym.runner.figures.trace_figure`). Save it with ``.savefig(path)``; a
        notebook shows it. ``member`` picks a member of a batch."""
        from .figures import trace_figure

        return trace_figure(self, title, member, window)

    @property
    def scored(self) -> bool:
        """True when the run recorded an observed output and its target (it has a score)."""
        return "output" in self.series and "reference" in self.series

    def score(self, fraction: float = 0.2) -> float | np.ndarray:
        """Mean of ``(output - target)^2 / var(target)`` over the last ``fraction`` of the
        horizon: a float, or one per member of a batch (``inf`` for a run, or the member, that
        diverged; a batch stops at its first divergence, so the others are scored up to there).

        Raises
        ------
        StlpError
            When the model observes no output or no target (:attr:`scored` is False).
        """
        if not self.scored:
            raise StlpError(
                "this run has no score: its model names no output field and target signal "
                "(model files: [run] output and target)"
            )
        if self.members is None:
            if self.diverged is not None or len(self.t) < 2:
                return math.inf
            return _score(self.t, self.output, self.reference, fraction)
        scores = np.array(
            [
                _score(self.t, self.output[:, b], self.reference[:, b], fraction)
                if len(self.t) >= 2
                else math.inf
                for b in range(self.members)
            ]
        )
        if self.diverged is not None:
            scores[self.diverged.member] = math.inf
        return scores

    def save(self, path: Path) -> None:
        """Write the trace to ``path`` (.npz), atomically: ``t``, ``output``, ``reference``,
        ``lagrangian``, ``hamiltonian``, ``weight_norm``, each other monitor ``NAME`` with its
        times ``NAME_t``, the final state ``state_NAME`` and ``diverged``."""
        arrays = {
            "t": self.t,
            **{name: self._values(name) for name in DEFAULT_NAMES},
            **{
                key: value
                for name, series in self.series.items()
                if name not in DEFAULT_NAMES
                for key, value in ((name, series.values), (f"{name}_t", series.t))
            },
            **{f"state_{name}": value for name, value in self.state.items()},
            "diverged": np.array(str(self.diverged or "")),
        }
        with atomic_stream(path, binary=True) as stream:
            np.savez_compressed(stream, **arrays)

    def to_xarray(self):
        """The trace as an ``xarray.Dataset``: one variable per monitor with dimensions
        ``time`` (``time_NAME`` for a monitor of another interval), ``member`` (a batch) and
        ``node``/``arc`` (coordinates: the graph's node ids, ``SRC->DST`` for arcs), the final
        state as ``state_NAME``, and the provenance in ``attrs`` (``model``, ``options``,
        ``cache_key``, ``graph``, ``params``, ``dt``, ``seed``, ``versions``; dictionaries and
        lists JSON-encoded, so that NetCDF keeps them)."""
        return _dataset(self)

    def write(self, directory: Path) -> Path:
        """Write ``trace.nc`` (NetCDF, :meth:`to_xarray`) into ``directory``, atomically;
        returns its path."""
        path = Path(directory) / TRACE_FILE
        write_atomic(path, bytes(self.to_xarray().to_netcdf(None, engine=ENGINE)))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        """The trace written by :meth:`write` (or ``stlp run --out DIR``) into ``path``, a
        directory or its ``trace.nc``; equal to the one written, to the bit."""
        path = Path(path)
        return cls(**_read(path / TRACE_FILE if path.is_dir() else path))


def _score(t: np.ndarray, output: np.ndarray, reference: np.ndarray, fraction: float) -> float:
    window = t >= t[-1] * (1 - fraction)
    error = np.mean((output[window] - reference[window]) ** 2)
    variance = np.var(reference[window])
    return float(error / variance) if variance > 0 else float(error)


def _attr(value: object) -> str | float | int:
    """A NetCDF attribute: numbers and strings as they are, anything else as JSON."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value
    return json.dumps(value, default=_plain)


def _plain(value: object) -> object:
    """NumPy scalars and arrays as Python numbers and lists (for JSON)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"cannot record {type(value).__name__} {value!r} in a trace's attributes")


def _variable(series: Series, name: str, members: tuple, every: int) -> tuple:
    """``(time dimension, (dims, values, attrs))`` of a series; ``every``: the interval of
    the default records, whose times are ``time``."""
    time = "time" if series.every == every else f"time_{name}"
    dims = (time, *members, *((series.dim,) if series.dim else ()))
    attrs = {"monitor": series.spec, "every": series.every}
    return time, (dims, series.values, attrs)


def _dataset(trace: Trace):
    """The ``xarray.Dataset`` of :meth:`Trace.to_xarray`."""
    import xarray as xr

    members = () if trace.members is None else ("member",)
    data, coords = {}, {}
    every = next((trace.series[n].every for n in DEFAULT_NAMES if n in trace.series), 0)
    for name, series in trace.series.items():
        time, data[name] = _variable(series, name, members, every)
        coords[time] = series.t
        if series.dim:
            coords[series.dim] = list(series.labels)
    for name, value in trace.state.items():
        data[f"state_{name}"] = ([*members, f"state_{name}_entry"][-value.ndim :], value)
    if members:
        coords["member"] = np.arange(trace.members)
    attrs = {key: _attr(trace.meta.get(key)) for key in PROVENANCE if key in trace.meta}
    attrs.update(
        seconds_per_step=trace.seconds_per_step,
        steps=trace.steps,
        interrupted=int(trace.interrupted),
        diverged=json.dumps(None if trace.diverged is None else asdict(trace.diverged)),
        extra=json.dumps({k: v for k, v in trace.meta.items() if k not in PROVENANCE}),
        series=json.dumps(list(trace.series)),
    )
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _meta(attrs: dict) -> dict:
    """``Trace.meta`` from a dataset's attributes (JSON decoded where :func:`_attr` encoded)."""
    meta = {}
    for key in PROVENANCE:
        if key not in attrs:
            continue
        value = attrs[key]
        if isinstance(value, str) and key not in ("model", "cache_key"):
            value = json.loads(value)
        meta[key] = value.item() if isinstance(value, np.generic) else value
    meta.update(json.loads(attrs.get("extra", "{}")))
    return meta


def _position(order: list[str]):
    """Sort key: a name's place in ``order`` (names not in it after, alphabetically)."""
    return lambda name: (order.index(name), "") if name in order else (len(order), name)


def _read(path: Path) -> dict:
    """The keyword arguments of the :class:`Trace` written to ``path``."""
    import xarray as xr

    if not path.is_file():
        raise StlpError(f"{path}: no trace there (stlp run --out DIR writes DIR/{TRACE_FILE})")
    with xr.open_dataset(path, engine=ENGINE) as dataset:
        dataset = dataset.load()
    series, state = {}, {}
    for name, variable in dataset.data_vars.items():
        if name.startswith("state_"):
            state[name[len("state_") :]] = variable.values
            continue
        dim = variable.dims[-1] if variable.dims[-1] not in ("time", "member") else None
        dim = None if dim is not None and dim.startswith("time") else dim
        series[name] = Series(
            dataset[variable.dims[0]].values,
            variable.values,
            str(variable.attrs["monitor"]),
            int(variable.attrs["every"]),
            dim,
            tuple(dataset[dim].values.tolist()) if dim else (),
        )
    attrs = dataset.attrs
    diverged = json.loads(attrs["diverged"])
    order = json.loads(attrs.get("series", "[]"))
    return {
        "series": {name: series[name] for name in sorted(series, key=_position(order))},
        "state": state,
        "seconds_per_step": float(attrs["seconds_per_step"]),
        "diverged": None if diverged is None else Divergence(**diverged),
        "meta": _meta(attrs),
        "steps": int(attrs["steps"]),
        "interrupted": bool(attrs["interrupted"]),
        "members": int(dataset.sizes["member"]) if "member" in dataset.sizes else None,
    }
