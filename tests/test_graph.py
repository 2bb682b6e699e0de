"""Tests of stlp_sym.graph.digraph against hand-written arc lists and plain Python references."""

from __future__ import annotations

import dataclasses
import pickle
import warnings

import networkx as nx
import numpy as np
import pytest

from stlp_sym.errors import GraphError, StlpWarning
from stlp_sym.graph import (
    Digraph,
    chain,
    complete,
    feedforward,
    parse_spec,
    random_graph,
)

no_input_warning = pytest.mark.filterwarnings("ignore:graph has no input nodes:UserWarning")


def by_dst(arcs):
    """The (dst, src) order every Digraph stores its arcs in."""
    return sorted(arcs, key=lambda a: (a[1], a[0]))


def ids(mask):
    return np.flatnonzero(mask).tolist()


def quiet(build, *args, **kwargs):
    """Build a graph without letting its StlpWarning through."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StlpWarning)
        return build(*args, **kwargs)


# ---- specs against hand-written arc lists -------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "arcs", "inputs", "outputs"),
    [
        ("chain:3", [(0, 1), (1, 2)], [0], [2]),
        (
            "feedforward:2,3,1",
            [(0, 2), (1, 2), (0, 3), (1, 3), (0, 4), (1, 4), (2, 5), (3, 5), (4, 5)],
            [0, 1],
            [5],
        ),
        ("complete:3:in=1", [(0, 1), (2, 1), (0, 2), (1, 2)], [0], [2]),
        ("complete:4:in=2:out=2", [(0, 2), (1, 2), (3, 2), (0, 3), (1, 3), (2, 3)], [0, 1], [2, 3]),
    ],
)
def test_spec_arcs_match_hand_written_lists(spec, arcs, inputs, outputs):
    g = Digraph.from_spec(spec)
    assert g.arcs() == by_dst(arcs)
    assert ids(g.inputs) == inputs
    assert ids(g.outputs) == outputs
    assert g.n == max(max(a) for a in arcs) + 1


@no_input_warning
def test_complete_without_inputs_has_every_ordered_pair():
    g = parse_spec("complete:3")
    assert g.arcs() == by_dst([(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)])
    assert ids(g.inputs) == [] and ids(g.outputs) == [2]


def test_complete_with_one_input_is_fully_connected_neurons_plus_a_feeding_input():
    g = parse_spec("complete:6:in=1")
    assert g.n_arcs == 5 * 4 + 5
    assert ids(g.outputs) == [5]
    assert g.children(0).tolist() == [1, 2, 3, 4, 5]
    assert g.in_degree[0] == 0 and not np.any(g.src == g.dst)


@pytest.mark.filterwarnings("ignore::stlp_sym.errors.StlpWarning")
def test_generators_equal_their_specs_and_name_is_canonical():
    assert chain(4) == parse_spec("chain:4")
    assert feedforward([2, 2]) == parse_spec(" feedforward: 2,2 ")
    assert complete(5, n_inputs=2) == parse_spec("complete:5:in=2")
    assert random_graph(6, 9, 4, 1, 2) == parse_spec("random:6,9,4:in=1:out=2")
    assert parse_spec("complete:5:in=2:out=1").name == "complete:5:in=2"
    assert parse_spec("random:6,9,4:out=2:in=1").name == "random:6,9,4:in=1:out=2"


# ---- random specs -------------------------------------------------------------------------------


def test_random_spec_follows_the_documented_sampling_contract():
    n, m, seed, k = 30, 200, 7, 3
    codes = np.random.default_rng(seed).choice(n * (n - k), size=m, replace=False)
    expected = [(int(c) // (n - k), int(c) % (n - k) + k) for c in codes]
    g = parse_spec(f"random:{n},{m},{seed}:in={k}")
    assert g.arcs() == by_dst(expected)


def test_random_spec_is_deterministic_per_seed():
    a, b = parse_spec("random:40,300,1:in=2"), parse_spec("random:40,300,1:in=2")
    c = parse_spec("random:40,300,2:in=2")
    assert a.arcs() == b.arcs()
    assert a.arcs() != c.arcs()


def test_random_never_enters_inputs_and_can_draw_self_loops():
    g = quiet(parse_spec, "random:20,300,0:in=4")
    assert not g.inputs[g.dst].any()
    assert g.n_arcs == 300 and len(set(g.arcs())) == 300
    # with 10 nodes and 50 of the 100 possible arcs, some seed below 20 draws a self-loop
    loops = [s for s in range(20) if np.any((r := quiet(random_graph, 10, 50, s)).src == r.dst)]
    assert loops


@no_input_warning
def test_big_random_spec_has_the_requested_number_of_distinct_arcs():
    g = parse_spec("random:2000,100000,3")
    assert g.n_arcs == 100000
    assert np.unique(g.dst * g.n + g.src).size == 100000
    h = parse_spec("random:2000,100000,3:in=10:out=10")
    assert h.n_arcs == 100000 and not h.inputs[h.dst].any()
    assert ids(h.outputs) == list(range(1990, 2000))


# ---- index arrays against a plain Python computation --------------------------------------------


@pytest.fixture
def cyclic():
    """A small graph with cycles, self-loops and an isolated node, arcs given out of order."""
    arcs = [(3, 1), (1, 2), (2, 1), (2, 2), (0, 3), (0, 1), (5, 5), (1, 5), (3, 5)]
    return Digraph.from_arcs(7, arcs, inputs=[0], outputs=[5], name="cyclic"), arcs


def test_degrees_parents_children_match_plain_python(cyclic):
    g, arcs = cyclic
    for i in range(g.n):
        parents = sorted(j for j, k in arcs if k == i)
        children = sorted(k for j, k in arcs if j == i)
        assert g.parents(i).tolist() == parents
        assert g.children(i).tolist() == children
        assert g.in_degree[i] == len(parents) and g.out_degree[i] == len(children)
    assert g.arcs() == by_dst(arcs)


def test_segment_pointers_and_out_perm_are_consistent(cyclic):
    g, arcs = cyclic
    assert g.in_ptr[0] == 0 and g.in_ptr[-1] == g.n_arcs == g.out_ptr[-1]
    for i in range(g.n):
        assert np.all(g.dst[g.in_ptr[i] : g.in_ptr[i + 1]] == i)
        assert np.all(g.src[g.out_perm][g.out_ptr[i] : g.out_ptr[i + 1]] == i)
    by_src = list(zip(g.src[g.out_perm].tolist(), g.dst[g.out_perm].tolist(), strict=True))
    assert by_src == sorted(arcs)
    assert sorted(g.out_perm.tolist()) == list(range(g.n_arcs))


def test_arc_index_and_roles(cyclic):
    g, arcs = cyclic
    for j, i in arcs:
        e = g.arc_index(j, i)
        assert (g.src[e], g.dst[e]) == (j, i)
    with pytest.raises(GraphError, match=r"no arc \(1 -> 3\)"):
        g.arc_index(1, 3)
    assert ids(g.role_mask("input")) == [0] and ids(g.role_mask("output")) == [5]
    assert ids(g.role_mask("hidden")) == [1, 2, 3, 4, 6] and ids(g.hidden) == [1, 2, 3, 4, 6]
    assert ids(g.role_mask("free")) == list(range(1, 7)) and g.role_mask("all").all()
    with pytest.raises(GraphError, match="unknown role 'bias'"):
        g.role_mask("bias")
    with pytest.raises(GraphError, match="node 7 is out of range"):
        g.parents(7)


def test_arrays_are_read_only_and_the_record_frozen(cyclic):
    g, _ = cyclic
    for name in ("src", "dst", "inputs", "outputs", "in_degree", "in_ptr", "out_perm", "hidden"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(g, name)[0] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.n = 3
    assert not g.children(1).flags.writeable


def test_arc_forms_are_equivalent_and_caller_arrays_stay_writable():
    pairs = [(1, 2), (0, 1), (0, 2)]
    src, dst = np.array([1, 0, 0]), np.array([2, 1, 2])
    graphs = [
        Digraph.from_arcs(3, pairs, [0], [2]),
        Digraph.from_arcs(3, np.array(pairs), [0], [2]),
        Digraph.from_arcs(3, (src, dst), [0], [2]),
        Digraph.from_arcs(3, iter(pairs), [0], [2]),
        Digraph.from_arcs(3, np.array(pairs, dtype=float), np.array([True, False, False]), [2]),
    ]
    assert all(h == graphs[0] for h in graphs)
    assert src.flags.writeable and src.tolist() == [1, 0, 0]
    assert hash(graphs[0]) == hash(graphs[2])


def test_pickle_round_trip_keeps_arrays_read_only(cyclic):
    g, _ = cyclic
    h = pickle.loads(pickle.dumps(g))
    assert h == g and h.name == g.name and not h.src.flags.writeable
    assert h.children(2).tolist() == g.children(2).tolist()


# ---- networkx -----------------------------------------------------------------------------------


def test_networkx_round_trip(cyclic):
    g, _ = cyclic
    G = g.to_networkx()
    assert G.nodes[0]["role"] == "input" and G.nodes[6]["role"] == "hidden"
    assert G.edges[3, 1]["index"] == g.arc_index(3, 1)
    assert Digraph.from_networkx(G) == g
    assert Digraph.from_networkx(G).name == "cyclic"


def test_from_networkx_maps_sortable_labels_in_sorted_order():
    G = nx.DiGraph()
    G.add_node("c", role="output")
    G.add_edges_from([("b", "c"), ("a", "b")])
    G.nodes["a"]["role"] = "input"
    g = Digraph.from_networkx(G)
    assert g.labels == ("a", "b", "c")
    assert g.arcs() == [(0, 1), (1, 2)] and ids(g.inputs) == [0] and ids(g.outputs) == [2]
    assert set(g.to_networkx().edges) == set(G.edges)


def test_from_networkx_keeps_insertion_order_for_unsortable_labels():
    G = nx.DiGraph()
    G.add_node("x", role="input")
    G.add_node(1, role="output")
    G.add_edge("x", 1)
    g = Digraph.from_networkx(G)
    assert g.labels == ("x", 1) and g.arcs() == [(0, 1)]
    assert ids(g.inputs) == [0] and ids(g.outputs) == [1]


def test_from_networkx_rejects_bad_roles_and_undirected_graphs():
    G = nx.DiGraph([(0, 1)])
    G.nodes[0]["role"] = "inp"
    with pytest.raises(GraphError, match="node 0 has role 'inp'"):
        Digraph.from_networkx(G)
    with pytest.raises(GraphError, match="directed graph"):
        Digraph.from_networkx(nx.Graph([(0, 1)]))


# ---- validation: each message names the culprit ------------------------------------------------


@pytest.mark.parametrize(
    ("n", "arcs", "roles", "message"),
    [
        (3, [(0, 1), (1, 3)], {}, r"arc \(1 -> 3\) has node id 3 out of range"),
        (3, [(-1, 1)], {}, r"arc \(-1 -> 1\) has node id -1 out of range"),
        (3, [(0, 1), (1, "a")], {}, r"arc #1 \(1 -> 'a'\) has a non-integer node id"),
        (3, [(0, 1.5)], {}, r"arc #0 \(0.0 -> 1.5\) has a non-integer node id"),
        (3, [(0, 1), (1, 2, 0)], {}, r"arc #1 = \(1, 2, 0\) is not a \(src, dst\) pair"),
        (3, [(0, 1), (1, 2), (0, 1)], {}, r"arc \(0 -> 1\) is given twice \(arcs 0 and 2\)"),
        (3, [(0, 1), (2, 0)], {"inputs": [0]}, r"arc \(2 -> 0\) enters input node 0"),
        (0, [], {}, "at least one node"),
        (-2, [], {}, "n = -2 is negative"),
        (2.0, [], {}, "n = 2.0 is not an integer"),
        (3, [], {"inputs": [5]}, "input id 5 is out of range"),
        (3, [], {"outputs": [-1]}, "output id -1 is out of range"),
        (3, [], {"outputs": [0.5]}, "output id 0.5 is not an integer"),
        (3, [(0, 1)], {"inputs": [0, 1], "outputs": [1]}, "node 1 is both an input and an output"),
        (3, [[0, 1, 2], [1, 2, 0]], {}, r"arcs have shape \(2, 3\)"),
    ],
)
def test_validation_names_the_culprit(n, arcs, roles, message):
    with pytest.raises(GraphError, match=message):
        Digraph.from_arcs(n, arcs, **roles)


def test_bad_label_count_is_rejected():
    with pytest.raises(GraphError, match="3 distinct node labels"):
        Digraph(3, np.array([0]), np.array([1]), labels=("a", "a", "b"))


def test_cycles_and_self_loops_are_allowed():
    g = quiet(Digraph.from_arcs, 2, [(0, 1), (1, 1), (1, 0)], outputs=[1])
    assert g.arcs() == [(1, 0), (0, 1), (1, 1)]
    assert g.arc_index(1, 1) == 2 and g.parents(1).tolist() == [0, 1]


# ---- spec errors quote the spec and the expected form -------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ring:3", r"'ring:3': unknown kind 'ring'; expected one of 'chain:N'"),
        ("chain", r"'chain': missing arguments; expected 'chain:N'"),
        ("chain:3,4", r"'chain:3,4': chain takes 1 argument\(s\), got 2; expected 'chain:N'"),
        ("random:5,4", r"'random:5,4': random takes 3 .*expected 'random:N,M,SEED"),
        ("chain:x", r"'chain:x': 'x' is not an integer"),
        ("feedforward:2,3.5", r"'3.5' is not an integer; expected 'feedforward:A,B,...'"),
        ("chain:3:in=1", "in= applies to complete and random only; expected 'chain:N'"),
        ("feedforward:2,3:out=1", "out= applies to complete and random only"),
        ("complete:4:in=1:in=2", "option in= is given twice"),
        ("complete:4:bias=1", r"unknown option 'bias=1' \(only in=K and out=K\)"),
        ("complete:4:out", "option 'out' has no value"),
        ("random:3,10,1", r"M = 10 exceeds the N \* \(N - in\) = 9 possible arcs"),
        ("random:4,13,1:in=1", r"M = 13 exceeds the N \* \(N - in\) = 12 possible arcs"),
        (
            "complete:3:in=2:out=2",
            r"in = 2 plus out = 2 exceeds N = 3 nodes.*expected 'complete:N\[",
        ),
        ("random:3,2,-1", "SEED = -1 is too small"),
        ("chain:1", "N = 1 is too small; it must be >= 2"),
        ("feedforward:3", "at least 2 layers"),
        ("feedforward:2,0", "layer 1 size = 0 is too small"),
    ],
)
def test_spec_errors_quote_the_spec(spec, message):
    with pytest.raises(GraphError, match=message) as info:
        parse_spec(spec)
    assert str(info.value).startswith(f"bad graph spec {spec!r}: ")
    assert "; expected " in str(info.value)


# ---- the unreachable-output warning -------------------------------------------------------------


def test_unreachable_output_warns_naming_it():
    with pytest.warns(StlpWarning, match="outputs 3 are not reachable from any input"):
        Digraph.from_arcs(4, [(0, 1), (2, 3)], inputs=[0], outputs=[1, 3])


def test_graph_without_inputs_warns_once():
    with pytest.warns(
        StlpWarning, match="graph has no input nodes; outputs 1, 2 receive no signal"
    ):
        Digraph.from_arcs(3, [(0, 1), (1, 2)], outputs=[1, 2])


def test_long_chains_take_the_queue_path_of_the_reachability_check():
    with warnings.catch_warnings():
        warnings.simplefilter("error", StlpWarning)
        chain(5000)  # thousands of levels: reached without a warning
    n = 3000
    src, dst = np.arange(n - 1), np.arange(1, n)
    keep = src != 2000  # cut the chain: the last node is unreachable
    with pytest.warns(StlpWarning, match=f"outputs {n - 1} are not reachable"):
        Digraph.from_arcs(n, (src[keep], dst[keep]), inputs=[0], outputs=[n - 1])


def test_reachable_outputs_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", StlpWarning)
        parse_spec("feedforward:2,3,1")
        parse_spec("complete:6:in=1")
        parse_spec("random:200,4000,5:in=3:out=3")
