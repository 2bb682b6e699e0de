"""Benchmark of the generated step: model ``stlp`` against hand-written NumPy and a memory floor.

Run from the repository root::

    python benchmarks/bench_step.py                   # default run, about 20 s
    python benchmarks/bench_step.py --quick           # smoke run, small graphs, 3 repetitions
    python benchmarks/bench_step.py --reps 7 --markdown results.md
    python benchmarks/bench_step.py --profile         # also time each line of the kernels

Measured in one run, with the repetitions of (generated, baseline, copy) interleaved and the
median reported, for each graph of :data:`GRAPHS`:

- **generated**: ``step`` of the module ``build(MODELS["stlp"].build(), MODELS["stlp"].options)``
  (Euler), one call = one step. ``signals(t)`` returns preallocated node arrays updated in place
  (``u = cos t`` on the inputs, ``z = sin t`` on the outputs), so their cost is negligible.
- **baseline**: :func:`baseline_step`, a straightforward hand-written NumPy step of the same
  equations on the same (destination-sorted) arcs, with the same parameter values.
- **floor**: 48 bytes per arc per step divided by the copy bandwidth measured in the same run
  (``np.copyto`` of 10M float64, counting the bytes read and written: 160 MB per copy).

Before timing, both steps run from the same state on ``complete:6:in=1`` and on the benchmark
graph and must agree (``x``, ``lambda_hat`` on the free nodes, ``w``, ``w_d1``) to 1e-9 relative.
Also timed: generating the module cold (derive, render, write, import into an empty directory)
and loading it from the cache after the imports, in this process and in fresh subprocesses.
"""

from __future__ import annotations

import argparse
import ast
import gc
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from machine import describe

from stlp_sym.cache.store import build, generate, load
from stlp_sym.graph import Digraph
from stlp_sym.symbolic.models import MODELS

ROOT = Path(__file__).resolve().parents[1]

MODEL = "stlp"
GRAPHS = ("random:10000,1000000,1:in=10:out=10", "complete:1000:in=10")
QUICK_GRAPHS = ("random:1000,20000,1:in=10:out=10", "complete:100:in=10")
CHECK_GRAPH = "complete:6:in=1"
TAU = 1e-3
T0 = 0.3
BYTES_PER_ARC = 48
COPY_SIZE = 10_000_000  # float64 entries per copy array: 80 MB read + 80 MB written
RTOL = 1e-9
TARGET_BASELINE = 0.6
TARGET_FLOOR = 6.0
TARGET_COLD = 2.0
TARGET_CACHED = 0.1

State = dict[str, np.ndarray]
Step = Callable[[float], None]


# ---- the two steps -----------------------------------------------------------------------------


class Signals:
    """``signals(t)``: preallocated ``u`` (``cos t`` on inputs) and ``z`` (``sin t`` on outputs)."""

    def __init__(self, graph: Digraph) -> None:
        self.inputs = np.flatnonzero(graph.inputs)
        self.outputs = np.flatnonzero(graph.outputs)
        self.arrays = {"u": np.zeros(graph.n), "z": np.zeros(graph.n)}

    def __call__(self, t: float) -> dict[str, np.ndarray]:
        """Update the arrays in place for time ``t`` and return them."""
        self.arrays["u"][self.inputs] = np.cos(t)
        self.arrays["z"][self.outputs] = np.sin(t)
        return self.arrays


@dataclass(frozen=True)
class Arcs:
    """What the baseline reads: node count, destination-sorted arcs and boolean role masks."""

    n: int
    src: np.ndarray
    dst: np.ndarray
    inputs: np.ndarray
    out: np.ndarray


