"""Stream health: a resource whose heartbeats stop is a security event, not just an outage.

DAS sends heartbeats every few seconds even when the database is idle, and the pipeline records
the last time each resource was heard (``StateStore.record_max("heartbeat", resource id, t)``).
Silence means the stream, the database or the audit feature went away — exactly what an attacker
who disables auditing causes. This module decides, from those times and the clock, which
resources are silent; the scheduled handler turns the answer into alerts.

One alert per silence episode (the id is built from the resource and its last heartbeat), plus a
daily reminder while it lasts; a configured resource that never reported is alerted once a day.

A heartbeat time ahead of the watchdog's clock (beyond a few minutes of skew) cannot be real: the
pipeline never records one, so someone wrote it into the state table, and ``record_max`` would
keep it — blinding the watchdog until then. It is reported like a silence, at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from engine.alerts import Alert, system

SILENT_RULE = system.SILENT_RULE
REMINDER_S = system.REMINDER_S
RUNBOOK = system.SILENT_RUNBOOK
FUTURE_TOLERANCE_S = 300.0  # clock skew between the functions, not a forged time


@dataclass(frozen=True)
class Silence:
    resource_id: str
    last_seen: float | None  # None: never reported since the state was created
    silent_s: float | None
    future: bool = False  # the recorded heartbeat is ahead of the clock: not credible


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
    out += [
        Silence(rid, seen, None, future=True)
        for rid, seen in last_seen.items()
        if seen - now > FUTURE_TOLERANCE_S
    ]
    out += [Silence(rid, None, None) for rid in expected if rid not in last_seen]
    return sorted(out, key=lambda s: s.resource_id)


def silence_alert(s: Silence, now: float, max_silence_s: float) -> Alert:
    alert = system.stream_silent(s.resource_id, s.last_seen, s.silent_s, now, max_silence_s)
    if s.future and s.last_seen is not None:
        ahead = int((s.last_seen - now) // 60)
        title = (
            f"Activity stream of {s.resource_id} has a heartbeat time {ahead} min in the future "
            "(the state table was written by someone else; silence cannot be detected)"
        )
        alert = replace(alert, title=title)
    return alert
