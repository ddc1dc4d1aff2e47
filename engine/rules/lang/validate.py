"""The validation toolkit: one ``Checker`` per rule file collects Problems as it reads nodes.

Every reader checks one shape (a string, an enum, a mapping with known keys, a duration, a
JMESPath expression) and reports what is wrong with the node's line, the rule id and a
suggestion, then returns None — so validation goes on and every problem is reported at once.
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Any

from engine.rules.lang import schema as S
from engine.rules.lang.expr import ExprError, check_functions, compile_expr_noted, did_you_mean
from engine.rules.lang.yamlsrc import YNode
from engine.rules.model import Expr, Problem

# words from other rule languages (Sigma, Panther, StreamAlert) → ours
KEY_ALIASES = {
    "level": "severity",
    "priority": "severity",
    "condition": "when",
    "detection": "when",
    "query": "when",
    "filter": "when",
    "match": "when",
    "exceptions": "unless",
    "except": "unless",
    "falsepositives": "unless",
    "allowlist": "unless",
    "name": "title",
    "test": "tests",
    "output": "outputs",
    "tag": "tags",
    "reference": "references",
    "dedup_period": "dedup",
    "suppress": "dedup",
    "runbook_url": "runbook",
}


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dt.date):
        return "a date"
    return type(value).__name__


def node_type(node: YNode) -> str:
    if node.kind == "map":
        return "a mapping"
    if node.kind == "seq":
        return "a list"
    return type_name(node.value)


class Checker:
    """The problems of one rule file, with the rule id once it is known."""

    def __init__(self, file: str, lists: dict[str, Any], params: dict[str, Any]) -> None:
        self.file = file
        self.rule_id: str | None = None
        self.problems: list[Problem] = []
        self.lists = lists
        self.params = params

    def err(self, line: int | None, message: str, suggestion: str | None = None) -> None:
        self.problems.append(Problem(self.file, line, self.rule_id, message, suggestion))

    def string(self, node: YNode | None, what: str, *, example: str | None = None) -> str | None:
        if node is None:  # an absent key: the caller reports it, if it must
            return None
        if node.kind == "scalar" and isinstance(node.value, str):
            if not node.value.strip():
                self.err(
                    node.line,
                    f"`{what}` is empty",
                    f"write it, e.g. {example}" if example else None,
                )
                return None
            return node.value
        hint = f"write it like {example}" if example else None
        self.err(node.line, f"`{what}` must be a string, not {node_type(node)}", hint)
        return None

    def enum(self, node: YNode | None, what: str, allowed: tuple[str, ...]) -> str | None:
        if node is None:  # an absent key: the caller reports it, if it must
            return None
        value = node.value if node.kind == "scalar" else None
        if isinstance(value, str) and value in allowed:
            return value
        shown = value if node.kind == "scalar" else node_type(node)
        guess = None
        if isinstance(value, str):
            low = value.strip().lower()
            close = difflib.get_close_matches(low, allowed, n=1, cutoff=0.6)
            guess = low if low in allowed else (close[0] if close else None)
        sugg = f"did you mean `{guess}`?" if guess else f"write one of: {', '.join(allowed)}"
        self.err(node.line, f"`{what}` must be one of {', '.join(allowed)}, not `{shown}`", sugg)
        return None

    def keys(self, node: YNode | None, what: str, allowed: tuple[str, ...]) -> None:
        if node is None:  # an absent key: the caller reports it, if it must
            return None
        for key in node.value:
            if key in allowed:
                continue
            alias = KEY_ALIASES.get(key)
            sugg = (
                f"did you mean `{alias}`?"
                if alias in allowed
                else did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}"
            )
            self.err(node.line_of(key), f"unknown key `{key}` in {what}", sugg)

    def mapping(self, node: YNode | None, what: str, example: str) -> bool:
        if node is None:  # an absent key: the caller reports it, if it must
            return False
        if node.kind == "map":
            return True
        self.err(
            node.line, f"`{what}` must be a mapping, not {node_type(node)}", f"write {example}"
        )
        return False

    def seq(self, node: YNode | None, what: str, example: str) -> list[YNode] | None:
        if node is None:  # an absent key: the caller reports it, if it must
            return None
        if node.kind == "seq":
            return node.value
        self.err(node.line, f"`{what}` must be a list, not {node_type(node)}", f"write {example}")
        return None

    def expr(self, node: YNode | None, what: str) -> Expr | None:
        """Compile a JMESPath expression; report syntax, function, list and param problems."""
        if node is None:  # an absent key: the caller reports it, if it must
            return None
        if not (node.kind == "scalar" and isinstance(node.value, str)):
            hint = (
                'quote the whole expression, e.g. when: "`true`"'
                if node.kind == "scalar"
                else "write one JMESPath expression as a string; combine conditions with && and ||"
            )
            self.err(
                node.line,
                f"`{what}` must be a JMESPath expression (a string), not {node_type(node)}",
                hint,
            )
            return None
        src = node.value
        try:
            expr, notes = compile_expr_noted(src)
        except ExprError as exc:
            near = ""
            if exc.column is not None and exc.column < len(src):
                near = f" near `{src[exc.column : exc.column + 20].splitlines()[0]}`"
            self.err(node.line, f"`{what}`: {exc}{near}", exc.suggestion)
            return None
        for note in notes:
            self.problems.append(
                Problem(self.file, node.line, self.rule_id, f"`{what}`: {note}", level="warning")
            )
        bad = check_functions(expr.compiled, self.lists, self.params)
        for message, suggestion in bad:
            self.err(node.line, f"`{what}`: {message}", suggestion)
        return None if bad else expr

    def duration(self, node: YNode | None, what: str, maximum: int = S.MAX_WINDOW_S) -> int | None:
        if node is None:  # an absent key: the caller reports it, if it must
            return None
        seconds = S.parse_duration(node.value) if node.kind == "scalar" else None
        if seconds is None or seconds <= 0 or seconds > maximum:
            shown = node.value if node.kind == "scalar" else node_type(node)
            msg = f"`{what}` must be a duration like 5m, not `{shown}`"
            if seconds is not None:
                msg = f"`{what}` must be between 1s and {maximum // 86400}d, not `{shown}`"
            hint = S.duration_hint(node.value if node.kind == "scalar" else None)
            if seconds is not None:  # well formed, out of range: never "write" the same value
                hint = f"write at most `{maximum // 86400}d`"
            self.err(node.line, msg, hint)
            return None
        return seconds

    def integer(self, node: YNode | None, what: str, minimum: int) -> int | None:
        if node is None:  # an absent key: the caller reports it, if it must
            return None
        v = node.value if node.kind == "scalar" else None
        if isinstance(v, int) and not isinstance(v, bool) and v >= minimum:
            return v
        shown = v if node.kind == "scalar" else node_type(node)
        self.err(node.line, f"`{what}` must be a whole number ≥ {minimum}, not `{shown}`")
        return None
