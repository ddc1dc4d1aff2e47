"""A misspelt field in a test event (``dbUsername: app``) is silently ignored by the rule, and
the base event's value is used instead: the test may pass for the wrong reason."""

from __future__ import annotations

from collections.abc import Iterator

from engine.rules.lang.schema import TEST_OFFSET_KEY
from engine.rules.lint import LintContext, check
from engine.rules.lint._fields import unknown_field
from engine.rules.model import Problem, Rule


@check("test-event-fields")
def test_event_fields(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    for test in rule.tests:
        seen: set[str] = set()
        for event in test.events:
            for key in event:
                if key in seen or key in (TEST_OFFSET_KEY, "das"):
                    continue
                seen.add(key)
                bad = unknown_field((key,), ctx.das_fields)
                if bad:
                    yield ctx.problem(
                        rule,
                        test.line,
                        f"test “{test.name}”: `{key}` is not a DAS event field",
                        bad[1],
                    )
