"""Parameter values a run is given: a number, one per member of a batch, or, for a parameter on
nodes or arcs (the module's ``PARAM_DOMAINS``), one per node (in the graph's node order) or per
arc (in the order the graph's arcs were given), shared by the members or one row per member.
From the command line they come from an ``.npz`` file (:func:`read_param_file`) or from a graph
file's columns named like the parameters (:func:`graph_file_params`).

>>> import types, numpy as np
>>> module = types.SimpleNamespace(PARAMS={"c": 1.0, "tau": 1.0}, PARAM_DOMAINS={"tau": "node"})
>>> check_shape(module, "tau", np.ones(3), n=3, arcs=2, members=None)
>>> check_shape(module, "tau", np.ones(2), n=3, arcs=2, members=None)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
stlp_sym.errors.StlpError: parameter 'tau' has one value per node: give 3 values (the ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import numpy as np

from ..errors import StlpError
from ..graph.digraph import Digraph
from ..graph.files import is_graph_file, read_graph_columns


def check_shape(
    module: ModuleType, name: str, values: np.ndarray, n: int, arcs: int, members: int | None
) -> None:
    """Refuse a value of parameter ``name`` whose shape does not fit the graph or the batch."""
    domain = getattr(module, "PARAM_DOMAINS", {}).get(name)
    if domain is None:
        if values.ndim > 1 or (values.ndim == 1 and values.size != members):
            batch = f"{members} members" if members else "none: a single run"
            raise StlpError(
                f"parameter {name!r} is a number (or one per member of a batch; here "
                f"{batch}), not an array of shape {values.shape}"
            )
        return
    size, where = (n, "node") if domain == "node" else (arcs, "arc")
    order = "the graph's node order" if domain == "node" else "the order the arcs were given"
    shapes = [(), (size,)] + ([(members, size)] if members else [])
    if values.shape not in shapes:
        batch = f", or a ({members or 'members'}, {size}) array for a batch"
        raise StlpError(
            f"parameter {name!r} has one value per {where}: give {size} values ({order})"
            f"{batch}, not an array of shape {values.shape}"
        )


def read_param_file(
    path: Path, defaults: Mapping[str, float], domains: Mapping[str, str], graph: Digraph
) -> dict[str, np.ndarray]:
    """The parameter values of an ``.npz`` file, one array named like each parameter given.

    A scalar parameter is a number (or one per member of a batch); a parameter on nodes has one
    value per node in the graph's node order, one on arcs one value per arc in the order the
    arcs were given (a graph file's rows), returned in the graph's stored arc order.

    Raises
    ------
    StlpError
        For a file that cannot be read, an unknown name, a wrong length or a value that is not
        finite, naming the file and the array.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: np.array(data[name]) for name in data.files}
    except (OSError, ValueError, EOFError) as error:
        raise StlpError(f"--param-file {path}: cannot read it as an .npz file ({error})") from None
    values = {}
    for name, array in arrays.items():
        where = f"--param-file {path}: array {name!r}"
        if name not in defaults:
            raise StlpError(f"{where} names no parameter of the model; it has {sorted(defaults)}")
        if array.dtype.kind not in "biuf" or not np.all(np.isfinite(array)):
            raise StlpError(f"{where} must hold finite numbers")
        array = array.astype(float)
        if domains.get(name) == "edge" and array.ndim and array.shape[-1] == graph.n_arcs:
            array = array[..., graph.given_order]
        values[name] = array
    return values


def graph_file_params(
    spec: str, graph: Digraph, defaults: Mapping[str, float], domains: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """The values of the parameters on nodes or arcs that a CSV/TSV graph file gives as
    columns named like them (an edge list's column per arc, a node table's per node; a node
    without a row keeps the default). Other columns are ignored.

    Raises
    ------
    StlpError
        For a cell that is not a finite number, or a column named like a parameter of another
        domain, naming the file and the line.
    """
    if not is_graph_file(spec):
        return {}
    columns = read_graph_columns(spec, graph)
    values = {}
    for kind, table in (("edge", columns.arcs), ("node", columns.nodes)):
        for name, cells in table.items():
            if name not in defaults:
                continue
            if domains.get(name) != kind:
                place = "an edge list" if kind == "edge" else "a node table"
                raise StlpError(
                    f"{spec}: column {name!r} of {place} names parameter {name!r}, which is "
                    f"{_domain_text(domains.get(name))}: rename the column or the parameter"
                )
            values[name] = np.array([_cell(cell, defaults[name], name) for cell in cells])
    return values


def _domain_text(domain: str | None) -> str:
    return {"node": "on nodes", "edge": "on arcs"}.get(domain or "", "a scalar")


def _cell(cell: tuple[str, str] | None, default: float, name: str) -> float:
    """A cell of a parameter's column as a finite number (a missing node row: the default)."""
    if cell is None:
        return default
    text, where = cell
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise StlpError(f"{where}: column {name!r}: {text!r} is not a finite number")
    return value