def baseline_step(
    t: float, tau: float, state: State, g: Arcs, p: dict[str, float], signals: Signals
) -> State:
    """One Euler step of ``stlp``, hand-written (the equations of the generated module's header).

    ``z`` is read at ``t``; the inputs are re-clamped to ``u(t + tau)`` at the end, which is what
    the generated step's clamp at the start of the next step sees. Returns a new state dict.
    """
    n, src, dst, out, inputs = g.n, g.src, g.dst, g.out, g.inputs
    x, lh, w, v = state["x"], state["lambda_hat"], state["w"], state["w_d1"]
    c, th, q, r, rw = p["c"], p["theta"], p["q"], p["r"], p["r_w"]
    z = signals(t)["z"]
    # fmt: off
    a = np.bincount(dst, weights=w * x[src], minlength=n); s = np.tanh(a); ls = lh * (1 - s * s)  # noqa: E702
    msg = np.bincount(src, weights=ls[dst] * w, minlength=n); e = np.where(out, x - z, 0.0)  # noqa: E702
    dx = c * (s - x); dlh = -(th + c) * lh - q * e + c * msg  # noqa: E702
    dv = -th * v - (rw / r) * w + (c / r) * ls[dst] * x[src]
    x = x + tau * dx; lh = lh + tau * dlh; w = w + tau * v; v = v + tau * dv   # inputs re-clamped  # noqa: E702
    # fmt: on
    x[inputs] = signals(t + tau)["u"][inputs]
    return {"x": x, "lambda_hat": lh, "w": w, "w_d1": v}


@dataclass
class Case:
    """One graph with the generated module's plan and a stepper for each implementation."""

    spec: str
    graph: Digraph
    module: ModuleType
    plan: dict[str, Any]
    arcs: Arcs
    params: dict[str, float]
    signals: Signals

    @classmethod
    def of(cls, spec: str, module: ModuleType) -> Case:
        """Build the graph, the plan and the baseline's arrays (the plan's arc order)."""
        graph = Digraph.from_spec(spec)
        plan = module.prepare(graph.n, graph.src, graph.dst, graph.inputs, graph.outputs)
        if not (np.array_equal(plan["src"], graph.src) and np.array_equal(plan["dst"], graph.dst)):
            raise AssertionError(f"{spec}: the plan's arc order differs from the graph's")
        if graph.in_degree[graph.inputs].any():  # else lambda_hat on inputs would matter
            raise AssertionError(f"{spec}: an arc enters an input node")
        arcs = Arcs(graph.n, plan["src"], plan["dst"], graph.inputs.copy(), graph.outputs.copy())
        return cls(spec, graph, module, plan, arcs, dict(module.PARAMS), Signals(graph))

    def start_state(self, seed: int = 0) -> State:
        """A state where every term matters: random ``x``, ``lambda_hat``, ``w``, ``w_d1``.

        Inputs are clamped to ``u(T0)``; ``lambda_hat`` is zero on them (it does not exist there).
        """
        state = self.module.init(self.plan, seed=seed)
        rng = np.random.default_rng(seed + 1)
        state["x"][:] = rng.uniform(-1.0, 1.0, self.graph.n)
        state["lambda_hat"][:] = rng.normal(0.0, 0.1, self.graph.n) * self.graph.free
        state["w_d1"][:] = rng.normal(0.0, 0.1, self.plan["m"])
        return self.module.clamp(T0, state, self.plan, self.signals(T0))

    def generated(self, state: State) -> Step:
        """``step(t)``: the generated module's Euler step, in place on ``state``."""
        module, plan, params, signals = self.module, self.plan, self.params, self.signals

        def step(t: float) -> None:
            module.step(t, TAU, state, plan, params, signals)

        return step

    def baseline(self, state: State) -> Step:
        """``step(t)``: :func:`baseline_step`, rebinding the arrays held in ``state``."""
        arcs, params, signals = self.arcs, self.params, self.signals

        def step(t: float) -> None:
            state.update(baseline_step(t, TAU, state, arcs, params, signals))

        return step


def check_agreement(case: Case, steps: int = 5) -> float:
    """Run both steps ``steps`` times from one state; return the worst relative difference.

    Raises ``AssertionError`` when they differ by more than :data:`RTOL` (relative to each
    array's largest magnitude): then the benchmark would compare different computations.
    """
    generated_state = case.start_state()
    baseline_state = {k: v.copy() for k, v in generated_state.items()}
    gen, base = case.generated(generated_state), case.baseline(baseline_state)
    for k in range(steps):
        gen(T0 + k * TAU)
        base(T0 + k * TAU)
    t_end = T0 + steps * TAU
    case.module.clamp(t_end, generated_state, case.plan, case.signals(t_end))
    free = case.graph.free
    worst = 0.0
    for name in ("x", "lambda_hat", "w", "w_d1"):
        ours, ref = generated_state[name], baseline_state[name]
        if name == "lambda_hat":  # exists on the free nodes only; no arc reads it on the inputs
            ours, ref = ours[free], ref[free]
        scale = max(float(np.max(np.abs(ref), initial=0.0)), 1e-300)
        diff = float(np.max(np.abs(ours - ref), initial=0.0)) / scale
        if not diff <= RTOL:  # also catches NaN
            raise AssertionError(f"{case.spec}: {name} differs by {diff:.2e} after {steps} steps")
        worst = max(worst, diff)
    return worst


