"""Benchmark of the symbolic stage: derive once per domain, against the unrolled route.

Run from the repository root::

    python benchmarks/bench_derive.py                 # default run, about a minute
    python benchmarks/bench_derive.py --quick         # smoke run, a few seconds
    python benchmarks/bench_derive.py --max-unrolled 12 --markdown results.md

Measured in one run, for model ``stlp`` with its default options (flip, normalise):

- **derive + transforms**: ``apply_options(MODELS["stlp"].build(), MODELS["stlp"].options)``, the
  whole graph-independent symbolic stage. It takes no graph, so it is timed once per graph row
  only to show that its cost is flat; building the :class:`~stlp_sym.graph.digraph.Digraph` is timed
  separately and is not part of it.
- **expand**: ``expand(derivation, graph)``, the only graph-dependent symbolic step (the equations
  of a concrete graph, written out), on small complete graphs.
- **unrolled route** (what other tools do): the Lagrangian of the raw, unflipped ``stlp`` action
  written out on the graph (``tests/unrolled.py``), SymPy's ``euler_equations``, a linear solve of
  each equation for its leading derivative, and ``lambdify(..., cse=True)`` of the solutions.

SymPy's cache is cleared before every timed repetition; times are wall-clock seconds, reported
as the median and the minimum over the repetitions.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy as sp
from machine import describe
from sympy.calculus.euler import euler_equations
from sympy.core.cache import clear_cache
from sympy.core.function import AppliedUndef
from sympy.solvers.solvers import solve_linear

from stlp_sym.errors import StlpWarning
from stlp_sym.graph import Digraph
from stlp_sym.symbolic.derivation import Derivation
from stlp_sym.symbolic.expansion import expand
from stlp_sym.symbolic.models import MODELS
from stlp_sym.symbolic.transforms import apply_options
from stlp_sym.symbolic.vocabulary import t

ROOT = Path(__file__).resolve().parents[1]

MODEL = "stlp"
COMPLETE_SIZES = (3, 5, 8, 12)
LARGE_GRAPHS = ("complete:30", "random:10000,1000000,1:in=10:out=10")
QUICK_LARGE_GRAPHS = ("complete:30", "random:1000,10000,1:in=10:out=10")
MAX_EXPAND = 12


@dataclass(frozen=True)
class Timing:
    """Median and minimum of repeated wall-clock measurements, in seconds."""

    median: float
    min: float
    runs: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Timing:
        """Summarise ``samples``."""
        return cls(statistics.median(samples), min(samples), len(samples))


@dataclass(frozen=True)
class Unrolled:
    """Stage times of one run of the unrolled route, in seconds."""

    lagrangian: float
    euler: float
    solve: float
    lambdify: float
    equations: int

    @property
    def total(self) -> float:
        """Lagrangian + Euler-Lagrange + solve + lambdify."""
        return self.lagrangian + self.euler + self.solve + self.lambdify


@dataclass(frozen=True)
class Row:
    """Everything measured on one graph."""

    spec: str
    nodes: int
    arcs: int
    graph_seconds: float
    derive: Timing
    expand: Timing | None = None
    unrolled: Unrolled | None = None

    @property
    def ours(self) -> float | None:
        """Median derive + transforms + expand, when expand was measured."""
        return None if self.expand is None else self.derive.median + self.expand.median


def progress(message: str) -> None:
    """A progress line on stderr (stdout keeps only the tables)."""
    print(f".. {message}", file=sys.stderr, flush=True)


def fresh() -> None:
    """Clear SymPy's caches and collect garbage, so no repetition is served from cache."""
    clear_cache()
    gc.collect()


def time_once(work: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call of ``work`` on fresh caches."""
    fresh()
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def time_repeated(work: Callable[[], Any], repeats: int) -> tuple[Timing, Any]:
    """``(Timing, last result)`` of ``repeats`` calls of ``work``, each on fresh caches."""
    samples, result = [], None
    for _ in range(repeats):
        seconds, result = time_once(work)
        samples.append(seconds)
    return Timing.of(samples), result


def build_graph(spec: str) -> tuple[float, Digraph]:
    """``(seconds, graph)``; warnings about inputs on complete graphs are silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StlpWarning)
        start = time.perf_counter()
        graph = Digraph.from_spec(spec)
        return time.perf_counter() - start, graph


def derive_stage() -> Derivation:
    """The graph-independent symbolic stage: build the action, derive, flip, normalise."""
    model = MODELS[MODEL]
    return apply_options(model.build(), model.options)


