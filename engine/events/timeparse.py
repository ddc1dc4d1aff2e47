"""Event time from each engine's ``logTime`` form.

Dedup windows and thresholds run in *event* time, so every event needs one comparable instant.
The four engines write ``logTime`` differently:

- Aurora PostgreSQL / MySQL: ``2019-10-30 00:39:49.990579+00`` (offset ``+00``)
- RDS for Oracle: ``2021-01-15 00:15:36.233787`` (no offset: UTC)
- RDS for SQL Server: ``2022-10-06 21:44:38.4120677+00`` (7 fractional digits)

``datetime.fromisoformat`` (3.11+) reads all of them (and ISO ``…T…Z`` that people type into rule
tests); a missing offset means UTC. Anything unreadable gives ``(None, None)``: a bad timestamp
must never stop an event from being evaluated.
"""

from __future__ import annotations

import datetime as dt

_UTC = dt.UTC


def parse_log_time(value: object) -> tuple[str | None, float | None]:
    """``(iso, epoch)``: ISO 8601 UTC with 6 fractional digits and ``Z``, and float seconds.

    The ISO form has a fixed width, so string comparison orders instants correctly.
    """
    if type(value) is not str or not value:
        return None, None
    try:
        parsed = dt.datetime.fromisoformat(value)
        offset = parsed.utcoffset()
        if offset is None:
            parsed = parsed.replace(tzinfo=_UTC)
        elif offset:
            parsed = parsed.astimezone(_UTC)
        iso = parsed.replace(tzinfo=None).isoformat(timespec="microseconds")
        return iso + "Z", parsed.timestamp()
    except (ValueError, OverflowError, TypeError):
        return None, None
