"""The event archive's layout: how Firehose partitions decoded events in S3, and reading it back.

The Firehose transformation (``handlers.firehose``) returns, with every decoded record, the
partition keys below; Firehose dynamic partitioning turns them into the object prefix

    resource=<cluster or instance id>/action=<actions>/dt=<YYYY-MM-DD>/hour=<HH>/

so that a reader fetches only what a rule pack can match. The writer (this module, in the
Lambda) and the reader (``dasalert backtest``) share these functions, so they cannot disagree.

**Why ``action`` is a set.** One DAS record holds many events, and Firehose writes a record to
exactly one prefix: a record cannot be split across partitions. The key is therefore the sorted
set of the ``das.action`` values in the record (``CONNECT.READ``), which keeps pruning exact — a
pack that matches only ``DDL`` reads only the prefixes whose set contains ``DDL`` — while a busy
cluster still produces few distinct sets (reads and writes dominate). Events without an action
(never seen in practice) contribute ``NONE``.

**Why event time.** ``dt``/``hour`` come from the record's first event (``das.epoch``), not the
arrival time, so a backtest "from Monday to Friday" reads Monday's events even when the stream
was late. A record spans seconds; its later events may fall into the next hour, which is why
the reader widens a time range by ``SLACK_S`` before pruning and filters events exactly after.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SEP = "."
NO_ACTION = "NONE"
UNKNOWN_RESOURCE = "unknown"
SLACK_S = 3600  # a record's events may run into the hour after its partition's hour

# Firehose's S3 prefix for dynamic partitioning with keys from the Lambda (template.yaml).
PREFIX_EXPRESSION = (
    "resource=!{partitionKeyFromLambda:resource}/action=!{partitionKeyFromLambda:action}/"
    "dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/"
)

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
_PARTITION = re.compile(
    r"(?:^|/)resource=(?P<resource>[^/]+)/action=(?P<action>[^/]+)/"
    r"dt=(?P<dt>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/"
)


def _safe(value: str) -> str:
    """Partition values become S3 key segments: keep them to characters that need no encoding."""
    return _SAFE.sub("_", value)[:200] or UNKNOWN_RESOURCE


def partition_keys(events: Iterable[Mapping[str, Any]]) -> dict[str, str] | None:
    """The partition keys of one record's normalized events; ``None`` when it holds none.

    Every event DAS sends has a ``logTime``; a record whose events somehow carry no event time
    is placed at ``1970-01-01``/``00`` rather than failed, so it is archived and a backtest over
    the whole archive still reads it (a dated range skips it, which the docs say).
    """
    actions: set[str] = set()
    resource: str | None = None
    epoch: float | None = None
    for ev in events:
        das = ev.get("das") if isinstance(ev, Mapping) else None
        if not isinstance(das, Mapping):
            continue
        action = das.get("action")
        actions.add(action if isinstance(action, str) and action else NO_ACTION)
        if resource is None:
            rid = das.get("clusterId") or das.get("instanceId")
            resource = rid if isinstance(rid, str) and rid else None
        e = das.get("epoch")
        if epoch is None and isinstance(e, int | float) and not isinstance(e, bool):
            epoch = float(e)
    if not actions:
        return None
    when = dt.datetime.fromtimestamp(epoch or 0.0, tz=dt.UTC)
    return {
        "resource": _safe(resource or UNKNOWN_RESOURCE),
        "action": SEP.join(sorted(_safe(a) for a in actions)),
        "dt": when.strftime("%Y-%m-%d"),
        "hour": when.strftime("%H"),
    }


@dataclass(frozen=True)
class Partition:
    """Where an archive object sits: parsed from its key."""

    resource: str
    actions: frozenset[str]
    start: float  # epoch of the partition's hour

    @property
    def end(self) -> float:
        return self.start + 3600


def parse_partition(key: str) -> Partition | None:
    """The partition of an object key, or ``None`` when the key is not in the archive layout."""
    m = _PARTITION.search(key)
    if m is None:
        return None
    try:
        day = dt.datetime.strptime(m["dt"], "%Y-%m-%d").replace(tzinfo=dt.UTC)
        hour = int(m["hour"])
    except ValueError:
        return None
    if not 0 <= hour <= 23:
        return None
    start = (day + dt.timedelta(hours=hour)).timestamp()
    return Partition(m["resource"], frozenset(m["action"].split(SEP)), start)


def wanted(
    partition: Partition,
    actions: frozenset[str] | None,
    start: float | None = None,
    end: float | None = None,
) -> bool:
    """May this partition hold an event the pack can match, inside ``[start, end)``?

    ``actions`` is the set of ``das.action`` values the pack's rules can match (``None``: some
    rule can match any action, so every partition is read). A partition whose actions include
    ``NONE`` is always read: the index cannot rule those events out.
    """
    pruned = actions is not None and not (partition.actions & actions)
    if pruned and NO_ACTION not in partition.actions:
        return False
    if end is not None and partition.start >= end:
        return False
    return not (start is not None and partition.end + SLACK_S <= start)