def leading_derivative(expr: sp.Expr) -> sp.Derivative:
    """The highest time derivative of an unknown function in ``expr`` (ties: sort order)."""
    found = [d for d in expr.atoms(sp.Derivative) if isinstance(d.expr, AppliedUndef)]
    return min(found, key=lambda d: (-d.derivative_count, sp.default_sort_key(d)))


def solve_leading(expr: sp.Expr, solver: str) -> sp.Expr:
    """Solve ``expr = 0`` for its leading derivative (``solve_linear`` or ``sympy.solve``)."""
    lead = leading_derivative(expr)
    if solver == "solve":
        (solution,) = sp.solve(expr, lead)
        return solution
    unknown = sp.Dummy("lead")
    symbol, solution = solve_linear(expr.xreplace({lead: unknown}), symbols=[unknown])
    if symbol != unknown:
        raise RuntimeError(f"the equation is not linear in {lead}: {expr}")
    return solution


def lambdify_solutions(solutions: list[sp.Expr]) -> Callable[..., Any]:
    """``lambdify(..., cse=True)`` after replacing derivatives, then functions, by symbols."""
    derivatives = set().union(*(e.atoms(sp.Derivative) for e in solutions))
    functions = set().union(*(e.atoms(AppliedUndef) for e in solutions))
    symbols = set().union(*(e.free_symbols for e in solutions))
    exprs, args = solutions, []
    for prefix, atoms in (("d", derivatives), ("f", functions)):
        names = {a: sp.Symbol(f"_{prefix}{i}") for i, a in enumerate(sorted(atoms, key=sp.srepr))}
        exprs = [e.xreplace(names) for e in exprs]
        args += names.values()
    args += sorted(symbols, key=sp.default_sort_key)
    return sp.lambdify(args, exprs, modules="numpy", cse=True)


def reference_lagrangian() -> Callable[..., Any]:
    """``unrolled_lagrangian`` of ``tests/unrolled.py``, the tests' independent reference."""
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    from unrolled import unrolled_lagrangian

    return unrolled_lagrangian


def unrolled_route(graph: Digraph, solver: str) -> Unrolled:
    """One timed run of the unrolled route on ``graph`` (raw ``stlp`` action, no transforms)."""
    unrolled_lagrangian = reference_lagrangian()
    seconds_l, (lagrangian, unknowns) = time_once(
        lambda: unrolled_lagrangian(MODELS[MODEL].build(), graph)
    )
    functions = list(unknowns.values())
    seconds_e, equations = time_once(lambda: euler_equations(lagrangian, functions, t))
    exprs = [eq.lhs - eq.rhs for eq in equations]
    seconds_s, solutions = time_once(lambda: [solve_leading(e, solver) for e in exprs])
    seconds_f, _ = time_once(lambda: lambdify_solutions(solutions))
    return Unrolled(seconds_l, seconds_e, seconds_s, seconds_f, len(equations))


def warm_up() -> None:
    """Import and first-call costs (printers, numpy) paid before anything is timed."""
    derive_stage()
    x = sp.Symbol("x")
    sp.lambdify([x], [sp.tanh(x) ** 2, sp.tanh(x)], modules="numpy", cse=True)
    solve_linear(2 * x - 1, symbols=[x])


def measure(spec: str, repeats: int, max_unrolled: int, solver: str) -> Row:
    """All measurements of one graph row."""
    graph_seconds, graph = build_graph(spec)
    progress(f"{spec}: n={graph.n:,} arcs={graph.n_arcs:,}, graph built in {graph_seconds:.3f} s")
    derive, derivation = time_repeated(derive_stage, repeats)
    progress(f"{spec}: derive + transforms median {derive.median:.3f} s")
    size = complete_size(spec)
    expanded, unrolled = None, None
    if size is not None and size <= MAX_EXPAND:
        expanded = measure_expand(spec, derivation, graph, repeats)
    if size is not None and size <= max_unrolled:
        progress(f"{spec}: unrolled route ({solver}) ...")
        unrolled = unrolled_route(graph, solver)
        progress(f"{spec}: unrolled route {unrolled.total:.2f} s")
    return Row(spec, graph.n, graph.n_arcs, graph_seconds, derive, expanded, unrolled)


def measure_expand(spec: str, derivation: Derivation, graph: Digraph, repeats: int) -> Timing:
    """Time ``expand(derivation, graph)``; check it solved one equation per unknown."""
    timing, expanded = time_repeated(lambda: expand(derivation, graph), repeats)
    if len(expanded.solution) != len(expanded.unknowns):
        raise RuntimeError(f"{spec}: expand solved {len(expanded.solution)} equations only")
    progress(f"{spec}: expand median {timing.median:.3f} s ({len(expanded.unknowns)} equations)")
    return timing


