"""The Alert model: the one contract between the rule engine and every output.

An alert is immutable once built: redaction has already happened, so no output can leak what
the builder masked. ``id`` is deterministic (rule + dedup key + window), which is what makes every
output idempotent when Lambda redelivers a batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    """0 for info … 4 for critical; unknown severities rank as info so they never page."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return 0


@dataclass(frozen=True)
class Alert:
    """What a responder sees.

    ``kind`` is ``rule`` for a rule match, ``rule_error`` when a rule raised, ``pipeline`` for a
    problem with the stream itself (undecodable record, silent stream) and ``test`` for
    ``dasalert send-test``. ``event`` is the normalized event (raw fields + ``das``) *after*
    redaction; ``das`` is a shortcut to its derived fields.
    """

    id: str
    rule_id: str
    title: str
    severity: str
    event: dict[str, Any]
    kind: str = "rule"
    rule_title: str = ""
    description: str = ""
    status: str = "stable"
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    runbook: str | None = None
    dedup_key: str | None = None
    count: int = 1
    first_seen: str | None = None  # ISO 8601 UTC, event time
    last_seen: str | None = None
    outputs: tuple[str, ...] | None = None  # the rule's explicit routing, None = by severity
    # e.g. error text, threshold; for dedup windows ``folded`` (the distinct verbs, objects,
    # users and hosts folded in) and, on an update that grew, ``escalation``
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def das(self) -> dict[str, Any]:
        return self.event.get("das") or {}

    @property
    def severity_rank(self) -> int:
        return severity_rank(self.severity)

    @property
    def escalation(self) -> dict[str, Any] | None:
        """``context["escalation"]`` when this alert is an update that grew in a way a responder
        must see (``step``, ``reasons``, ``previous_severity``), else None.

        Every output honours it: delivery sends such an alert to every routed output once per
        step, where a plain update (same id, a higher count) reaches only outputs that update in
        place. Malformed values count as no escalation, so a bad context never pages.
        """
        esc = self.context.get("escalation") if isinstance(self.context, dict) else None
        if isinstance(esc, dict) and isinstance(esc.get("step"), int) and esc["step"] > 0:
            return esc
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document (the SNS message body, ``--format json``)."""
        doc = asdict(self)
        doc["tags"] = list(self.tags)
        doc["references"] = list(self.references)
        doc["outputs"] = list(self.outputs) if self.outputs is not None else None
        return doc
