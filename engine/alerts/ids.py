"""Deterministic alert ids.

Kinesis redelivers batches and Lambda retries; every output is idempotent only if the same
alert gets the same id every time, in every process, on every Python version. So the id is a
hash of a canonical encoding (compact JSON, sorted keys, ASCII) of the three things that make
an alert "the same": the rule, the dedup key and the window it falls in. ``hash()`` would not do
(salted per process), nor would ``repr`` (differs between types and versions).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

ID_LENGTH = 32  # hex characters: 128 bits, ample against collisions, short enough for a URL
_VERSION = "dasalert-alert-id/1"


def alert_id(rule_id: str, dedup_key: Any, window_start: Any) -> str:
    """A 32-character lowercase hex id; equal inputs give equal ids, different inputs differ.

    ``dedup_key`` may be any JSON-like value (a string, a list from a JMESPath key expression,
    ``None``); ``window_start`` an epoch number, an ISO string, a datetime or ``None``. An
    integral float equals the same int (``1700000000.0`` and ``1700000000`` are one window);
    a naive datetime is taken as UTC.
    """
    payload = json.dumps(
        [_VERSION, _canonical(rule_id), _canonical(dedup_key), _canonical(window_start)],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=True,
    )
    return hashlib.sha256(payload.encode("ascii")).hexdigest()[:ID_LENGTH]


def _canonical(value: Any) -> Any:
    """Reduce a value to JSON types whose encoding does not depend on the runtime."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)  # int subclasses (IntEnum) encode as their number
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return {"$datetime": value.astimezone(dt.UTC).isoformat(timespec="microseconds")}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return {"$set": sorted(json.dumps(_canonical(item), sort_keys=True) for item in value)}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    return {"$" + type(value).__name__: str(value)}
