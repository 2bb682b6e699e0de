"""The parts of a generated module that follow the options: its tables, its ``_MODEL`` and its
public functions, each one naming the runtime function that implements it.

Python decides here what a module holds (the template only places it): the step function of the
options' integrator record, the exact policy's solver functions, energies when they were
generated. A module's public functions are thin: each passes its arguments and the module's
``_MODEL`` (its tables and kernels) to a function of ``stlp_sym/runtime`` pasted into it.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from fractions import Fraction

from ..options import Options
from .integrators import Integrator
from .ir import StepIR
from .paste import summary


@dataclass(frozen=True)
class EntryPoint:
    """One public function of a module: ``def name(signature): return runtime(arguments)``."""

    name: str
    signature: str
    runtime: str
    doc: str = ""

    @property
    def call(self) -> str:
        arguments = ", ".join(p.split("=")[0] for p in self.signature.split(", "))
        return f"{self.runtime}({arguments}, _MODEL)"

    def docstring(self) -> str:
        """The docstring: ``doc`` or the runtime function's summary, wrapped to the page."""
        text = self.doc or summary(self.runtime)
        return textwrap.fill(text, width=88, subsequent_indent="    ")


def compiles_steps(ir: StepIR, options: Options) -> bool:
    """True when the module's steps run in compiled code (``run_steps`` a chunk at a time,
    ``step`` one at a time): the numba backend under an explicit policy."""
    return options.backend == "numba" and ir.exact is None


def entry_points(ir: StepIR, integrator: Integrator, chunked: bool = False) -> list[dict[str, str]]:
    """The module's public functions (the contract of a generated module); ``chunked``: its
    steps run in compiled calls (:func:`compiles_steps`)."""
    energy = ir.energy is not None
    step_doc = (
        f"One {integrator.name} step ({integrator.rule}, order {integrator.order}) from ``t`` "
        "to ``t + dt``; ``signals(t)`` is called at every stage. Updates ``state`` in place "
        "and returns it."
    )
    points = [
        EntryPoint("prepare", "n, src, dst, inputs, outputs", "prepare_plan"),
        EntryPoint("init", "plan, params=None, seed=0", "initial_state"),
        EntryPoint("clamp", "t, state, plan, signals", "apply_clamps"),
        EntryPoint("rhs", "t, state, plan, params, signals", "state_rates"),
        EntryPoint(
            "step",
            "t, dt, state, plan, params, signals",
            "compiled_step" if chunked else integrator.runtime,
            step_doc,
        ),
        EntryPoint(
            "run_steps",
            "t0, dt, steps, state, plan, params, table, record",
            "run_steps_compiled" if chunked else "run_steps_loop",
        ),
        EntryPoint("decay_rates", "params=None", "decay_rates_of"),
        EntryPoint(
            "lagrangian",
            "t, state, plan, params, signals",
            "lagrangian_sum" if energy else "energy_unavailable",
        ),
        EntryPoint(
            "hamiltonian",
            "t, state, plan, params, signals",
            "hamiltonian_sum" if energy else "energy_unavailable",
        ),
        EntryPoint(
            "energies",
            "t, state, plan, params, signals",
            "energy_parts" if energy else "energy_unavailable",
        ),
        EntryPoint(
            "el_parts",
            "t, jet, plan, params, signals",
            "el_parts_of" if ir.el is not None else "energy_unavailable",
        ),
    ]
    if ir.exact is not None:
        points += [
            EntryPoint("set_solver", "solve", "install_solver"),
            EntryPoint(
                "constraint_system", "t, state, plan, params, signals", "constraint_system_of"
            ),
        ]
    return [
        {"name": p.name, "signature": p.signature, "call": p.call, "doc": p.docstring()}
        for p in points
    ]


def model_entries(
    ir: StepIR, integrator: Integrator, chunked: bool = False
) -> list[tuple[str, str]]:
    """``(key, code)`` of the module's ``_MODEL``: what its runtime functions read."""
    entries = [
        ("params", "PARAMS"),
        ("param_domains", "PARAM_DOMAINS"),
        ("states", "STATES"),
        ("fields", "_FIELDS"),
        ("tops", "_TOPS"),
        ("update_order", "_UPDATE_ORDER"),
        ("key", "_KEY"),
        ("clamps", "_CLAMPS"),
        ("rhs_kernel", "_rhs_kernel"),
        ("decay_kernel", "_decay_kernel"),
        ("step", integrator.runtime),
    ]
    if chunked:
        entries += [("chunk", "_chunk"), ("stages", "_STAGES")]
    if ir.exact is not None:
        entries += [
            ("top_rates", "exact_top_rates"),
            ("exact_blocks", "_EXACT_BLOCKS"),
            ("exact_entries", "_EXACT_ENTRIES"),
            ("solver", "None"),
        ]
    else:
        entries.append(("top_rates", "explicit_top_rates"))
    if integrator.tableau is not None and not integrator.folds_dt:
        entries.append(("tableau", "_TABLEAU"))
    if ir.energy is not None:
        entries.append(("energy_kernel", "_energy_kernel"))
    if ir.el is not None:
        entries += [("el_kernel", "_el_kernel"), ("el_fields", "_EL_FIELDS")]
    return entries


