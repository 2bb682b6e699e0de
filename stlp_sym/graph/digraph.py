"""Frozen, validated digraphs: the index arrays every later stage reads.

A :class:`Digraph` has ``n`` nodes and arcs ``src[e] -> dst[e]`` sorted once by ``(dst, src)``, so
the arcs entering node ``i`` are ``in_ptr[i]:in_ptr[i + 1]`` and ``out_perm`` lists the arcs by
``(src, dst)``. Roles are boolean masks (docs/theory.md): no arc may enter an input; cycles and
self-loops are allowed. Build one from arcs, networkx, a generator, a spec string
``KIND:ARGS[:in=K][:out=K]`` or a graph file (:meth:`Digraph.from_spec`). The generators
:func:`chain`, :func:`feedforward`, :func:`complete`, :func:`random_graph` and the spec parser
:func:`parse_spec` live in :mod:`stlp_sym.graph.spec`, which documents the spec grammar; they are
importable from :mod:`stlp_sym.graph` as well.

>>> g = Digraph.from_spec("complete:4:in=1")
>>> g.n_arcs, g.parents(2).tolist(), g.children(0).tolist()
(9, [0, 1, 3], [1, 2, 3])
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import GraphError, StlpWarning

if TYPE_CHECKING:
    import networkx as nx

ROLES = ("input", "output", "hidden", "free", "all")
_NUMPY_LEVELS = 64  # breadth-first levels done in NumPy before a long thin graph goes to a queue
_ARC_FORMS = "(src, dst) pairs, an (M, 2) array or a pair of 1-D arrays (src_array, dst_array)"
# frames skipped by _user_stacklevel: this module, the generators, dataclass-made methods
_OWN_FILES = (__file__, os.path.join(os.path.dirname(__file__), "spec.py"), "<string>")


@dataclass(frozen=True, eq=False, repr=False)
class Digraph:
    """A frozen digraph with read-only index arrays, arcs sorted by ``(dst, src)``.

    Construction validates (:class:`~stlp_sym.errors.GraphError` naming the culprit) and warns
    (:class:`~stlp_sym.errors.StlpWarning`) about outputs that no input reaches. ``inputs`` and
    ``outputs`` may be given as boolean masks of shape ``(n,)`` or as node ids; they are stored as
    masks. Equality compares structure and labels, not ``name``.

    >>> g = Digraph.from_arcs(3, [(1, 2), (0, 1), (0, 2)], inputs=[0], outputs=[2], name="tri")
    >>> g.arcs(), g.in_ptr.tolist(), g.out_perm.tolist()
    ([(0, 1), (0, 2), (1, 2)], [0, 0, 1, 3], [0, 1, 2])
    >>> g
    Digraph(name='tri', n=3, n_arcs=3, inputs=[0], outputs=[2])
    """

    n: int
    src: np.ndarray
    dst: np.ndarray
    inputs: Any = ()
    outputs: Any = ()
    name: str = ""
    labels: tuple[Hashable, ...] = ()
    in_degree: np.ndarray = field(init=False)
    out_degree: np.ndarray = field(init=False)
    in_ptr: np.ndarray = field(init=False)
    out_perm: np.ndarray = field(init=False)
    out_ptr: np.ndarray = field(init=False)
    hidden: np.ndarray = field(init=False)
    free: np.ndarray = field(init=False)
    _out_dst: np.ndarray = field(init=False)  # dst in by-source order: children without a gather
    #: stored arc ``k`` is the arc given at position ``given_order[k]`` (per-arc values given in
    #: the order the arcs were given are ``values[given_order]`` in the stored order)
    given_order: np.ndarray = field(init=False)
    #: Reads a spec string or a graph file (:func:`stlp_sym.graph.spec.graph_from_spec`);
    #: installed by :mod:`stlp_sym.graph`, because the readers build digraphs and so sit above
    #: this module.
    spec_reader: ClassVar[Callable[[str], Digraph]]

    def __post_init__(self) -> None:
        n = _check_count(self.n)
        check_fits(n, len(self.src) if hasattr(self.src, "__len__") else 0)
        labels = tuple(self.labels)
        if labels and (len(labels) != n or len(set(labels)) != n):
            raise GraphError(f"labels must be {n} distinct node labels, got {len(labels)} labels")
        object.__setattr__(self, "labels", labels or tuple(range(n)))
        src, dst = _arc_arrays(self.src, self.dst)
        _check_range(n, src, dst)
        inputs, outputs = _mask(n, self.inputs, "input"), _mask(n, self.outputs, "output")
        both = np.flatnonzero(inputs & outputs)
        if both.size:
            raise GraphError(
                f"node {self._fmt(both[:1])} is both an input and an output; give it one role"
            )
        into = np.flatnonzero(inputs[dst])
        if into.size:
            j, i = src[into[0]], dst[into[0]]
            raise GraphError(
                f"arc ({j} -> {i}) enters input node {self._fmt([i])}; no arc may enter an "
                f"input: drop the arc or do not make node {i} an input"
            )
        src, dst, order = _sort_unique(n, src, dst)
        order.setflags(write=False)
        object.__setattr__(self, "given_order", order)
        valid = {"n": n, "src": src, "dst": dst, "inputs": inputs, "outputs": outputs}
        for key, value in (*valid.items(), ("name", str(self.name))):
            object.__setattr__(self, key, value)
        self._derive()
        self._warn_unreached()

    def _derive(self) -> None:
        """Freeze the stored arrays and compute the degrees, segment starts and role masks."""
        in_degree, out_degree = (np.bincount(a, minlength=self.n) for a in (self.dst, self.src))
        # arcs are already sorted by dst, so a stable sort by src alone yields (src, dst) order
        out_perm = np.argsort(self.src, kind="stable")
        derived = dict(
            in_degree=in_degree,
            out_degree=out_degree,
            in_ptr=np.concatenate(([0], np.cumsum(in_degree))),
            out_perm=out_perm,
            out_ptr=np.concatenate(([0], np.cumsum(out_degree))),
            hidden=~(self.inputs | self.outputs),
            free=~self.inputs,
            _out_dst=self.dst[out_perm],
        )
        for key, value in derived.items():
            object.__setattr__(self, key, value)
        for key in ("src", "dst", "inputs", "outputs", *derived):
            getattr(self, key).flags.writeable = False

    # ---- constructors ------------------------------------------------------------------------

    @classmethod
    def from_arcs(
        cls, n: int, arcs: Any, inputs: Any = (), outputs: Any = (), name: str = ""
    ) -> Digraph:
        """Build from arcs given as ``(src, dst)`` pairs, an ``(M, 2)`` array or two 1-D arrays.

        >>> src, dst = np.array([0, 0]), np.array([1, 2])
        >>> Digraph.from_arcs(3, (src, dst), inputs=[0], outputs=[1, 2]).arcs()
        [(0, 1), (0, 2)]
        """
        src, dst = _split_arcs(arcs)
        return cls(n, src, dst, inputs, outputs, name=name)

    @classmethod
    def from_networkx(cls, G: nx.DiGraph) -> Digraph:
        """Build from a networkx DiGraph whose node attribute ``role`` is input/output/hidden.

        Labels are numbered in sorted order when they sort, else in insertion order; the original
        labels are kept in ``labels``. A missing ``role`` means hidden.
        """
        if not G.is_directed():
            raise GraphError(
                "from_networkx needs a directed graph (networkx.DiGraph); convert an undirected "
                "graph with G.to_directed() if every edge should run both ways"
            )
        nodes = list(G.nodes)
        try:
            labels = sorted(nodes)
        except TypeError:  # mixed or unorderable labels: keep networkx's insertion order
            labels = nodes
        index = {label: k for k, label in enumerate(labels)}
        roles: dict[str, list[int]] = {"input": [], "output": [], "hidden": []}
        for k, label in enumerate(labels):
            role = G.nodes[label].get("role", "hidden")
            if role not in roles:
                raise GraphError(f"node {label!r} has role {role!r}; use input, output or hidden")
            roles[role].append(k)
        m = G.number_of_edges()
        src = np.fromiter((index[u] for u, _ in G.edges()), dtype=np.int64, count=m)
        dst = np.fromiter((index[v] for _, v in G.edges()), dtype=np.int64, count=m)
        name = G.graph.get("name") or f"networkx digraph ({len(labels)} nodes, {m} arcs)"
        return cls(len(labels), src, dst, roles["input"], roles["output"], name, tuple(labels))

    @classmethod
    def from_spec(cls, spec: str) -> Digraph:
        """Build from a spec string ``KIND:ARGS[:in=K][:out=K]`` (see
        :func:`stlp_sym.graph.spec.parse_spec`) or a graph file ``PATH[:inputs=IDS][:outputs=IDS]``
        (see :mod:`stlp_sym.graph.files`)."""
        return cls.spec_reader(spec)

    # ---- queries -----------------------------------------------------------------------------

    @property
    def n_arcs(self) -> int:
        """Number of arcs ``|A|``."""
        return int(self.src.size)

    def parents(self, i: int) -> np.ndarray:
        """Sorted parents ``pa(i)`` (sources of the arcs entering ``i``), a read-only view."""
        i = self._node(i)
        return self.src[self.in_ptr[i] : self.in_ptr[i + 1]]

    def children(self, i: int) -> np.ndarray:
        """Sorted children ``ch(i)`` (destinations of the arcs leaving ``i``), a read-only view."""
        i = self._node(i)
        return self._out_dst[self.out_ptr[i] : self.out_ptr[i + 1]]

    def arc_index(self, j: int, i: int) -> int:
        """Index ``e`` of the arc ``j -> i`` in the sorted arrays; GraphError if there is none."""
        j, i = self._node(j), self._node(i)
        lo = int(self.in_ptr[i])
        k = lo + int(np.searchsorted(self.parents(i), j))
        if k < self.in_ptr[i + 1] and self.src[k] == j:
            return k
        raise GraphError(f"graph {self.name!r} has no arc ({j} -> {i})")

    def arcs(self) -> list[tuple[int, int]]:
        """The arcs as ``(src, dst)`` pairs of Python ints, in the stored ``(dst, src)`` order."""
        return list(zip(self.src.tolist(), self.dst.tolist(), strict=True))

    def role_mask(self, role: str) -> np.ndarray:
        """The read-only boolean mask of ``role``, one of ``ROLES``."""
        if role == "all":
            mask = np.ones(self.n, dtype=bool)
            mask.flags.writeable = False
            return mask
        if role not in ROLES:
            raise GraphError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        return getattr(self, {"input": "inputs", "output": "outputs"}.get(role, role))

    def to_networkx(self) -> nx.DiGraph:
        """A networkx DiGraph with node attribute ``role`` and arc attribute ``index``."""
        import networkx as nx  # lazily: only conversions need it

        G = nx.DiGraph(name=self.name)
        roles = np.where(self.inputs, "input", np.where(self.outputs, "output", "hidden"))
        G.add_nodes_from((lab, {"role": r}) for lab, r in zip(self.labels, roles, strict=True))
        lab = self.labels
        G.add_edges_from((lab[j], lab[i], {"index": e}) for e, (j, i) in enumerate(self.arcs()))
        return G

    # ---- dunder and helpers ------------------------------------------------------------------

    def __repr__(self) -> str:
        ins, outs = (self._fmt(np.flatnonzero(m)) for m in (self.inputs, self.outputs))
        head = f"Digraph(name={self.name!r}, n={self.n}, n_arcs={self.n_arcs}"
        return f"{head}, inputs=[{ins}], outputs=[{outs}])"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Digraph):
            return NotImplemented
        keys = ("src", "dst", "inputs", "outputs")
        return (self.n, self.labels) == (other.n, other.labels) and all(
            np.array_equal(getattr(self, k), getattr(other, k)) for k in keys
        )

    def __hash__(self) -> int:
        arrays = (self.src, self.dst, self.inputs, self.outputs)
        return hash((self.n, self.labels, *(a.tobytes() for a in arrays)))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # rebuild without re-validating (and re-warning); the arrays come back read-only
        keys = ("n", "src", "dst", "inputs", "outputs", "name", "labels")
        return _restore, ({k: getattr(self, k) for k in keys},)

    def _node(self, i: Any) -> int:
        if isinstance(i, bool | np.bool_) or not isinstance(i, int | np.integer):
            raise GraphError(f"node id {i!r} is not an integer; node ids are 0..{self.n - 1}")
        if not 0 <= i < self.n:
            raise GraphError(f"node {i} is out of range; node ids are 0..{self.n - 1}")
        return int(i)

    def _fmt(self, ids: Any) -> str:
        """Node ids for a message, with their labels when these are not the ids themselves."""
        ids = [int(k) for k in ids]
        shown = [f"{k}" if self.labels[k] == k else f"{k} ({self.labels[k]!r})" for k in ids[:10]]
        return ", ".join(shown) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")

    def _warn_unreached(self) -> None:
        outs = np.flatnonzero(self.outputs)
        if outs.size == 0:
            return
        if not self.inputs.any():
            message = (
                f"graph has no input nodes; outputs {self._fmt(outs)} receive no signal "
                f"(graph {self.name!r}): add inputs, e.g. ':in=K' in a complete or random spec"
            )
        else:
            lost = outs[~self._reachable(outs)[outs]]
            if lost.size == 0:
                return
            message = (
                f"outputs {self._fmt(lost)} are not reachable from any input, so they receive no "
                f"signal (graph {self.name!r}): add arcs towards them or make them hidden"
            )
        warnings.warn(message, StlpWarning, stacklevel=_user_stacklevel())

    def _reachable(self, targets: np.ndarray) -> np.ndarray:
        """Mask of the nodes reached from the inputs (stops early once ``targets`` are reached)."""
        seen = self.inputs.copy()
        frontier = np.flatnonzero(seen)
        for _ in range(_NUMPY_LEVELS):  # wide graphs: whole breadth-first levels in NumPy
            if frontier.size == 0 or seen[targets].all():
                return seen
            counts = self.out_degree[frontier]
            firsts = np.repeat(self.out_ptr[frontier] - np.cumsum(counts) + counts, counts)
            kids = self._out_dst[firsts + np.arange(firsts.size)]
            kids = kids[~seen[kids]]
            seen[kids] = True
            frontier = np.unique(kids)
        # long thin graphs (chains): a queue costs O(1) per arc instead of O(n) NumPy per level
        ptr, kids_list, flags = self.out_ptr.tolist(), self._out_dst.tolist(), seen.tolist()
        queue = deque(frontier.tolist())
        missing = set(targets.tolist()) - set(np.flatnonzero(seen).tolist())
        while queue and missing:
            v = queue.popleft()
            for c in kids_list[ptr[v] : ptr[v + 1]]:
                if not flags[c]:
                    flags[c] = True
                    queue.append(c)
                    missing.discard(c)
        return np.array(flags, dtype=bool)


def _restore(state: dict[str, Any]) -> Digraph:
    graph = object.__new__(Digraph)
    for key, value in state.items():
        object.__setattr__(graph, key, np.array(value) if isinstance(value, np.ndarray) else value)
    graph._derive()
    return graph


def _user_stacklevel() -> int:
    """Stack level of the first frame outside this module and :mod:`stlp_sym.graph.spec`, so a
    warning points at user code."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename in _OWN_FILES:
        frame, level = frame.f_back, level + 1
    return level


