"""A run's directory (``stlp run --out DIR``): its configuration, checkpoint, trace and plots,
and what ``stlp run --resume DIR`` and ``stlp show DIR`` read back.

``DIR/config.json`` is written before the run starts and holds everything the run was asked
(model, options, graph, task, steps, ``dt``, parameters, seeds, monitors, frozen fields,
checkpoint interval) and the module's cache key; ``DIR/checkpoint.npz`` the state every
``--checkpoint-every`` and at an interrupt (removed when the run ends); ``DIR/trace.nc`` the
trace (NetCDF) and the plots ``DIR/*.png`` at the end, also of an interrupted run.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import StlpError
from .files import write_atomic

CONFIG_FILE = "config.json"
#: The keys of ``config.json``, each a flag of ``stlp run`` (``model``: its argument).
CONFIG_KEYS = (
    "model",
    "graph",
    "task",
    "signal",
    "hold_last",
    "steps",
    "dt",
    "flip",
    "normalise",
    "policy",
    "integrator",
    "cse",
    "backend",
    "param",
    "param_file",
    "seed",
    "seeds",
    "monitor",
    "freeze",
    "checkpoint_every",
)


def check_run_directory(path: str | os.PathLike) -> Path:
    """Refuse, before any work, a ``--out`` directory that holds a run already."""
    path = Path(path)
    if (path / CONFIG_FILE).exists():
        raise StlpError(
            f"--out {path}: holds a run already ({path / CONFIG_FILE}); give another directory, "
            f"or continue it with --resume {path}"
        )
    return path


def checkpoint_steps(text: str | None, dt: float) -> int | None:
    """``--checkpoint-every``: ``N`` steps, or ``Tt`` every ``T`` time units (``T / dt`` steps,
    rounded)."""
    if text is None:
        return None
    try:
        value = float(text[:-1]) / dt if text.endswith("t") else int(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and round(value) >= 1):
        raise StlpError(
            f"--checkpoint-every {text!r}: expected a number of steps N >= 1 or a time Tt "
            "(e.g. 10000 or 5t)"
        )
    return round(value)


def write_config(directory: Path, config: dict) -> None:
    """``DIR/config.json``, atomically."""
    write_atomic(directory / CONFIG_FILE, json.dumps(config, indent=2) + "\n")


def read_config(directory: str | os.PathLike) -> dict:
    """The configuration of the run in ``directory`` (``--resume DIR``)."""
    path = Path(directory) / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StlpError(
            f"--resume {directory}: no {CONFIG_FILE} there (not a run directory)"
        ) from None
    except (OSError, ValueError) as error:
        raise StlpError(f"--resume {directory}: cannot read {path} ({error})") from None
    missing = [key for key in (*CONFIG_KEYS, "cache_key") if key not in config]
    if not isinstance(config, dict) or missing:
        raise StlpError(f"{path}: not a configuration of stlp run (missing {missing})")
    return config


class Interrupt:
    """Ctrl-C (SIGINT) as a request to stop at the next step boundary: the first one sets
    :attr:`requested`; a second one interrupts at once (``KeyboardInterrupt``)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, number, frame) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print(
            "stlp: interrupted: stopping at the next step boundary (Ctrl-C again to abort)",
            file=sys.stderr,
            flush=True,
        )

    @contextmanager
    def installed(self) -> Iterator[Interrupt]:
        """Handle SIGINT in the ``with`` block (signals reach the main thread only: elsewhere
        Ctrl-C keeps its usual effect)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self._handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
