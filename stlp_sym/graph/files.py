"""Graph files: CSV/TSV edge lists, JSON and GraphML, read into a :class:`~stlp_sym.graph.Digraph`.

Formats (chosen by the file's suffix, or ``format=``):

- ``.csv`` / ``.tsv``: one arc per row, ``src,dst`` (an optional header names the columns
  ``src,dst``, ``source,target`` or ``from,to``; other columns are ignored). Lines starting
  with ``#`` are comments, except the role lines ``# inputs: 0, 1`` and ``# outputs: 5``.
  A node table ``<stem>.nodes.csv`` (``.tsv``) beside the file, or given as ``nodes=``, has
  the columns ``node`` (or ``id``) and ``role`` (``input``, ``output``, ``hidden`` or empty);
  it may also list nodes that no arc touches.
- ``.json``: ``{"nodes": [{"id": 0, "role": "input"}, ...], "arcs": [[0, 1], ...]}``, or
  networkx's node-link JSON (``"links"`` of ``{"source": ..., "target": ...}``); ``"nodes"``
  may be omitted (then the arcs define the nodes), and ``"inputs"`` / ``"outputs"`` may list
  node ids.
- ``.graphml``: read by networkx; a directed graph whose node attribute ``role`` gives roles.

Node ids are integers or strings; ids that all read as non-negative integers are integers.
Nodes are numbered in sorted id order and the ids are kept as the graph's ``labels``. The flags
``inputs=`` / ``outputs=`` (node ids) replace the file's inputs / outputs. Nothing in a file is
evaluated; a bad row, key or id is a :class:`~stlp_sym.errors.GraphError` naming the file and
the line (or JSON entry).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "net.csv"
>>> _ = path.write_text("# inputs: 0\\n# outputs: 2\\nsrc,dst\\n0,1\\n1,2\\n0,2\\n")
>>> read_graph(path)
Digraph(name='net.csv', n=3, n_arcs=3, inputs=[0], outputs=[2])
>>> read_graph_spec(f"{path}:outputs=1,2").outputs.tolist()
[False, True, True]
>>> read_graph(path, inputs=[0, 1])
Traceback (most recent call last):
...
stlp_sym.errors.GraphError: ...net.csv line 4: arc (0 -> 1) enters input node 1; no arc ...
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GraphError
from .digraph import Digraph, check_memory

#: File suffixes read as graph files, and their formats.
GRAPH_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".graphml": "graphml"}
_SRC_NAMES, _DST_NAMES = ("src", "source", "from"), ("dst", "target", "to")
_ROLES = ("input", "output", "hidden")
_ROLE_LINE = re.compile(r"#\s*(inputs|outputs)\s*:(.*)", re.IGNORECASE)
_SPEC_OPTION = re.compile(r":(inputs|outputs|nodes)=([^:]*)$")
_MAX_ID = 200  # characters in a node id
#: Bytes of memory reading a graph file takes per byte of the file, an over-estimate (measured:
#: 30-56 for edge lists and JSON of 200,000 arcs: ids, tuples, line numbers, then the arrays)
READ_BYTES = 64


@dataclass
class _Parsed:
    """What a file says, by node id, with where each item came from (for messages)."""

    arcs: list[tuple[Hashable, Hashable]] = field(default_factory=list)
    arc_where: list[str] = field(default_factory=list)
    nodes: dict[Hashable, str] = field(default_factory=dict)  # listed nodes -> where
    roles: dict[Hashable, tuple[str, str]] = field(default_factory=dict)  # id -> (role, where)
    strict_nodes: bool = False  # arcs may only use listed nodes
    name: str = ""
    #: further columns of an edge list (one cell per arc, in file order) and of a node table
    #: (by node id), each cell with where it came from: values named like parameters
    arc_columns: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    node_columns: dict[str, dict[Hashable, tuple[str, str]]] = field(default_factory=dict)


# ---- ids and roles ------------------------------------------------------------------------------


def _node_id(value: Any, where: str) -> Hashable:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise GraphError(f"{where}: node id {value!r} is not an integer or a string")
    if isinstance(value, str):
        value = value.strip()
        if not value or len(value) > _MAX_ID:
            raise GraphError(f"{where}: node id {value[:40]!r} is empty or too long")
    elif value < 0:
        raise GraphError(f"{where}: node id {value} is negative; integer ids are >= 0")
    return value


def _role(value: Any, where: str) -> str:
    role = value.strip().lower() if isinstance(value, str) else value
    if role in ("", None):
        return "hidden"
    if role not in _ROLES:
        raise GraphError(f"{where}: role {value!r} is not one of input, output, hidden")
    return role


def _set_role(parsed: _Parsed, node: Hashable, role: str, where: str) -> None:
    old = parsed.roles.get(node)
    if old is not None and old[0] != role and "hidden" not in (old[0], role):
        raise GraphError(f"{where}: node {node!r} is {role} but {old[1]} makes it {old[0]}")
    if old is None or old[0] == "hidden":
        parsed.roles[node] = (role, where)


def _integer_ids(ids: Iterable[Hashable]) -> bool:
    return all(isinstance(i, str) and i.isdigit() and i.isascii() for i in ids)


def _normalise(parsed: _Parsed) -> _Parsed:
    """Ids that all read as non-negative integers become ints (``"01"`` and ``"1"`` coincide)."""
    ids = {*parsed.nodes, *parsed.roles, *(v for arc in parsed.arcs for v in arc)}
    kinds = {type(i) for i in ids}
    if len(kinds) > 1 and not _integer_ids(i for i in ids if isinstance(i, str)):
        raise GraphError("node ids mix integers and strings; use one kind of id")
    if not (str in kinds and _integer_ids(i for i in ids if isinstance(i, str))):
        return parsed

    def conv(i: Hashable) -> Hashable:
        return int(i) if isinstance(i, str) else i

    return _Parsed(
        arcs=[(conv(a), conv(b)) for a, b in parsed.arcs],
        arc_where=parsed.arc_where,
        nodes={conv(k): v for k, v in parsed.nodes.items()},
        roles={conv(k): v for k, v in parsed.roles.items()},
        strict_nodes=parsed.strict_nodes,
        name=parsed.name,
        arc_columns=parsed.arc_columns,
        node_columns={
            name: {conv(k): v for k, v in cells.items()}
            for name, cells in parsed.node_columns.items()
        },
    )


# ---- CSV / TSV ----------------------------------------------------------------------------------


def _rows(path: Path, delimiter: str) -> Iterable[tuple[int, list[str] | str]]:
    """``(line number, cells)`` of the data rows, ``(line number, text)`` of comment lines."""
    text = _read_text(path)
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            yield lineno, stripped
            continue
        try:
            cells = next(csv.reader([line], delimiter=delimiter))
        except csv.Error as exc:
            raise GraphError(f"{path} line {lineno}: {exc}") from None
        yield lineno, [c.strip() for c in cells]


def _header(cells: list[str], names: tuple[tuple[str, ...], ...]) -> list[int] | None:
    lowered = [c.lower() for c in cells]
    found = [next((lowered.index(n) for n in group if n in lowered), None) for group in names]
    if all(k is not None for k in found):
        return found  # type: ignore[return-value]
    if any(c in group for c in lowered for group in names):
        wanted = " and ".join("/".join(group) for group in names)
        raise GraphError(f"header {cells} lacks a column; name the columns {wanted}")
    return None


def _read_csv(path: Path, delimiter: str, parsed: _Parsed) -> None:
    columns: list[int] | None = None
    for lineno, row in _rows(path, delimiter):
        where = f"{path} line {lineno}"
        if isinstance(row, str):
            match = _ROLE_LINE.fullmatch(row)
            if match:
                role = match.group(1).lower()[:-1]
                for cell in match.group(2).split(","):
                    if cell.strip():
                        _set_role(parsed, _node_id(cell, where), role, where)
            continue
        if columns is None and not parsed.arcs:
            try:
                columns = _header(row, (_SRC_NAMES, _DST_NAMES))
            except GraphError as exc:
                raise GraphError(f"{where}: {exc}") from None
            if columns is not None:
                extra = _extra_columns(row, columns)
                parsed.arc_columns.update({name: [] for name in extra.values()})
                continue
            columns, extra = [0, 1], {}
        if len(row) <= max(columns):
            raise GraphError(f"{where}: expected an arc 'src{delimiter}dst', got {row}")
        parsed.arcs.append((_node_id(row[columns[0]], where), _node_id(row[columns[1]], where)))
        parsed.arc_where.append(where)
        for k, name in extra.items():
            parsed.arc_columns[name].append((row[k] if k < len(row) else "", where))


def _extra_columns(header: list[str], used: list[int]) -> dict[int, str]:
    """``{column: name}`` of a header's columns beyond the ones read for the graph itself."""
    return {k: name for k, name in enumerate(header) if k not in used and name}