# ---- timing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """The interleaved samples of one graph: seconds per step, and seconds per copy."""

    spec: str
    arcs: int
    generated_times: tuple[float, ...]
    baseline_times: tuple[float, ...]
    copy_times: tuple[float, ...]
    agreement: float

    @property
    def generated(self) -> float:
        """Median seconds per generated step."""
        return statistics.median(self.generated_times)

    @property
    def baseline(self) -> float:
        """Median seconds per baseline step."""
        return statistics.median(self.baseline_times)

    @property
    def bandwidth(self) -> float:
        """Copy bandwidth, bytes read + written per second (median copy time)."""
        return 2 * 8 * COPY_SIZE / statistics.median(self.copy_times)

    @property
    def floor(self) -> float:
        """Seconds per step to move 48 bytes per arc at the measured copy bandwidth."""
        return BYTES_PER_ARC * self.arcs / self.bandwidth

    @property
    def to_baseline(self) -> float:
        """Median over the repetitions of generated / baseline (paired: same moment)."""
        pairs = zip(self.generated_times, self.baseline_times, strict=True)
        return statistics.median(g / b for g, b in pairs)

    @property
    def to_floor(self) -> float:
        """Median over the repetitions of generated / floor (paired: same moment)."""
        floors = (BYTES_PER_ARC * self.arcs * c / (2 * 8 * COPY_SIZE) for c in self.copy_times)
        return statistics.median(g / f for g, f in zip(self.generated_times, floors, strict=True))


def time_steps(step: Step, t: float, steps: int) -> float:
    """Seconds per step of ``steps`` consecutive calls from time ``t``."""
    started = time.perf_counter()
    for k in range(steps):
        step(t + k * TAU)
    return (time.perf_counter() - started) / steps


def copy_seconds(dst: np.ndarray, src: np.ndarray) -> float:
    """Seconds of one ``np.copyto(dst, src)``."""
    started = time.perf_counter()
    np.copyto(dst, src)
    return time.perf_counter() - started


def measure(case: Case, reps: int, steps: int, buffers: tuple[np.ndarray, np.ndarray]) -> Row:
    """Interleaved repetitions of (generated, baseline, copy); alternate who goes first."""
    agreement = check_agreement(case)
    gen_state, base_state = case.start_state(), case.start_state()
    gen, base = case.generated(gen_state), case.baseline(base_state)
    gen(T0), base(T0), copy_seconds(*buffers)  # warm up: first touch of the work arrays
    t = T0 + TAU
    gen_times, base_times, copy_times = [], [], []
    for rep in range(reps):
        gc.collect()
        pair = ((gen, gen_times), (base, base_times))
        for step, times in pair if rep % 2 == 0 else pair[::-1]:
            times.append(time_steps(step, t, steps))
        copy_times.append(copy_seconds(*buffers))
        t += steps * TAU
    return Row(
        spec=case.spec,
        arcs=case.plan["m"],
        generated_times=tuple(gen_times),
        baseline_times=tuple(base_times),
        copy_times=tuple(copy_times),
        agreement=agreement,
    )


# ---- generation and loading --------------------------------------------------------------------


@dataclass(frozen=True)
class Loading:
    """Seconds to generate cold and to load from the cache (medians; first cold run apart)."""

    cold_first: float
    cold: float
    load_here: float
    build_here: float
    subprocess_import: float
    subprocess_load: float
    subprocess_build: float
    module_file: str  # the cached module benchmarked: its name holds the cache key


def time_cold(reps: int) -> list[float]:
    """``generate`` into a fresh empty directory + ``load``, ``reps`` times (SymPy cache cleared).

    The first run is the first derivation of this process: it also pays for the lazy imports of
    the derivation, IR, printing and rendering stages and of Jinja.
    """
    from sympy.core.cache import clear_cache

    model = MODELS[MODEL]
    times = []
    for _ in range(reps):
        clear_cache()
        with tempfile.TemporaryDirectory(prefix="stlp_bench_") as out_dir:
            started = time.perf_counter()
            load(generate(model.build(), model.options, Path(out_dir)))
            times.append(time.perf_counter() - started)
    return times


