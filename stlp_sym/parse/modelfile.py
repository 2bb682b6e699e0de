"""Declarative model files: an :class:`~stlp_sym.symbolic.action.Action` and its options in TOML.

A model file states fields, signals, clamps, parameters, aggregates, the node, edge and global
terms and the dissipation factor, with expressions as strings read by the whitelist parser of
:mod:`stlp_sym.parse.expressions` (nothing in the file is ever executed). The format, with
every key, is in ``docs/model-files.md``; ``examples/stlp.toml`` is the built-in model ``stlp``.

>>> import tempfile, pathlib
>>> text = '''
... name = "pendulum"
... [fields]
... q = "node"
... [terms]
... node = "Dt(q)**2/2 + cos(q)"
... [options]
... flip = false
... normalise = false
... '''
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pendulum.toml"
>>> _ = path.write_text(text)
>>> model = load_model(path)
>>> model.build().node, model.options.flip
(cos(q(t)) + Derivative(q(t), t)**2/2, False)

Errors name the file, the line and the key (and, in an expression, the column):

>>> _ = path.write_text(text.replace("cos(q)", "cos(q).real"))
>>> read_action(path)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
stlp_sym.parse.expressions.ParseError: ...pendulum.toml:6:22: terms.node: attribute access ...
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy as sp

from ..errors import ActionError
from ..options import Options
from ..symbolic.action import Action
from ..symbolic.models import Model
from ..symbolic.vocabulary import Aggregate, Clamp, Field, Parameter, Signal
from .expressions import ParseError, parse_aggregate, parse_expression, parse_number

MAX_BYTES = 1_000_000
FORMAT = 1
_TOP_KEYS = (
    "format",
    "name",
    "description",
    "factor",
    "parameters",
    "fields",
    "signals",
    "clamps",
    "aggregates",
    "terms",
    "options",
    "run",
)
_RUN_KEYS = ("output", "target")
_FIELD_KEYS = ("domain", "role", "multiplier")
_TERM_KEYS = ("node", "edge", "global")
_OPTION_TYPES = {"flip": bool, "normalise": bool, "policy": str, "integrator": str, "cse": bool}
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
_KEY = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY_VALUE = re.compile(rf"\s*({_KEY}(?:\s*\.\s*{_KEY})*)\s*=\s*")
_INLINE_KEY = re.compile(rf"(?:[{{,]\s*)({_KEY})\s*=\s*")


class ModelFileError(ActionError):
    """A model file that cannot be read: bad TOML, unknown or missing keys, bad values."""


def _key_parts(text: str) -> tuple[str, ...]:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[^.\s]+", text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _value_start(lines: list[str], lineno: int, col: int) -> tuple[int, int]:
    """Line and column of the first character of a value's content (inside its quotes)."""
    line = lines[lineno - 1]
    for quote in ('"""', "'''", '"', "'"):
        if line.startswith(quote, col):
            col += len(quote)
            if len(quote) == 3 and not line[col:].strip():
                return lineno + 1, 0  # TOML drops a newline right after the opening quotes
            return lineno, col
    return lineno, col


def _table_header(line: str) -> str | None:
    """The name inside a table header line ``[a.b]`` or ``[[a]]`` (comment allowed), else
    None. A scan with :meth:`str.find`, linear in the line (a regular expression with nested
    optional blanks backtracked cubically on a long line of blanks)."""
    text = line.strip()
    if not text.startswith("["):
        return None
    close = text.find("]")
    if close < 0:
        return None
    name = text[2 if text.startswith("[[") else 1 : close]
    rest = text[close + 1 :]
    rest = rest[1:] if text.startswith("[[") and rest.startswith("]") else rest
    rest = rest.strip()
    return name.strip() if not rest or rest.startswith("#") else None


