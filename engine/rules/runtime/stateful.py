"""What the stateful rule types share: hits, limits, and the record of which event fired what.

Sequences (``sequence``), new values (``first_seen``) and distinct counts (``threshold.distinct``)
keep state across batches in the ``StateStore``, in *event time*. Three promises hold for all:

* **Idempotent on redelivery.** Kinesis redelivers a whole batch when anything in it failed. State
  is written under the event's fingerprint (writing it twice changes nothing), and the event that
  fired an alert is remembered with the alert (``FireLog``): when that event comes back, the same
  alert (same id, ``context.replay``) is emitted again — outputs skip an id they already sent, and
  an alert whose first attempt died before delivery is not lost.
* **Correct across shards.** Whatever decides (a new value, a firing) is a conditional write
  (``put_if_absent``): of two invocations racing on one key, exactly one alerts.
* **Bounded.** Every item expires with its window (or ``remember``), and one ``process`` call
  keeps at most ``MAX_KEYS_PER_CALL`` keys per rule; what is left out is counted
  (``Tally.dropped``, the ``StateDropped`` metric), never silently lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.pipeline.state import StateStore
from engine.rules.runtime.suppress import Hit

# keys (sequence keys, first-seen values, distinct groups) one rule may touch in one call
MAX_KEYS_PER_CALL = 5000
# distinct values of one group one call may add
MAX_VALUES_PER_GROUP = 5000


@dataclass(slots=True)
class KeyedHit:
    """A matching event of a stateful rule, with the key it is tracked under."""

    key: str  # canonical JSON of the rule's key (sequence ``by``, group, scope)
    hit: Hit
    order: int  # position in the batch: ties in event time keep the batch order
    value: str | None = None  # first seen: the new value; distinct: the value counted
    steps: tuple[int, ...] = ()  # sequence: the steps this event matches


@dataclass(slots=True)
class StatefulTally:
    duplicates: int = 0
    untimed: int = 0
    dropped: int = 0  # over a per-call cap: not tracked (a metric says how many)
    learning: int = 0  # first seen: values learned during the learning period
    pending: int = 0  # sequence / distinct: tracked, nothing fired (yet)
    suppressed: int = 0


@dataclass(slots=True)
class Fired:
    """An alert a stateful rule decided to send (``engine`` builds the ``Alert``)."""

    alert_id: str
    key: str
    event: dict[str, Any]
    count: int
    first: float | None
    last: float | None
    replay: bool = False
    context: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return json.dumps(
            {
                "id": self.alert_id,
                "count": self.count,
                "first": self.first,
                "last": self.last,
                "context": self.context,
            },
            sort_keys=True,
            default=str,
        )


class FireLog:
    """Which event fired which alert: a redelivered firing event fires the same alert again.

    ``claim`` is the one conditional write of a firing: ``advance`` on the key's firing slot
    (``fw:<rule>:<key digest>``, the time of its last firing) succeeds only when the last firing
    is older than ``if_below`` (the sequence's first event, the start of the distinct window) —
    so of two invocations completing the same incident exactly one alerts. The winner keeps the
    alert's summary under ``fe:<rule>:<fp>`` for a redelivery of its firing event.
    """

    def __init__(self, state: StateStore) -> None:
        self.state = state

    def lookup(self, rule_id: str, fps: list[str]) -> dict[str, dict[str, Any]]:
        if not fps:
            return {}
        keys = {f"fe:{rule_id}:{fp}": fp for fp in fps}
        found = self.state.get_values(list(keys))
        out: dict[str, dict[str, Any]] = {}
        for key, item in found.items():
            if item is not None:
                try:
                    out[keys[key]] = json.loads(item[0])
                except ValueError:
                    continue
        return out

    def claim(
        self,
        rule_id: str,
        slot: str,
        fired: Fired,
        fp: str,
        *,
        when: float,
        if_below: float,
        expires_at: float,
    ) -> bool:
        if not self.state.advance(
            f"fw:{rule_id}:{slot}", when, if_below=if_below, expires_at=expires_at
        ):
            return False
        self.state.put_values({f"fe:{rule_id}:{fp}": (fired.summary(), expires_at)})
        return True

    @staticmethod
    def replayed(summary: dict[str, Any], key: str, event: dict[str, Any]) -> Fired:
        return Fired(
            alert_id=str(summary.get("id")),
            key=key,
            event=event,
            count=int(summary.get("count") or 1),
            first=summary.get("first"),
            last=summary.get("last"),
            replay=True,
            context=dict(summary.get("context") or {}),
        )
