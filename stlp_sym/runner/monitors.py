"""Monitors: what a run records, on which nodes or arcs, and how often.

A monitor is written ``[NAME=]WHAT[@WHERE][:every=N]`` (docs/cli.md):

- ``WHAT`` is a state of the module (a field such as ``x`` or ``w``, or a derivative state
  ``w_d1``), a signal (``z``, ``u``), ``L`` or ``H`` (the Lagrangian or the Hamiltonian divided by
  the dissipation factor, as the module's ``energies``), or ``|S1,S2,...|`` (the Euclidean norm
  of the states together, over all their entries);
- ``WHERE`` chooses the entries: ``nodes``, ``arcs``, ``inputs``, ``outputs``, a list of node
  ids ``0,3`` or of arcs ``2->1,3->1`` (the graph's own ids); without it, a state or signal is
  recorded everywhere it lives and ``L``/``H`` are recorded as totals over nodes and arcs;
- ``every=N`` records every ``N`` steps (default: the run's record interval);
- ``NAME=`` names the record in the trace (default: ``WHAT``, ``L_node``/``L_arc`` for an
  energy by node or arc, ``norm_S1_S2`` for a norm; a repeated name gets ``_2``, ``_3``, ...).

>>> Monitor.parse("w@2->1,0->1:every=50")
Monitor(what='w', where='2->1,0->1', every=50, name=None)
>>> str(Monitor.parse("L@nodes"))
'L@nodes'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from types import ModuleType

import numpy as np

from ..errors import StlpError
from ..graph.digraph import Digraph
from .roles import observed

_SPEC = re.compile(
    r"(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)=)?(?P<what>\|[^|]+\||[^@:]+)(?:@(?P<where>[^:]+))?(?::(?P<options>.*))?"
)
_ENERGIES = ("L", "H")
#: The names of the monitors every run records (see :func:`default_monitors`).
DEFAULT_NAMES = ("output", "reference", "lagrangian", "hamiltonian", "weight_norm")


@dataclass(frozen=True)
class Monitor:
    """One monitor as written: ``what``, ``where`` (None: everywhere, or the total of an
    energy), ``every`` (steps; None: the run's record interval) and the ``name`` of its
    record in the trace (None: derived from ``what`` and ``where``)."""

    what: str
    where: str | None = None
    every: int | None = None
    name: str | None = None

    @classmethod
    def parse(cls, text: str) -> Monitor:
        """Read ``WHAT[@WHERE][:every=N]``; a malformed spec is an :class:`StlpError`."""
        match = _SPEC.fullmatch(text.strip())
        if match is None or not match["what"].strip():
            raise StlpError(
                f"--monitor {text!r}: expected [NAME=]WHAT[@WHERE][:every=N], e.g. x@0,3"
            )
        every = None
        for option in filter(None, (match["options"] or "").split(",")):
            key, _, value = option.partition("=")
            if key.strip() != "every" or not value.strip().isdigit() or int(value) < 1:
                raise StlpError(
                    f"--monitor {text!r}: option {option!r} is not every=N with N a whole "
                    "number of steps >= 1"
                )
            every = int(value)
        where = match["where"].strip() if match["where"] else None
        return cls(match["what"].strip(), where or None, every, match["name"])

    def __str__(self) -> str:
        text = (f"{self.name}=" if self.name else "") + self.what
        text += f"@{self.where}" if self.where else ""
        return text + (f":every={self.every}" if self.every else "")

    def key(self) -> str:
        """The record's name: ``name``, or ``what`` (``norm_w`` for ``|w|``), with ``_node`` or
        ``_arc`` for an energy by node or arc (a repeated name gets ``_2``, ... in a run)."""
        if self.name:
            return self.name
        if self.what.startswith("|"):
            return "norm_" + re.sub(r"[^A-Za-z0-9_]+", "_", self.what.strip("|"))
        if self.what in _ENERGIES and self.where:
            return f"{self.what}_{'arc' if self.where == 'arcs' or '->' in self.where else 'node'}"
        return self.what


@dataclass
class Resolved:
    """A monitor on a concrete module and graph: what the run loop records (``entry``) and how
    the trace names and places it (``dim``: ``node``/``arc`` for all of them, ``NAME_node`` or
    ``NAME_arc`` for a choice, None for a total; ``labels``: the graph's ids of the entries)."""

    name: str
    spec: str
    every: int
    source: str
    target: str | list[str]
    index: np.ndarray | None
    domain: str | None
    dim: str | None
    labels: tuple = field(default_factory=tuple)

    def entry(self, rows: int, lead: tuple[int, ...], stride: int) -> dict:
        """The run loop's monitor dict with ``rows`` preallocated rows (``lead``: the member
        axis of a batch, ``()`` for one run; ``stride``: steps between two record points)."""
        width = () if self.domain is None else (len(self.labels),)
        return {
            "source": self.source,
            "name": self.target,
            "index": self.index,
            "every": self.every // stride,
            "t": np.zeros(rows),
            "values": np.full((rows, *lead, *width), np.nan),
            "count": 0,
        }


def observed_names(module: ModuleType) -> tuple[str | None, str | None]:
    """The module's observed output state and its target signal (``module.OBSERVED``; None:
    not observed)."""
    names = observed(module)
    return names["output"], names["target"]


def input_signal(module: ModuleType) -> str | None:
    """The module's input signal: the first of its signals whose role is ``input``."""
    signals = getattr(module, "SIGNALS", {})
    return next((name for name, role in signals.items() if role == "input"), None)


def default_monitors(module: ModuleType) -> list[Monitor]:
    """What every run records: the observed output and its target on every output node, the
    input signal on every input node, ``L`` and ``H`` (totals) and the norm of the weights (the
    edge fields' values) when there are weights."""
    output, target = observed_names(module)
    source = input_signal(module)
    weights = [
        name
        for name, info in module.STATES.items()
        if info["domain"] == "edge" and info["order"] == 0
    ]
    found = [
        Monitor(output, "outputs", name="output") if output else None,
        Monitor(target, "outputs", name="reference") if target else None,
        Monitor(source, "inputs", name="input") if source else None,
        Monitor("L", name="lagrangian"),
        Monitor("H", name="hamiltonian"),
        Monitor(f"|{','.join(weights)}|", name="weight_norm") if weights else None,
    ]
    return [monitor for monitor in found if monitor is not None]


def _node_index(where: str, graph: Digraph, monitor: Monitor) -> np.ndarray:
    if where in ("inputs", "outputs"):
        return np.flatnonzero(graph.inputs if where == "inputs" else graph.outputs)
    ids = {str(label): i for i, label in enumerate(graph.labels)}
    index = []
    for item in where.split(","):
        if item.strip() not in ids:
            raise StlpError(
                f"--monitor {monitor}: {item.strip()!r} is not a node of graph {graph.name!r} "
                f"(its ids: {', '.join(list(ids)[:8])}{', ...' if len(ids) > 8 else ''})"
            )
        index.append(ids[item.strip()])
    return np.array(index, dtype=np.int64)


def _arc_index(where: str, graph: Digraph, plan: dict, monitor: Monitor) -> np.ndarray:
    """Positions in the plan's arc order of the arcs ``a->b,...`` (graph ids)."""
    ids = {str(label): i for i, label in enumerate(graph.labels)}
    position = {
        (int(s), int(d)): k for k, (s, d) in enumerate(zip(plan["src"], plan["dst"], strict=True))
    }
    index = []
    for item in where.split(","):
        tail, _, head = item.partition("->")
        arc = (ids.get(tail.strip()), ids.get(head.strip()))
        if arc not in position:
            raise StlpError(
                f"--monitor {monitor}: {item.strip()!r} is not an arc of graph {graph.name!r} "
                "(write arcs as SRC->DST with the graph's node ids)"
            )
        index.append(position[arc])
    return np.array(index, dtype=np.int64)


def _where(
    monitor: Monitor, domain: str, graph: Digraph, plan: dict
) -> tuple[np.ndarray | None, str]:
    """The entries of a ``domain`` (``node`` or ``arc``) array chosen by ``monitor.where``,
    None for all of them, and the dimension's name."""
    where = monitor.where
    if where in (None, f"{domain}s"):
        return None, domain
    if where in ("nodes", "arcs"):
        raise StlpError(f"--monitor {monitor}: {monitor.what} lives on {domain}s, not {where}")
    is_arc = "->" in where
    if is_arc != (domain == "arc") or (domain == "arc" and where in ("inputs", "outputs")):
        raise StlpError(
            f"--monitor {monitor}: {monitor.what} lives on {domain}s; choose "
            + ("arcs as SRC->DST" if domain == "arc" else "nodes by id, inputs or outputs")
        )
    if domain == "arc":
        return _arc_index(where, graph, plan, monitor), f"{monitor.key()}_arc"
    return _node_index(where, graph, monitor), f"{monitor.key()}_node"


def _labels(domain: str, index: np.ndarray | None, graph: Digraph, plan: dict) -> tuple:
    if domain == "node":
        chosen = range(graph.n) if index is None else index
        return tuple(graph.labels[int(i)] for i in chosen)
    chosen = range(plan["m"]) if index is None else index
    names = graph.labels
    return tuple(f"{names[plan['src'][k]]}->{names[plan['dst'][k]]}" for k in chosen)


def resolve(
    monitor: Monitor, module: ModuleType, graph: Digraph, plan: dict, every: int
) -> Resolved:
    """``monitor`` on ``module`` and ``graph``; ``every``: the run's record interval (steps)."""
    what, steps = monitor.what, monitor.every or every
    spec = str(replace(monitor, name=None))
    common = {"name": monitor.key(), "spec": spec, "every": steps}
    if what.startswith("|"):
        names = [name.strip() for name in what.strip("|").split(",")]
        _check_names(monitor, module, names, states_only=True)
        if monitor.where:
            raise StlpError(f"--monitor {monitor}: a norm covers all entries; drop @WHERE")
        return Resolved(**common, source="norm", target=names, index=None, domain=None, dim=None)
    if what in _ENERGIES:
        if monitor.where is None:
            return Resolved(
                **common, source="energy", target=what, index=None, domain=None, dim=None
            )
        domain = "arc" if monitor.where == "arcs" or "->" in monitor.where else "node"
        target, source = f"{what}_{'edge' if domain == 'arc' else 'node'}", "energy"
    else:
        _check_names(monitor, module, [what], states_only=False)
        source = "state" if what in module.STATES else "signal"
        target = what
        domain = "arc" if source == "state" and module.STATES[what]["domain"] == "edge" else "node"
    index, dim = _where(monitor, domain, graph, plan)
    labels = _labels(domain, index, graph, plan)
    return Resolved(
        **common, source=source, target=target, index=index, domain=domain, dim=dim, labels=labels
    )


def _check_names(monitor: Monitor, module: ModuleType, names: list[str], states_only: bool):
    known = list(module.STATES) + ([] if states_only else list(module.SIGNALS))
    for name in names:
        if name not in known:
            extra = "" if states_only else ", a signal, L or H"
            raise StlpError(
                f"--monitor {monitor}: {name!r} is not a state{extra} of this model; "
                f"its states: {', '.join(module.STATES)}"
                + ("" if states_only else f"; its signals: {', '.join(module.SIGNALS) or 'none'}")
            )


def resolve_all(
    monitors: list[Monitor | str], module: ModuleType, graph: Digraph, plan: dict, every: int
) -> list[Resolved]:
    """The default monitors and ``monitors`` (specs or :class:`Monitor`) resolved, with
    distinct names (a repeated name gets ``_2``, ``_3``, ...)."""
    given = [Monitor.parse(m) if isinstance(m, str) else m for m in monitors]
    resolved, seen = [], set()
    for monitor in [*default_monitors(module), *given]:
        name, k = monitor.key(), 2
        while name in seen:
            name, k = f"{monitor.key()}_{k}", k + 1
        seen.add(name)
        resolved.append(resolve(replace(monitor, name=name), module, graph, plan, every))
    return resolved


def base_stride(resolved: list[Resolved]) -> int:
    """Steps between two record points: the greatest common divisor of the intervals."""
    return math.gcd(*(monitor.every for monitor in resolved))
