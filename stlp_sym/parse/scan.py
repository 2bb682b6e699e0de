"""The text stage of the expression parser: limits, checks of characters, brackets and names.

Before any syntax tree exists, :func:`scan_text` refuses odd characters, strings and deep or
unbalanced brackets, :func:`rewrite_names` refuses names starting with ``_`` and replaces
declared names that are Python keywords (``lambda``) by same-length stand-ins, and
:func:`syntax_tree` parses the result with :func:`ast.parse`. The limits against denial of
service (``MAX_*``) are shared with the tree walk (:mod:`stlp_sym.parse.tree`);
:mod:`stlp_sym.parse.expressions` re-exports them.
"""

from __future__ import annotations

import ast
import keyword
import re
import string
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .expressions import SourceText


MAX_LENGTH = 2000
MAX_DEPTH = 50
MAX_DIGITS = 30
MAX_LITERAL = 1e300
MAX_EXPONENT = 100
MAX_LOG10 = 300  # largest constant power, as a power of ten
MAX_BITS = 1100  # largest numerator or denominator of an exact number (~ 10**331)
MAX_DT_ORDER = 8
MAX_CALL_DEPTH = 3  # calls inside calls: differentiating tanh(tanh(...)) costs SymPy ~3x per level


_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_OPEN, _CLOSE = "([{", ")]}"
# Same-length stand-ins for declared names that are Python keywords (``lambda``): ast.parse
# would read the keyword. They start with "_", which no name in the text may.
_KEYWORD_STANDINS = {
    kw: "_" + string.ascii_letters[i] + "0" * (len(kw) - 2)
    for i, kw in enumerate(sorted(keyword.kwlist))
}


def _line_col(text: str, index: int) -> tuple[int, int]:
    lineno = text.count("\n", 0, index) + 1
    return lineno, index - (text.rfind("\n", 0, index) + 1)


def scan_text(src: SourceText) -> None:
    """Refuse, before parsing, what no expression contains: odd characters, strings, deep or
    unbalanced brackets."""
    text, stack = src.text, []
    for index, char in enumerate(text):
        if char in "'\"":
            raise src.error("strings are not allowed", *_line_col(text, index))
        if not (char.isascii() and (char.isprintable() or char in "\n\t")):
            raise src.error(f"character {char!r} is not allowed", *_line_col(text, index))
        if char in _OPEN:
            stack.append((char, index))
            if len(stack) > MAX_DEPTH:
                problem = f"brackets nested more than {MAX_DEPTH} deep"
                raise src.error(problem, *_line_col(text, index))
        elif char in _CLOSE:
            if not stack or _OPEN.index(stack[-1][0]) != _CLOSE.index(char):
                raise src.error(f"unmatched {char!r}", *_line_col(text, index))
            stack.pop()
    if stack:
        raise src.error(f"{stack[-1][0]!r} is never closed", *_line_col(text, stack[-1][1]))


def rewrite_names(src: SourceText, declared: Mapping[str, object]) -> tuple[str, dict[str, str]]:
    """Refuse names starting with ``_`` (dunders); replace declared keywords by stand-ins."""
    pieces, standins, last = [], {}, 0
    for match in _NAME.finditer(src.text):
        name = match.group()
        if name.startswith("_"):
            problem = "names starting with '_' (such as dunder names) are not allowed"
            lineno, col = _line_col(src.text, match.start())
            raise src.error(problem, lineno, col, (lineno, col + len(name)))
        if keyword.iskeyword(name) and name in declared:
            standin = _KEYWORD_STANDINS[name]
            standins[standin] = name
            pieces += [src.text[last : match.start()], standin]
            last = match.end()
    return "".join([*pieces, src.text[last:]]), standins


def syntax_tree(src: SourceText, text: str) -> ast.expr:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # parentheses allow line breaks and leading blanks; "\n" ends a trailing comment
            tree = ast.parse(f"({text}\n)", mode="eval")
    except SyntaxError as exc:
        lines = src.text.split("\n")
        lineno, offset = exc.lineno or 1, max((exc.offset or 1) - 1, 0)
        col = max(offset - 1, 0) if lineno == 1 else offset
        if lineno > len(lines):  # at the closing parenthesis we added: the end of the text
            lineno, col = len(lines), len(lines[-1])
        detail = "" if exc.msg == "invalid syntax" else f" ({exc.msg})"
        raise src.error(f"invalid syntax{detail}", lineno, col) from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise src.error(f"cannot parse ({type(exc).__name__})", 1, 0, (1, 60)) from None
    return tree.body
