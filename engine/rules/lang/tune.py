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

TUNE_KEYS = ("rule", "id", "unless", "disable", "reason", "expires")
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
        out += _entry(c, item)
    return out


def _date(c: Checker, node: YNode | None) -> tuple[dt.date | None, bool]:
    """(date, ok) of an optional ``expires``."""
    if node is None:
        return None, True
    value = S.parse_date(node.value) if node.kind == "scalar" else None
    if value is None:
        c.err(node.line, "`expires` must be a date YYYY-MM-DD", "write `expires: 2027-06-30`")
        return None, False
    return value, True


def _entry(c: Checker, item: YNode) -> list[Tune]:
    """One entry; ``unless`` may be one predicate or a list of ``{when, reason, expires}`` like a
    rule's own (each inherits the entry's ``reason`` / ``expires``): one Tune per exception."""
    rule_node, id_node = item.get("rule"), item.get("id")
    rule_id = None
    if rule_node is not None and id_node is not None:
        c.err(item.line, "a tune entry names its rule once: `rule` or `id`", "keep `rule:`")
    elif rule_node is None and id_node is None:
        c.err(item.line, "a tune entry needs `rule` (the id it tunes)", "add `rule: <rule id>`")
    else:
        node = rule_node if rule_node is not None else id_node
        assert node is not None
        rule_id = c.string(node, "tune.rule", example="`rule: ddl-by-non-admin`")
    reason_node = item.get("reason")
    reason = c.string(reason_node, "tune.reason") if reason_node is not None else None
    expires, ok = _date(c, item.get("expires"))
    unless_node, disable_node = item.get("unless"), item.get("disable")
    disable = False
    if disable_node is not None:
        if disable_node.kind == "scalar" and isinstance(disable_node.value, bool):
            disable = disable_node.value
        else:
            c.err(
                disable_node.line,
                f"`tune.disable` must be true or false, not {node_type(disable_node)}",
            )
            ok = False
    if (unless_node is None) == (not disable):
        c.err(
            item.line,
            "a tune entry has `unless` (an exception) or `disable: true`, one of them",
            "add `unless: <JMESPath predicate>` or `disable: true`",
        )
        return []
    # (predicate, reason, expires, line) per exception
    found: list[tuple[Expr | None, str | None, dt.date | None, int | None]] = []
    if unless_node is None:
        found.append((None, reason, expires, item.line))
    elif unless_node.kind == "seq":
        for sub in unless_node.value:
            example = "- {when: \"dbUserName == 'flyway'\", reason: migrations}"
            if not c.mapping(sub, "tune.unless entry", example):
                ok = False
                continue
            c.keys(sub, "a tune unless entry", ("when", "reason", "expires"))
            when_node = sub.get("when")
            if when_node is None:
                c.err(sub.line, "an unless entry needs `when`", "add `when: <JMESPath predicate>`")
                ok = False
                continue
            expr = c.expr(when_node, "tune.unless.when")
            sub_reason = c.string(r, "tune.unless.reason") if (r := sub.get("reason")) else reason
            sub_expires, date_ok = _date(c, sub.get("expires"))
            ok = ok and date_ok and expr is not None
            found.append((expr, sub_reason, sub_expires or expires, sub.line))
    else:
        expr = c.expr(unless_node, "tune.unless")
        ok = ok and expr is not None
        found.append((expr, reason, expires, item.line))
    if any(r is None for _, r, _, _ in found) and reason_node is None:
        c.err(
            item.line,
            "a tune entry needs `reason`: say why the change is safe",
            "add `reason: nightly ETL job, ticket SEC-123`",
        )
        return []
    if rule_id is None or not ok:
        return []
    return [
        Tune(rule_id, r or "", expr, disable, exp, c.file, line) for expr, r, exp, line in found
    ]


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