def _read_node_table(path: Path, delimiter: str, parsed: _Parsed) -> None:
    columns: list[int] | None = None
    for lineno, row in _rows(path, delimiter):
        where = f"{path} line {lineno}"
        if isinstance(row, str):
            continue
        if columns is None:
            try:
                columns = _header(row, (("node", "id"), ("role",)))
            except GraphError as exc:
                raise GraphError(f"{where}: {exc}") from None
            if columns is None:
                raise GraphError(f"{where}: a node table starts with the header 'node,role'")
            extra = _extra_columns(row, columns)
            parsed.node_columns.update({name: {} for name in extra.values()})
            continue
        node = _node_id(row[columns[0]] if len(row) > columns[0] else "", where)
        parsed.nodes.setdefault(node, where)
        for k, name in extra.items():
            parsed.node_columns[name][node] = (row[k] if k < len(row) else "", where)
        role = row[columns[1]] if len(row) > columns[1] else ""
        _set_role(parsed, node, _role(role, where), where)


def _companion(path: Path) -> Path | None:
    for suffix in (".csv", ".tsv"):
        candidate = path.with_name(f"{path.stem}.nodes{suffix}")
        if candidate.is_file() and candidate != path:
            return candidate
    return None


# ---- JSON ---------------------------------------------------------------------------------------

