"""A griffe extension for the API reference: doctest examples in a docstring's text become code.

NumPy-style docstrings hold examples in their "Examples" section, which mkdocstrings renders as
code, but many of the package's docstrings show an example right in their text, where Markdown
would read ``>>>`` as nested quotes. This wraps each paragraph that starts with ``>>>``, before
the first section heading, in a ``pycon`` code fence, and shows the Sphinx-style references of
the docstrings (``:func:`~stlp_sym.derive```) as code (``derive``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^\s*-{3,}\s*$")
_ROLE = re.compile(r":(?:func|class|data|mod|meth|attr|exc|obj):`(~?)([^`]+)`")


def plain_references(text: str) -> str:
    """``:func:`~a.b.c``` -> ``c`` and ``:mod:`a.b``` -> ``a.b``, as code."""

    def code(match: re.Match[str]) -> str:
        name = match[2].rsplit(".", 1)[-1] if match[1] else match[2]
        return f"`{name}`"

    return _ROLE.sub(code, text)


def fence_examples(text: str) -> str:
    """``text`` with every doctest paragraph before the first section heading fenced."""
    lines = text.splitlines()
    end = next((k - 1 for k in range(1, len(lines)) if _HEADING.match(lines[k])), len(lines))
    out: list[str] = []
    block: list[str] = []

    def close() -> None:
        if block:
            indent = block[0][: len(block[0]) - len(block[0].lstrip())]
            out.extend([f"{indent}```pycon", *block, f"{indent}```"])
            block.clear()

    for number, line in enumerate(lines):
        if number < end and ((block and line.strip()) or line.lstrip().startswith(">>>")):
            block.append(line)
            continue
        close()
        out.append(line)
    close()
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Fence the doctest paragraphs of every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_references(fence_examples(obj.docstring.value))
