"""The ``stlp`` command: a thin layer over the pipeline stages.

``stlp models`` lists the built-in models; ``stlp derive MODEL`` prints the derived equations.
SymPy is imported only by the commands that need it, so ``stlp --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .cli_inspect import add_inspect_commands
from .cli_models import model_named as _model
from .cli_models import options_from as _options
from .cli_status import (
    FAILED,
    INTERRUPTED,
    SUCCESS,
    Parser,
    add_quiet_flag,
    did_you_mean,
    one_line_warnings,
    parse_command_line,
    positive_float,
    positive_int,
    seed_value,
    show_progress,
    status_of,
)
from .errors import StlpError, StlpWarning
from .options import set_notes


def cmd_models(args: argparse.Namespace) -> int:
    from .symbolic.models import MODELS

    width = max(map(len, MODELS))
    for name, model in MODELS.items():
        print(f"{name:<{width}}  {model.description}")
        print(f"{'':<{width}}  defaults: {model.options.describe()}")
    return 0


def _print_expanded(derivation, graph):
    """Print the equations written out on ``graph``; return them
    (:class:`~stlp_sym.symbolic.expansion.ExpandedEquations`)."""
    from .symbolic.expansion import expand

    expanded = expand(derivation, graph)
    print(f"\nEquations on {graph.name} ({graph.n} nodes, {graph.n_arcs} arcs):")
    for (field, index), lhs in expanded.equations.items():
        print(f"  [{field} @ {index}]  {lhs} = 0")
    if expanded.solution:
        print("\nSolved leading derivatives:")
        for (field, index), rhs in expanded.solution.items():
            print(f"  {expanded.unknowns[field, index]}: leading = {rhs}")
    return expanded


def _expansion_graph(args: argparse.Namespace):
    """The graph of ``--expand --graph SPEC`` (None without ``--expand``); either flag alone
    is refused, before any work."""
    from .graph.digraph import Digraph

    if args.expand and not args.graph:
        raise StlpError("--expand needs --graph SPEC, e.g. --expand --graph chain:3")
    if args.graph and not args.expand:
        raise StlpError(
            f"--graph {args.graph} is used only with --expand (equations written out on the "
            "graph): add --expand, or leave --graph out"
        )
    return Digraph.from_spec(args.graph) if args.expand else None


def cmd_derive(args: argparse.Namespace) -> int:
    from .display.png import render_png
    from .files import check_output, write_atomic
    from .symbolic.expandprint import expanded_latex
    from .symbolic.printing import latex_document, latex_equations, text_equations
    from .symbolic.transforms import apply_options

    for flag, path in (("--latex", args.latex), ("--png", args.png)):
        if path:
            check_output(path, flag)
    graph = _expansion_graph(args)
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
    lines = latex_equations(derivation)
    if graph is not None:  # the files get the equations on the graph
        lines = expanded_latex(_print_expanded(derivation, graph), derivation)
    if args.latex:
        write_atomic(Path(args.latex), latex_document(derivation, lines))
        print(f"wrote {args.latex}")
    if args.png:
        render_png(lines, Path(args.png))
        print(f"wrote {args.png}")
    return SUCCESS


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
    return SUCCESS if report.passed else FAILED


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


def _check_params(model, options, params: dict[str, float]) -> None:
    """Refuse, before anything is built, ``--param`` names the model does not have and values
    that make a denominator of its equations zero (:mod:`stlp_sym.symbolic.denominators`)."""
    if not params:
        return
    from .symbolic.denominators import zero_denominators
    from .symbolic.transforms import apply_options

    derivation = apply_options(model.build(), options)  # a policy may add a parameter
    known = derivation.action.parameter_defaults
    for name in params:
        if name not in known:
            raise StlpError(
                f"--param {name}: model {model.name!r} has no parameter {name!r}"
                f"{did_you_mean(name, known)} (its parameters: {', '.join(known) or 'none'})"
            )
    for denominator, names in zero_denominators(derivation, params):
        given = " ".join(f"{n}={params[n]:g}" for n in names if n in params)
        if given:
            raise StlpError(
                f"--param {given}: makes the denominator {denominator} of the equations of "
                f"{model.name!r} zero; give a nonzero value"
            )


def _given_params(args: argparse.Namespace, defaults, domains, graph) -> dict:
    """Values of parameters on nodes or arcs from the graph file's columns, then from
    ``--param-file``, then ``--param NAME=VALUE`` (each over the one before)."""
    from .runner.parameters import graph_file_params, read_param_file

    values = graph_file_params(getattr(args, "graph", None) or "", graph, defaults, domains)
    if getattr(args, "param_file", None) is not None:
        values.update(read_param_file(Path(args.param_file), defaults, domains, graph))
    return {**values, **_parse_params(getattr(args, "param", None))}


def _parse_seeds(text: str) -> Sequence[int]:
    """``A:B`` (half-open, as Python's ranges; kept a range, which ``run`` measures before
    listing it) or ``S1,S2,...``: the seeds of a batch."""
    try:
        if ":" in text:
            first, _, last = text.partition(":")
            seeds: Sequence[int] = range(int(first), int(last))
        else:
            seeds = [int(item) for item in text.split(",")]
    except ValueError:
        raise StlpError(f"--seeds {text!r}: expected A:B (seeds A to B-1) or S1,S2,...") from None
    if not seeds:
        raise StlpError(f"--seeds {text!r} gives no seed (A:B runs seeds A to B-1)")
    if min(seeds[0], seeds[-1]) < 0 if isinstance(seeds, range) else min(seeds) < 0:
        raise StlpError(f"--seeds {text!r}: a seed must be 0 or more")
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


def _task(args: argparse.Namespace, graph, name: str):
    """The task ``name`` on ``graph``, or the signal file of ``--signal`` (with a warning when
    ``--task`` was given too: the file replaces its signals)."""
    from .runner.tasks import make_task

    signal_file = getattr(args, "signal", None)
    if signal_file is not None and getattr(args, "task", None) is not None:
        warnings.warn(
            f"--signal {signal_file} replaces the signals of --task {args.task}: drop one",
            StlpWarning,
            stacklevel=2,
        )
    hold_last = getattr(args, "hold_last", False)
    return make_task(name, graph, args.seed, signal_file, hold_last=hold_last)


def _run_task(module, args: argparse.Namespace, task, graph, plot_dir=None, **extra):
    """Run ``task`` (a name or a :class:`~stlp_sym.runner.tasks.Task`) and print its summary;
    ``extra`` goes to :func:`~stlp_sym.runner.loop.run` (monitors, checkpoints, ...)."""
    from .display.plots import plot_trace
    from .runner.loop import run

    if isinstance(task, str):
        task = _task(args, graph, task)
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
        progress=show_progress(args),
        **extra,
    )
    members = f" x {trace.members} members" if trace.members else ""
    print(
        f"{task.name} on {graph.name}{members}: {len(trace.t)} records to t = {trace.t[-1]:.4g}, "
        f"{trace.seconds_per_step * 1e6:.0f} us/step"
    )
    if trace.interrupted:
        print(f"  interrupted after {trace.steps} steps (t = {trace.steps * args.dt:.4g})")
    if trace.diverged is not None:
        print(f"  {trace.diverged}")
    _print_score(trace, task.score_fraction, _parse_seeds(seeds) if seeds else None)
    if plot_dir is not None:
        for path in plot_trace(trace, Path(plot_dir), prefix=f"{task.name}-", title=task.name):
            print(f"  wrote {path}")
    return trace


def _absolute(text: str | None) -> str | None:
    """A path (or a graph file spec ``PATH:...``) made absolute, so that ``--resume`` finds it
    from anywhere; anything else as it is."""
    if text is None:
        return None
    head, sep, tail = text.partition(":")
    return os.path.abspath(head) + sep + tail if os.path.isfile(head) else text


def _run_config(args: argparse.Namespace, module, steps: int) -> dict:
    """``config.json`` of ``stlp run --out DIR``: the run's flags, resolved."""
    from .rundir import CONFIG_KEYS

    config = {key: getattr(args, key, None) for key in CONFIG_KEYS}
    config.update({key: module.OPTIONS[key] for key in module.OPTIONS if key in config})
    config.update(
        model=_absolute(args.model),
        graph=_absolute(args.graph),
        signal=_absolute(args.signal),
        param_file=_absolute(getattr(args, "param_file", None)),
        steps=steps,
        cache_key=getattr(module, "_KEY", ""),
    )
    return config


