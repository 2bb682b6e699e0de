"""What the module cache holds, and clearing it of the files this package wrote.

The package writes generated modules (each starting with its hash line). A numba module is
compiled from a copy in ``numba/<body hash>/`` (:func:`~stlp_sym.cache.store.numba_source`), and
Numba writes its compiled kernels into ``__pycache__`` beside that copy, named after it
(``stlp_euler_numba_<key>.<kernel>-<line>.py311.nbi`` and ``.nbc``). Nothing else in the
directory is counted or removed.

>>> import tempfile
>>> directory = Path(tempfile.mkdtemp())
>>> _ = (directory / "notes.txt").write_text("mine")
>>> contents = cache_contents(directory)
>>> contents.modules, contents.compiled, clear_cache(directory).modules
((), (), ())
>>> (directory / "notes.txt").exists()
True
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..files import remove_stale_temporaries
from .store import cache_dir, is_generated_file, private_cache_dir

#: Numba's files of a module: ``<module file stem>.<function>...nbi|nbc``
_COMPILED = re.compile(r"[0-9A-Za-z_]+\.[^/]+\.nb[ic]")
#: the folders of numba modules' copies, named by the body hash
_BODY_HASH = re.compile(r"[0-9a-f]{64}")
#: temporary files of an unfinished atomic write of a module (:mod:`stlp_sym.files`)
_TEMPORARY = re.compile(r"\.(?P<name>[^/]+\.py)\.\d+\.[0-9a-f]{12}\.tmp")


@dataclass(frozen=True)
class CacheContents:
    """The package's files in a cache directory: generated modules and Numba's compiled
    kernels of them, and their ``size`` in bytes when listed; ``exists`` is False for a
    directory not created yet."""

    directory: Path
    exists: bool
    modules: tuple[Path, ...] = ()
    compiled: tuple[Path, ...] = ()
    size: int = 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _files(directory: Path) -> list[Path]:
    try:
        return sorted(path for path in directory.iterdir() if path.is_file())
    except OSError:
        return []


def _generated(directory: Path) -> list[Path]:
    return [p for p in _files(directory) if p.suffix == ".py" and is_generated_file(p)]


def _numba_files(directory: Path) -> list[Path]:
    """The copies numba modules are compiled from and Numba's kernel files of them."""
    root = directory / "numba"
    folders = [p for p in _folders(root) if _BODY_HASH.fullmatch(p.name)]
    found = [p for folder in folders for p in _generated(folder)]
    for folder in (directory, *folders):
        found += [p for p in _files(folder / "__pycache__") if _COMPILED.fullmatch(p.name)]
    return found


def _folders(directory: Path) -> list[Path]:
    try:
        return sorted(path for path in directory.iterdir() if path.is_dir())
    except OSError:
        return []


def cache_contents(directory: Path | None = None) -> CacheContents:
    """The generated modules and their compiled kernels in ``directory`` (default:
    :func:`~stlp_sym.cache.store.cache_dir`), without creating it."""
    directory = Path(directory) if directory is not None else cache_dir()
    if not directory.is_dir():
        return CacheContents(directory, exists=False)
    modules = _generated(directory)
    compiled = _numba_files(directory)
    size = sum(_size(path) for path in (*modules, *compiled))
    return CacheContents(directory, True, tuple(modules), tuple(compiled), size)


def clear_cache(directory: Path | None = None) -> CacheContents:
    """Remove the files of :func:`cache_contents` (and temporary files of killed writers of
    modules) and return what they were; other files stay, and so does the directory (an
    emptied ``__pycache__`` goes). A directory of another user or writable by others is
    refused (:func:`~stlp_sym.cache.store.private_cache_dir`)."""
    contents = cache_contents(directory)
    if not contents.exists:
        return contents
    private_cache_dir(contents.directory)
    for path in (*contents.modules, *contents.compiled):
        path.unlink(missing_ok=True)  # another process may have removed it meanwhile
    for path in _files(contents.directory):
        found = _TEMPORARY.fullmatch(path.name)
        if found:
            remove_stale_temporaries(contents.directory / found["name"])
    root = contents.directory / "numba"
    folders = [p for p in _folders(root) if _BODY_HASH.fullmatch(p.name)]
    for folder in [*(f / "__pycache__" for f in folders), *folders, root]:
        _remove_if_empty(folder)
    _remove_if_empty(contents.directory / "__pycache__")
    return contents


def _remove_if_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        os.rmdir(folder)