_JSON_KEYS = {"nodes", "arcs", "edges", "links", "inputs", "outputs", "name"}
_JSON_KEYS |= {"directed", "multigraph", "graph"}


def _read_json(path: Path, parsed: _Parsed) -> None:
    try:
        data = json.loads(_read_text(path))
    except (ValueError, RecursionError) as exc:
        raise GraphError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise GraphError(f"{path}: a JSON graph is an object with 'nodes' and 'arcs'")
    unknown = sorted(set(data) - _JSON_KEYS)
    if unknown:
        raise GraphError(f"{path}: unknown key {unknown[0]!r}; use {', '.join(sorted(_JSON_KEYS))}")
    if data.get("directed", True) is not True or data.get("multigraph", False) is not False:
        raise GraphError(f"{path}: the graph must be directed and not a multigraph")
    arc_keys = [k for k in ("arcs", "edges", "links") if k in data]
    if len(arc_keys) != 1:
        raise GraphError(f"{path}: give the arcs under exactly one of 'arcs', 'edges', 'links'")
    graph_name = data.get("graph", {}).get("name") if isinstance(data.get("graph"), dict) else None
    parsed.name = str(data.get("name") or graph_name or path.name)
    if "nodes" in data:
        parsed.strict_nodes = True
        for k, item in enumerate(_json_list(path, data, "nodes")):
            _json_node(parsed, item, f"{path}: nodes[{k}]")
    for k, item in enumerate(_json_list(path, data, arc_keys[0])):
        where = f"{path}: {arc_keys[0]}[{k}]"
        parsed.arcs.append(_json_arc(item, where))
        parsed.arc_where.append(where)
    for key in ("inputs", "outputs"):
        for k, item in enumerate(_json_list(path, data, key) if key in data else []):
            where = f"{path}: {key}[{k}]"
            _set_role(parsed, _node_id(item, where), key[:-1], where)


