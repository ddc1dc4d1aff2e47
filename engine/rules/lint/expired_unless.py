"""An ``unless`` exception past its ``expires`` date no longer applies: the alerts are back.

``expires`` is the last day the exception applies, judged on each event's own date (so replays of
old captures evaluate as they would have then); lint judges on today's date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from engine.rules.lint import LintContext, check
from engine.rules.model import Problem, Rule


@check("expired-unless")
def expired_unless(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    for ex in rule.unless:
        if ex.expires is not None and ex.expires < ctx.today:
            yield ctx.problem(
                rule,
                ex.line,
                f"the exception “{ex.reason}” expired on {ex.expires.isoformat()}: events from "
                f"{(ex.expires + dt.timedelta(days=1)).isoformat()} on alert again",
                "remove the entry, or renew `expires` if the exception is still justified",
            )
