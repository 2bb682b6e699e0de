"""The ``stlp`` command: a thin layer over the pipeline stages.

``stlp models`` lists the built-in models; ``stlp derive MODEL`` prints the derived equations.
SymPy is imported only by the commands that need it, so ``stlp --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .errors import StlpError


def _model(name: str):
    from .parse.modelfile import is_model_file, load_model
    from .symbolic.models import MODELS

    if is_model_file(name):
        return load_model(name)
    if name not in MODELS:
        raise StlpError(f"unknown model {name!r}; `stlp models` lists them: {', '.join(MODELS)}")
    return MODELS[name]


def _options(model, args: argparse.Namespace):
    """The model's default options, overridden by the flags the user gave."""
    changes = {
        key: getattr(args, key)
        for key in ("flip", "normalise", "policy", "integrator", "cse", "backend")
        if getattr(args, key, None) is not None
    }
    return replace(model.options, **changes)


def cmd_models(args: argparse.Namespace) -> int:
    from .symbolic.models import MODELS

    width = max(map(len, MODELS))
    for name, model in MODELS.items():
        print(f"{name:<{width}}  {model.description}")
        print(f"{'':<{width}}  defaults: {model.options.describe()}")
    return 0


def _print_expanded(derivation, spec: str) -> None:
    from .graph.digraph import Digraph
    from .symbolic.expansion import expand

    graph = Digraph.from_spec(spec)
    expanded = expand(derivation, graph)
    print(f"\nEquations on {graph.name} ({graph.n} nodes, {graph.n_arcs} arcs):")
    for (field, index), lhs in expanded.equations.items():
        print(f"  [{field} @ {index}]  {lhs} = 0")
    if expanded.solution:
        print("\nSolved leading derivatives:")
        for (field, index), rhs in expanded.solution.items():
            print(f"  {expanded.unknowns[field, index]}: leading = {rhs}")


