"""A misspelt field (``dbUsername``) is always null: the rule silently never matches.

In ``when`` and ``unless`` that is a warning (the rule may still be what was meant). In a
``dedup.key`` or ``threshold.group_by`` it is an **error**: every event then falls into the one
null group, so a per-host threshold silently counts all hosts together and a per-user dedup hides
every user behind the first — and the positive test still passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.rules.jpast import event_paths
from engine.rules.lint import LintContext, check
from engine.rules.lint._fields import unknown_field
from engine.rules.model import Expr, Problem, Rule


def unknown_fields(expr: Expr, das_fields: frozenset[str]) -> Iterator[tuple[str, str]]:
    # the event's own fields only: inside a filter or projection a name is an element's field
    for path in event_paths(expr.compiled.parsed):
        bad = unknown_field(path, das_fields)
        if bad is None:
            continue
        message, hint = bad
        if path == (path[0],) and path[0] in ("null", "true", "false"):
            message = f"`{path[0]}` without backticks is a field name, not the JSON value"
            hint = f"write the JSON value in backticks: `{path[0]}`"
        elif re.search(r'"' + re.escape(path[-1]) + r'"', expr.src):
            hint = (
                f'"{path[-1]}" in double quotes is a field name in JMESPath; '
                f"write the string as '{path[-1]}'"
            )
        yield message, hint


GROUPING_KEYS = frozenset({"dedup.key", "threshold.group_by"})


@check("unknown-field")
def unknown_field_check(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    exprs = [("when", rule.when, ctx.line(rule, "when"))]
    exprs += [("unless", ex.when, ex.line) for ex in rule.unless]
    if rule.dedup and rule.dedup.key:
        exprs.append(("dedup.key", rule.dedup.key, ctx.line(rule, "dedup")))
    if rule.threshold and rule.threshold.group_by:
        exprs.append(("threshold.group_by", rule.threshold.group_by, ctx.line(rule, "threshold")))
    for what, expr, line in exprs:
        level = "error" if what in GROUPING_KEYS else "warning"
        for message, hint in unknown_fields(expr, ctx.das_fields):
            if level == "error":
                message += ": every event falls into one null group"
            yield ctx.problem(rule, line, f"{what}: {message}", hint, level=level)