_SUBPROCESS = """
import json, sys, time
import numpy  # the generated module's only import: not part of loading it
started = time.perf_counter()
import stlp_sym.cache.store as b
from stlp_sym.symbolic.models import MODELS
imported = time.perf_counter()
b.load(sys.argv[1])
loaded = time.perf_counter()
model = MODELS["stlp"]
b.build(model.build(), model.options)
built = time.perf_counter()
print(json.dumps([imported - started, loaded - imported, built - loaded]))
"""


def time_subprocess(path: Path) -> tuple[float, float, float]:
    """In a fresh interpreter, after ``import numpy``: seconds to import
    ``stlp_sym.cache.store`` (with SymPy), then to ``load(path)``, then for a cached ``build``
    (key, check, load)."""
    result = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    imported, loaded, built = json.loads(result.stdout.strip().splitlines()[-1])
    return imported, loaded, built


def time_loading(reps: int) -> tuple[Loading, ModuleType]:
    """All generation and loading times; returns them with the cached module to benchmark."""
    cold = time_cold(reps)
    model = MODELS[MODEL]
    module = build(model.build(), model.options)  # into the user's cache (a hit if present)
    path = Path(module.__file__)
    here = [_seconds(lambda: load(path)) for _ in range(reps)]
    built = [_seconds(lambda: build(model.build(), model.options)) for _ in range(reps)]
    runs = [time_subprocess(path) for _ in range(reps)]
    loading = Loading(
        cold_first=cold[0],
        cold=statistics.median(cold[1:] or cold),
        load_here=statistics.median(here),
        build_here=statistics.median(built),
        subprocess_import=statistics.median(r[0] for r in runs),
        subprocess_load=statistics.median(r[1] for r in runs),
        subprocess_build=statistics.median(r[2] for r in runs),
        module_file=path.name,
    )
    return loading, module


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


# ---- line profile ------------------------------------------------------------------------------


def body_lines(function: Callable[..., Any]) -> list[str]:
    """The source lines of ``function``'s body statements (no docstring, no ``return``).

    Statements sharing a line (``a = ...; s = ...``) stay together as that one line.
    """
    source = textwrap.dedent(inspect.getsource(function))
    text = source.splitlines()
    definition = ast.parse(source).body[0]
    assert isinstance(definition, ast.FunctionDef)
    spans: dict[int, int] = {}  # first line -> last line, in order
    for statement in definition.body:
        is_doc = isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
        if not (is_doc or isinstance(statement, ast.Return)):
            end = max(spans.get(statement.lineno, 0), statement.end_lineno or statement.lineno)
            spans[statement.lineno] = end
    physical = [line.split("# noqa")[0].rstrip() for line in text]
    return [textwrap.dedent("\n".join(physical[a - 1 : b])) for a, b in spans.items()]


def profile_lines(
    lines: list[str], namespace: dict[str, Any], reps: int
) -> list[tuple[str, float]]:
    """Median seconds of each line, executed in order in ``namespace`` ``reps`` times over."""
    codes = [compile(line, "<profiled>", "exec") for line in lines]
    samples: list[list[float]] = [[] for _ in lines]
    for _ in range(reps):
        for code, times in zip(codes, samples, strict=True):
            started = time.perf_counter()
            exec(code, namespace)
            times.append(time.perf_counter() - started)
    return [(line, statistics.median(t)) for line, t in zip(lines, samples, strict=True)]