class _Locator:
    """Where each key's value starts in the raw text (tomllib reports no positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.where: dict[tuple[str, ...], tuple[int, int]] = {}
        table: tuple[str, ...] = ()
        in_string = None
        for lineno, line in enumerate(self.lines, start=1):
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            header = _table_header(line)
            if header is not None:
                table = _key_parts(header)
                self.where.setdefault(table, (lineno, 0))
                continue
            match = _KEY_VALUE.match(line)
            if match is None:
                continue
            path = table + _key_parts(match.group(1))
            self.where.setdefault(path, _value_start(self.lines, lineno, match.end()))
            rest = line[match.end() :]
            for quote in ('"""', "'''"):
                if rest.startswith(quote) and rest.count(quote) == 1:
                    in_string = quote
            if rest.startswith("{"):
                for inner in _INLINE_KEY.finditer(line, match.end()):
                    key = path + _key_parts(inner.group(1))
                    self.where.setdefault(key, _value_start(self.lines, lineno, inner.end()))

    def find(self, path: tuple[str, ...]) -> tuple[int, int]:
        """``(line, column)`` of the value of ``path``, or of its nearest located ancestor."""
        for k in range(len(path), 0, -1):
            if path[:k] in self.where:
                return self.where[path[:k]]
        return 1, 0


@dataclass
class _Reader:
    """Turns one parsed TOML document into an action, naming file, line and key on errors."""

    path: str
    document: dict[str, Any]
    locator: _Locator

    def error(self, key: tuple[str, ...], problem: str) -> ModelFileError:
        line = self.locator.find(key)[0]
        name = ".".join(key)
        return ModelFileError(f"{self.path}:{line}: {name}: {problem}")

    def table(self, key: str, required: bool = False) -> dict[str, Any]:
        value = self.document.get(key)
        if value is None:
            if required:
                raise self.error((), f"missing [{key}] table; see docs/model-files.md")
            return {}
        if not isinstance(value, dict):
            raise self.error((key,), f"must be a table, as [{key}], not {_kind(value)}")
        return value

    def string(self, key: tuple[str, ...], value: Any) -> str:
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, not {_kind(value)}")
        return value

    def check_keys(self, key: tuple[str, ...], value: Mapping, allowed: tuple[str, ...]) -> None:
        for name in value:
            if name not in allowed:
                raise self.error((*key, name), f"unknown key; allowed: {', '.join(allowed)}")

    def declare(self, key: tuple[str, ...], build: Any, *args: Any) -> Any:
        try:
            return build(*args)
        except ActionError as exc:
            raise self.error(key, str(exc)) from None

    # ---- sections ----------------------------------------------------------------------------

    def header(self) -> tuple[str, str]:
        self.check_keys((), self.document, _TOP_KEYS)
        version = self.document.get("format", FORMAT)
        if version != FORMAT or isinstance(version, bool):
            raise self.error(("format",), f"unsupported format {version!r}; this reads {FORMAT}")
        name = self.string(("name",), self.document.get("name", Path(self.path).stem))
        if not _MODEL_NAME.fullmatch(name):
            problem = "use up to 64 letters, digits and _ . + - (starting with a letter or digit)"
            raise self.error(("name",), f"{name!r} is not a model name: {problem}")
        description = self.string(("description",), self.document.get("description", ""))
        if len(description) > 300 or not description.isprintable():
            raise self.error(("description",), "must be one printable line of at most 300 chars")
        return name, description

    def fields(self) -> list[Field]:
        fields = []
        for name, spec in self.table("fields", required=True).items():
            key = ("fields", name)
            if isinstance(spec, str):
                spec = {"domain": spec}
            if not isinstance(spec, dict):
                raise self.error(key, f"must be a domain string or a table, not {_kind(spec)}")
            self.check_keys(key, spec, _FIELD_KEYS)
            domain = self.string((*key, "domain"), spec.get("domain", "node"))
            role = self.string((*key, "role"), spec.get("role", "all"))
            multiplier = spec.get("multiplier", False)
            if not isinstance(multiplier, bool):
                raise self.error((*key, "multiplier"), "must be true or false")
            fields.append(self.declare(key, Field, name, domain, role, multiplier))
        return fields

    def signals(self) -> list[Signal]:
        signals = []
        for name, spec in self.table("signals").items():
            key = ("signals", name)
            if isinstance(spec, dict):
                self.check_keys(key, spec, ("role",))
                spec = spec.get("role", "all")
            signals.append(self.declare(key, Signal, name, self.string(key, spec)))
        return signals

    def clamps(self) -> list[Clamp]:
        clamps = []
        for name, spec in self.table("clamps").items():
            key = ("clamps", name)
            if isinstance(spec, str):
                spec = {"signal": spec}
            if not isinstance(spec, dict) or "signal" not in spec:
                raise self.error(key, 'write field = "signal" or { signal = "u", role = "input" }')
            self.check_keys(key, spec, ("signal", "role"))
            signal = self.string((*key, "signal"), spec["signal"])
            role = self.string((*key, "role"), spec.get("role", "input"))
            clamps.append(Clamp(name, signal, role))  # type: ignore[arg-type]
        return clamps

    def parameters(self) -> list[Parameter]:
        parameters = []
        for name, spec in self.table("parameters").items():
            key, on = ("parameters", name), None
            if isinstance(spec, dict):  # { default = 1.0, on = "node" }
                self.check_keys(key, spec, ("default", "on"))
                if "default" not in spec:
                    raise self.error(key, 'write { default = 1.0, on = "node" } (default missing)')
                on = self.string((*key, "on"), spec["on"]) if "on" in spec else None
                key = (*key, "default")
                spec = spec["default"]
            value = self.number(key, spec)
            parameters.append(self.declare(key[:2], Parameter, name, value, on))
        return parameters

    def number(self, key: tuple[str, ...], value: Any) -> float:
        """A finite number, or a string read as a constant expression."""
        if isinstance(value, str):
            line, col = self.locator.find(key)
            where = ".".join(key)
            value = parse_number(value, source=self.path, line=line, column_offset=col, where=where)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, not {_kind(value)}")
        if isinstance(value, int) and abs(value) > 10**300:
            raise self.error(key, f"integer of {len(str(abs(value)))} digits is beyond 1e300")
        if not math.isfinite(value) or abs(value) > 1e300:
            raise self.error(key, f"{value!r} is not a finite number")
        return value

    def observed(self) -> dict[str, str | None]:
        """``[run] output = "v"`` and ``target = "y"``: what a run records and scores."""
        table = self.table("run")
        self.check_keys(("run",), table, _RUN_KEYS)
        return {key: self.string(("run", key), table[key]) if key in table else None
                for key in _RUN_KEYS}  # fmt: skip

    def options(self) -> Options:
        table = self.table("options")
        self.check_keys(("options",), table, tuple(_OPTION_TYPES))
        for name, value in table.items():
            wanted = _OPTION_TYPES[name]
            if not isinstance(value, wanted):
                kind = "true or false" if wanted is bool else "a string"
                raise self.error(("options", name), f"must be {kind}, not {_kind(value)}")
        return self.declare(("options",), lambda: Options(**table))

    # ---- expressions -------------------------------------------------------------------------

    def expression(self, key: tuple[str, ...], names: Mapping[str, str], **kw: Any) -> Any:
        text = self.string(key, self._get(key))
        line, col = self.locator.find(key)
        parse = parse_aggregate if key[0] == "aggregates" else parse_expression
        where = ".".join(key)
        return parse(text, names, source=self.path, line=line, column_offset=col, where=where, **kw)

    def _get(self, key: tuple[str, ...]) -> Any:
        value: Any = self.document
        for part in key:
            value = value[part]
        return value

    def terms(self, names: Mapping[str, str], phi: sp.Expr) -> dict[str, sp.Expr]:
        table = self.table("terms", required=True)
        self.check_keys(("terms",), table, _TERM_KEYS)
        if not table:
            raise self.error(("terms",), "give at least one of node, edge, global")
        aliases = {"phi": phi}
        return {k: self.expression(("terms", k), names, aliases=aliases) for k in table}


