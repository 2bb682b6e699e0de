"""Atomic file writes: every file the package writes appears whole or not at all.

A writer streams into a temporary file beside the target, created like any other file (so the
user's umask sets its permissions), and moves it into place with :func:`os.replace` only once it
is complete; on any failure, Ctrl-C included, the temporary file is removed. A writer killed
outright (SIGKILL) cannot remove its temporary file: the next writer of the same target removes
those whose process no longer runs. :func:`check_output` refuses, before any work starts, an
output path that cannot be written.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> write_atomic(target, "hello\\n")
>>> target.read_text()
'hello\\n'
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from .errors import StlpError


def _temporary_pattern(path: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[0-9a-f]{{12}}\.tmp")


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or not a pid at all: leave it alone
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of writers of ``path`` that no longer run (killed ones)."""
    path = Path(path)
    pattern, removed = _temporary_pattern(path), []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return removed
    for name in names:
        match = pattern.fullmatch(name)
        if match is not None and not _running(int(match.group(1))):
            with suppress(OSError):
                (path.parent / name).unlink()
                removed.append(path.parent / name)
    return removed


@contextmanager
def atomic_stream(path: str | os.PathLike, binary: bool = False) -> Iterator[IO]:
    """A stream whose contents replace ``path`` when the ``with`` block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        stream = open(temporary, "xb") if binary else open(temporary, "x", encoding="utf-8")  # noqa: SIM115
        with stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically."""
    with atomic_stream(path, binary=isinstance(data, bytes)) as stream:
        stream.write(data)


def check_output(path: str | os.PathLike, what: str, directory: bool = False) -> Path:
    """Refuse, before any work, an output ``path`` that cannot be written.

    ``directory`` says whether ``path`` is a directory to write into (``--out``, ``--plot``) or
    a file (``--save``, ``--latex``). The nearest existing ancestor must be a writable
    directory; an existing ``path`` must be of the right kind.

    >>> import tempfile
    >>> afile = tempfile.mkstemp(prefix="afile")[1]
    >>> check_output(afile, "--out", directory=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stlp_sym.errors.StlpError: --out .../afile...: exists and is not a directory
    """
    path = Path(path)
    if directory and path.exists() and not path.is_dir():
        raise StlpError(f"{what} {path}: exists and is not a directory")
    if not directory and path.is_dir():
        raise StlpError(f"{what} {path}: is a directory; give a file name")
    ancestor = path if directory else path.parent
    ancestor = Path(os.path.abspath(ancestor))
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise StlpError(f"{what} {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise StlpError(f"{what} {path}: cannot write into {ancestor} (permission denied)")
    return path
