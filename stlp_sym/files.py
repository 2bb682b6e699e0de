"""Atomic file writes: every file the package writes appears whole or not at all.

A writer streams into a temporary file beside the target, created like any other file (so the
user's umask sets its permissions), and moves it into place with :func:`os.replace` only once it
is complete; on any failure, Ctrl-C included, the temporary file is removed.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> write_atomic(target, "hello\\n")
>>> target.read_text()
'hello\\n'
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_stream(path: str | os.PathLike, binary: bool = False) -> Iterator[IO]:
    """A stream whose contents replace ``path`` when the ``with`` block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
