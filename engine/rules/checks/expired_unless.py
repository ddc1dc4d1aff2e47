"""An ``unless`` exception past its ``expires`` date no longer applies: the alerts are back."""

from __future__ import annotations

from collections.abc import Iterator

from engine.rules.checks import LintContext, check
from engine.rules.model import Problem, Rule


@check("expired-unless")
def expired_unless(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    for ex in rule.unless:
        if ex.expires is not None and ex.expires < ctx.today:
            yield ctx.problem(
                rule,
                ex.line,
                f"the exception “{ex.reason}” expired on {ex.expires.isoformat()}: it stops "
                f"applying since {ex.expires.isoformat()}, so these events alert again",
                "remove the entry, or renew `expires` if the exception is still justified",
            )
