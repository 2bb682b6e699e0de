"""The import paths of version 0.1 (``stlp_sym.derivation``, ``stlp_sym.exprparse``, ...).

Version 0.2 moved the flat modules into the pipeline's folders. Each old path still imports, as a
small module whose attributes are those of the module(s) that took its contents, and warns once
with :class:`DeprecationWarning` naming the new path. The shims go in the next minor version.
Three v0.1 modules are retired instead, because their names are now functions:
``stlp_sym.build`` (now :mod:`stlp_sym.cache.store`), ``stlp_sym.run`` (now
:mod:`stlp_sym.runner.loop`) and ``stlp_sym.verify`` (now :mod:`stlp_sym.checks`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

#: old module (below the package) -> the new module(s) that hold its names
MOVED: dict[str, tuple[str, ...]] = {
    "action": ("symbolic.action", "symbolic.vocabulary"),
    "validation": ("symbolic.validation",),
    "frames": ("symbolic.frames",),
    "structure": ("symbolic.system",),
    "derivation": ("symbolic.derivation",),
    "transforms": ("symbolic.transforms",),
    "expansion": ("symbolic.expansion",),
    "models": ("symbolic.models",),
    "printing": ("symbolic.printing", "display.png"),
    "frameprint": ("symbolic.frameprint",),
    "graphspec": ("graph.spec",),
    "graphfile": ("graph.files",),
    "exprparse": ("parse.expressions", "parse.scan"),
    "exprscan": ("parse.scan",),
    "exprtree": ("parse.tree",),
    "modelfile": ("parse.modelfile",),
    "codeprint": ("codegen.printer",),
    "kernel": ("codegen.kernel",),
    "lowering": ("codegen.lowering",),
    "ir": ("codegen.ir",),
    "exact": ("codegen.exact",),
    "render": ("codegen.render",),
    "manifest": ("cache.manifest",),
    "tasks": ("runner.tasks",),
    "plots": ("display.plots",),
    "png": ("display.png",),
}


class LegacyPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``PACKAGE.OLD`` for every ``OLD`` in :data:`MOVED` and loads it as a shim."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(self, fullname: str, path=None, target=None):
        parent, _, old = fullname.rpartition(".")
        if parent == self.package and old in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        old = module.__name__.rpartition(".")[2]
        new = [f"{self.package}.{name}" for name in MOVED[old]]
        targets = [importlib.import_module(name) for name in new]
        warnings.warn(
            f"{module.__name__} is deprecated and goes in the next minor version; "
            f"import from {' or '.join(new)} instead",
            DeprecationWarning,
            stacklevel=_importer_stacklevel(),
        )

        def __getattr__(name: str) -> object:  # noqa: N807 (the module hook of PEP 562)
            for target in targets:
                if hasattr(target, name):
                    return getattr(target, name)
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")

        module.__getattr__ = __getattr__
        module.__all__ = sorted({n for t in targets for n in getattr(t, "__all__", ())})


def _importer_stacklevel() -> int:
    """The stack level of the first frame outside the import machinery and this module, so that
    the warning points at the user's import statement."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (
        frame.f_code.co_filename.startswith("<frozen importlib")
        or frame.f_code.co_filename == __file__
    ):
        frame, level = frame.f_back, level + 1
    return level


def install(package: str) -> None:
    """Put the finder of ``package``'s old paths on :data:`sys.meta_path` (once)."""
    if not any(isinstance(f, LegacyPaths) and f.package == package for f in sys.meta_path):
        sys.meta_path.append(LegacyPaths(package))