def cmd_derive(args: argparse.Namespace) -> int:
    from .display.png import render_png
    from .files import check_output, write_atomic
    from .symbolic.printing import latex_document, latex_equations, text_equations
    from .symbolic.transforms import apply_options

    for flag, path in (("--latex", args.latex), ("--png", args.png)):
        if path:
            check_output(path, flag)
    model = _model(args.model)
    options = _options(model, args)
    derivation = apply_options(model.build(), options)
    print(f"model {model.name}: {model.description}")
    print(f"options: {options.describe()}")
    for line in text_equations(derivation):
        print(line)
    if "exact" in derivation.transforms:
        print(
            "\nnote: with the exact policy these equations are solved together, as one sparse "
            "linear system over the whole graph per step (not local); see docs/policies.md"
        )
    elif derivation.problem is not None:
        print(f"\nnote: no explicit first-order system: {derivation.problem}")
    if args.expand:
        if not args.graph:
            raise StlpError("--expand needs --graph SPEC, e.g. --graph chain:3")
        _print_expanded(derivation, args.graph)
    if args.latex:
        write_atomic(Path(args.latex), latex_document(derivation))
        print(f"wrote {args.latex}")
    if args.png:
        render_png(latex_equations(derivation), Path(args.png))
        print(f"wrote {args.png}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .cache.store import generate
    from .files import check_output

    if args.out:
        check_output(args.out, "--out", directory=True)
    model = _model(args.model)
    options = _options(model, args)
    path = generate(model.build(), options, Path(args.out) if args.out else None)
    print(path)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .checks import DEFAULT_GRAPH, verify_model
    from .options import resolved

    model = _model(args.model)
    options = resolved(_options(model, args))  # the report shows the backend it checked

    def given(action, graph) -> dict:
        return _given_params(args, action.parameter_defaults, action.parameter_domains, graph)

    report = verify_model(model, options, args.graph or DEFAULT_GRAPH, params=given)
    print(report.table())
    return 0 if report.passed else 1


def _parse_params(items: list[str] | None) -> dict[str, float]:
    """``NAME=VALUE`` pairs: a number or a constant expression, read by the whitelist parser
    of :mod:`stlp_sym.parse.expressions` (nothing is evaluated by Python)."""
    from .parse.expressions import parse_number

    params = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise StlpError(f"--param {item!r}: expected NAME=VALUE, e.g. --param c=10")
        try:
            params[name.strip()] = parse_number(text, source="--param", where=name.strip())
        except StlpError as exc:
            raise StlpError(f"--param {item!r}: {text!r} is not a number ({exc})") from None
    return params


def _given_params(args: argparse.Namespace, defaults, domains, graph) -> dict:
    """Values of parameters on nodes or arcs from the graph file's columns, then from
    ``--param-file``, then ``--param NAME=VALUE`` (each over the one before)."""
    from .runner.parameters import graph_file_params, read_param_file

    values = graph_file_params(getattr(args, "graph", None) or "", graph, defaults, domains)
    if getattr(args, "param_file", None) is not None:
        values.update(read_param_file(Path(args.param_file), defaults, domains, graph))
    return {**values, **_parse_params(getattr(args, "param", None))}


def _parse_seeds(text: str) -> list[int]:
    """``A:B`` (half-open, as Python's ranges) or ``S1,S2,...``: the seeds of a batch."""
    try:
        if ":" in text:
            first, _, last = text.partition(":")
            seeds = list(range(int(first), int(last)))
        else:
            seeds = [int(item) for item in text.split(",")]
    except ValueError:
        raise StlpError(f"--seeds {text!r}: expected A:B (seeds A to B-1) or S1,S2,...") from None
    if not seeds:
        raise StlpError(f"--seeds {text!r} gives no seed (A:B runs seeds A to B-1)")
    return seeds


def _print_score(trace, fraction: float, seed_list: list[int] | None) -> None:
    """The score line(s) of a run, by the names the model observes (or why there is none)."""
    names = trace.meta["observed"]
    what = (
        f"mean ({names['output']}_o - {names['target']})^2 / var {names['target']} "
        f"over the last {fraction:.0%}"
    )
    if not trace.scored:
        print(
            "  no score: the model names no output field and target signal ([run] output and "
            "target in a model file); its states were recorded"
        )
    elif trace.members:
        print(f"  score per seed ({what}):")
        for s, value in zip(seed_list or [], trace.score(fraction), strict=True):
            print(f"    seed {s}: {value:.4f}")
    elif trace.diverged is None:
        print(f"  score ({what}): {trace.score(fraction):.4f}")
    if not trace.members and trace.diverged is None:
        print(
            f"  final L/phi = {trace.lagrangian[-1]:.4g}, H/phi = {trace.hamiltonian[-1]:.4g}, "
            f"||w|| = {trace.weight_norm[-1]:.4g}"
        )


def _run_task(module, args: argparse.Namespace, task_name: str, graph, plot_dir=None):
    from .display.plots import plot_trace
    from .runner.loop import run
    from .runner.tasks import make_task

    task = make_task(task_name, graph, args.seed, getattr(args, "signal", None))
    seeds = getattr(args, "seeds", None)
    trace = run(
        module,
        graph,
        task,
        horizon=getattr(args, "horizon", None),
        steps=getattr(args, "steps", None),
        dt=args.dt,
        params=_given_params(args, module.PARAMS, getattr(module, "PARAM_DOMAINS", {}), graph),
        seed=_parse_seeds(seeds) if seeds else args.seed,
    )
    members = f" x {trace.members} members" if trace.members else ""
    print(
        f"{task.name} on {graph.name}{members}: {len(trace.t)} records to t = {trace.t[-1]:.4g}, "
        f"{trace.seconds_per_step * 1e6:.0f} us/step"
    )
    if trace.diverged is not None:
        print(f"  {trace.diverged}")
    _print_score(trace, task.score_fraction, _parse_seeds(seeds) if seeds else None)
    if plot_dir is not None:
        for path in plot_trace(trace, Path(plot_dir), prefix=f"{task.name}-", title=task.name):
            print(f"  wrote {path}")
    return trace


def cmd_run(args: argparse.Namespace) -> int:
    from .cache.store import build
    from .files import check_output
    from .graph.digraph import Digraph

    if args.horizon is not None and args.steps is not None:
        raise StlpError("give either --horizon or --steps, not both")
    if args.save:
        check_output(args.save, "--save")
    if args.plot:
        check_output(args.plot, "--plot", directory=True)
    model = _model(args.model)
    options = _options(model, args)
    graph = Digraph.from_spec(args.graph)
    module = build(model.build(), options)
    trace = _run_task(module, args, args.task, graph, args.plot)
    if args.save:
        trace.save(Path(args.save))
        print(f"  wrote {args.save}")
    return 0


DEMO_GRAPH = "complete:6:in=1"
_PARAM_FILE_HELP = (
    "parameter values: arrays named like the parameters (one value per node, in node order, "
    "or per arc, in the order the arcs were given, for parameters on nodes or arcs)"
)
_MODEL_HELP = "a built-in model (see `stlp models`) or a model file (.toml)"
_GRAPH_HELP = (
    "graph spec (e.g. complete:6:in=1) or graph file "
    "(.csv/.tsv/.json/.graphml[:inputs=..][:outputs=..])"
)


def cmd_demo(args: argparse.Namespace) -> int:
    """Model stlp on the paper's five neurons plus an input: equations, code, checks, runs."""
    import time

    from .cache.store import generate, load
    from .checks import verify_model
    from .codegen.driver import compile
    from .display.png import render_png
    from .graph.digraph import Digraph
    from .options import resolved
    from .symbolic.printing import latex_equations, text_equations

    model = _model("stlp")
    options = resolved(_options(model, args))
    out = Path(args.out)
    graph = Digraph.from_spec(DEMO_GRAPH)
    action = model.build()
    print(
        f"== stlp demo: model {model.name} on {DEMO_GRAPH} ({graph.n} nodes, {graph.n_arcs} arcs)"
    )
    print(f"   {action.description}\n   options: {options.describe()}\n")
    start = time.perf_counter()
    stages = compile(action, options)  # derived once; every step below reuses it
    lines = text_equations(stages.derivation)
    print("\n".join(lines[lines.index("First-order system:") :]))
    render_png(latex_equations(stages.derivation), out / "equations.png")
    path = generate(action, options, stages=stages)
    module = load(path)
    print(f"\n== generated {path} ({time.perf_counter() - start:.2f} s)")
    report = verify_model(model, options, DEMO_GRAPH, module=module, stages=stages)
    print(report.table())
    results = []
    for task in ("tracking-sine", "tracking-piecewise"):
        print(f"\n== run {task}")
        trace = _run_task(module, args, task, graph, out)
        results.append((task, trace))
    print("\n== summary")
    for task, trace in results:
        status = str(trace.diverged) if trace.diverged else f"score {trace.score():.3f}"
        print(f"   {task:<20} {status}")
    print(f"   verification: {'all checks passed' if report.passed else 'FAILED'}")
    print(f"   plots and equations.png in {out}/")
    return 0 if report.passed else 1


def _add_backend_flag(parser: argparse.ArgumentParser) -> None:
    from .options import BACKENDS

    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="numpy or numba (default: numba when it imports and generates the options)",
    )


