"""The runs of a sweep and their batches: seeds crossed with parameter values, packed so that
one batch (the modules' member axis) holds runs that may share their signals.

>>> runs = sweep_runs([0, 1], {"c": [1.0, 2.0]})
>>> [(r.index, r.seed, r.params) for r in runs]
[(0, 0, (('c', 1.0),)), (1, 1, (('c', 1.0),)), (2, 0, (('c', 2.0),)), (3, 1, (('c', 2.0),))]
>>> [[r.index for r in batch] for batch in pack(runs, size=3, by_seed=True)]
[[0, 2], [1, 3]]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import StlpError

#: The most runs one sweep may have (each run is a record on disk and a row of the dataset).
MAX_RUNS = 1_000_000
#: The most members one batch holds by default (its arrays are ``B`` times a run's).
MAX_BATCH = 64


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its position, its seed (as ``stlp run --seed`` takes it) and the
    values of the swept parameters."""

    index: int
    seed: int
    params: tuple[tuple[str, float], ...]

    @property
    def values(self) -> dict[str, float]:
        """The swept parameters' values, by name."""
        return dict(self.params)


def parameter_sets(params: Mapping[str, Sequence[float]], grid: bool = True) -> list[tuple]:
    """The parameter combinations: every one (``grid``) or the values paired in order (zip).

    >>> parameter_sets({"a": [1, 2], "b": [3, 4]}, grid=False)
    [(1, 3), (2, 4)]
    """
    columns = [list(values) for values in params.values()]
    for name, values in zip(params, columns, strict=True):
        if not values:
            raise StlpError(f"--param {name}: no value given; write NAME=V1,V2,...")
    if grid:
        return list(itertools.product(*columns))
    lengths = {name: len(values) for name, values in zip(params, columns, strict=True)}
    if len(set(lengths.values())) > 1:
        raise StlpError(
            f"--zip pairs parameter values in order, and their counts differ: {lengths}; "
            "give each the same number of values, or use --grid"
        )
    return list(zip(*columns, strict=True))


def sweep_runs(
    seeds: Sequence[int], params: Mapping[str, Sequence[float]] | None = None, grid: bool = True
) -> list[SweepRun]:
    """Every run: each parameter combination crossed with every seed (seeds vary fastest)."""
    params = dict(params or {})
    sizes = [len(values) for values in params.values()]
    count = len(seeds) * (math.prod(sizes) if grid else min(sizes, default=1))
    if count > MAX_RUNS:
        raise StlpError(f"a sweep of {count} runs is more than {MAX_RUNS}; sweep fewer values")
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        raise StlpError("a sweep needs at least one seed (--seeds A:B runs seeds A to B-1)")
    if any(seed < 0 for seed in seeds):
        raise StlpError(f"--seeds: seeds are non-negative integers, got {min(seeds)}")
    combos = parameter_sets(params, grid) if params else [()]
    names = list(params)
    return [
        SweepRun(index, seed, tuple(zip(names, map(float, combo), strict=True)))
        for index, (combo, seed) in enumerate(itertools.product(combos, seeds))
    ]


def batch_size(runs: int, workers: int) -> int:
    """Members per batch: about two batches a worker (so a slow or lost one costs little),
    at most :data:`MAX_BATCH`."""
    return max(1, min(MAX_BATCH, math.ceil(runs / (2 * max(1, workers)))))


def pack(runs: Sequence[SweepRun], size: int, by_seed: bool) -> list[list[SweepRun]]:
    """Batches of at most ``size`` runs. ``by_seed``: a task whose signals depend on the seed
    (the piecewise target) needs one seed a batch, since a batch shares its signals."""
    groups: dict[int | None, list[SweepRun]] = {}
    for run in runs:
        groups.setdefault(run.seed if by_seed else None, []).append(run)
    return [
        group[start : start + size]
        for group in groups.values()
        for start in range(0, len(group), size)
    ]
