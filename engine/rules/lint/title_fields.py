"""A title placeholder that names no event field renders as ``?`` in every alert."""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.rules.lint import LintContext, check
from engine.rules.lint._fields import unknown_field
from engine.rules.model import Problem, Rule

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@check("title-fields")
def title_fields(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    line = ctx.line(rule, "title")
    for m in PLACEHOLDER.finditer(rule.title):
        name = m.group(1).strip()
        if not name or not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", name):
            yield ctx.problem(
                rule,
                line,
                f"title placeholder `{{{m.group(1)}}}` is not a field name",
                "write a field like {dbUserName} or {das.engine}",
            )
            continue
        bad = unknown_field(tuple(name.split(".")), ctx.das_fields)
        if bad:
            yield ctx.problem(rule, line, f"title placeholder {{{name}}}: {bad[0]}", bad[1])
    stripped = PLACEHOLDER.sub("", rule.title)
    if "{" in stripped or "}" in stripped:
        yield ctx.problem(
            rule, line, "unbalanced `{` or `}` in the title", "placeholders look like {dbUserName}"
        )
