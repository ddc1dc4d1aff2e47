"""Pure helpers behind the time, network and extraction functions of the rule language.

``hour(das.time, 'Europe/Paris')``, ``weekday(…)``, ``in_hours(das.time, 'mon-fri 07:00-19:00',
'Europe/Paris')`` and ``ip_prefix(remoteHost, `24`)`` are thin wrappers (``functions.py``) over
these. Everything here is total for the runtime (bad input → None/False) and strict for the loader
(``parse_hours`` / ``zone`` raise ``ValueError`` with a message the author can act on), so a
business-hours spec or a time zone is checked once, when the rule loads.

Time zones are IANA names read by ``zoneinfo``: daylight saving time is applied per event (a
09:00 Paris rule is 08:00 UTC in summer and 09:00 UTC... no: 07:00 and 08:00 UTC). Where the
system has no zone database (some Lambda images) the ``tzdata`` package provides it.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
import zoneinfo
from dataclasses import dataclass

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_RE = r"(mon|tue|wed|thu|fri|sat|sun)"
_TIME_RE = r"(\d{1,2}):(\d{2})"
_PART_RE = re.compile(
    rf"^\s*(?:{_DAY_RE}(?:\s*-\s*{_DAY_RE})?\s+)?{_TIME_RE}\s*-\s*{_TIME_RE}\s*$", re.IGNORECASE
)


@dataclass(frozen=True)
class HoursPart:
    days: frozenset[int]  # ISO weekdays 1-7 the part starts on
    start: int  # minutes after midnight
    end: int  # exclusive; <= start: runs past midnight into the next day


@functools.lru_cache(maxsize=256)
def parse_hours(spec: str) -> tuple[HoursPart, ...]:
    """``'mon-fri 07:00-19:00, sat 09:00-12:00'`` → parts; raises ValueError saying what is wrong.

    Days are optional (every day), ranges may wrap (``fri-mon``), times are HH:MM with an
    exclusive end (``24:00`` allowed), and an end before the start runs past midnight
    (``22:00-06:00``: from 22:00 on the days named to 06:00 the next morning).
    """
    parts = []
    for raw in spec.split(","):
        m = _PART_RE.match(raw)
        if m is None:
            raise ValueError(
                f"`{raw.strip()}` is not `[day[-day]] HH:MM-HH:MM` (e.g. `mon-fri 07:00-19:00`)"
            )
        d1, d2, h1, m1, h2, m2 = m.groups()
        start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
        if int(m1) > 59 or int(m2) > 59 or start >= 24 * 60 or end > 24 * 60:
            raise ValueError(f"`{raw.strip()}` has a time that is not on the clock")
        if start == end:
            raise ValueError(f"`{raw.strip()}` is empty: the start and the end are the same")
        if d1 is None:
            days = frozenset(range(1, 8))
        else:
            a = DAYS.index(d1.lower()) + 1
            b = DAYS.index((d2 or d1).lower()) + 1
            days = frozenset((a - 1 + i) % 7 + 1 for i in range((b - a) % 7 + 1))
        parts.append(HoursPart(days, start, end))
    return tuple(parts)


@functools.lru_cache(maxsize=64)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """An IANA zone; raises ValueError (the loader's message) for an unknown name."""
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"`{name}` is not an IANA time zone name like `Europe/Paris`")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone `{name}` (write an IANA name like `Europe/Paris`)"
        ) from exc


def _instant(value: object) -> dt.datetime | None:
    """An aware UTC datetime from ``das.time`` (ISO text) or ``das.epoch`` (seconds)."""
    try:
        if isinstance(value, str):
            stamp = _parse_iso(value.strip())
            if stamp is None:
                return None
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


@functools.lru_cache(maxsize=4096)
def _parse_iso(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def local(value: object, tz: object) -> dt.datetime | None:
    """The event's time in the zone ``tz`` (UTC when ``tz`` is null), or None."""
    stamp = _instant(value)
    if stamp is None:
        return None
    if tz is None:
        return stamp
    if not isinstance(tz, str):
        return None
    try:
        return stamp.astimezone(zone(tz))
    except (ValueError, OverflowError):
        return None


def in_hours(value: object, spec: object, tz: object) -> bool:
    if not isinstance(spec, str):
        return False
    try:
        parts = parse_hours(spec)
    except ValueError:
        return False
    when = local(value, tz)
    if when is None:
        return False
    minute = when.hour * 60 + when.minute
    day = when.isoweekday()
    yesterday = (day - 2) % 7 + 1
    for p in parts:
        if p.end > p.start:
            if day in p.days and p.start <= minute < p.end:
                return True
        elif (day in p.days and minute >= p.start) or (yesterday in p.days and minute < p.end):
            return True
    return False


def ip_prefix(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, bits: object) -> str | None:
    """``10.1.2.3`` and 24 → ``10.1.2.0/24``: the network an address belongs to, as text."""
    if ip is None or isinstance(bits, bool) or not isinstance(bits, int | float):
        return None
    if bits != int(bits) or not 0 <= bits <= ip.max_prefixlen:
        return None
    return str(ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False))