def _kind(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _names(reader: _Reader, groups: dict[str, list]) -> dict[str, str]:
    names: dict[str, str] = {}
    sections = {"field": "fields", "signal": "signals", "parameter": "parameters"}
    sections["local parameter"] = "parameters"
    for group, items in groups.items():
        for item in items:
            # a parameter on nodes or arcs is read as name(t), like a signal (see Parameter)
            kind = "local parameter" if getattr(item, "on", None) is not None else group
            if item.name in names:
                other = sections.get(names[item.name], "aggregates")
                raise reader.error(
                    (sections.get(kind, "aggregates"), item.name),
                    f"{item.name!r} is already declared in [{other}]; names must be unique",
                )
            names[item.name] = kind
    return names


def _aggregates(reader: _Reader, names: dict[str, str], phi: sp.Expr) -> list[Aggregate]:
    aggregates = []
    for name in reader.table("aggregates"):
        key = ("aggregates", name)
        direction, expr = reader.expression(key, names, aliases={"phi": phi})
        aggregates.append(reader.declare(key, Aggregate, name, expr, direction))
    return aggregates


def _culprit(message: str) -> tuple[str, ...]:
    """The key a validation message of :class:`Action` is about (its best guess)."""
    for pattern, key in (
        (r"^(node|edge|global) term", lambda m: ("terms", m.group(1))),
        (r"^dissipation factor", lambda m: ("factor",)),
        (r"^aggregate '(\w+)'", lambda m: ("aggregates", m.group(1))),
        (r"^(output|target) '", lambda m: ("run", m.group(1))),
        (r"^clamp (?:of '(\w+)'|(\w+) =)", lambda m: ("clamps", m.group(1) or m.group(2))),
    ):
        match = re.match(pattern, message)
        if match:
            return key(match)
    return ()


def _build(reader: _Reader) -> tuple[Action, Options]:
    name, description = reader.header()
    fields, signals, parameters = reader.fields(), reader.signals(), reader.parameters()
    clamps, options, observed = reader.clamps(), reader.options(), reader.observed()
    aggregate_names = {n: "aggregate" for n in reader.table("aggregates")}
    groups = {"field": fields, "signal": signals, "parameter": parameters}
    names = _names(reader, groups)
    for agg in aggregate_names:
        if agg in names:
            raise reader.error(("aggregates", agg), f"{agg!r} is already declared")
    factor = sp.S.One
    if "factor" in reader.document:
        factor = reader.expression(("factor",), names)
    aggregates = _aggregates(reader, names, factor)
    terms = reader.terms({**names, **aggregate_names}, factor)
    try:
        action = Action(
            fields=tuple(fields),
            node=terms.get("node", sp.S.Zero),
            edge=terms.get("edge", sp.S.Zero),
            global_=terms.get("global", sp.S.Zero),
            signals=tuple(signals),
            clamps=tuple(clamps),
            aggregates=tuple(aggregates),
            parameters=tuple(parameters),
            name=name,
            description=description,
            factor=factor,
            **observed,
        )
    except ParseError:
        raise
    except ActionError as exc:
        key = _culprit(str(exc).replace(f" of {name!r}", ""))
        raise reader.error(key, str(exc)) from None
    return action, options


def _read(path: str | Path) -> tuple[Action, Options]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model file: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ModelFileError(f"{path}: model file larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
        document = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelFileError(f"{path}: invalid TOML: {exc}") from None
    except (RecursionError, MemoryError):
        raise ModelFileError(f"{path}: invalid TOML: nested too deeply") from None
    except ValueError:  # an integer beyond Python's limit of digits
        line = _long_number_line(text)
        raise ModelFileError(f"{path}:{line}: number of more than 300 digits") from None
    return _build(_Reader(str(path), document, _Locator(text.replace("\r\n", "\n"))))


def _long_number_line(text: str, digits: int = 300) -> int:
    """The line of the first run of more than ``digits`` digits (linear scan), else 1."""
    line, run = 1, 0
    for char in text:
        if char == "\n":
            line, run = line + 1, 0
        elif char.isdigit():
            run += 1
            if run > digits:
                return line
        elif char != "_":
            run = 0
    return 1


def read_action(path: str | Path) -> Action:
    """The :class:`~stlp_sym.symbolic.action.Action` of a model file.

    Raises
    ------
    ModelFileError
        For unreadable files, invalid TOML, unknown or missing keys and bad values.
    ParseError
        For an expression outside the whitelist of :mod:`stlp_sym.parse.expressions`.
    """
    return _read(path)[0]


def read_model(path: str | Path) -> tuple[Action, Options]:
    """The action of a model file and its default options (``[options]``)."""
    return _read(path)


def load_model(path: str | Path) -> Model:
    """A :class:`~stlp_sym.symbolic.models.Model` for a model file, as the command line uses it.

    The file is read once; ``build()`` returns its action and ``options`` are the file's
    defaults.
    """
    action, options = _read(path)
    return Model(action.name, lambda: action, options)


def is_model_file(name: str) -> bool:
    """True if a MODEL argument names a model file (it ends in ``.toml``) rather than a
    built-in model."""
    return str(name).lower().endswith(".toml")
