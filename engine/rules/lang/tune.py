"""Tuning without forking: ``tune:`` entries that adjust shipped rules from the user's folder.

Users keep their own folder beside the shipped pack (``DASALERT_RULES=rules:/opt/our-rules``,
``--rules rules --rules our-rules``). A file there whose top level is ``tune:`` holds entries that
change a rule by id without copying it, so upgrading the pack never means merging a fork::

    tune:
      - rule: ddl-by-non-admin
        unless: "dbUserName == 'flyway' && cidr_match(remoteHost, '10.8.0.0/16')"
        reason: schema migrations from the CI runners, ticket SEC-142
        expires: 2027-06-30
      - rule: large-read
        disable: true
        reason: replaced by our own large-read-payments

``unless`` adds an exception (an ``Exemption`` like the rule's own, judged on each event's date);
``disable`` removes the rule from the pack until ``expires`` (judged on the load date: a disabled
rule comes back by itself). Every entry needs a ``reason``. Entries are validated like rules: an
unknown key, rule id, function or list is an error with its line and a suggested fix, and an
expired entry is a warning that ``dasalert lint`` shows with the effective pack.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from engine.rules.lang import schema as S
from engine.rules.lang.expr import did_you_mean
from engine.rules.lang.validate import Checker, node_type
from engine.rules.lang.yamlsrc import YNode
from engine.rules.model import Exemption, Expr, Problem, Rule

TUNE_KEYS = ("rule", "unless", "disable", "reason", "expires")
TUNE_ROOT_KEY = "tune"


@dataclass(frozen=True)
class Tune:
    rule_id: str
    reason: str
    unless: Expr | None = None
    disable: bool = False
    expires: dt.date | None = None
    file: str = ""
    line: int | None = None

    def active(self, on: dt.date) -> bool:
        return self.expires is None or on <= self.expires

    def describe(self) -> str:
        what = "disable" if self.disable else f"unless `{self.unless.src if self.unless else ''}`"
        until = f", expires {self.expires.isoformat()}" if self.expires else ""
        return f"{self.rule_id}: {what} — {self.reason}{until}"


@dataclass(frozen=True)
class TuneStatus:
    """What one entry did to the pack: ``applied``, ``expired`` or ``unknown-rule``."""

    tune: Tune
    status: str

    def __str__(self) -> str:
        where = f"{self.tune.file}:{self.tune.line}" if self.tune.line else self.tune.file
        return f"{where}: tune {self.tune.describe()} [{self.status}]"


def is_tune_file(root: YNode | None) -> bool:
    return root is not None and root.kind == "map" and TUNE_ROOT_KEY in root.value


def read_tunes(c: Checker, root: YNode) -> list[Tune]:
    """The entries of one ``tune:`` file (problems go to the Checker)."""
    example = "- {rule: ddl-by-non-admin, unless: \"dbUserName == 'flyway'\", reason: migrations}"
    c.keys(root, "a tune file", (TUNE_ROOT_KEY,))
    node = root.get(TUNE_ROOT_KEY)
    assert node is not None
    items = c.seq(node, "tune", example) or []
    out = []
    for item in items:
        if not c.mapping(item, "tune entry", example):
            continue
        c.keys(item, "a tune entry", TUNE_KEYS)
        tune = _entry(c, item)
        if tune is not None:
            out.append(tune)
    return out


def _entry(c: Checker, item: YNode) -> Tune | None:
    rule_node = item.get("rule")
    rule_id = None
    if rule_node is None:
        c.err(item.line, "a tune entry needs `rule` (the id it tunes)", "add `rule: <rule id>`")
    else:
        rule_id = c.string(rule_node, "tune.rule", example="`rule: ddl-by-non-admin`")
    reason_node = item.get("reason")
    reason = None
    if reason_node is None:
        c.err(
            item.line,
            "a tune entry needs `reason`: say why the change is safe",
            "add `reason: nightly ETL job, ticket SEC-123`",
        )
    else:
        reason = c.string(reason_node, "tune.reason")
    unless_node, disable_node = item.get("unless"), item.get("disable")
    unless = c.expr(unless_node, "tune.unless") if unless_node is not None else None
    disable = False
    if disable_node is not None:
        if disable_node.kind == "scalar" and isinstance(disable_node.value, bool):
            disable = disable_node.value
        else:
            c.err(
                disable_node.line,
                f"`tune.disable` must be true or false, not {node_type(disable_node)}",
            )
    if (unless_node is None) == (not disable):
        c.err(
            item.line,
            "a tune entry has `unless` (an exception) or `disable: true`, one of them",
            "add `unless: <JMESPath predicate>` or `disable: true`",
        )
        return None
    expires = None
    exp_node = item.get("expires")
    if exp_node is not None:
        expires = S.parse_date(exp_node.value) if exp_node.kind == "scalar" else None
        if expires is None:
            c.err(
                exp_node.line, "`expires` must be a date YYYY-MM-DD", "write `expires: 2027-06-30`"
            )
            return None
    if rule_id is None or reason is None or (unless_node is not None and unless is None):
        return None
    return Tune(rule_id, reason, unless, disable, expires, c.file, item.line)


def apply_tunes(
    rules: list[Rule], tunes: list[Tune], today: dt.date
) -> tuple[list[Rule], list[TuneStatus], list[Problem]]:
    """The effective pack: exceptions added, disabled rules left out (until they expire)."""
    by_id = {r.id: r for r in rules}
    disabled: set[str] = set()
    statuses: list[TuneStatus] = []
    problems: list[Problem] = []
    for tune in tunes:
        rule = by_id.get(tune.rule_id)
        if rule is None:
            statuses.append(TuneStatus(tune, "unknown-rule"))
            problems.append(
                Problem(
                    tune.file,
                    tune.line,
                    tune.rule_id,
                    f"tune names rule `{tune.rule_id}`, which no rule folder defines",
                    did_you_mean(tune.rule_id, by_id)
                    or "check the id (`dasalert lint` lists them)",
                )
            )
            continue
        if not tune.active(today):
            statuses.append(TuneStatus(tune, "expired"))
            problems.append(
                Problem(
                    tune.file,
                    tune.line,
                    tune.rule_id,
                    f"tune expired on {tune.expires}: it no longer applies",
                    "renew `expires` with a reason, or delete the entry",
                    level="warning",
                )
            )
            continue
        statuses.append(TuneStatus(tune, "applied"))
        if tune.disable:
            disabled.add(rule.id)
        elif tune.unless is not None:
            extra = Exemption(tune.unless, tune.reason, tune.expires, tune.line)
            by_id[rule.id] = dataclasses.replace(rule, unless=(*rule.unless, extra))
    return [by_id[r.id] for r in rules if r.id not in disabled], statuses, problems
