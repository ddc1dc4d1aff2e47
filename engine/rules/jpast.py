"""The JMESPath AST toolbox: reading the parse trees of rule expressions.

The index, the guards, the lint checks and the compiler all reason about a rule's AST (which
``das.action`` it pins, which field paths it reads, what is falsy). They read it through these
helpers so that every room agrees on what a node means.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jmespath.parser import ParsedResult


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a jmespath AST, depth first."""
    stack = [node]
    while stack:
        n = stack.pop()
        if not isinstance(n, dict):
            continue
        yield n
        stack.extend(reversed(n.get("children") or []))


def original_ast(parsed: Any) -> dict[str, Any]:
    """The AST of a compiled expression (a ParsedResult) or of an AST itself."""
    if isinstance(parsed, ParsedResult):
        return parsed.parsed
    return parsed
