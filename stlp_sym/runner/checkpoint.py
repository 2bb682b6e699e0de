"""Checkpoints: where a run stands between two chunks, enough to continue it bit for bit.

A checkpoint holds the steps taken, the state after them and every monitor's records so far;
``run(..., resume=checkpoint)`` continues from there with the same chunk boundaries as a run
never stopped, so that both end with the same state and the same trace, to the bit.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "checkpoint.npz"
>>> Checkpoint(3, {"x": np.ones(2)}, {"output": (np.zeros(1), np.ones((1, 2)))}, 0.5).write(path)
>>> back = Checkpoint.read(path)
>>> back.steps, back.state["x"].tolist(), back.series["output"][1].shape
(3, [1.0, 1.0], (1, 2))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StlpError
from ..files import atomic_stream
from .trace import Trace

#: The file a checkpoint is written to in a run's directory.
CHECKPOINT_FILE = "checkpoint.npz"


@dataclass
class Checkpoint:
    """``steps`` taken, the ``state`` after them, each monitor's ``(t, values)`` so far
    (``series``) and the ``seconds`` of computing they took."""

    steps: int
    state: dict[str, np.ndarray]
    series: dict[str, tuple[np.ndarray, np.ndarray]]
    seconds: float = 0.0

    @classmethod
    def of(cls, trace: Trace) -> Checkpoint:
        """Where a trace ended (an interrupted run's, to resume it)."""
        series = {name: (s.t, s.values) for name, s in trace.series.items()}
        return cls(trace.steps, trace.state, series, trace.seconds_per_step * trace.steps)

    def write(self, path: str | Path) -> None:
        """Write to ``path`` (.npz, no pickles), atomically."""
        arrays = {
            "steps": np.array(self.steps),
            "seconds": np.array(self.seconds),
            **{f"state/{name}": value for name, value in self.state.items()},
            **{f"t/{name}": t for name, (t, _values) in self.series.items()},
            **{f"values/{name}": values for name, (_t, values) in self.series.items()},
        }
        with atomic_stream(path, binary=True) as stream:
            np.savez(stream, **arrays)

    @classmethod
    def read(cls, path: str | Path) -> Checkpoint:
        """The checkpoint written to ``path``."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as error:
            raise StlpError(f"{path}: not a readable checkpoint ({error})") from None
        if "steps" not in arrays:
            raise StlpError(f"{path}: not a checkpoint of stlp run (no steps)")

        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}

        values = part("values/")
        return cls(
            int(arrays["steps"]),
            part("state/"),
            {name: (t, values[name]) for name, t in part("t/").items()},
            float(arrays.get("seconds", 0.0)),
        )