def _json_list(path: Path, data: dict, key: str) -> list:
    value = data[key]
    if not isinstance(value, list):
        raise GraphError(f"{path}: {key!r} must be a list")
    return value


def _json_node(parsed: _Parsed, item: Any, where: str) -> None:
    if isinstance(item, dict):
        if "id" not in item:
            raise GraphError(f"{where}: a node object needs an 'id'")
        node = _node_id(item["id"], where)
        role = _role(item.get("role"), where)
    else:
        node, role = _node_id(item, where), "hidden"
    if node in parsed.nodes:
        raise GraphError(f"{where}: node {node!r} is listed twice (also {parsed.nodes[node]})")
    parsed.nodes[node] = where
    _set_role(parsed, node, role, where)


def _json_arc(item: Any, where: str) -> tuple[Hashable, Hashable]:
    if isinstance(item, dict):
        for a, b in (("source", "target"), ("src", "dst")):
            if a in item and b in item:
                return _node_id(item[a], where), _node_id(item[b], where)
        raise GraphError(f"{where}: an arc object needs 'source' and 'target' (or 'src', 'dst')")
    if isinstance(item, list) and len(item) == 2:
        return _node_id(item[0], where), _node_id(item[1], where)
    raise GraphError(f"{where}: an arc is [src, dst] or {{'source': ..., 'target': ...}}")


# ---- GraphML ------------------------------------------------------------------------------------


def _read_graphml(path: Path, parsed: _Parsed) -> None:
    import networkx as nx  # lazily: only GraphML needs it

    try:
        G = nx.read_graphml(path)
    except Exception as exc:  # networkx and the XML parser raise many types
        raise GraphError(f"{path}: not a readable GraphML file: {exc}") from None
    if not G.is_directed():
        raise GraphError(f'{path}: the graph is undirected; write edgedefault="directed"')
    parsed.name = str(G.graph.get("name") or path.name)
    parsed.strict_nodes = True
    for node, attributes in G.nodes(data=True):
        where = f"{path}: node {node!r}"
        node = _node_id(node, where)
        parsed.nodes[node] = where
        _set_role(parsed, node, _role(attributes.get("role"), where), where)
    for k, (a, b) in enumerate(G.edges()):
        where = f"{path}: edge {k} ({a} -> {b})"
        parsed.arcs.append((_node_id(a, where), _node_id(b, where)))
        parsed.arc_where.append(where)


# ---- assembly -----------------------------------------------------------------------------------


def _flag_ids(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, int | np.integer):
        return [int(value)]
    return list(value)


def _resolve(path: Path, index: dict[Hashable, int], value: Any, what: str) -> list[int]:
    ids = []
    for item in _flag_ids(value):
        if isinstance(item, str) and item.isdigit() and int(item) in index:
            item = int(item)
        elif isinstance(item, int | np.integer) and item not in index and str(item) in index:
            item = str(item)
        if item not in index:
            raise GraphError(f"{path}: {what}= names node {item!r}, which the file does not have")
        ids.append(index[item])
    return ids