def module_tables(
    ir: StepIR,
    options: Options,
    integrator: Integrator,
    key: str,
    public: list[str],
    versions: dict[str, str],
) -> list[tuple[str, str]]:
    """``(name, literal)`` of the module's constants, in the order they are placed; ``public``
    are the names of its public functions (with the tables, its ``__all__``); ``versions`` those
    of the packages that generated it (a run records them without importing SymPy)."""
    tops: dict[str, list[str]] = {}
    for state in ir.states:
        tops.setdefault(state.field, []).append(state.name)
    tables_out = ["MODEL_NAME", "PARAMS", "PARAM_DOMAINS", "STATES", "OPTIONS", "SIGNALS"]
    tables_out += ["SIGNAL_KEYS", "VERSIONS", "OBSERVED"]
    exported = sorted([*tables_out, *public], key=_isort)
    # What ``signals(t)`` must hold: the signals the kernel reads (derivatives ``u_d1`` too,
    # where the equations use them) and those the clamps copy.
    read = {key for _domain, source, key in ir.rhs.inputs.values() if source == "signal"}
    read |= {c.signal for c in ir.clamps}
    tables = [
        ("__all__", literal(exported)),
        ("MODEL_NAME", repr(ir.name)),
        ("VERSIONS", repr(versions)),
        ("PARAMS", repr({p.name: p.default for p in ir.parameters})),
        ("PARAM_DOMAINS", repr({p.name: p.on for p in ir.parameters if p.on is not None})),
        ("STATES", literal(_states(ir))),
        ("OPTIONS", repr(_options(options))),
        ("SIGNALS", repr({s.name: s.role for s in ir.signals})),
        ("SIGNAL_KEYS", repr(sorted(read))),
        ("OBSERVED", repr(dict(ir.observed))),
        ("_UPDATE_ORDER", repr([name for chain in tops.values() for name in chain])),
        ("_TOPS", repr(tops)),
        ("_FIELDS", literal(_fields(ir))),
        ("_KEY", repr(key)),
        ("_CLAMPS", literal(clamp_entries(ir))),
    ]
    if integrator.tableau is not None and not integrator.folds_dt:
        tables.append(("_TABLEAU", repr(integrator.tableau.as_floats())))
    if compiles_steps(ir, options):
        tables.append(("_STAGES", repr(_stages(ir, integrator, read))))
    if ir.exact is not None:
        tables += [
            ("_EXACT_BLOCKS", literal(list(ir.exact.unknowns))),
            ("_EXACT_ENTRIES", literal(_exact_entries(ir))),
        ]
    if ir.el is not None:
        tables.append(("_EL_FIELDS", repr(sorted({name[3:] for name in ir.el.outputs}))))
    return tables


def _stages(ir: StepIR, integrator: Integrator, read: set[str]) -> dict:
    """What ``step`` tabulates for the compiled steps: the stage nodes ``c`` (the table row of
    stage time ``t + c dt`` is ``round(c per_step)``), whether a step clamps again at ``t + dt``
    (row ``per_step``), the signals the steps read and those a step cannot do without."""
    nodes = integrator.tableau.c if integrator.tableau is not None else (Fraction(0),)
    optional = {c["signal"] for c in clamp_entries(ir) if not c["required"]}
    kernel = {key for _domain, source, key in ir.rhs.inputs.values() if source == "signal"}
    return {
        "nodes": tuple(float(c) for c in nodes),
        "per_step": math.lcm(1, *(c.denominator for c in nodes)),
        "final_clamp": integrator.tableau is not None and not integrator.folds_dt,
        "signals": sorted(read),
        "required": sorted((read - optional) | kernel),
    }


def _isort(name: str) -> tuple[bool, str]:
    """isort's order of names: constants first, then functions, each alphabetical."""
    return (not name.isupper(), name)


def _options(options: Options) -> dict:
    return {
        "flip": options.flip,
        "normalise": options.normalise,
        "policy": options.policy,
        "integrator": options.integrator,
        "cse": options.cse,
        "backend": options.backend,
    }


def _states(ir: StepIR) -> dict[str, dict]:
    return {
        s.name: {
            "field": s.field,
            "order": s.order,
            "domain": s.domain,
            "role": s.role,
            "clamp": s.clamp_signal,
            "clamp_role": s.clamp_role,
        }
        for s in ir.states
    }


def clamp_entries(ir: StepIR) -> list[dict]:
    """A clamped field takes its value from the signal and, where the signals provide them,
    its derivatives from the signal's derivatives (``u_d1``, ...)."""
    clamp_of = {c.field: c for c in ir.clamps}
    return [
        {
            "state": s.name,
            "role": clamp_of[s.field].role,
            "signal": clamp_of[s.field].signal + (f"_d{s.order}" if s.order else ""),
            "required": s.order == 0,
        }
        for s in ir.states
        if s.field in clamp_of
    ]


def _fields(ir: StepIR) -> dict[str, dict]:
    """Every field's domain, role and clamp (``prepare`` derives where each one exists)."""
    clamps = {c.field: c for c in ir.clamps}
    return {
        f.name: {
            "domain": f.domain,
            "role": f.role,
            "clamp": clamps[f.name].signal if f.name in clamps else None,
            "clamp_role": clamps[f.name].role if f.name in clamps else None,
        }
        for f in ir.fields
    }


def _exact_entries(ir: StepIR) -> list[dict]:
    return [
        {
            "equation": e.equation,
            "unknown": e.unknown,
            "kind": e.kind,
            "end": e.end,
            "output": e.output,
        }
        for e in ir.exact.entries
    ]


def literal(value: dict | list) -> str:
    """A Python literal for the generated code with one entry per line (deterministic)."""
    if not value:
        return repr(value)
    if isinstance(value, dict):
        lines = [f"    {key!r}: {item!r}," for key, item in value.items()]
        return "{\n" + "\n".join(lines) + "\n}"
    return "[\n" + "\n".join(f"    {item!r}," for item in value) + "\n]"
