"""Build and cache generated modules: key -> file (atomic write) -> imported module.

The cache key is the sha256 of a canonical text of the action, the options, the template's
bytes, the tool and SymPy versions and the generator's own sources, computed without deriving
anything. Each file starts with a line holding the hash of its body, so a truncated or edited
file is detected and rebuilt. Loading a module needs neither SymPy nor Jinja, and runs the
verified text itself (compiled in memory): no ``.pyc`` file, which Python would trust by its
source's time and size alone, is ever read or written; Numba's on-disk cache of a numba module
is keyed by the module's body hash (:func:`numba_source`). The cache directory is created private
(mode 0700); one owned by another user or writable by others is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import StlpError
from ..files import check_output, write_atomic
from ..options import Options, resolved

if TYPE_CHECKING:
    from ..codegen.driver import Stages
    from ..symbolic.action import Action
    from ..symbolic.derivation import Derivation

_HEADER = re.compile(r"# stlp_sym generated module: body-sha256=([0-9a-f]{64}) key=([0-9a-f]{64})")


def body_hash(body: str) -> str:
    """sha256 of a module body (everything after its first line)."""
    return hashlib.sha256(body.encode()).hexdigest()


def cache_dir() -> Path:
    """``$STLP_CACHE_DIR``, else ``$XDG_CACHE_HOME/stlp_sym``, else ``~/.cache/stlp_sym``."""
    if os.environ.get("STLP_CACHE_DIR"):
        return Path(os.environ["STLP_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stlp_sym"


def private_cache_dir(directory: Path | None = None) -> Path:
    """:func:`cache_dir` (or ``directory``), created with mode 0700 if missing, and checked: it
    must be a directory of this user that no one else may write to.

    Raises
    ------
    StlpError
        If it cannot be created, is not a directory, belongs to another user or is writable by
        its group or by others (anyone could then plant a module).
    """
    directory = Path(directory) if directory is not None else cache_dir()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as exc:
        raise StlpError(
            f"cache directory {directory}: cannot create it ({exc.strerror or exc}); "
            "set STLP_CACHE_DIR to a private directory"
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise StlpError(f"cache directory {directory} is not a directory; set STLP_CACHE_DIR")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise StlpError(
            f"cache directory {directory} belongs to another user (uid {info.st_uid}); "
            "set STLP_CACHE_DIR to a directory of your own"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StlpError(
            f"cache directory {directory} is writable by others (mode "
            f"{stat.S_IMODE(info.st_mode):o}); make it private (chmod 700) or set STLP_CACHE_DIR"
        )
    return directory


#: a model name that is its own file name part (``-`` read as ``_``): lower case, so that names
#: differing in case only cannot meet on a case-insensitive file system
_PLAIN_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_SLUG_LENGTH = 48
#: the options a plain file name leaves out when they have these values
_PLAIN_OPTIONS = {"flip": True, "normalise": True, "policy": "none", "cse": True}


def module_filename(action: Action, options: Options) -> str:
    """The module's file name: readable, and injective in the action's name and the options
    (backend included).

    A lower-case name of letters, digits and single ``-`` under default options gives
    ``<name>_<integrator>[_numba].py`` (``-`` as ``_``: ``stlp-holonomic`` ->
    ``stlp_holonomic_euler.py``). Any other name (``net.v1``, ``net_v1``, ``Net``) or any
    non-default option adds the options that differ and a short hash of the exact name and every
    option, e.g. ``net_v1_penalty_euler_3f2a9c0b1d.py``. The two forms cannot meet: a plain name
    ends in an integrator or ``numba``, a hashed one in ten hex digits; plain names map back to
    their model name and options.
    """
    options = resolved(options)
    slug = re.sub(r"[^0-9a-z]+", "_", action.name.lower()).strip("_")[:_SLUG_LENGTH] or "action"
    changed = [k for k, v in _PLAIN_OPTIONS.items() if getattr(options, k) != v]
    tail = options.integrator.replace("-", "_") + ("_numba" if options.backend == "numba" else "")
    if _PLAIN_NAME.fullmatch(action.name) and len(action.name) <= _SLUG_LENGTH and not changed:
        return f"{slug}_{tail}.py"
    marks = [options.policy if k == "policy" else f"no{k}" for k in changed]
    exact = json.dumps({"name": action.name, "options": asdict(options)}, sort_keys=True)
    digest = hashlib.sha256(exact.encode()).hexdigest()[:10]
    return "_".join([slug, *marks, tail, digest]) + ".py"


def cache_key(action: Action, options: Options) -> str:
    """The key a module is filed under (:func:`stlp_sym.codegen.driver.module_key`): it needs no
    derivation. (Code generation is imported here, not above, so that loading a module from
    the cache imports neither SymPy nor Jinja.)"""
    from ..codegen.driver import module_key

    return module_key(action, options)


def source_of(
    action: Action, options: Options, key: str | None = None, derived: Derivation | None = None
) -> str:
    """The full module text with its hash line (:func:`stlp_sym.codegen.driver.compile`)."""
    from ..codegen.driver import compile

    return file_text(compile(action, options, key=key, derived=derived))


def file_text(stages: Stages) -> str:
    """The module file of compiled stages: the hash line of its body, then the body."""
    header = f"# stlp_sym generated module: body-sha256={body_hash(stages.source)} key={stages.key}"
    return f"{header}\n{stages.source}"


def verified_text(path: Path, key: str | None = None) -> str | None:
    """The text of ``path`` if it is an intact generated module (with ``key``, if given)."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    first, _, body = text.partition("\n")
    match = _HEADER.fullmatch(first)
    if match is None or match.group(1) != body_hash(body):
        return None
    return text if key is None or match.group(2) == key else None