def _assemble(path: Path, parsed: _Parsed, inputs: Any, outputs: Any) -> Digraph:
    try:
        parsed = _normalise(parsed)
    except GraphError as exc:
        raise GraphError(f"{path}: {exc}") from None
    if parsed.strict_nodes:
        for (a, b), where in zip(parsed.arcs, parsed.arc_where, strict=True):
            for node in (a, b):
                if node not in parsed.nodes:
                    raise GraphError(f"{where}: arc uses node {node!r}, which is not listed")
    ids = {*parsed.nodes, *(v for arc in parsed.arcs for v in arc)}
    for node, (_, where) in parsed.roles.items():
        if node not in ids:
            raise GraphError(f"{where}: node {node!r} has a role but is in no arc or node list")
    if not ids:
        raise GraphError(f"{path}: the file holds no nodes and no arcs; a graph needs a node")
    labels = sorted(ids)  # type: ignore[type-var]
    index = {label: k for k, label in enumerate(labels)}
    roles = {"input": [], "output": []}
    for node, (role, _) in parsed.roles.items():
        if role in roles:
            roles[role].append(index[node])
    if inputs is not None:
        roles["input"] = _resolve(path, index, inputs, "inputs")
    if outputs is not None:
        roles["output"] = _resolve(path, index, outputs, "outputs")
    src = np.array([index[a] for a, _ in parsed.arcs], dtype=np.int64)
    dst = np.array([index[b] for _, b in parsed.arcs], dtype=np.int64)
    _check_arcs(parsed, src, dst, set(roles["input"]), labels)
    keep = () if labels == list(range(len(labels))) else tuple(labels)
    name = parsed.name or path.name
    try:
        return Digraph(len(labels), src, dst, roles["input"], roles["output"], name, keep)
    except GraphError as exc:
        raise GraphError(f"{path}: {exc}") from None


def _check_arcs(
    parsed: _Parsed, src: np.ndarray, dst: np.ndarray, inputs: set[int], labels: Sequence
) -> None:
    """Duplicates and arcs into inputs, named by file line before Digraph names them by index."""
    seen: dict[tuple[int, int], str] = {}
    for j, i, where in zip(src.tolist(), dst.tolist(), parsed.arc_where, strict=True):
        arc = f"arc ({labels[j]} -> {labels[i]})"
        if (j, i) in seen:
            raise GraphError(f"{where}: {arc} is given twice (also {seen[j, i]})")
        seen[j, i] = where
        if i in inputs:
            raise GraphError(
                f"{where}: {arc} enters input node {labels[i]}; no arc may enter an input"
            )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise GraphError(f"{path}: no such graph file") from None
    except UnicodeDecodeError:
        raise GraphError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise GraphError(f"{path}: cannot read graph file: {exc.strerror or exc}") from None


def read_graph(
    path: str | Path,
    *,
    inputs: Any = None,
    outputs: Any = None,
    nodes: str | Path | None = None,
    format: str | None = None,
) -> Digraph:
    """Read a graph file (CSV/TSV edge list, JSON or GraphML; see the module docstring).

    Parameters
    ----------
    path : the file; its suffix (``.csv``, ``.tsv``, ``.json``, ``.graphml``) sets the format.
    inputs, outputs : node ids (a sequence, or a string ``"0,1"``) that replace the roles the
        file gives; ``None`` keeps the file's.
    nodes : a node table (``node,role``) for an edge list; default ``<stem>.nodes.csv``
        (or ``.tsv``) beside ``path`` if it exists.
    format : ``"csv"``, ``"tsv"``, ``"json"`` or ``"graphml"``, overriding the suffix.

    Raises
    ------
    GraphError
        Naming the file and the line or entry at fault.
    """
    path = Path(path)
    kind = format or GRAPH_SUFFIXES.get(path.suffix.lower())
    if kind not in GRAPH_SUFFIXES.values():
        known = ", ".join(GRAPH_SUFFIXES)
        raise GraphError(f"{path}: unknown graph file format; use a file ending in {known}")
    if not path.is_file():
        raise GraphError(f"{path}: no such graph file")
    _check_size(path)
    parsed = _Parsed(name=path.name)
    if kind in ("csv", "tsv"):
        _read_csv(path, "," if kind == "csv" else "\t", parsed)
        table = Path(nodes) if nodes is not None else _companion(path)
        if table is not None:
            _check_size(table)
            _read_node_table(table, "\t" if table.suffix.lower() == ".tsv" else ",", parsed)
    elif nodes is not None:
        raise GraphError(f"{path}: nodes= applies to CSV/TSV edge lists only")
    elif kind == "json":
        _read_json(path, parsed)
    else:
        _read_graphml(path, parsed)
    return _assemble(path, parsed, inputs, outputs)


