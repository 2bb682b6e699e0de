"""The results of :func:`stlp_sym.checks.verify`: one :class:`Check` per check, gathered in a
:class:`Report` that prints as a plain-text table."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from ..symbolic.transforms import Options


@dataclass(frozen=True)
class Check:
    """One verification result: an error, an observed order (or ``None``) and pass/fail."""

    name: str
    error: float
    order: float | None
    passed: bool
    note: str = ""


@dataclass(frozen=True)
class Report:
    """The checks of one module on one graph; ``passed`` when every check passed."""

    model: str
    graph: str
    options: Options
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def table(self) -> str:
        """A plain-text table: check, error, observed order, PASS/FAIL, note."""
        head = ("check", "error", "observed order", "result", "note")
        rows = [head]
        for c in self.checks:
            error = "n/a" if math.isnan(c.error) else f"{c.error:.2e}"
            order = "-" if c.order is None else f"{c.order:.2f}"
            rows.append((c.name, error, order, "PASS" if c.passed else "FAIL", c.note))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [
            f"model {self.model} on {self.graph}",
            f"options: {self.options.describe()}",
            *self.notes,
        ]
        for r in rows:
            cells = [f"{v:<{w}}" for v, w in zip(r, widths, strict=False)]
            lines.append("  ".join([*cells, r[4]]))
        lines.append(f"overall: {'PASS' if self.passed else 'FAIL'}")
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        """The table for notebooks, each result coloured."""
        rows = []
        for c in self.checks:
            error = "n/a" if math.isnan(c.error) else f"{c.error:.2e}"
            order = "-" if c.order is None else f"{c.order:.2f}"
            colour = "green" if c.passed else "red"
            result = f'<b style="color:{colour}">{"PASS" if c.passed else "FAIL"}</b>'
            cells = (html.escape(c.name), error, order, result, html.escape(c.note))
            rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        head = "".join(f"<th>{h}</th>" for h in ("check", "error", "order", "result", "note"))
        notes = "".join(f"<br>{html.escape(n)}" for n in self.notes)
        overall = "all checks passed" if self.passed else "FAILED"
        return (
            f"<p>model <b>{html.escape(self.model)}</b> on {html.escape(self.graph)}<br>"
            f"options: {html.escape(self.options.describe())}{notes}</p>"
            f"<table><tr>{head}</tr>{''.join(rows)}</table><p>{overall}</p>"
        )