def is_generated_file(path: Path) -> bool:
    """True if ``path`` starts with the hash line of a generated module (intact or not): a file
    this package wrote."""
    try:
        with open(path, "rb") as stream:
            first = stream.readline(200).decode("ascii", errors="replace").rstrip("\n")
    except OSError:
        return False
    return _HEADER.fullmatch(first) is not None


def read_valid(path: Path, key: str | None = None) -> bool:
    """True if ``path`` is an intact generated module (and has ``key``, if given)."""
    return verified_text(path, key) is not None


def cached_path(action: Action, options: Options) -> Path:
    """Where :func:`generate` keeps the module of ``action`` under ``options`` (resolved) in
    the cache: a name holding the cache key, in :func:`private_cache_dir`."""
    options = resolved(options)
    key = cache_key(action, options)
    return private_cache_dir() / f"{module_filename(action, options)[:-3]}_{key[:16]}.py"


def generate(
    action: Action,
    options: Options,
    out_dir: Path | None = None,
    *,
    stages: Stages | None = None,
    derived: Derivation | None = None,
) -> Path:
    """The path of the module for ``action`` and ``options``, written unless already intact.

    Without ``out_dir`` the module goes to :func:`cache_dir` under a name holding the key;
    with it, to ``out_dir/`` :func:`module_filename`. ``stages`` (a :func:`compile` of the same
    action and options) or ``derived`` (its ``derived`` stage) spare a derivation when the module
    must be written. ``options.backend=None`` is resolved here (:func:`~stlp_sym.options.resolved`).
    """
    options = resolved(options)
    key = cache_key(action, options)
    if out_dir is None:
        path = cached_path(action, options)
    else:
        path = check_output(out_dir, "--out", directory=True) / module_filename(action, options)
    if not read_valid(path, key):
        text = file_text(stages) if stages is not None and stages.key == key else None
        text = text or source_of(action, options, key, derived)
        write_atomic(path, text)
    return path


_IMPORTS_NUMBA = re.compile(r"^import numba$", re.MULTILINE)


def numba_source(path: Path, text: str) -> Path:
    """Where a numba module's verified ``text`` is compiled from: a copy in
    ``<private cache>/numba/<body hash>/``.

    Numba files the machine code of ``@numba.njit(cache=True)`` beside the source its functions
    name, valid while that file's stamp (its time and size, or a hash of it memoised by time and
    size) is unchanged, and unpickles it. Naming this copy instead of ``path`` keys the compiled
    code by the body hash and keeps it in the private cache directory: a module rebuilt in place
    within the same second at the same size never meets the old one's machine code.
    """
    body = text.partition("\n")[2]
    directory = private_cache_dir() / "numba" / body_hash(body)
    copy = directory / Path(path).name
    if verified_text(copy) != text:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(copy, text)
    return copy


def load(path: Path) -> ModuleType:
    """Import a generated module from its file, after checking that it is intact.

    The file is read once, its body hash checked, and that very text compiled and run: no
    bytecode cache is consulted or written, so a stale or planted ``.pyc`` never runs. A numba
    module's text is compiled under the name of its copy in the cache (:func:`numba_source`),
    so that Numba's own cache is keyed by the body hash too.
    """
    path = Path(path)
    text = verified_text(path)
    if text is None:
        raise StlpError(f"{path} is not an intact generated module (truncated or edited?)")
    digest = hashlib.sha256(f"{path.resolve()}\n{text}".encode()).hexdigest()[:16]
    name = f"stlp_generated_{digest}"
    module = ModuleType(name)
    module.__file__ = str(path)
    source = numba_source(path, text) if _IMPORTS_NUMBA.search(text) else path
    code = compile(text, str(source), "exec", dont_inherit=True)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def build(
    action: Action,
    options: Options,
    out_dir: Path | None = None,
    *,
    stages: Stages | None = None,
    derived: Derivation | None = None,
) -> ModuleType:
    """Generate (or find in the cache) and import the module of ``action`` under ``options``
    (``stages``, ``derived``: see :func:`generate`)."""
    return load(generate(action, options, out_dir, stages=stages, derived=derived))