# ---- validation helpers ----------------------------------------------------------------------


#: Bytes a digraph takes per node and per arc, its derived arrays and a run's state included
#: (an over-estimate: the label tuple, degree and pointer arrays, masks, float states).
NODE_BYTES, ARC_BYTES = 160, 96


def available_memory() -> int:
    """Bytes of memory available to this process (``MemAvailable``; physical memory as a
    fallback; 1 TiB if neither is known)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 1 << 40


def check_fits(n: int, m: int, what: str = "the graph") -> None:
    """Refuse, before anything is allocated, a graph of ``n`` nodes and ``m`` arcs whose arrays
    would not fit in the available memory, with the estimate.

    >>> check_fits(10**6, 10**12)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stlp_sym.errors.GraphError: the graph has 1000000 nodes and 1000000000000 arcs: about ...
    """
    check_memory(n * NODE_BYTES + m * ARC_BYTES, f"{what} has {n} nodes and {m} arcs")


def check_memory(need: int, what: str) -> None:
    """Refuse work that needs about ``need`` bytes when less is available, naming ``what``
    and both amounts."""
    have = available_memory()
    if need > have:
        raise GraphError(
            f"{what}: about {_bytes(need)} of memory, more than the {_bytes(have)} available"
        )


def _bytes(count: float) -> str:
    if count >= 1024**7:  # beyond any memory (and, far beyond, beyond a float)
        return "1024+ PiB"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    return f"{count:.1f} PiB"


def _check_count(n: Any) -> int:
    if isinstance(n, bool | np.bool_) or not isinstance(n, int | np.integer):
        raise GraphError(f"n = {n!r} is not an integer; give the number of nodes as an int")
    if n < 0:
        raise GraphError(f"n = {n} is negative; give the number of nodes, n >= 1")
    if n == 0:
        raise GraphError("n = 0: a graph needs at least one node; give n >= 1")
    return int(n)


def _integral(a: np.ndarray) -> np.ndarray:
    """Elementwise: is this entry usable as a node id (an integer, or a float with no fraction)?"""
    if a.dtype.kind in "iu":
        return np.ones(a.shape, dtype=bool)
    if a.dtype.kind == "f":
        return np.isfinite(a) & (a == np.trunc(a))
    if a.dtype.kind == "O":
        flat = (
            (isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_))
            or (isinstance(x, float | np.floating) and float(x).is_integer())
            for x in a.ravel()
        )
        return np.fromiter(flat, dtype=bool, count=a.size).reshape(a.shape)
    return np.zeros(a.shape, dtype=bool)  # booleans, strings, complex numbers are not ids


def _py(x: Any) -> Any:
    """A NumPy scalar as the Python scalar it holds, so a message shows ``1.5``."""
    return x.item() if isinstance(x, np.generic) else x


def _split_arcs(arcs: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(arcs, np.ndarray | Sequence):
        arcs = list(arcs)  # a generator or set of pairs
    pair = isinstance(arcs, tuple | list) and len(arcs) == 2
    if pair and all(isinstance(a, np.ndarray) for a in arcs):
        return arcs[0], arcs[1]
    try:
        a = np.asarray(arcs)
        if a.dtype.kind not in "iufb":  # keep the user's own objects so a culprit can be named
            a = np.asarray(arcs, dtype=object)
    except ValueError:  # ragged: some item is not a pair
        a = np.empty(len(arcs), dtype=object)
        a[:] = list(arcs)
    if a.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if a.ndim == 2 and a.shape[1] == 2:
        return a[:, 0], a[:, 1]
    if a.ndim == 1:
        for k, arc in enumerate(a):
            if not isinstance(arc, Sequence | np.ndarray) or len(arc) != 2:
                raise GraphError(f"arc #{k} = {arc!r} is not a (src, dst) pair; give {_ARC_FORMS}")
    raise GraphError(f"arcs have shape {a.shape}; give {_ARC_FORMS}")


def _arc_arrays(src: Any, dst: Any) -> tuple[np.ndarray, np.ndarray]:
    s, d = np.asarray(src), np.asarray(dst)
    if s.ndim != 1 or s.shape != d.shape:
        raise GraphError(
            f"src and dst must be 1-D arrays of equal length, got shapes {s.shape} and {d.shape}"
        )
    bad = np.flatnonzero(~(_integral(s) & _integral(d)))
    if bad.size:
        j, i = _py(s[bad[0]]), _py(d[bad[0]])
        raise GraphError(
            f"arc #{bad[0]} ({j!r} -> {i!r}) has a non-integer node id; node ids are integers"
        )
    return np.array(s, dtype=np.int64), np.array(d, dtype=np.int64)  # copies we may freeze


def _check_range(n: int, src: np.ndarray, dst: np.ndarray) -> None:
    bad = np.flatnonzero((src < 0) | (src >= n) | (dst < 0) | (dst >= n))
    if bad.size:
        j, i = src[bad[0]], dst[bad[0]]
        culprit = j if not 0 <= j < n else i
        raise GraphError(
            f"arc ({j} -> {i}) has node id {culprit} out of range; node ids are 0..{n - 1} "
            f"(n = {n}): fix the arc or raise n"
        )


def _mask(n: int, value: Any, role: str) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype == bool and a.ndim == 1 and a.size > 0:
        if a.shape != (n,):
            raise GraphError(f"the {role} mask has shape {a.shape}; a role mask needs shape ({n},)")
        return a.copy()
    a = a.ravel()
    ok = _integral(a)
    if not ok.all():
        raise GraphError(f"{role} id {_py(a[~ok][0])!r} is not an integer; node ids are 0..{n - 1}")
    ids = a.astype(np.int64)
    bad = ids[(ids < 0) | (ids >= n)]
    if bad.size:
        raise GraphError(f"{role} id {bad[0]} is out of range; node ids are 0..{n - 1} (n = {n})")
    mask = np.zeros(n, dtype=bool)
    mask[ids] = True
    return mask


def _sort_unique(
    n: int, src: np.ndarray, dst: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort the arcs by ``(dst, src)``, rejecting duplicates; already sorted input is kept.
    Returns the sorted ``src``, ``dst`` and the order (sorted arc ``k`` is given arc
    ``order[k]``)."""
    key = dst * n + src
    if np.all(key[1:] > key[:-1]):  # strictly increasing: sorted and free of duplicates
        return src, dst, np.arange(src.size)
    order = np.argsort(key, kind="stable")
    key = key[order]
    dup = np.flatnonzero(key[1:] == key[:-1])
    if dup.size:
        a, b = sorted(order[dup[0] : dup[0] + 2].tolist())
        raise GraphError(
            f"arc ({src[a]} -> {dst[a]}) is given twice (arcs {a} and {b}); remove the duplicate"
        )
    return src[order], dst[order], order
