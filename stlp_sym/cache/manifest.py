"""``generated/MANIFEST.toml``: the committed modules of the built-in models.

Each ``[[module]]`` table names a built-in ``model``, the ``options`` that differ from the
model's defaults and the ``file`` it is written to. ``python -m stlp_sym.cache.manifest [DIR]``
regenerates every listed module into ``DIR`` (default: the repository's ``generated/``).
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import StlpError
from ..options import Options

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "generated"


@dataclass(frozen=True)
class Entry:
    """One committed module: the model, its options and its file name."""

    model: str
    options: Options
    file: str


def read_manifest(directory: Path = DEFAULT_DIR) -> list[Entry]:
    """The entries of ``directory/MANIFEST.toml``."""
    from ..symbolic.models import MODELS

    path = Path(directory) / "MANIFEST.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise StlpError(f"cannot read {path}: {error}") from error
    backend = data.get("backend", "numpy")
    entries = []
    for table in data.get("module", []):
        if table.get("model") not in MODELS:
            raise StlpError(f"{path}: unknown model {table.get('model')!r}")
        options = replace(
            MODELS[table["model"]].options, **{"backend": backend, **table.get("options", {})}
        )
        entries.append(Entry(table["model"], options, table["file"]))
    return entries


def regenerate(directory: Path = DEFAULT_DIR) -> list[Path]:
    """Write every module listed in the manifest of ``directory`` (atomically)."""
    from ..files import write_atomic
    from ..symbolic.models import MODELS
    from .store import module_filename, source_of

    written = []
    for entry in read_manifest(directory):
        action = MODELS[entry.model].build()
        if module_filename(action, entry.options) != entry.file:
            raise StlpError(
                f"manifest entry {entry.model}: file should be "
                f"{module_filename(action, entry.options)!r}, not {entry.file!r}"
            )
        path = Path(directory) / entry.file
        write_atomic(path, source_of(action, entry.options))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in regenerate(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR):
        print(written_path)
