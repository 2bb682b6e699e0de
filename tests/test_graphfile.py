"""Graph files (CSV/TSV, JSON, GraphML) against Digraph.from_arcs references, and their errors."""

from __future__ import annotations

import json
import warnings

import networkx as nx
import pytest

from stlp_sym.errors import GraphError, StlpWarning
from stlp_sym.graph import Digraph
from stlp_sym.graph.files import is_graph_file, read_graph, read_graph_spec

# a cycle 1 -> 2 -> 3 -> 1, a self-loop on 2, input 0, output 3
ARCS = [(0, 1), (1, 2), (2, 3), (3, 1), (2, 2)]
REFERENCE = Digraph.from_arcs(4, ARCS, inputs=[0], outputs=[3])


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _same(graph: Digraph, reference: Digraph = REFERENCE) -> bool:
    return graph == reference and graph.arcs() == reference.arcs()


# ---- CSV / TSV ----------------------------------------------------------------------------------


def test_csv_with_role_comments(tmp_path):
    text = "# inputs: 0\n# outputs: 3\nsrc,dst\n" + "".join(f"{j},{i}\n" for j, i in ARCS)
    graph = read_graph(_write(tmp_path / "g.csv", text))
    assert _same(graph) and graph.name == "g.csv"


def test_headerless_csv_and_flags(tmp_path):
    path = _write(tmp_path / "g.csv", "".join(f"{j}, {i}\n" for j, i in ARCS))
    assert _same(read_graph(path, inputs=[0], outputs="3"))
    assert _same(read_graph_spec(f"{path}:inputs=0:outputs=3"))


def test_tsv_with_named_columns_and_a_node_table(tmp_path):
    # columns in any order, found by name; other columns ignored
    rows = "".join(f"1.5\t{i}\t{j}\n" for j, i in ARCS)
    path = _write(tmp_path / "g.tsv", "weight\ttarget\tsource\n" + rows)
    _write(tmp_path / "g.nodes.csv", "node,role\n0,input\n3,output\n1,\n2,hidden\n")
    assert _same(read_graph(path))


def test_flags_replace_the_roles_of_the_file(tmp_path):
    path = _write(tmp_path / "g.csv", "src,dst\n" + "".join(f"{j},{i}\n" for j, i in ARCS))
    _write(tmp_path / "g.nodes.csv", "node,role\n0,input\n1,output\n")
    graph = read_graph(path, outputs=[3])
    assert graph.inputs.tolist() == [True, False, False, False]
    assert graph.outputs.tolist() == [False, False, False, True]


def test_node_table_adds_isolated_nodes(tmp_path):
    path = _write(tmp_path / "g.csv", "src,dst\n0,1\n")
    table = _write(tmp_path / "roles.csv", "id,role\n0,input\n1,output\n2,\n")
    graph = read_graph(path, nodes=table)
    assert _same(graph, Digraph.from_arcs(3, [(0, 1)], inputs=[0], outputs=[1]))


def test_ids_that_are_not_all_integers_are_strings(tmp_path):
    graph = read_graph(_write(tmp_path / "g.csv", "0,x\nx,1\n"))
    assert graph.labels == ("0", "1", "x") and graph.arcs() == [(2, 1), (0, 2)]


def test_string_ids_are_sorted_and_kept_as_labels(tmp_path):
    path = _write(tmp_path / "g.csv", "# inputs: in\n# outputs: out\nin,h\nh,out\nin,out\n")
    graph = read_graph(path)
    assert graph.labels == ("h", "in", "out")
    assert graph.arcs() == [(1, 0), (0, 2), (1, 2)]
    assert graph.inputs.tolist() == [False, True, False]


# ---- JSON ---------------------------------------------------------------------------------------


def test_json_nodes_and_arcs(tmp_path):
    data = {
        "name": "cyc",
        "nodes": [{"id": 0, "role": "input"}, {"id": 1}, {"id": 2}, {"id": 3, "role": "output"}],
        "arcs": [list(arc) for arc in ARCS],
    }
    graph = read_graph(_write(tmp_path / "g.json", json.dumps(data)))
    assert _same(graph) and graph.name == "cyc"


def test_json_arcs_only_with_role_lists(tmp_path):
    data = {"arcs": [{"src": j, "dst": i} for j, i in ARCS], "inputs": [0], "outputs": ["3"]}
    assert _same(read_graph(_write(tmp_path / "g.json", json.dumps(data))))


def test_networkx_node_link_json(tmp_path):
    G = nx.DiGraph()
    G.add_nodes_from([(0, {"role": "input"}), (1, {}), (2, {}), (3, {"role": "output"})])
    G.add_edges_from(ARCS)
    data = nx.node_link_data(G, edges="links")
    assert _same(read_graph(_write(tmp_path / "nl.json", json.dumps(data))))


# ---- GraphML ------------------------------------------------------------------------------------