def _check_size(path: Path) -> None:
    """Refuse, before reading it, a graph file whose reading would not fit in memory."""
    try:
        size = path.stat().st_size
    except OSError:
        return  # reading it names the problem
    what = f"graph file {path} has {size} bytes (reading takes {READ_BYTES} bytes per byte)"
    check_memory(size * READ_BYTES, what)


@dataclass(frozen=True)
class GraphColumns:
    """The further columns of a CSV/TSV graph file, as text cells with where each came from:
    ``arcs[name]`` one cell per stored arc of the graph, ``nodes[name]`` one per node (None
    where the node table has no row for the node)."""

    arcs: dict[str, list[tuple[str, str]]]
    nodes: dict[str, list[tuple[str, str] | None]]


def read_graph_columns(spec: str, graph: Digraph) -> GraphColumns:
    """The columns of the graph file of ``spec`` beyond ``src,dst`` (edge list) and
    ``node,role`` (node table), in the order of ``graph`` (read from the same ``spec``).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.csv"
    >>> _ = path.write_text("src,dst,mask\\n1,2,0.5\\n0,1,2\\n")
    >>> columns = read_graph_columns(str(path), read_graph(path))
    >>> [text for text, _where in columns.arcs["mask"]]
    ['2', '0.5']
    """
    text, options = _split_spec(spec.strip())
    path = Path(text)
    if path.suffix.lower() not in (".csv", ".tsv"):
        return GraphColumns({}, {})
    parsed = _Parsed(name=path.name)
    _read_csv(path, "," if path.suffix.lower() == ".csv" else "\t", parsed)
    table = Path(options["nodes"]) if "nodes" in options else _companion(path)
    if table is not None:
        _read_node_table(table, "\t" if table.suffix.lower() == ".tsv" else ",", parsed)
    parsed = _normalise(parsed)
    arcs = {
        name: [cells[k] for k in graph.given_order] for name, cells in parsed.arc_columns.items()
    }
    nodes = {
        name: [cells.get(label) for label in graph.labels]
        for name, cells in parsed.node_columns.items()
    }
    return GraphColumns(arcs, nodes)


def _split_spec(spec: str) -> tuple[str, dict[str, str]]:
    options: dict[str, str] = {}
    while (match := _SPEC_OPTION.search(spec)) is not None:
        key = match.group(1)
        if key in options:
            raise GraphError(f"graph spec {spec!r}: option {key}= is given twice")
        options[key] = match.group(2)
        spec = spec[: match.start()]
    return spec, options


def is_graph_file(spec: str) -> bool:
    """True if a graph argument names a graph file (by its suffix), not a generator spec.

    >>> is_graph_file("net.csv:inputs=0"), is_graph_file("chain:3")
    (True, False)
    """
    if not isinstance(spec, str):
        return False
    path, _ = _split_spec(spec.strip())
    return Path(path).suffix.lower() in GRAPH_SUFFIXES


def read_graph_spec(spec: str) -> Digraph:
    """Read ``PATH[:inputs=IDS][:outputs=IDS][:nodes=TABLE]``, the ``--graph`` form of a file.

    ``IDS`` are comma-separated node ids, as the ``inputs``/``outputs`` flags of
    :func:`read_graph`.
    """
    path, options = _split_spec(spec.strip())
    return read_graph(
        path,
        inputs=options.get("inputs"),
        outputs=options.get("outputs"),
        nodes=options.get("nodes"),
    )
