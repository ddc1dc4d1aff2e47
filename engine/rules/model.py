"""The compiled rule model: what the loader produces and the evaluator consumes.

Loading (YAML -> validated ``Rule``) and evaluation (``Rule`` x event -> match) are separate
rooms; this module is the contract between them. Expressions are compiled once, at load time;
``*_src`` keeps the author's text for messages and docs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in a rule file, said so that the author can fix it."""

    file: str
    line: int | None
    rule_id: str | None
    message: str
    suggestion: str | None = None  # a whole sentence: "did you mean `severity`?"
    level: str = "error"  # "error" stops loading the rule; "warning" does not

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        rid = f" [{self.rule_id}]" if self.rule_id else ""
        hint = f" — {self.suggestion}" if self.suggestion else ""
        return f"{where}:{rid} {self.level}: {self.message}{hint}"


@dataclass(frozen=True)
class Expr:
    """A JMESPath expression, compiled once (``compiled`` is a jmespath ParsedResult)."""

    src: str
    compiled: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class Exemption:
    """An ``unless`` entry: a documented exception that may expire."""

    when: Expr
    reason: str
    expires: dt.date | None = None
    line: int | None = None

    def active(self, on: dt.date) -> bool:
        return self.expires is None or on <= self.expires


@dataclass(frozen=True)
class Dedup:
    key: Expr | None
    window_s: int


@dataclass(frozen=True)
class Threshold:
    count: int
    window_s: int
    group_by: Expr | None = None
    # count distinct values of this expression per group instead of events (password spraying)
    distinct: Expr | None = None


@dataclass(frozen=True)
class Escalation:
    """``escalate:`` entry: the first whose ``when`` holds on the alert's event sets severity."""

    when: Expr
    severity: str
    line: int | None = None


@dataclass(frozen=True)
class SequenceStep:
    """One step of a sequence: ``min`` matching events of ``when``, after the previous step."""

    when: Expr
    min: int = 1
    name: str | None = None


@dataclass(frozen=True)
class Sequence:
    """Ordered steps by one key within ``within_s`` of the first step's first event."""

    by: Expr | None
    within_s: int
    steps: tuple[SequenceStep, ...]


@dataclass(frozen=True)
class FirstSeen:
    """Alert the first time ``key`` takes a value in ``scope``, once ``learn_s`` has passed.

    With ``dormant_s``, alert instead when a known value is seen again after at least that long
    without being seen (a dormant account back); values never seen before are only learned.
    """

    key: Expr
    scope: Expr | None
    learn_s: int
    remember_s: int
    dormant_s: int | None = None


def dormant_step_s(dormant_s: int) -> int:
    """How precisely a ``first_seen.dormant`` rule records when a value was last seen.

    Rewriting the last sighting on every event would cost a write per login; it is rewritten
    once it is this much out of date (a day, or a tenth of ``dormant`` if shorter), and a value
    counts as dormant once ``dormant`` plus this step has passed since the recorded sighting.
    Here, not in the language, because the runtime judges with it and the loader validates.
    """
    return max(1, min(86400, dormant_s // 10))


@dataclass(frozen=True)
class RuleTest:
    """One inline test: a single event or an ordered list of (timed) events, and expectations."""

    name: str
    events: tuple[dict[str, Any], ...]
    expect: dict[str, Any]
    # base event that fills partial events: postgres | mysql | oracle | sqlserver
    engine: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    title: str  # a template over event fields, e.g. "DDL by {dbUserName} on {databaseName}"
    severity: str
    when: Expr
    description: str = ""
    status: str = "stable"  # stable | experimental | deprecated
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    runbook: str | None = None
    unless: tuple[Exemption, ...] = ()
    dedup: Dedup | None = None
    threshold: Threshold | None = None
    escalate: tuple[Escalation, ...] = ()
    sequence: Sequence | None = None
    first_seen: FirstSeen | None = None
    outputs: tuple[str, ...] | None = None
    tests: tuple[RuleTest, ...] = ()
    # the das.action values the rule can match (None = any): the evaluation index
    actions: frozenset[str] | None = None
    file: str = ""
    line: int | None = None
