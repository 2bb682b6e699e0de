"""Where each quantity of an action lives on a graph (:class:`Layout`): which entries are
unknowns, clamped to a signal or absent, and the value sources built on it (completed, cached,
seeded random)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..graph.digraph import Digraph
from ..symbolic.action import Action
from .reference import Source


@dataclass(frozen=True)
class Layout:
    """Where each quantity of an action lives on a graph.

    ``unknown[f]`` marks the entries of field ``f`` that are unknowns (in its role, not
    clamped); ``clamped[f] = (signal, mask)``; ``present[q]`` is the role mask of a node field or
    signal (entries outside it are zero, docs/theory.md section 1).
    """

    action: Action
    graph: Digraph
    counts: Mapping[str, int]
    unknown: Mapping[str, np.ndarray]
    clamped: Mapping[str, tuple[str, np.ndarray]]
    present: Mapping[str, np.ndarray]

    @classmethod
    def of(cls, action: Action, graph: Digraph) -> Layout:
        counts, unknown, clamped, present = {}, {}, {}, {}
        sizes = {"node": graph.n, "edge": graph.n_arcs, "global": 1}
        for s in action.signals:
            counts[s.name], present[s.name] = graph.n, graph.role_mask(s.role).copy()
        for f in action.fields:
            counts[f.name] = sizes[f.domain]
            mask = np.ones(counts[f.name], dtype=bool)
            if f.domain == "node":
                mask = graph.role_mask(f.role).copy()
                present[f.name] = mask.copy()
                clamp = action.clamp_of(f.name)
                if clamp is not None:
                    where = graph.role_mask(clamp.role) & mask
                    clamped[f.name] = (clamp.signal, where)
                    mask &= ~where
            unknown[f.name] = mask
        return cls(action, graph, counts, unknown, clamped, present)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.action.fields)

    def complete(self, raw: Source, signal: Source) -> Source:
        """Values of every quantity: ``raw`` on unknowns, signals on clamped entries, else 0."""

        def source(name: str, order: int) -> np.ndarray:
            if name not in self.counts:
                raise KeyError(name)
            if name not in self.unknown:  # a signal
                return _masked(signal(name, order), self.present[name])
            value = np.asarray(raw(name, order), dtype=float)
            if name in self.clamped:
                sig, mask = self.clamped[name]
                value = np.where(_column(mask, value), source(sig, order), value)
            if name in self.present:
                value = _masked(value, self.present[name])
            return value

        return source


def _column(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    return mask.reshape(mask.shape + (1,) * (np.ndim(like) - 1))


def _masked(value: np.ndarray, mask: np.ndarray) -> np.ndarray:
    value = np.asarray(value, dtype=float)
    return np.where(_column(mask, value), value, 0.0)


def memoised(source: Source) -> Source:
    cache: dict[tuple[str, int], np.ndarray] = {}

    def cached(name: str, order: int) -> np.ndarray:
        if (name, order) not in cache:
            cache[name, order] = source(name, order)
        return cache[name, order]

    return cached


def random_raw(layout: Layout, seed: int) -> Source:
    """Seeded uniform values in ``[-1, 1]`` per (quantity, order), independent of call order."""

    def raw(name: str, order: int) -> np.ndarray:
        rng = np.random.default_rng([seed, zlib.crc32(name.encode()), order])
        return rng.uniform(-1.0, 1.0, layout.counts[name])

    return raw
