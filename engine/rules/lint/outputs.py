"""Routing to an output that does not exist would lose the alert.

The known names are the outputs registry's (``engine.outputs.base.register``), passed in through
``LintContext.outputs``: a new output module is known to lint the moment it registers.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.rules.lang.expr import did_you_mean
from engine.rules.lint import LintContext, check
from engine.rules.model import Problem, Rule


@check("unknown-output")
def unknown_output(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    if not ctx.outputs:  # the outputs registry could not be read: nothing to check against
        return
    for name in rule.outputs or ():
        if name not in ctx.outputs:
            yield ctx.problem(
                rule,
                ctx.line(rule, "outputs"),
                f"unknown output `{name}`",
                did_you_mean(name, ctx.outputs)
                or f"known outputs: {', '.join(sorted(ctx.outputs))}",
                level="error",
            )
