"""A high or critical alert wakes someone up: tell them what to do.

A runbook that is neither an http(s) URL nor a file beside the rule is an **error** here, while the
loader only warns about it: at run time a rule with a broken runbook link keeps detecting (a pack
copied without its runbooks/ folder must not go blind), and CI, which runs lint, refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.rules.lang.loader import runbook_ok
from engine.rules.lint import LintContext, check
from engine.rules.model import Problem, Rule


@check("runbook")
def runbook(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    if rule.runbook and not runbook_ok(rule.runbook, rule.file):
        yield ctx.problem(
            rule,
            ctx.line(rule, "runbook"),
            f"runbook `{rule.runbook}` is not an http(s) URL, nor a file beside the rule",
            "write https://… or a path relative to the rule file, e.g. runbooks/my-rule.md",
            level="error",
        )
    elif rule.severity in ("high", "critical") and not rule.runbook:
        yield ctx.problem(
            rule,
            ctx.line(rule, "severity"),
            f"a {rule.severity} rule has no runbook",
            "add `runbook: https://…` with the first steps for the responder",
        )
