"""A high or critical alert wakes someone up: tell them what to do."""

from __future__ import annotations

from collections.abc import Iterator

from engine.rules.lint import LintContext, check
from engine.rules.model import Problem, Rule


@check("runbook")
def runbook(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    if rule.severity in ("high", "critical") and not rule.runbook:
        yield ctx.problem(
            rule,
            ctx.line(rule, "severity"),
            f"a {rule.severity} rule has no runbook",
            "add `runbook: https://…` with the first steps for the responder",
        )
