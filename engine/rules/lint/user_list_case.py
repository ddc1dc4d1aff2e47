"""Allow lists of users are compared exactly, and do not name AWS's users for every engine.

PostgreSQL and MySQL user names are case-sensitive: ``RDSADMIN`` and ``rdsadmin`` are two
accounts there, and anyone who can create a role can create the one that is not AWS's. So
``in_list_ci(dbUserName, …)`` exempts names nobody meant to exempt, and a list that holds
``RDSADMIN`` (Oracle's) exempts a PostgreSQL role of that name. Both are warnings: the rule
still works, but an attacker who picks the right name is invisible to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.rules.lint import LintContext, check
from engine.rules.lint.internal_users import AWS_INTERNAL_USERS
from engine.rules.model import Problem, Rule

_USER_LIST = re.compile(r"(in_list(?:_ci)?)\(\s*(?:dbUserName|das\.user)\s*,\s*'([^']+)'\s*\)")


@check("user-list-case")
def user_list_case(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    sources = [rule.when.src, *(exemption.when.src for exemption in rule.unless)]
    found = [hit for src in sources for hit in _USER_LIST.findall(src)]
    folded = sorted({name for fn, name in found if fn == "in_list_ci"})
    if folded:
        yield ctx.problem(
            rule,
            ctx.line(rule, "when"),
            f"user names are compared ignoring case (in_list_ci over {', '.join(folded)}): on "
            "PostgreSQL and MySQL another case is another account, which anyone who can "
            "create a role can take",
            "use in_list and list each spelling your engines report",
        )
    aws_named: dict[str, list[str]] = {}
    for fn, name in found:
        values = {str(v) for v in ctx.lists.get(name) or ()}
        if fn == "in_list_ci":
            values |= {v.upper() for v in values} | {v.lower() for v in values}
        hits = [u for u in AWS_INTERNAL_USERS if u in values]
        if hits:
            aws_named[name] = hits
    if aws_named:
        where = "; ".join(f"{name}: {', '.join(hits)}" for name, hits in sorted(aws_named.items()))
        yield ctx.problem(
            rule,
            ctx.line(rule, "when"),
            f"an allow list of users names AWS's accounts ({where}): they are then exempt on "
            "every engine, including those where they are ordinary, creatable names",
            "take them out of the list and add `&& !aws_internal_user(@)`",
        )
