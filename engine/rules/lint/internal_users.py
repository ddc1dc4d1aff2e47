"""A rule that exempts its allow lists of users must exempt AWS's own users too.

RDS and Aurora run maintenance all day as ``rdsadmin`` (Oracle: ``RDSADMIN``, ``RDSSEC``; SQL
Server automation: ``rdsa``). A rule written as ``!in_list(dbUserName, 'admins')`` whose lists
lost those users alerts on every maintenance statement — the noise that makes responders stop
reading. The way to exempt them is ``!aws_internal_user(@)``: it knows which engine has which
user and compares the exact spelling, so ``RDSADMIN`` on PostgreSQL or ``rdsa`` on MySQL (names
anyone with CREATEROLE can take) still alert. Lists that spell them out are accepted too (older
packs), and ``user-list-case`` warns about what that costs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.rules.lint import LintContext, check
from engine.rules.model import Problem, Rule

AWS_INTERNAL_USERS = ("rdsadmin", "RDSADMIN", "RDSSEC", "rdsproxyadmin", "rdsa")
_EXEMPTION = re.compile(r"!\s*(in_list(?:_ci)?)\(\s*(?:dbUserName|das\.user)\s*,\s*'([^']+)'\s*\)")
_BUILTIN = re.compile(r"!\s*aws_internal_user\(\s*@\s*\)")


@check("internal-users")
def internal_users(rule: Rule, ctx: LintContext) -> Iterator[Problem]:
    found = _EXEMPTION.findall(rule.when.src)
    if not found or _BUILTIN.search(rule.when.src):
        return
    exempt: set[str] = set()
    folded: set[str] = set()
    for fn, name in found:
        values = {str(v) for v in ctx.lists.get(name) or ()}
        (folded if fn == "in_list_ci" else exempt).update(values)
    folded_lower = {v.lower() for v in folded}
    missing = [u for u in AWS_INTERNAL_USERS if u not in exempt and u.lower() not in folded_lower]
    if missing:
        names = ", ".join(sorted({name for _, name in found}))
        yield ctx.problem(
            rule,
            ctx.line(rule, "when"),
            f"the users this rule exempts ({names}) lack AWS's internal users "
            f"{', '.join(missing)}: their maintenance will alert",
            "add `&& !aws_internal_user(@)` (each engine's own users, exact spelling)",
        )
