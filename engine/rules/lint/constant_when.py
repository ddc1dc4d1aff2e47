"""A ``when`` that never looks at the event matches every event (or none): almost always a
mistake, such as a quoted expression (``when: "'das.action == DDL'"``)."""

from __future__ import annotations

from collections.abc import Iterator

from engine.rules.jpast import reads_event
from engine.rules.lint import LintContext, check
from engine.rules.model import Problem, Rule


@check("constant-when")
def constant_when(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    # fields of a literal's elements (`` `[1]`[?a] ``) or of an expref's argument do not count
    if not reads_event(rule.when.compiled.parsed):
        yield ctx.problem(
            rule,
            ctx.line(rule, "when"),
            "`when` does not read any event field: it matches every event or none",
            "compare a field, e.g. when: das.action == 'DDL' (strings in single quotes, "
            "field names bare)",
        )
