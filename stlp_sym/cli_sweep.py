"""``stlp sweep``: seeds x parameter values of one model, on Dask ``distributed``.

``stlp sweep MODEL --graph SPEC --seeds 0:8 --param c=1,2,4 --out DIR`` compiles the module once,
runs the 24 runs in batches on a local cluster (or ``--scheduler ADDRESS``), and writes one record
per run, ``sweep.nc`` and ``sweep.png`` into DIR; ``stlp sweep --resume DIR`` runs what is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from pathlib import Path

from .errors import StlpError


def _parse_values(items: list[str] | None) -> tuple[dict[str, list[float]], dict[str, float]]:
    """``NAME=V1,V2,...``: swept parameters (two values or more) and fixed ones (one value)."""
    from .parse.expressions import parse_number

    swept: dict[str, list[float]] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise StlpError(f"--param {item!r}: expected NAME=V1,V2,..., e.g. --param c=1,2,4")
        if name in swept:
            raise StlpError(f"--param {name} is given twice; list its values once: {name}=V1,V2")
        swept[name] = [
            parse_number(value, source="--param", where=name) for value in text.split(",")
        ]
    fixed = {name: values[0] for name, values in swept.items() if len(values) == 1}
    return {n: v for n, v in swept.items() if n not in fixed}, fixed


def _client(args: argparse.Namespace):
    """A client of ``--scheduler`` (closed on leaving), else nothing: the sweep then starts a
    local cluster of ``--workers`` processes."""
    if not args.scheduler:
        return contextlib.nullcontext()
    from distributed import Client

    try:
        return Client(args.scheduler, timeout="10s")
    except (OSError, TimeoutError) as error:
        raise StlpError(f"--scheduler {args.scheduler}: cannot connect ({error})") from None


def _progress(total: int, args: argparse.Namespace):
    from tqdm import tqdm

    from .cli_status import show_progress

    return tqdm(total=total, unit="run", disable=not show_progress(args), leave=False)


def _report(dataset, swept: list[str]) -> None:
    for index in dataset.run.values:
        run = dataset.sel(run=index)
        values = "".join(f"  {name}={float(run[name]):g}" for name in swept)
        result = str(run.divergence.values) if bool(run.diverged) else f"{float(run.score):.4f}"
        print(f"  run {int(index):>4}  seed {int(run.seed):>3}{values}  {result}")


def sweep_command(args: argparse.Namespace, options=None, seeds: list[int] | None = None) -> int:
    """Run the sweep ``args`` describe with ``options`` and ``seeds`` (or resume
    ``args.resume``) and report every run's score."""
    try:
        with _client(args) as client:
            dataset, out = _sweep_or_resume(args, client, options, seeds)
    except KeyboardInterrupt:
        where = args.resume or args.out
        if where:
            print(
                f"stlp: interrupted; the finished runs are in {where}/sweep.nc, "
                f"`stlp sweep --resume {where}` runs the rest",
                file=sys.stderr,
            )
        raise
    swept_names = [name for name in dataset.coords if name not in {"run", "seed", *dataset.dims}]
    print(f"sweep of {dataset.sizes['run']} runs: score (or divergence) per run")
    _report(dataset, swept_names)
    if out is not None:
        from .display.sweep import plot_sweep

        path = plot_sweep(dataset, out / "sweep.png")
        print(f"wrote {out / 'sweep.nc'}, {path} and one record per run in {out / 'runs'}")
    return 0


def _sweep_or_resume(args: argparse.Namespace, client, options, seeds):
    from .files import check_output
    from .runner.sweep import resume, sweep

    if args.resume:
        return resume(args.resume, client, args.workers), Path(args.resume)
    out = check_output(args.out, "--out", directory=True) if args.out else None
    swept, fixed = _parse_values(args.param)
    with _progress(len(seeds) * _count(swept, args.zip), args) as bar:
        dataset = sweep(
            args.model,
            args.graph,
            args.task,
            seeds,
            swept,
            options,
            args.horizon,
            args.dt,
            client,
            grid=not args.zip,
            fixed=fixed,
            out=out,
            workers=args.workers,
            members=args.members,
            signal_file=args.signal,
            monitor=args.monitor or (),
            on_result=lambda result: bar.update(1),
        )
    return dataset, out


def _count(swept: dict[str, list[float]], zipped: bool) -> int:
    """How many parameter sets ``swept`` gives."""
    sizes = [len(values) for values in swept.values()]
    return (min(sizes) if zipped else math.prod(sizes)) if sizes else 1


def add_sweep_parser(commands, add_option_flags, model_help: str, graph_help: str):
    """The ``sweep`` subcommand, with the option flags of ``stlp run``."""
    from .cli_status import positive_float, positive_int

    parser = commands.add_parser("sweep", help="run seeds x parameter values on Dask workers")
    parser.add_argument("model", nargs="?", help=model_help)
    parser.add_argument("--graph", help=graph_help)
    parser.add_argument("--task", default="tracking-sine", help="the task (default tracking-sine)")
    parser.add_argument("--signal", metavar="FILE.csv", help="reference signal: columns t,z[,u]")
    parser.add_argument("--seeds", default="0:1", metavar="A:B", help="seeds A to B-1 (or S1,...)")
    parser.add_argument(
        "--param",
        action="append",
        metavar="NAME=V1,V2,...",
        help="values of a parameter (repeatable; one value fixes it for every run)",
    )
    parser.add_argument(
        "--monitor",
        action="append",
        metavar="SPEC",
        help="record this too in every run, as stlp run --monitor (repeatable)",
    )
    pairing = parser.add_mutually_exclusive_group()
    pairing.add_argument("--grid", action="store_true", help="cross the parameters (default)")
    pairing.add_argument("--zip", action="store_true", help="pair the parameters' values in order")
    parser.add_argument("--horizon", type=positive_float, help="final time (default: the task's)")
    parser.add_argument("--dt", type=positive_float, default=1e-3, help="time step (default 1e-3)")
    add_option_flags(parser, codegen=True)
    parser.add_argument(
        "--workers", type=positive_int, help="local worker processes (default: the cores)"
    )
    parser.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler")
    parser.add_argument("--members", type=positive_int, help="at most this many runs a batch")
    parser.add_argument("--out", metavar="DIR", help="write the runs' records and sweep.nc")
    parser.add_argument("--resume", metavar="DIR", help="run what is missing in a sweep's DIR")
    return parser
