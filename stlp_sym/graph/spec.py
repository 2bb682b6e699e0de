"""Graph generators and the spec parser: :func:`chain`, :func:`feedforward`, :func:`complete`,
:func:`random_graph` and :func:`parse_spec`, each building a :class:`~stlp_sym.graph.Digraph`
(re-exported by :mod:`stlp_sym.graph`). A spec string (**contract**) is
``KIND:ARGS[:in=K][:out=K]``:

- ``chain:N``: arcs ``i -> i+1``, input 0, output N-1.
- ``feedforward:A,B,...``: consecutive layers fully connected; first layer inputs, last outputs.
- ``complete:N``: every ordered pair ``i != j`` except into inputs; inputs feed every non-input.
- ``random:N,M,SEED``: M distinct arcs, never into an input, self-loops possible: the codes
  ``src * (N - in) + (dst - in)`` are drawn by ``default_rng(SEED).choice(N * (N - in), M,
  replace=False)`` (with ``in=0`` this is ``src * N + dst``).
- ``complete`` and ``random`` only: no inputs and output N-1 by default; ``in=K`` makes nodes
  ``0..K-1`` inputs, ``out=K`` the last K nodes outputs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from ..errors import GraphError
from .digraph import Digraph, check_fits
from .files import is_graph_file, read_graph_spec

_FORMS = {
    "chain": "'chain:N'",
    "feedforward": "'feedforward:A,B,...'",
    "complete": "'complete:N[:in=K][:out=K]'",
    "random": "'random:N,M,SEED[:in=K][:out=K]'",
}


def _int_arg(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise GraphError(f"{what} = {value!r} is not an integer")
    if value < minimum:
        raise GraphError(f"{what} = {value} is too small; it must be >= {minimum}")
    return int(value)


def _role_args(n: Any, n_inputs: Any, n_outputs: Any) -> tuple[int, int, int]:
    n = _int_arg(n, "N", 1)
    k, o = _int_arg(n_inputs, "in", 0), _int_arg(n_outputs, "out", 0)
    if k + o > n:
        raise GraphError(f"in = {k} plus out = {o} exceeds N = {n} nodes; keep in + out <= N")
    return n, k, o


def _spec_name(kind: str, args: Sequence[int], k: int, o: int) -> str:
    """The canonical spec: options appear only where they differ from the defaults."""
    return (
        f"{kind}:{','.join(map(str, args))}"
        + (f":in={k}" if k else "")
        + (f":out={o}" if o != 1 else "")
    )


def chain(n: int) -> Digraph:
    """Arcs ``i -> i+1`` with input 0 and output ``n - 1`` (needs ``n >= 2``).

    >>> chain(3).arcs()
    [(0, 1), (1, 2)]
    """
    n = _int_arg(n, "N", 2)
    check_fits(n, n - 1)
    ids = np.arange(n - 1)
    return Digraph(n, ids, ids + 1, [0], [n - 1], name=f"chain:{n}")


def feedforward(sizes: Sequence[int]) -> Digraph:
    """Layers of the given sizes, each fully connected to the next; first inputs, last outputs.

    >>> g = feedforward([2, 1])
    >>> g.arcs(), g.inputs.tolist(), g.outputs.tolist()
    ([(0, 2), (1, 2)], [True, True, False], [False, False, True])
    """
    sizes = [_int_arg(s, f"layer {k} size", 1) for k, s in enumerate(sizes)]
    if len(sizes) < 2:
        raise GraphError(f"feedforward needs at least 2 layers (inputs, outputs), got {sizes}")
    arcs = sum(a * b for a, b in pairwise(sizes))
    check_fits(sum(sizes), arcs)
    starts = np.concatenate(([0], np.cumsum(sizes)))
    layers = [np.arange(a, b) for a, b in pairwise(starts)]
    src = [np.repeat(a, b.size) for a, b in pairwise(layers)]
    dst = [np.tile(b, a.size) for a, b in pairwise(layers)]
    name = f"feedforward:{','.join(map(str, sizes))}"
    n = int(starts[-1])
    src, dst = _in_stored_order(n, np.concatenate(src), np.concatenate(dst))
    return Digraph(n, src, dst, layers[0], layers[-1], name)


def complete(n: int, n_inputs: int = 0, n_outputs: int = 1) -> Digraph:
    """All ordered pairs ``j -> i``, ``i != j``, with ``i`` not an input (no self-loops).

    Nodes ``0..n_inputs-1`` are inputs and the last ``n_outputs`` nodes outputs.

    >>> complete(3, n_inputs=1).arcs()
    [(0, 1), (2, 1), (0, 2), (1, 2)]
    """
    n, k, o = _role_args(n, n_inputs, n_outputs)
    check_fits(n, (n - k) * (n - 1))
    dst = np.repeat(np.arange(k, n), n - 1)
    src = np.tile(np.arange(n - 1), n - k)
    src += src >= dst  # sources 0..n-2 shifted past the destination: every node but dst itself
    name = _spec_name("complete", [n], k, o)
    src, dst = _in_stored_order(n, src, dst)
    return Digraph(n, src, dst, np.arange(k), np.arange(n - o, n), name=name)


def random_graph(n: int, m: int, seed: int, n_inputs: int = 0, n_outputs: int = 1) -> Digraph:
    """``m`` distinct random arcs, never into an input; self-loops possible.

    The codes ``src * (n - n_inputs) + (dst - n_inputs)`` are drawn without replacement by
    ``np.random.default_rng(seed).choice`` and decoded with ``divmod``, so the graph is a
    deterministic function of the arguments.

    >>> random_graph(50, 300, seed=1, n_inputs=2).n_arcs
    300
    """
    n, k, o = _role_args(n, n_inputs, n_outputs)
    m, seed = _int_arg(m, "M", 0), _int_arg(seed, "SEED", 0)
    total = n * (n - k)
    if m > total:
        raise GraphError(f"M = {m} exceeds the N * (N - in) = {total} possible arcs")
    check_fits(n, m)
    codes = np.random.default_rng(seed).choice(total, size=m, replace=False)
    src, dst = np.divmod(codes, n - k) if total else (codes, codes)
    name = _spec_name("random", [n, m, seed], k, o)
    src, dst = _in_stored_order(n, src, dst + k)
    return Digraph(n, src, dst, np.arange(k), np.arange(n - o, n), name=name)


def parse_spec(spec: str) -> Digraph:
    """Build the graph of a spec ``KIND:ARGS[:in=K][:out=K]`` (see the module docstring).

    ``name`` is the canonical spec (default options left out).

    >>> g = parse_spec("feedforward:2,3,1")
    >>> g.n, g.n_arcs, g.name
    (6, 9, 'feedforward:2,3,1')
    """
    if not isinstance(spec, str):
        raise GraphError(f"a graph spec is a string like 'chain:3', got {spec!r}")
    kind, *rest = (part.strip() for part in spec.strip().split(":"))
    form = _FORMS.get(kind)
    if form is None:
        expected = "one of " + ", ".join(_FORMS.values())
        raise _spec_error(spec, f"unknown kind {kind!r}", expected)
    if not rest or not rest[0]:
        raise _spec_error(spec, "missing arguments", form)
    args = [_spec_int(spec, a, form) for a in rest[0].split(",")]
    options = _spec_options(spec, kind, rest[1:], form)
    arity = {"chain": 1, "complete": 1, "random": 3}.get(kind)
    if arity is not None and len(args) != arity:
        raise _spec_error(spec, f"{kind} takes {arity} argument(s), got {len(args)}", form)
    try:
        if kind == "chain":
            return chain(args[0])
        if kind == "feedforward":
            return feedforward(args)
        build = complete if kind == "complete" else random_graph
        return build(*args, n_inputs=options.get("in", 0), n_outputs=options.get("out", 1))
    except GraphError as err:
        raise _spec_error(spec, str(err), form) from None


def graph_from_spec(spec: str) -> Digraph:
    """A graph file ``PATH[:inputs=IDS][:outputs=IDS]`` or a generator spec (what
    :meth:`Digraph.from_spec` and every ``--graph`` flag read).

    >>> graph_from_spec("chain:3").arcs()
    [(0, 1), (1, 2)]
    """
    if is_graph_file(spec):
        return read_graph_spec(spec)
    return parse_spec(spec)


def _spec_error(spec: str, problem: str, form: str) -> GraphError:
    return GraphError(f"bad graph spec {spec!r}: {problem}; expected {form}")


def _spec_int(spec: str, text: str, form: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text.strip()):
        raise _spec_error(spec, f"{text!r} is not an integer", form)
    return int(text)


def _spec_options(spec: str, kind: str, parts: list[str], form: str) -> dict[str, int]:
    options: dict[str, int] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq and key in ("in", "out"):
            raise _spec_error(spec, f"option {part!r} has no value; write {key}=K", form)
        if key not in ("in", "out"):
            raise _spec_error(spec, f"unknown option {part!r} (only in=K and out=K)", form)
        if kind not in ("complete", "random"):
            raise _spec_error(spec, f"{key}= applies to complete and random only", form)
        if key in options:
            raise _spec_error(spec, f"option {key}= is given twice", form)
        options[key] = _spec_int(spec, value, form)
    return options


def _in_stored_order(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The arcs of a generated graph sorted by ``(dst, src)``, as a digraph stores them: a
    spec's arcs are given in that order (per-arc values follow it)."""
    order = np.argsort(np.asarray(dst) * n + np.asarray(src), kind="stable")
    return np.asarray(src)[order], np.asarray(dst)[order]
