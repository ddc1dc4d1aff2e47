"""The library behind ``dasalert jp``: read sample events, evaluate one expression on each.

Sample files come in the shapes people have at hand: one JSON event, JSON lines, a JSON array,
a decrypted ``DatabaseActivityMonitoringRecord`` envelope (heartbeats skipped), or the outer
record as AWS's documentation prints it (payload already decrypted) — several documents per file
allowed. Each reads into exactly the events ``dasalert eval`` reads from it, normalized as the
pipeline does, so what an author sees here is what a rule sees in Lambda.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.cli.events_input import plaintext_envelope
from engine.das.documents import (
    ENVELOPE,
    FIREHOSE,
    HEARTBEAT,
    KINESIS,
    RECORD,
    WHITESPACE,
    NotJson,
    document_kind,
)
from engine.das.documents import iter_documents as _iter_documents

# a byte-order mark between documents (files joined with `cat`) is skipped too
_WHITESPACE = WHITESPACE + "\ufeff"


class SampleError(ValueError):
    """A sample file that is not JSON events: where and why."""


@dataclass(frozen=True)
class Sample:
    event: dict[str, Any]
    cluster_id: str | None = None
    instance_id: str | None = None
    where: str = ""


def iter_documents(text: str, name: str) -> Iterator[Any]:
    """Every JSON document in ``text`` (one, JSON lines, or several concatenated).

    Unlike ``dasalert eval``, a sample file that is not JSON stops here: a half-read file would
    show results that look complete.
    """
    for doc in _iter_documents(text, whitespace=_WHITESPACE):
        if isinstance(doc, NotJson):
            exc = doc.error
            if isinstance(exc, json.JSONDecodeError):
                raise SampleError(f"{name}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from exc
            raise exc
        yield doc.value


def iter_samples(doc: Any, where: str) -> Iterator[Sample]:
    """Activity events of one document (an event, an array, or an envelope)."""
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from iter_samples(item, f"{where}[{i}]")
        return
    kind = document_kind(doc)
    if kind is None:
        raise SampleError(f"{where}: expected a JSON object or array, not {type(doc).__name__}")
    if kind == RECORD:  # the outer record: as `dasalert eval` reads it
        envelope = plaintext_envelope(doc)
        if envelope is None:
            raise SampleError(
                f"{where}: an encrypted DatabaseActivityMonitoringRecords record, not activity "
                "events: decode it first, e.g. `dasalert decode FILE | dasalert jp EXPR -`"
            )
        yield from iter_samples(envelope, f"{where}.databaseActivityEvents")
        return
    if kind == ENVELOPE:
        cluster = doc.get("clusterId") or None
        instance = doc.get("instanceId") or None
        for i, ev in enumerate(doc.get("databaseActivityEventList") or []):
            if isinstance(ev, dict) and ev.get("type") == "heartbeat":
                continue
            if not isinstance(ev, dict):
                raise SampleError(f"{where}.databaseActivityEventList[{i}]: not an object")
            yield Sample(ev, cluster, instance, f"{where}.databaseActivityEventList[{i}]")
        return
    if kind == HEARTBEAT:
        return
    if kind in (KINESIS, FIREHOSE):
        raise SampleError(
            f"{where}: a Kinesis/Firehose event (encrypted records), not activity events: "
            "decode it first, e.g. `dasalert decode FILE | dasalert jp EXPR -`"
        )
    yield Sample(doc, where=where)


def read_samples(text: str, name: str) -> list[Sample]:
    out: list[Sample] = []
    for i, doc in enumerate(iter_documents(text, name)):
        out.extend(iter_samples(doc, f"{name}#{i + 1}"))
    return out


def prepare(sample: Sample, *, normalize: bool = True) -> dict[str, Any]:
    """The event as rules see it (normalized unless asked not to)."""
    if not normalize:
        return sample.event
    from engine.events import normalize as norm

    return norm(sample.event, cluster_id=sample.cluster_id, instance_id=sample.instance_id)
