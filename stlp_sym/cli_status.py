"""How the ``stlp`` command ends: exit statuses, one-line errors and warnings, "did you mean".

Every command ends with one of four statuses (docs/cli.md lists them): :data:`SUCCESS`,
:data:`FAILED` (a run that diverged, a check that failed), :data:`BAD_INPUT` (one line
``stlp: error: ...`` on standard error naming the argument at fault, argparse's own errors
included) and :data:`INTERRUPTED` (Ctrl-C, never a traceback).

>>> parser = Parser(prog="stlp")
>>> _ = parser.add_argument("--policy", choices=["none", "exact"])
>>> try:
...     parser.parse_args(["--policy", "exakt"])
... except UsageError as error:
...     print(error)
argument --policy: invalid choice: 'exakt' (choose from 'none', 'exact'); did you mean 'exact'?
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
import signal
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from .errors import StlpError

SUCCESS = 0
#: a run that diverged, or a ``verify`` check that failed
FAILED = 1
#: bad input of any kind, reported in one line before any work
BAD_INPUT = 2
#: stopped by Ctrl-C (SIGINT), as shells report it: 128 + 2
INTERRUPTED = 128 + signal.SIGINT
#: the reader of standard output went away: as if killed by SIGPIPE
CLOSED_PIPE = 128 + signal.SIGPIPE


class UsageError(StlpError):
    """A command line that argparse refused (unknown flag, missing or malformed argument)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` to ``word``, else ``""``.

    >>> did_you_mean("stlq", ["stlp", "cal4"])
    "; did you mean 'stlp'?"
    >>> did_you_mean("zzz", ["stlp", "cal4"])
    ''
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<word>[^']*)' \(choose from (?P<choices>.*)\)")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are :class:`UsageError` (one line, with a suggestion
    for a misspelt choice) instead of usage text and ``sys.exit(2)``; sub-commands inherit it."""

    def error(self, message: str) -> None:  # type: ignore[override]
        found = _INVALID_CHOICE.search(message)
        if found:
            choices = re.findall(r"'([^']*)'", found["choices"])
            message += did_you_mean(found["word"], choices)
        raise UsageError(message)


def _subcommand(parser: argparse.ArgumentParser, name: str | None) -> argparse.ArgumentParser:
    """The sub-parser of command ``name`` (``parser`` itself when there is none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]
    return parser


def parse_command_line(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """``parser.parse_args(argv)``, with a "did you mean" for the first unknown flag that is
    close to one of the command's flags (``stlp run --hoizon 3``: ``did you mean
    '--horizon'?``)."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        command = _subcommand(parser, getattr(args, "command", None))
        flags = [flag for action in command._actions for flag in action.option_strings]
        hints = (did_you_mean(w.partition("=")[0], flags) for w in extras if w.startswith("-"))
        hint = next((h for h in hints if h), "")
        raise UsageError(f"unrecognized arguments: {' '.join(extras)}{hint}")
    return args


def _argument(text: str, convert: type, valid, requirement: str):
    """``convert(text)`` if it is ``valid``, else an argparse type error quoting ``text``."""
    try:
        value = convert(text)
    except ValueError:
        kind = "an integer" if convert is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
    if not valid(value):
        raise argparse.ArgumentTypeError(f"{text!r}: {requirement}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (``--steps``)."""
    return _argument(text, int, lambda v: v >= 1, "must be a positive integer (1 or more)")


def positive_float(text: str) -> float:
    """An argparse type: a finite number above zero (``--horizon``, ``--dt``)."""
    valid = lambda v: math.isfinite(v) and v > 0  # noqa: E731
    return _argument(text, float, valid, "must be a finite number above 0")


def seed_value(text: str) -> int:
    """An argparse type: a seed, an integer of at least 0 (``--seed``)."""
    return _argument(text, int, lambda v: v >= 0, "a seed must be 0 or more")


def one_line(text: object) -> str:
    """``text`` on one line: newlines and runs of blanks become single spaces."""
    return " ".join(str(text).split())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` of the command: ``stlp: warning: ...``, one line, no source."""
    print(f"stlp: warning: {one_line(message)}", file=file or sys.stderr)


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """Warnings show as ``stlp: warning: ...`` inside the block (the command only: the library
    leaves :mod:`warnings` as it is)."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        yield


def show_progress(args: argparse.Namespace, stream=None) -> bool:
    """A progress bar only on a terminal (``stream``, standard error by default) and not with
    ``--quiet``: logs and pipes stay free of it."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return not getattr(args, "quiet", False) and bool(isatty and isatty())


def add_quiet_flag(parser: argparse.ArgumentParser) -> None:
    """``--quiet``/``-q`` on a sub-command."""
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no notes on standard error (results, warnings, errors stay)",
    )


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
    return CLOSED_PIPE


def status_of(error: BaseException) -> int:
    """The exit status for an exception that ended a command, after saying what it was
    (one line on standard error); anything not bad input nor an interruption propagates."""
    if isinstance(error, SystemExit):  # --help, --version; else as Python's own exit
        if error.code is None or isinstance(error.code, int):
            return error.code or SUCCESS
        print(error.code, file=sys.stderr)
        return FAILED
    if isinstance(error, BrokenPipeError):
        return _quiet_broken_pipe()
    if isinstance(error, KeyboardInterrupt):
        print("stlp: interrupted", file=sys.stderr)
        return INTERRUPTED
    if isinstance(error, StlpError):
        message = one_line(error)
    elif isinstance(error, OSError):
        message = _os_message(error)
    elif isinstance(error, MemoryError):
        message = "out of memory (the input is too large for this machine)"
    else:
        raise error
    print(f"stlp: error: {message}", file=sys.stderr)
    return BAD_INPUT