def _resumed(args: argparse.Namespace) -> argparse.Namespace:
    """The flags of the run in ``--resume DIR`` (its config.json), with this command's
    ``--plot`` and ``--save``."""
    from .rundir import read_config

    given = [
        f for f in ("model", "graph", "steps", "horizon", "monitor", "freeze") if getattr(args, f)
    ]
    if given:
        raise StlpError(
            f"--resume {args.resume} takes the run's configuration from its config.json; "
            f"drop {', '.join(given)}"
        )
    config = read_config(args.resume)
    return argparse.Namespace(
        **{**config, "horizon": None, "out": args.resume, "resume": args.resume},
        save=args.save,
        plot=args.plot,
        quiet=getattr(args, "quiet", False),
    )


def _check_run_outputs(args: argparse.Namespace) -> None:
    """Refuse, before the run, output paths that cannot be written."""
    from .files import check_output
    from .rundir import check_run_directory

    if getattr(args, "hold_last", False) and not args.signal:
        raise StlpError("--hold-last applies to --signal FILE.csv only: drop it or give --signal")
    if args.save:
        check_output(args.save, "--save")
    if args.plot:
        check_output(args.plot, "--plot", directory=True)
    if args.out:
        check_output(args.out, "--out", directory=True)
        if not args.resume:
            check_run_directory(args.out)


