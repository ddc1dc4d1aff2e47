"""A rule needs a test that fires and one that does not: otherwise it may match nothing,
or everything, and nobody would know."""

from __future__ import annotations

from collections.abc import Iterator

from engine.rules.lint import LintContext, check
from engine.rules.model import Problem, Rule, RuleTest


def is_positive(test: RuleTest) -> bool:
    """Same reading as the test runner: ``match`` if given, else ``alerts`` > 0."""
    if "match" in test.expect:
        return bool(test.expect["match"])
    alerts = test.expect.get("alerts", 1)
    return bool(len(alerts) if isinstance(alerts, list) else alerts)


@check("test-coverage")
def test_coverage(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    kinds = {is_positive(t) for t in rule.tests}
    missing = [
        name for flag, name in ((True, "positive"), (False, "negative")) if flag not in kinds
    ]
    if not missing:
        return
    example = {"positive": "expect: {match: true}", "negative": "expect: {match: false}"}
    yield ctx.problem(
        rule,
        ctx.line(rule, "tests"),
        f"no {' and no '.join(missing)} test",
        "add a test with " + " and one with ".join(example[m] for m in missing),
    )