def complete_size(spec: str) -> int | None:
    """``N`` of a ``complete:N`` spec, else ``None``."""
    kind, _, rest = spec.partition(":")
    return int(rest) if kind == "complete" and rest.isdigit() else None


def _s(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pair(timing: Timing | None) -> str:
    return "-" if timing is None else f"{timing.median:.3f} / {timing.min:.3f}"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None:
        return "-"
    ratio = numerator / denominator
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


MAIN_HEADER = (
    "graph",
    "nodes",
    "arcs",
    "graph build [s]",
    "derive+transforms [s] median / min",
    "expand [s] median / min",
    "unrolled [s]",
    "unrolled / (D+T+E)",
    "unrolled / (D+T)",
)
STAGE_HEADER = (
    "graph",
    "equations",
    "unrolled L [s]",
    "euler_equations [s]",
    "solve [s]",
    "lambdify cse [s]",
    "total [s]",
)


def main_cells(row: Row) -> list[str]:
    """One row of the main table."""
    unrolled = None if row.unrolled is None else row.unrolled.total
    return [
        f"`{row.spec}`",
        f"{row.nodes:,}",
        f"{row.arcs:,}",
        _s(row.graph_seconds),
        _pair(row.derive),
        _pair(row.expand),
        _s(unrolled, 2),
        _ratio(unrolled, row.ours),
        _ratio(unrolled, row.derive.median),
    ]


def stage_cells(row: Row) -> list[str]:
    """One row of the table of the unrolled route's stages."""
    u = row.unrolled
    assert u is not None
    stages = (u.lagrangian, u.euler, u.solve, u.lambdify, u.total)
    return [f"`{row.spec}`", str(u.equations), *(_s(s, 2) for s in stages)]


def render(header: Sequence[str], rows: list[list[str]], markdown: bool) -> str:
    """A Markdown table, or an aligned plain-text one."""
    if markdown:
        lines = [header, ["---"] + ["--:"] * (len(header) - 1), *rows]
        return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
    plain = [[cell.strip("`") for cell in cells] for cells in rows]
    widths = [max(len(r[i]) for r in [list(header), *plain]) for i in range(len(header))]
    lines = [list(header), ["-" * w for w in widths], *plain]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in lines)


def machine() -> str:
    """CPU model, core count, OS, Python and SymPy versions."""
    return describe(f"SymPy {sp.__version__}")


def report(rows: list[Row], args: argparse.Namespace, markdown: bool) -> str:
    """Both tables, with the machine and the settings."""
    unrolled = [r for r in rows if r.unrolled is not None]
    settings = (
        f"model `{MODEL}` ({MODELS[MODEL].options.describe()}); {args.repeats} repetitions "
        f"(median, min); unrolled route: raw `{MODEL}` action, 1 run, solver `{args.solver}`; "
        "D+T = derive+transforms median, E = expand median"
    )
    parts = [
        f"Machine: {machine()}",
        f"Settings: {settings}",
        render(MAIN_HEADER, [main_cells(r) for r in rows], markdown),
        "Unrolled route, by stage:",
        render(STAGE_HEADER, [stage_cells(r) for r in unrolled], markdown),
    ]
    return "\n\n".join(parts) + "\n"


def graph_specs(quick: bool) -> list[str]:
    """The graph rows, small to large."""
    sizes = COMPLETE_SIZES[:2] if quick else COMPLETE_SIZES
    large = QUICK_LARGE_GRAPHS if quick else LARGE_GRAPHS
    return [f"complete:{n}" for n in sizes] + list(large)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--repeats", type=int, help="repetitions per measurement (default 5)")
    parser.add_argument(
        "--max-unrolled", type=int, help="largest complete:N for the unrolled route (default 8)"
    )
    parser.add_argument(
        "--solver",
        choices=("linear", "solve"),
        default="linear",
        help="leading-derivative solve of the unrolled route: solve_linear or sympy.solve",
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables as Markdown here")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.max_unrolled is None:
        args.max_unrolled = 3 if args.quick else 8
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Run every measurement, print the tables, optionally write them as Markdown."""
    args = parse_args(argv)
    progress(f"machine: {machine()}")
    warm_up()
    started = time.perf_counter()
    rows = [
        measure(spec, args.repeats, args.max_unrolled, args.solver)
        for spec in graph_specs(args.quick)
    ]
    progress(f"done in {time.perf_counter() - started:.1f} s")
    print(report(rows, args, markdown=False))
    if args.markdown is not None:
        args.markdown.write_text(report(rows, args, markdown=True))
        progress(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