def _resume_point(args: argparse.Namespace, module, out: Path):
    """The checkpoint ``--resume`` continues from (None: from the start, none was written)."""
    from .runner.checkpoint import CHECKPOINT_FILE, Checkpoint

    if args.cache_key != getattr(module, "_KEY", ""):
        raise StlpError(
            f"--resume {out}: the model, its options or stlp_sym changed since the run started "
            "(another cache key), so it cannot continue bit for bit; start a new run"
        )
    if (out / CHECKPOINT_FILE).exists():
        return Checkpoint.read(out / CHECKPOINT_FILE)
    if (out / "trace.nc").exists():
        raise StlpError(f"--resume {out}: the run there has ended; nothing to continue")
    return None


def _finish_run_directory(out: Path, trace, task_name: str) -> None:
    """Write the trace and the plots into ``out``; keep a checkpoint only to resume from."""
    from .display.plots import plot_trace
    from .runner.checkpoint import CHECKPOINT_FILE, Checkpoint

    print(f"  wrote {trace.write(out)}")
    for path in plot_trace(trace, out, prefix=f"{task_name}-", title=task_name):
        print(f"  wrote {path}")
    if trace.interrupted:
        Checkpoint.of(trace).write(out / CHECKPOINT_FILE)
        print(f"  continue with: stlp run --resume {out}")
    else:
        (out / CHECKPOINT_FILE).unlink(missing_ok=True)


def _start_run_directory(args: argparse.Namespace, module, task, out: Path, every) -> dict:
    """Write ``config.json`` (or find the checkpoint to resume from); the run's steps become
    ``args.steps``. Returns the checkpointing arguments of the run."""
    from .rundir import write_config
    from .runner.checkpoint import CHECKPOINT_FILE

    steps = args.steps
    if steps is None:
        steps = round((args.horizon or task.horizon) / args.dt)
    extra = {"checkpoint_every": every, "on_checkpoint": lambda c: c.write(out / CHECKPOINT_FILE)}
    if args.resume:
        extra["resume"] = _resume_point(args, module, out)
    else:
        write_config(out, _run_config(args, module, steps))
    args.steps, args.horizon = steps, None
    return extra


