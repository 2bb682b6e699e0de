"""Fixtures shared by several test modules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stlp_sym.cache.store import build
from stlp_sym.symbolic.models import MODELS


@pytest.fixture(scope="module")
def numpy_stlp(tmp_path_factory):
    """The module of model ``stlp`` with the NumPy backend, built in a cache of the session's
    temporary directory (no compilation: quick runs of a few steps)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STLP_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        model = MODELS["stlp"]
        return build(model.build(), replace(model.options, backend="numpy"))
