"""Signals from a CSV file: one column per node, or one column for every node of a role.

The header is ``t`` and signal columns. A column ``NAME[NODE]`` drives one node, named by its
id in the graph file (a label such as ``in1``) or, when no label matches, by its index
(``u[0]``, ``z[5]``); a column ``NAME`` without a node is broadcast to every node of the
signal's role (``u``: the inputs, ``z``: the outputs), and a column of one node overrides it
there. Values are interpolated linearly in ``t``; ``t`` must start at or before 0 and increase.

>>> from stlp_sym.graph.digraph import Digraph
>>> graph = Digraph.from_spec("complete:3:in=1")
>>> table = parse_signal_rows(["t,u[0],z[2]", "0,1,0", "2,3,4"], graph, "s.csv")
>>> table.end, table.columns["z"]
(2.0, {2: array([0., 4.])})
>>> table.at(np.array([1.0]))["z"].tolist()
[[0.0, 0.0, 2.0]]
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StlpError
from ..graph.digraph import Digraph

#: The node role each signal of a task drives: its name -> the graph's mask attribute.
SIGNAL_ROLES: dict[str, str] = {"u": "inputs", "z": "outputs"}
_COLUMN = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z_0-9]*)(?:\[(?P<node>[^\[\]]+)\])?$")


@dataclass(frozen=True)
class SignalTable:
    """Samples of the signals at the times ``times``: ``columns[name][node]`` per node.

    ``at(times)`` interpolates them to ``(K, n)`` node arrays (zero at the nodes a signal does
    not drive); past the last sample the last values are held.
    """

    source: str
    n: int
    times: np.ndarray
    columns: dict[str, dict[int, np.ndarray]]

    @property
    def end(self) -> float:
        """The time of the last sample."""
        return float(self.times[-1])

    def at(self, times: np.ndarray) -> dict[str, np.ndarray]:
        """The signals at ``times`` (any shape, flattened): ``(K, n)`` arrays."""
        times = np.asarray(times, dtype=float).reshape(-1)
        values = {}
        for name, nodes in self.columns.items():
            values[name] = np.zeros((times.size, self.n))
            for node, samples in nodes.items():
                values[name][:, node] = np.interp(times, self.times, samples)
        return values


def _node_of(text: str, graph: Digraph, where: str) -> int:
    """The node a column names: a label of the graph first, else an index."""
    text = text.strip()
    by_label = [k for k, label in enumerate(graph.labels) if str(label) == text]
    if by_label:
        return by_label[0]
    if text.lstrip("-").isdigit() and 0 <= int(text) < graph.n:
        return int(text)
    shown = ", ".join(map(str, graph.labels[:10])) + (" ..." if graph.n > 10 else "")
    raise StlpError(f"{where}: graph {graph.name!r} has no node {text!r} (its nodes: {shown})")


def _targets(header: list[str], graph: Digraph, source: str) -> list[tuple[str, int | None]]:
    """``(signal, node or None)`` of each column after ``t``, checked against the roles."""
    known = ", ".join(f"{name} (on the {role})" for name, role in SIGNAL_ROLES.items())
    targets = []
    for text in header:
        where = f"{source}, column {text!r}"
        match = _COLUMN.match(text)
        if match is None or match["name"] not in SIGNAL_ROLES:
            raise StlpError(f"{where}: expected NAME or NAME[NODE] with NAME one of {known}")
        name, role = match["name"], SIGNAL_ROLES[match["name"]]
        node = None if match["node"] is None else _node_of(match["node"], graph, where)
        if node is not None and not getattr(graph, role)[node]:
            raise StlpError(
                f"{where}: node {graph.labels[node]!r} is not one of the {role} of graph "
                f"{graph.name!r}, which signal {name} drives"
            )
        targets.append((name, node))
    return targets


def _samples(rows: list[list[str]], header: list[str], source: str) -> np.ndarray:
    """The numbers of the data rows, ``(rows, columns)``; finite, one per column."""
    data = np.empty((len(rows), len(header)))
    for k, row in enumerate(rows):
        line = k + 2
        if len(row) != len(header):
            raise StlpError(f"{source}, line {line}: expected {len(header)} values, got {len(row)}")
        for j, text in enumerate(row):
            try:
                data[k, j] = float(text)
            except ValueError:
                raise StlpError(f"{source}, line {line}: {text!r} is not a number") from None
            if not math.isfinite(data[k, j]):
                raise StlpError(f"{source}, line {line}: {header[j]} = {text} is not finite")
    return data


def _check_times(times: np.ndarray, source: str) -> None:
    if times.size < 2 or np.any(np.diff(times) <= 0):
        raise StlpError(f"{source}: column t must have at least two strictly increasing values")
    if times[0] > 0:
        raise StlpError(
            f"{source}: the data start at t = {times[0]:g}, after the run's start t = 0: "
            "add a row at t = 0"
        )


def _assign(
    targets: list[tuple[str, int | None]], data: np.ndarray, graph: Digraph, source: str
) -> dict[str, dict[int, np.ndarray]]:
    """Each signal's samples per node: broadcast columns first, then one-node columns."""
    columns: dict[str, dict[int, np.ndarray]] = {}
    given: set[tuple[str, int | None]] = set()
    order = sorted(range(len(targets)), key=lambda j: targets[j][1] is not None)
    for j in order:
        name, node = targets[j]
        if (name, node) in given:
            column = name if node is None else f"{name}[{graph.labels[node]}]"
            raise StlpError(f"{source}: the column {column} is given twice")
        given.add((name, node))
        nodes = np.flatnonzero(getattr(graph, SIGNAL_ROLES[name])) if node is None else [node]
        for k in nodes:
            columns.setdefault(name, {})[int(k)] = data[:, j + 1]
    return columns


def parse_signal_rows(lines: Iterable[str], graph: Digraph, source: str) -> SignalTable:
    """A :class:`SignalTable` from the lines of a CSV text (header first) on ``graph``."""
    rows = [row for row in csv.reader(lines) if row]
    header = [h.strip() for h in rows[0]] if rows else []
    if not header or header[0] != "t":
        raise StlpError(f"{source}: the first line must be a header whose first column is t")
    targets = _targets(header[1:], graph, source)
    data = _samples(rows[1:], header, source)
    _check_times(data[:, 0], source)
    columns = _assign(targets, data, graph, source)
    missing = [k for k in np.flatnonzero(graph.outputs) if k not in columns.get("z", {})]
    if missing:
        names = ", ".join(repr(graph.labels[k]) for k in missing[:10])
        raise StlpError(
            f"{source}: no z column for the output node(s) {names}: add z (every output) "
            "or z[NODE] columns"
        )
    return SignalTable(source, graph.n, data[:, 0].copy(), columns)


def read_signal_file(path: str | Path, graph: Digraph) -> SignalTable:
    """The signals of the CSV file ``path`` on ``graph`` (see the module's docstring)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise StlpError(f"cannot read signal file {path}: {error}") from error
    return parse_signal_rows(lines, graph, str(path))