def _add_option_flags(parser: argparse.ArgumentParser, codegen: bool = False) -> None:
    from .options import INTEGRATORS, POLICIES

    if codegen:
        parser.add_argument(
            "--integrator",
            choices=INTEGRATORS,
            default=None,
            help="time integrator of step() (default: the model's)",
        )
        parser.add_argument(
            "--cse",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="common-subexpression elimination in the generated code (default: on)",
        )
        _add_backend_flag(parser)

    parser.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Hamiltonian sign flip (default: the model's)",
    )
    parser.add_argument(
        "--normalise",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="normalise multipliers by the dissipation factor (default: the model's)",
    )
    parser.add_argument(
        "--policy",
        choices=POLICIES,
        default=None,
        help="multiplier policy for algebraic constraints (default: the model's)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``stlp``."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="stlp",
        description="SpatioTemporal Local Propagation: derive, generate and run learning laws.",
    )
    parser.add_argument("--version", action="version", version=f"stlp_sym {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    models = commands.add_parser("models", help="list the built-in models")
    models.set_defaults(func=cmd_models)

    derive = commands.add_parser("derive", help="print the derived equations of a model")
    derive.add_argument("model", help=_MODEL_HELP)
    derive.add_argument("--graph", help="graph spec, e.g. complete:6:in=1 (with --expand)")
    derive.add_argument("--expand", action="store_true", help="write the equations out on --graph")
    _add_option_flags(derive)
    derive.add_argument("--latex", metavar="FILE", help="write a LaTeX document")
    derive.add_argument("--png", metavar="FILE", help="render the equations to a PNG")
    derive.set_defaults(func=cmd_derive)

    generate = commands.add_parser("generate", help="write the NumPy module of a model")
    generate.add_argument("model", help=_MODEL_HELP)
    _add_option_flags(generate, codegen=True)
    generate.add_argument("--out", metavar="DIR", help="directory to write to (default: cache)")
    generate.set_defaults(func=cmd_generate)

    verify = commands.add_parser("verify", help="check a generated module (docs/theory.md)")
    verify.add_argument("model", help=_MODEL_HELP)
    verify.add_argument(
        "--graph", help="graph spec (default: a small graph with a cycle and a self-loop)"
    )
    verify.add_argument("--param-file", metavar="FILE.npz", help=_PARAM_FILE_HELP)
    _add_option_flags(verify, codegen=True)
    verify.set_defaults(func=cmd_verify)

    run = commands.add_parser("run", help="integrate a model online on a task")
    run.add_argument("model", help=_MODEL_HELP)
    run.add_argument("--graph", required=True, help=_GRAPH_HELP)
    run.add_argument(
        "--task",
        default="tracking-sine",
        help="tracking-sine or tracking-piecewise (default: tracking-sine)",
    )
    length = run.add_mutually_exclusive_group()
    length.add_argument("--horizon", type=float, help="final time (default: the task's)")
    length.add_argument("--steps", type=int, help="number of steps")
    run.add_argument("--dt", type=float, default=1e-3, help="time step (default 1e-3)")
    _add_option_flags(run, codegen=True)
    run.add_argument(
        "--param", action="append", metavar="NAME=VALUE", help="override a parameter (repeatable)"
    )
    run.add_argument("--signal", metavar="FILE.csv", help="reference signal: columns t,z[,u]")
    run.add_argument("--param-file", metavar="FILE.npz", help=_PARAM_FILE_HELP)
    run.add_argument("--plot", metavar="DIR", help="write plots into DIR")
    run.add_argument("--save", metavar="FILE.npz", help="save the trace")
    run.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    run.add_argument(
        "--seeds",
        metavar="A:B",
        help="run a batch of members at once, seeds A to B-1 (or S1,S2,...)",
    )
    run.set_defaults(func=cmd_run)

    demo = commands.add_parser("demo", help="the main job on the built-in default (about 30 s)")
    demo.add_argument("--out", default="stlp-demo", help="directory for plots (./stlp-demo)")
    demo.add_argument("--dt", type=float, default=1e-3, help="time step (default 1e-3)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    _add_backend_flag(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def _os_message(error: OSError) -> str:
    """``PATH: reason`` of an operating-system error, in one line."""
    names = [n for n in (error.filename, error.filename2) if n is not None]
    reason = error.strerror or str(error) or type(error).__name__
    return ": ".join([*map(str, names), reason])


def _quiet_broken_pipe() -> int:
    """The reader of our output went away (``stlp models | head -1``): end quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stlp`` console script.

    Bad input of any kind (a model, a graph, a path that cannot be read or written, a graph too
    large for memory) ends with one line ``stlp: error: ...`` on standard error and status 2; a
    closed pipe on standard output ends quietly (status 141, as if killed by SIGPIPE).
    """
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except StlpError as error:
        message = str(error).replace("\n", " ")
    except OSError as error:
        message = _os_message(error)
    except MemoryError:
        message = "out of memory (the input is too large for this machine)"
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    print(f"stlp: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
