"""Test-session setup shared by tests/, the package's doctests and docs/."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_module_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Generated modules go to a per-session cache, never the user's cache directory."""
    os.environ["STLP_CACHE_DIR"] = str(tmp_path_factory.mktemp("stlp-cache"))
