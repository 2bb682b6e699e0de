"""The module template only places; render pastes the runtime functions a module calls, verbatim
and nothing else; every rendered module imports only NumPy and passes ruff."""

from __future__ import annotations

import ast
import builtins
import importlib.util
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from stlp_sym.codegen.driver import compile
from stlp_sym.codegen.integrators import INTEGRATORS
from stlp_sym.codegen.paste import runtime_functions
from stlp_sym.codegen.render import TEMPLATE, render_context, render_module, template_dir
from stlp_sym.symbolic.models import MODELS
from stlp_sym.symbolic.printing import text_equations

ROOT = Path(__file__).resolve().parents[1]
#: every built-in model under its own options, and the exact policy of the holonomic model
CASES = [(name, model.options) for name, model in MODELS.items()]
CASES.append(("stlp-holonomic", replace(MODELS["stlp-holonomic"].options, policy="exact")))


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    """Each case rendered with every integrator (one derivation per case)."""
    rendered = {}
    for name, options in CASES:
        stages = compile(MODELS[name].build(), options)
        equations = text_equations(stages.derivation)
        for integrator in INTEGRATORS:
            chosen = replace(options, integrator=integrator)
            context = render_context(stages.ir, chosen, stages.key, equations)
            label = f"{name}_{options.policy}_{integrator}".replace("-", "_")
            rendered[label] = render_module(context)
    return rendered


def test_template_is_placement_only() -> None:
    text = (template_dir() / TEMPLATE).read_text()
    assert len(text.splitlines()) < 100
    assert not re.search(r"{%-?\s*(if|elif|else)\b", text)


def top_level_functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_modules_import_only_numpy_and_paste_only_what_they_call(sources) -> None:
    index = runtime_functions()
    for label, source in sources.items():
        tree = ast.parse(source)
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])
        }
        assert imported == {"numpy"}, label
        functions = top_level_functions(tree)
        public = set(ast.literal_eval(next(n.value for n in tree.body if _assigns(n, "__all__"))))
        for name, node in functions.items():
            if name in index:  # verbatim from stlp_sym/runtime
                assert ast.get_source_segment(source, node) == index[name].source, (label, name)
            others = source.replace(ast.get_source_segment(source, node), "")
            called = re.search(rf"\b{name}\b", others)
            assert called or name in public, f"{label}: {name} is pasted but never called"


def _assigns(node: ast.stmt, name: str) -> bool:
    return isinstance(node, ast.Assign) and any(
        isinstance(target, ast.Name) and target.id == name for target in node.targets
    )


def test_the_step_and_the_solver_follow_the_options(sources) -> None:
    for label, source in sources.items():
        integrator = label.rsplit("_", 1)[-1].replace("semi_implicit", "semi-implicit")
        integrator = "semi-implicit" if label.endswith("semi_implicit") else integrator
        step = top_level_functions(ast.parse(source))["step"]
        assert f"return {INTEGRATORS[integrator].runtime}(" in ast.get_source_segment(source, step)
        assert ("def set_solver(" in source) == ("_exact_" in label), label


def ruff_command() -> list[str] | None:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    return [shutil.which("ruff")] if shutil.which("ruff") else None


def test_rendered_modules_pass_ruff(sources) -> None:
    """The project's ruff rules (pyproject.toml, as for generated/) on every rendered module;
    without ruff, the modules must at least compile and pass pyflakes when it is installed."""
    command = ruff_command()
    for label, source in sources.items():
        if command is None:
            builtins.compile(source, label, "exec")
            pyflakes = pytest.importorskip("pyflakes.api")
            assert pyflakes.check(source, label) == 0, label
            continue
        result = subprocess.run(
            [*command, "check", "--no-cache", "--stdin-filename", f"generated/{label}.py", "-"],
            input=source,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert result.returncode == 0, f"{label}:\n{result.stdout}{result.stderr}"