def profile_generated(case: Case, reps: int) -> list[tuple[str, float]]:
    """Each line of ``_rhs_kernel``, then ``step`` split: clamp, kernel, rest of ``rhs``, update.

    Uses only the contract functions (``rhs``, ``step``) and ``clamp`` and ``_rhs_kernel``; the
    parts are timed interleaved and the remainders derived from their medians.
    """
    module, plan, signals = case.module, case.plan, case.signals
    state = case.start_state()
    params, sig = dict(module.PARAMS), signals(T0)  # the defaults, as the kernel reads them
    kernel = module._rhs_kernel
    arguments = inspect.signature(kernel).bind(T0, state, plan, params, sig)
    arguments.apply_defaults()  # e.g. a scale factor of the rates
    namespace = {**vars(module), **arguments.arguments}
    rows = profile_lines(body_lines(kernel), namespace, reps)
    parts: dict[str, Callable[[], object]] = {
        "clamp": lambda: module.clamp(T0, state, plan, sig),
        "kernel": lambda: module._rhs_kernel(T0, state, plan, params, sig),
        "rhs": lambda: module.rhs(T0, state, plan, None, sig),
        "step": lambda: module.step(T0, 0.0, state, plan, None, signals),
    }
    samples: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(max(reps, 15)):  # small differences of noisy totals: more samples
        for name, part in parts.items():
            samples[name].append(_seconds(part))
    ms = {name: statistics.median(times) for name, times in samples.items()}
    return [
        *rows,
        ("[step] clamp", ms["clamp"]),
        ("[step] _rhs_kernel (the lines above as one call)", ms["kernel"]),
        ("[step] rest of rhs: live masks, result dict", ms["rhs"] - ms["kernel"] - ms["clamp"]),
        ("[step] update: step - rhs", ms["step"] - ms["rhs"]),
        ("[step] step (dt = 0)", ms["step"]),
    ]


def profile_baseline(case: Case, reps: int) -> list[tuple[str, float]]:
    """Each line of :func:`baseline_step` (the semicolon lines as a whole)."""
    state = case.start_state()
    namespace = {**globals(), "t": T0, "tau": TAU, "state": state, "g": case.arcs}
    namespace.update(p=case.params, signals=case.signals)
    return profile_lines(body_lines(baseline_step), namespace, reps)


# ---- report ------------------------------------------------------------------------------------


MAIN_HEADER = (
    "graph",
    "arcs",
    "generated [ms/step]",
    "baseline [ms/step]",
    "floor [ms/step]",
    "generated/baseline",
    "generated/floor",
    "copy [GB/s]",
)
LOAD_HEADER = ("measurement", "seconds", "target")


def _ms(seconds: float) -> str:
    """Milliseconds to three significant figures."""
    return f"{seconds * 1e3:#.3g}".rstrip(".")


def main_cells(row: Row) -> list[str]:
    """One row of the step table: medians, with the minima in brackets."""
    return [
        f"`{row.spec}`",
        f"{row.arcs:,}",
        f"{_ms(row.generated)} ({_ms(min(row.generated_times))})",
        f"{_ms(row.baseline)} ({_ms(min(row.baseline_times))})",
        _ms(row.floor),
        f"{row.to_baseline:.2f} (target <= {TARGET_BASELINE})",
        f"{row.to_floor:.1f} (target <= {TARGET_FLOOR:g})",
        f"{row.bandwidth / 1e9:.1f}",
    ]


def load_rows(loading: Loading) -> list[list[str]]:
    """The generation and loading table."""
    cold, cached = f"< {TARGET_COLD:g}", f"< {TARGET_CACHED:g}"
    return [
        ["cold generate + load, first in process", f"{loading.cold_first:.2f}", cold],
        ["cold generate + load, SymPy cache cleared (median)", f"{loading.cold:.2f}", cold],
        ["cached `load(path)`, this process", f"{loading.load_here:.4f}", cached],
        [
            "cached `build(...)` (key + check + load), this process",
            f"{loading.build_here:.4f}",
            cached,
        ],
        [
            "subprocess: `import stlp_sym.cache.store` after numpy (no target)",
            f"{loading.subprocess_import:.3f}",
            "",
        ],
        ["subprocess: `load(path)` after imports", f"{loading.subprocess_load:.4f}", cached],
        [
            "subprocess: cached `build(...)` after imports",
            f"{loading.subprocess_build:.4f}",
            cached,
        ],
    ]


def render(header: Sequence[str], rows: list[list[str]], markdown: bool) -> str:
    """A Markdown table, or an aligned plain-text one."""
    if markdown:
        lines = [header, ["---"] + ["--:"] * (len(header) - 1), *rows]
        return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
    plain = [[cell.replace("`", "") for cell in cells] for cells in rows]
    widths = [max(len(r[i]) for r in [list(header), *plain]) for i in range(len(header))]
    lines = [list(header), ["-" * w for w in widths], *plain]
    return "\n".join(
        "  ".join(
            [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]
        )
        for r in lines
    )


