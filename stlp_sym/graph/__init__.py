"""Graphs: the digraphs every later stage reads.

In: arcs, a networkx graph, a generator spec (``complete:5:in=1``) or a graph file.
Out: a frozen, validated :class:`Digraph` (arcs sorted by destination, role masks).

``digraph`` holds the class, ``spec`` the generators and the spec grammar, ``files`` the graph
files (CSV/TSV, JSON, GraphML).
"""

from .digraph import ROLES, Digraph
from .files import is_graph_file, read_graph, read_graph_spec
from .spec import chain, complete, feedforward, graph_from_spec, parse_spec, random_graph

Digraph.spec_reader = staticmethod(graph_from_spec)

__all__ = [
    "ROLES",
    "Digraph",
    "chain",
    "complete",
    "feedforward",
    "graph_from_spec",
    "is_graph_file",
    "parse_spec",
    "random_graph",
    "read_graph",
    "read_graph_spec",
]
