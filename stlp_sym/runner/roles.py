"""Roles: what a task's signals are for, and the names a module reads them by.

A built-in task speaks in roles, whatever the model calls its signals: ``input`` (on the input
nodes) and ``target`` (on the output nodes), with their time derivatives ``input_d1``,
``target_d1``, ... A module says which of its signals play each role: the signals declared on
(or clamped onto) the input nodes are inputs, and ``OBSERVED["target"]`` is the target (when
the model observes none, its signals on the output nodes are). The runner
renames a task's signals once, here (:func:`in_module_names`); a plain ``signals(t)`` callable
already speaks the module's own names.

>>> import types
>>> module = types.SimpleNamespace(
...     SIGNALS={"s": "input", "y": "output"}, STATES={}, OBSERVED={"output": "v", "target": "y"}
... )
>>> role_names(module)
{'input': ('s',), 'target': ('y',)}
>>> sorted(module_names({"input": 1.0, "input_d1": 0.0, "target": 2.0}, role_names(module)))
['s', 's_d1', 'y']
"""

from __future__ import annotations

from dataclasses import replace
from types import ModuleType
from typing import Any

from ..errors import StlpError

#: The roles a built-in task's signals are keyed by (derivatives: ``input_d1``, ...).
INPUT, TARGET = "input", "target"


def observed(module: ModuleType) -> dict[str, str | None]:
    """``{"output": field, "target": signal}`` of ``module`` (None: not observed)."""
    found = getattr(module, "OBSERVED", None) or {}
    return {"output": found.get("output"), "target": found.get("target")}


def role_names(module: ModuleType) -> dict[str, tuple[str, ...]]:
    """The module's signal names of each role: ``{"input": (...), "target": (...)}``."""
    inputs = [name for name, role in module.SIGNALS.items() if role == "input"]
    inputs += [
        info["clamp"]
        for info in module.STATES.values()
        if info.get("clamp") and info.get("clamp_role") == "input" and info["clamp"] not in inputs
    ]
    target = observed(module)["target"]
    targets = [target] if target else [n for n, role in module.SIGNALS.items() if role == "output"]
    return {INPUT: tuple(inputs), TARGET: tuple(targets)}


def _split_role(key: str) -> tuple[str, str]:
    """``"input_d2" -> ("input", "_d2")``, ``"target" -> ("target", "")``."""
    for role in (INPUT, TARGET):
        if key == role or key.startswith(f"{role}_d"):
            return role, key[len(role) :]
    return key, ""


def module_names(values: dict, names: dict[str, tuple[str, ...]]) -> dict:
    """``values`` keyed by role (``input``, ``target_d1``, ...) keyed by the module's names
    instead; a role the module has no signal for is dropped, any other key is kept."""
    renamed = {}
    for key, value in values.items():
        role, suffix = _split_role(key)
        if role not in names:
            renamed[key] = value
            continue
        for name in names[role]:
            renamed[f"{name}{suffix}"] = value
    return renamed


def in_module_names(task: Any, module: ModuleType) -> Any:
    """``task`` (a :class:`~stlp_sym.runner.tasks.Task`) giving its signals by the module's
    names (unchanged if it speaks them already)."""
    if not task.roles:
        return task
    names = role_names(module)
    signals, table = task.signals, task.table
    return replace(
        task,
        signals=lambda t: module_names(signals(t), names),
        table=None if table is None else (lambda times: module_names(table(times), names)),
        roles=False,
    )


def observed_state(module: ModuleType) -> str | None:
    """The state a run records on the output nodes: ``OBSERVED["output"]``, which must have one.

    Raises
    ------
    StlpError
        When the output field has no state (it is solved for, not integrated).
    """
    output = observed(module)["output"]
    if output is not None and output not in module.STATES:
        raise StlpError(
            f"the model's output field {output!r} has no state in the generated module (its "
            f"states: {sorted(module.STATES)}): name an integrated node field as the output"
        )
    return output