def cmd_run(args: argparse.Namespace) -> int:
    from .cache.store import build
    from .graph.digraph import Digraph
    from .rundir import Interrupt, checkpoint_steps
    from .runner.monitors import Monitor

    if args.resume:
        args = _resumed(args)
    elif not (args.model and args.graph):
        raise StlpError("stlp run needs MODEL and --graph SPEC (or --resume DIR)")
    if args.horizon is not None and args.steps is not None:
        raise StlpError("give either --horizon or --steps, not both")
    _check_run_outputs(args)
    monitors = [Monitor.parse(text) for text in args.monitor or ()]  # malformed: before building
    every = checkpoint_steps(args.checkpoint_every, args.dt)
    if every and not args.out:
        raise StlpError("--checkpoint-every needs --out DIR (the checkpoint is written there)")
    model = _model(args.model)
    options = _options(model, args)
    _check_params(model, options, _parse_params(args.param))
    graph = Digraph.from_spec(args.graph)
    module = build(model.build(), options)
    task = _task(args, graph, args.task or "tracking-sine")
    extra = {"monitor": monitors, "freeze": args.freeze or ()}
    out = Path(args.out) if args.out else None
    if out is not None:
        extra.update(_start_run_directory(args, module, task, out, every))
    with Interrupt().installed() as interrupt:
        trace = _run_task(module, args, task, graph, args.plot, stop=interrupt, **extra)
    trace.meta["task"] = task.name
    if out is not None:
        _finish_run_directory(out, trace, task.name)
    if args.save:
        trace.save(Path(args.save))
        print(f"  wrote {args.save}")
    if trace.interrupted:
        return INTERRUPTED
    return SUCCESS if trace.diverged is None else FAILED


def cmd_sweep(args: argparse.Namespace) -> int:
    from .cli_sweep import sweep_command

    if args.resume:
        return sweep_command(args)
    if not args.model or not args.graph:
        raise StlpError("stlp sweep needs MODEL and --graph SPEC (or --resume DIR)")
    model = _model(args.model)
    return sweep_command(args, _options(model, args), _parse_seeds(args.seeds))


def cmd_show(args: argparse.Namespace) -> int:
    """Summary and plots of a run written by ``stlp run --out DIR``."""
    from .display.plots import plot_trace
    from .files import check_output
    from .runner.trace import Trace

    plot_dir = Path(args.plot or args.directory)
    check_output(plot_dir, "--plot", directory=True)
    trace = Trace.load(args.directory)
    meta, graph = trace.meta, trace.meta.get("graph", {})
    print(f"run in {args.directory}: model {meta.get('model')} on {graph.get('name')}")
    print(f"  options: {meta.get('options')}")
    print(f"  dt = {meta.get('dt')}, seed {meta.get('seed')}, versions {meta.get('versions')}")
    state = "interrupted" if trace.interrupted else "ended"
    print(f"  {trace.steps} steps ({state}), {len(trace.t)} records to t = {trace.t[-1]:.4g}")
    for name, series in trace.series.items():
        print(f"  {name:<14} {series.spec:<20} every {series.every} steps, {series.values.shape}")
    if trace.diverged is not None:
        print(f"  {trace.diverged}")
    task = trace.meta.get("task")
    for path in plot_trace(trace, plot_dir, prefix=f"{task}-" if task else "", title=task or ""):
        print(f"  wrote {path}")
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


def _demo_choice(args: argparse.Namespace, graph, stlp_module, action) -> tuple[dict, dict]:
    """Every tracking model on each task over a short horizon: the modules and the choice."""
    from .cache.store import build
    from .display.demo import (
        DEMO_INTEGRATOR,
        SCREEN_HORIZON,
        choose,
        format_score,
        screen,
        tracking_models,
    )

    names = tracking_models({"stlp": action})
    models = {name: _model(name) for name in names if name != "stlp"}
    modules = {"stlp": stlp_module} | {
        name: build(model.build(), replace(_options(model, args), integrator=DEMO_INTEGRATOR))
        for name, model in models.items()
    }
    tasks = list(SCREEN_HORIZON)
    scores = screen(modules, graph, tasks, args.dt, args.seed)
    chosen = choose(scores)
    horizons = ", ".join(f"{task} to t = {h:g}" for task, h in SCREEN_HORIZON.items())
    print(
        f"\n== choosing a model per task: every tracking model ({DEMO_INTEGRATOR} integrator, its "
        f"other options its own), {horizons}; score: lower is better"
    )
    width = max(map(len, names))
    print(f"   {'model':<{width}}  " + "  ".join(f"{task:>20}" for task in tasks))
    for name in names:
        cells = "  ".join(f"{format_score(scores[name, task]):>20}" for task in tasks)
        print(f"   {name:<{width}}  {cells}")
    for task in tasks:
        print(f"   chosen for {task}: {chosen[task]}")
    return modules, chosen