def test_graphml_role_attribute(tmp_path):
    G = nx.DiGraph(name="from-graphml")
    G.add_nodes_from([(0, {"role": "input"}), (1, {}), (2, {}), (3, {"role": "output"})])
    G.add_edges_from(ARCS)
    path = tmp_path / "g.graphml"
    nx.write_graphml(G, path)
    graph = read_graph(path)
    assert _same(graph) and graph.name == "from-graphml"
    assert _same(read_graph(path, inputs=[0], outputs=[3]))


def test_undirected_graphml_is_refused(tmp_path):
    path = tmp_path / "u.graphml"
    nx.write_graphml(nx.Graph([(0, 1)]), path)
    with pytest.raises(GraphError, match="undirected"):
        read_graph(path)


# ---- errors name the file and the line or entry -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("g.csv", "0,1\n1\n", r"g\.csv line 2: expected an arc"),
        ("g.csv", "src,weight\n0,1\n", r"g\.csv line 1: header .* lacks a column"),
        ("g.csv", "0,1\n1,2\n0,1\n", r"g\.csv line 3: arc \(0 -> 1\) is given twice .*line 1"),
        ("g.csv", "# inputs: 1\n0,1\n", r"g\.csv line 2: arc \(0 -> 1\) enters input node 1"),
        ("g.csv", "# inputs: 7\n0,1\n", r"g\.csv line 1: node 7 has a role but is in no arc"),
        ("g.csv", "# inputs: 0\n# outputs: 0\n0,1\n", r"line 2: node '0' is output but .*input"),
        ("g.csv", "0,\n", r"g\.csv line 1: node id '' is empty"),
        ("g.csv", "# only a comment\n", r"g\.csv: the file holds no nodes"),
        ("g.json", '{"arcs": [[0, "x"]]}', r"g\.json: node ids mix integers and strings"),
        ("g.json", '{"arcs": [[0, 1.5]]}', r"g\.json: arcs\[0\]: node id 1\.5 is not an integer"),
        ("g.json", '{"arcs": [[-1, 0]]}', r"arcs\[0\]: node id -1 is negative"),
        ("g.json", '{"arcs": [[0, 1, 2]]}', r"arcs\[0\]: an arc is \[src, dst\]"),
        ("g.json", '{"arcs": [{"a": 0}]}', r"arcs\[0\]: an arc object needs 'source'"),
        ("g.json", '{"nodes": [0], "arcs": [[0, 1]]}', r"arcs\[0\]: arc uses node 1"),
        ("g.json", '{"nodes": [0, 0], "arcs": []}', r"nodes\[1\]: node 0 is listed twice"),
        ("g.json", '{"nodes": [{"id": 0, "role": "boss"}], "arcs": []}', r"role 'boss'"),
        ("g.json", '{"arcs": [[0, 1]], "colour": 1}', r"unknown key 'colour'"),
        ("g.json", '{"arcs": [[0, 1]], "directed": false}', r"must be directed"),
        ("g.json", '{"arcs": [], "links": []}', r"exactly one of 'arcs', 'edges', 'links'"),
        ("g.json", "[1, 2]", r"an object with 'nodes' and 'arcs'"),
        ("g.json", "{not json", r"g\.json: not valid JSON"),
        ("g.json", "[" * 100_000, r"g\.json: not valid JSON"),
        ("g.graphml", "<graphml><oops", r"g\.graphml: not a readable GraphML file"),
        ("g.txt", "0,1\n", r"unknown graph file format"),
    ],
)
def test_bad_files_name_file_and_place(tmp_path, name, text, message):
    path = _write(tmp_path / name, text)
    with pytest.raises(GraphError, match=message):
        read_graph(path)


def test_bad_flags_and_missing_files(tmp_path):
    path = _write(tmp_path / "g.csv", "0,1\n")
    with pytest.raises(GraphError, match=r"inputs= names node 5, which the file does not have"):
        read_graph(path, inputs=[5])
    with pytest.raises(GraphError, match=r"inputs= names node '9'"):
        read_graph_spec(f"{path}:inputs=9")
    with pytest.raises(GraphError, match="no such graph file"):
        read_graph(tmp_path / "nope.csv")
    with pytest.raises(GraphError, match="given twice"):
        read_graph_spec(f"{path}:inputs=0:inputs=1")


def test_unreachable_outputs_still_warn(tmp_path):
    path = _write(tmp_path / "g.csv", "# inputs: 0\n# outputs: 2\n0,1\n2,2\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_graph(path)
    assert any(issubclass(w.category, StlpWarning) for w in caught)


def test_is_graph_file():
    assert is_graph_file("net.csv") and is_graph_file("a/b.GRAPHML:inputs=0,1")
    assert is_graph_file("g.json:outputs=3") and is_graph_file("g.tsv")
    assert not is_graph_file("chain:3") and not is_graph_file("complete:6:in=1")
