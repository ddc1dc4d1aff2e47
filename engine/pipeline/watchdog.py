"""Stream health: a resource whose heartbeats stop is a security event, not just an outage.

DAS sends heartbeats every few seconds even when the database is idle, and the pipeline records
the last time each resource was heard (``StateStore.record_max("heartbeat", resource id, t)``).
Silence means the stream, the database or the audit feature went away — exactly what an attacker
who disables auditing causes. This module decides, from those times and the clock, which
resources are silent; the scheduled handler turns the answer into alerts.

One alert per silence episode (the id is built from the resource and its last heartbeat), plus a
daily reminder while it lasts; a configured resource that never reported is alerted once a day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.alerts import Alert
from engine.alerts.ids import alert_id

SILENT_RULE = "dasalert-stream-silent"
REMINDER_S = 86400
RUNBOOK = "docs/operations.md#the-stream-went-silent"


@dataclass(frozen=True)
class Silence:
    resource_id: str
    last_seen: float | None  # None: never reported since the state was created
    silent_s: float | None


def find_silent(
    last_seen: Mapping[str, float], expected: Iterable[str], now: float, max_silence_s: float
) -> list[Silence]:
    """Resources heard before but silent for more than ``max_silence_s``, and expected
    resources never heard at all; sorted by resource id."""
    out = [
        Silence(rid, seen, now - seen)
        for rid, seen in last_seen.items()
        if now - seen > max_silence_s
    ]
    out += [Silence(rid, None, None) for rid in expected if rid not in last_seen]
    return sorted(out, key=lambda s: s.resource_id)


def _iso(epoch: float) -> str:
    stamp = dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")
    return stamp.replace("+00:00", "Z")


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def silence_alert(s: Silence, now: float, max_silence_s: float) -> Alert:
    reminder = int(now // REMINDER_S * REMINDER_S)
    if s.last_seen is None:
        title = f"Activity stream of {s.resource_id} has never reported"
        episode = f"{s.resource_id}|never"
        first = None
    else:
        title = (
            f"Activity stream of {s.resource_id} silent for {_minutes(s.silent_s or 0)} "
            f"(no heartbeat since {_iso(s.last_seen)})"
        )
        episode = f"{s.resource_id}|{int(s.last_seen)}"
        first = _iso(s.last_seen)
    return Alert(
        id=alert_id(SILENT_RULE, episode, reminder),
        rule_id=SILENT_RULE,
        title=title,
        severity="high",
        kind="pipeline",
        rule_title="Activity stream went silent",
        description=(
            "No heartbeat from this database's activity stream: the stream was stopped, the "
            "database is down, or auditing was turned off - activity is not being monitored. "
            "An attacker who disables auditing causes exactly this."
        ),
        event={
            "das": {"resourceId": s.resource_id, "epoch": now, "time": _iso(now)},
            "lastHeartbeat": first,
            "silentSeconds": None if s.silent_s is None else int(s.silent_s),
            "maxSilenceSeconds": int(max_silence_s),
        },
        tags=("dasalert.pipeline", "attack.defense_evasion", "attack.t1562"),
        runbook=RUNBOOK,
        dedup_key=episode,
        first_seen=first,
        last_seen=_iso(now),
        context={"max_silence_s": int(max_silence_s)},
    )