def _demo_backprop(module, action, graph, args: argparse.Namespace, out: Path):
    """The back-propagation limit of model stlp on the demo graph, printed and plotted."""
    from .display.demo import demo_backprop
    from .display.plots import backprop_figure, save_figure

    limit = demo_backprop(module, action, graph, args.seed)
    print(
        f"\n== back-propagation limit on {graph.name}: force on the weights against -dL*/dw "
        f"by central differences, largest gap {limit.gap:.2e} of the largest gradient"
    )
    path = save_figure(backprop_figure(limit), out / "backprop-limit.png")
    print(f"  wrote {path}")
    return limit


def cmd_demo(args: argparse.Namespace) -> int:
    """Model stlp on the paper's five neurons plus an input: equations, code, checks; each
    tracking task run by the built-in model that tracks it best; the back-propagation limit."""
    import time

    from .cache.store import generate, load
    from .checks import verify_model
    from .codegen.driver import compile
    from .display.demo import early_and_late
    from .display.png import render_png
    from .files import check_output
    from .graph.digraph import Digraph
    from .options import resolved
    from .symbolic.printing import latex_equations, text_equations

    model = _model("stlp")
    options = resolved(_options(model, args))
    out = check_output(args.out, "--out", directory=True)
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
    modules, chosen = _demo_choice(args, graph, module, action)
    results = []
    for task, name in chosen.items():
        print(f"\n== run {task} with model {name}")
        trace = _run_task(modules[name], args, task, graph, out)
        results.append((task, name, trace))
    limit = _demo_backprop(module, action, graph, args, out)
    print("\n== summary")
    for task, name, trace in results:
        early, late = early_and_late(trace)
        status = (
            str(trace.diverged)
            if trace.diverged
            else f"score {trace.score():.4f} (error {early:.3g} in the first fifth, {late:.3g} "
            "in the last)"
        )
        print(f"   {task:<20} model {name:<16} {status}")
    print(f"   back-propagation limit: gap {limit.gap:.2e}")
    print(f"   verification: {'all checks passed' if report.passed else 'FAILED'}")
    print(f"   figures and equations.png in {out}/")
    diverged = any(trace.diverged is not None for *_, trace in results)
    return SUCCESS if report.passed and not diverged else FAILED


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
    from .cli_sweep import add_sweep_parser

    parser = Parser(
        prog="stlp",
        description="SpatioTemporal Local Propagation: derive, generate and run learning laws.",
        epilog="exit status: 0 success, 1 a diverged run or a failed check, 2 bad input, "
        "130 interrupted (docs/cli.md)",
    )
    parser.add_argument("--version", action="version", version=f"stlp_sym {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    models = commands.add_parser("models", help="list the built-in models")
    models.set_defaults(func=cmd_models)

    derive = commands.add_parser("derive", help="print the derived equations of a model")
    derive.add_argument("model", help=_MODEL_HELP)
    derive.add_argument(
        "--graph", help="graph spec or file, e.g. complete:6:in=1 (only with --expand)"
    )
    derive.add_argument(
        "--expand",
        action="store_true",
        help="write the equations out on --graph (also into --latex and --png)",
    )
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
    run.add_argument("model", nargs="?", help=_MODEL_HELP + " (not with --resume)")
    run.add_argument("--graph", help=_GRAPH_HELP + " (required, except with --resume)")
    run.add_argument(
        "--task",
        default=None,
        help="tracking-sine or tracking-piecewise (default: tracking-sine)",
    )
    length = run.add_mutually_exclusive_group()
    length.add_argument("--horizon", type=positive_float, help="final time (default: the task's)")
    length.add_argument("--steps", type=positive_int, help="number of steps")
    run.add_argument("--dt", type=positive_float, default=1e-3, help="time step (default 1e-3)")
    _add_option_flags(run, codegen=True)
    run.add_argument(
        "--param", action="append", metavar="NAME=VALUE", help="override a parameter (repeatable)"
    )
    run.add_argument(
        "--signal",
        metavar="FILE.csv",
        help="signals from a CSV file instead of a task: columns t, z or z[NODE], u or u[NODE] "
        "(docs/cli.md); the horizon defaults to the data's end",
    )
    run.add_argument(
        "--hold-last",
        action="store_true",
        help="with --signal: hold the last values when the horizon runs past the data",
    )
    run.add_argument("--param-file", metavar="FILE.npz", help=_PARAM_FILE_HELP)
    run.add_argument("--plot", metavar="DIR", help="write plots into DIR")
    run.add_argument("--save", metavar="FILE.npz", help="save the trace")
    run.add_argument("--seed", type=seed_value, default=0, help="seed of the initial weights")
    run.add_argument(
        "--seeds",
        metavar="A:B",
        help="run a batch of members at once, seeds A to B-1 (or S1,S2,...)",
    )
    run.add_argument(
        "--monitor",
        action="append",
        metavar="SPEC",
        help="also record [NAME=]WHAT[@WHERE][:every=N], e.g. w@2->1, L@nodes, x:every=10 "
        "(repeatable; docs/cli.md)",
    )
    run.add_argument(
        "--freeze", action="append", metavar="FIELD", help="hold a field fixed (repeatable)"
    )
    run.add_argument(
        "--out", metavar="DIR", help="write config.json, trace.nc and the plots into DIR"
    )
    run.add_argument(
        "--checkpoint-every",
        metavar="N|Tt",
        help="with --out: write the state every N steps (or every T time units: 5t)",
    )
    run.add_argument("--resume", metavar="DIR", help="continue the run in DIR (stlp run --out)")
    run.set_defaults(func=cmd_run)

    show = commands.add_parser("show", help="summarise and plot a run written by run --out")
    show.add_argument("directory", metavar="DIR", help="the directory of stlp run --out DIR")
    show.add_argument("--plot", metavar="OUT", help="write the plots into OUT (default: DIR)")
    show.set_defaults(func=cmd_show)

    demo = commands.add_parser(
        "demo", help="the main job on the built-in default (seconds, once compiled)"
    )
    demo.add_argument("--out", default="stlp-demo", help="directory for plots (./stlp-demo)")
    demo.add_argument("--dt", type=positive_float, default=1e-3, help="time step (default 1e-3)")
    demo.add_argument("--seed", type=seed_value, default=0, help="seed of the initial weights")
    _add_backend_flag(demo)
    demo.set_defaults(func=cmd_demo)

    sweep = add_sweep_parser(commands, _add_option_flags, _MODEL_HELP, _GRAPH_HELP)
    sweep.set_defaults(func=cmd_sweep)
    add_inspect_commands(commands, _add_option_flags)
    for command in commands.choices.values():
        add_quiet_flag(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stlp`` console script; returns the exit status.

    0 success, 1 a diverged run or a failed check, 2 bad input of any kind (a flag, a model, a
    graph, a path that cannot be read or written, a graph too large for memory: one line
    ``stlp: error: ...`` on standard error), 130 interrupted (Ctrl-C); a closed pipe on
    standard output ends quietly (141, as if killed by SIGPIPE). Warnings show as one line
    ``stlp: warning: ...``.
    """
    try:
        with one_line_warnings():
            args = parse_command_line(build_parser(), argv)
            set_notes(not getattr(args, "quiet", False))
            status = args.func(args)
            sys.stdout.flush()
            return status
    except BaseException as error:  # every way a command ends has its status
        return status_of(error)
    finally:
        set_notes(True)


if __name__ == "__main__":
    sys.exit(main())
