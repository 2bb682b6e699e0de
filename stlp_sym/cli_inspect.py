"""``stlp info MODEL`` and ``stlp cache info|clear``: what a model declares, what the cache holds.

>>> from stlp_sym.symbolic.models import MODELS
>>> lines = model_info(MODELS["pendulum"], MODELS["pendulum"].options)
>>> print("\\n".join(lines[2:9]))
fields:
  name  domain  role  note
  q     node    all
states (with these options):
  name  field  order  domain
  q     q      0      node
  q_d1  q      1      node
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from .cli_models import model_named, options_from
from .cli_status import SUCCESS


def _table(rows: Sequence[Sequence[object]], indent: str = "  ") -> list[str]:
    """Rows as left-aligned columns (the first row is the heading)."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(cells[0]))]
    return [
        indent
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def _field_rows(action) -> list[tuple[str, ...]]:
    rows = [("name", "domain", "role", "note")]
    for field in action.fields:
        notes = ["multiplier"] if field.multiplier else []
        clamp = action.clamp_of(field.name)
        if clamp is not None:
            notes.append(f"clamped to {clamp.signal} on {clamp.role} nodes")
        rows.append((field.name, field.domain, field.role, ", ".join(notes)))
    return rows


def _state_lines(derivation) -> list[str]:
    """The states of the explicit first-order system, or why there is none."""
    if derivation.system is None:
        if "exact" in derivation.transforms:
            return ["  solved together each step as one sparse linear system (policy exact)"]
        return [f"  no explicit first-order system: {derivation.problem}"]
    rows = [("name", "field", "order", "domain")]
    rows += [(s.name, s.field.name, s.order, s.field.domain) for s in derivation.system.states]
    lines = _table(rows)
    if derivation.system.algebraic:
        lines.append(f"  algebraic (no state): {', '.join(derivation.system.algebraic)}")
    return lines


def parameter_rows(parameters) -> list[tuple[str, ...]]:
    """Name, default and domain: ``scalar`` unless the parameter says it lives on nodes or
    arcs (its ``on``)."""
    rows = [("name", "default", "domain")]
    for parameter in parameters:
        domain = getattr(parameter, "on", None) or "scalar"
        rows.append((parameter.name, f"{parameter.default:g}", domain))
    return rows


def model_info(model, options) -> list[str]:
    """The lines of ``stlp info``: fields, then states and parameters under ``options`` (a
    policy may add a parameter, such as the penalty's weight), signals and the model's default
    options."""
    from .symbolic.transforms import apply_options

    action = model.build()
    derivation = apply_options(action, options)
    lines = [f"model {model.name}: {action.description}".rstrip(": "), ""]
    lines += ["fields:", *_table(_field_rows(action))]
    lines += ["states (with these options):", *_state_lines(derivation)]
    lines.append("parameters (with these options):")
    parameters = derivation.action.parameters
    lines += _table(parameter_rows(parameters)) if parameters else ["  none"]
    lines.append("signals:")
    signals = [("name", "role"), *((s.name, s.role) for s in action.signals)]
    lines += _table(signals) if action.signals else ["  none"]
    lines += ["default options:", f"  {model.options.describe()}"]
    if options != model.options:
        lines.append(f"  shown with: {options.describe()}")
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    """``stlp info MODEL``."""
    model = model_named(args.model)
    print("\n".join(model_info(model, options_from(model, args))))
    return SUCCESS


def _count(items: Sequence[object], noun: str) -> str:
    return f"{len(items)} {noun}{'s' * (len(items) != 1)}"


def _mebibytes(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def cmd_cache(args: argparse.Namespace) -> int:
    """``stlp cache info`` and ``stlp cache clear``."""
    from .cache.inventory import cache_contents, clear_cache

    if args.action == "clear":
        removed = clear_cache()
        print(
            f"removed {_count(removed.modules, 'generated module')} and "
            f"{_count(removed.compiled, 'numba file')} ({_mebibytes(removed.size)}) "
            f"from {removed.directory}"
        )
        return SUCCESS
    contents = cache_contents()
    print(f"cache directory: {contents.directory}")
    if not contents.exists:
        print("  not created yet: nothing is cached")
        return SUCCESS
    print(f"  generated modules: {len(contents.modules)}")
    print(f"  numba files (module copies and compiled kernels): {len(contents.compiled)}")
    print(f"  size: {_mebibytes(contents.size)}")
    return SUCCESS


_MODEL_HELP = "a built-in model (see `stlp models`) or a model file (.toml)"


def add_inspect_commands(
    commands: argparse._SubParsersAction,
    add_option_flags: Callable[[argparse.ArgumentParser], None],
) -> None:
    """The ``info`` and ``cache`` sub-commands (``add_option_flags`` adds ``--policy`` etc.)."""
    info = commands.add_parser(
        "info", help="a model's fields, states, parameters, signals and default options"
    )
    info.add_argument("model", help=_MODEL_HELP)
    add_option_flags(info)
    info.set_defaults(func=cmd_info)
    cache = commands.add_parser("cache", help="where the module cache is and what it holds")
    cache.add_argument(
        "action",
        choices=("info", "clear"),
        help="info: directory, modules, size; clear: remove the files stlp_sym wrote there",
    )
    cache.set_defaults(func=cmd_cache)