def render_profile(title: str, rows: list[tuple[str, float]], markdown: bool) -> str:
    """Milliseconds per line, with each kernel line's share of the lines' total."""
    total = sum(s for line, s in rows if not line.startswith("[step]"))
    cells = [
        [f"`{line}`", f"{s * 1e3:.2f}", "" if line.startswith("[step]") else f"{s / total:.0%}"]
        for line, s in rows
    ]
    return f"{title}\n\n" + render(("line", "ms", "share"), cells, markdown)


def machine() -> str:
    """CPU model, cores, OS, Python and NumPy versions."""
    return describe(f"NumPy {np.__version__}")


def numpy_runtime() -> str:
    """One line: SIMD extensions found, BLAS, thread pools (threadpoolctl, if installed)."""
    config = np.show_config(mode="dicts")
    simd = config.get("SIMD Extensions", {})
    blas = config.get("Build Dependencies", {}).get("blas", {})
    found = ",".join(simd.get("found", []))
    line = (
        f"SIMD baseline {','.join(simd.get('baseline', []))} found {found}"
        f"; BLAS {blas.get('name', '?')} {blas.get('version', '')}"
        f"; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}"
    )
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return line + "; threadpoolctl not installed"
    pools = ", ".join(
        f"{p.get('internal_api')} {p.get('num_threads')} threads {p.get('architecture', '')}"
        for p in threadpool_info()
    )
    return f"{line}; pools: {pools}"


def report(rows: list[Row], loading: Loading, args: argparse.Namespace, markdown: bool) -> str:
    """The step table and the loading table, with the machine and the settings."""
    settings = (
        f"model `{MODEL}` ({MODELS[MODEL].options.describe()}), module `{loading.module_file}`, "
        f"Euler dt = {TAU:g}; "
        f"{args.reps} interleaved repetitions of {args.steps} steps, median (min); ratios are "
        "medians of the per-repetition ratios; "
        f"floor = {BYTES_PER_ARC} B/arc / copy bandwidth (np.copyto of {COPY_SIZE:,} float64, "
        "read + written); agreement with the baseline checked to "
        f"{RTOL:g} (worst: {max(r.agreement for r in rows):.1e})"
    )
    return (
        "\n\n".join(
            [
                f"Machine: {machine()}",
                f"NumPy runtime: {numpy_runtime()}",
                f"Settings: {settings}",
                render(MAIN_HEADER, [main_cells(r) for r in rows], markdown),
                "Generation and loading:",
                render(LOAD_HEADER, load_rows(loading), markdown),
            ]
        )
        + "\n"
    )


# ---- driver ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small graphs, 3 repetitions")
    parser.add_argument("--reps", type=int, help="interleaved repetitions (default 7; quick 3)")
    parser.add_argument("--steps", type=int, default=10, help="steps per repetition (default 10)")
    parser.add_argument("--markdown", type=Path, help="also write the tables as Markdown here")
    parser.add_argument(
        "--profile", action="store_true", help="also time each line of both steps (first graph)"
    )
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = 3 if args.quick else 7
    if args.reps < 1 or args.steps < 1:
        parser.error("--reps and --steps must be at least 1")
    return args


def progress(message: str) -> None:
    """A progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Check, time, print the tables; optionally write them as Markdown and profile the lines."""
    args = parse_args(argv)
    progress(f"machine: {machine()}")
    progress(f"numpy runtime: {numpy_runtime()}")
    loading, module = time_loading(args.reps)
    progress(f"generation and loading timed; module {module.__file__}")
    small = Case.of(CHECK_GRAPH, module)
    progress(f"{CHECK_GRAPH}: agreement {check_agreement(small, steps=20):.1e}")
    buffers = (np.empty(COPY_SIZE), np.random.default_rng(0).random(COPY_SIZE))
    rows, cases = [], []
    for spec in QUICK_GRAPHS if args.quick else GRAPHS:
        case = Case.of(spec, module)
        rows.append(measure(case, args.reps, args.steps, buffers))
        cases.append(case)
        progress(f"{spec}: done")
    print(report(rows, loading, args, markdown=False))
    if args.markdown is not None:
        args.markdown.write_text(report(rows, loading, args, markdown=True))
        progress(f"wrote {args.markdown}")
    if args.profile:
        gen = profile_generated(cases[0], args.reps)
        base = profile_baseline(cases[0], args.reps)
        print(render_profile(f"Generated step, {cases[0].spec}:", gen, False))
        print()
        print(render_profile(f"Baseline step, {cases[0].spec}:", base, False))


if __name__ == "__main__":
    main()
