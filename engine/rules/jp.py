"""The library behind ``dasalert jp``: read sample events, evaluate one expression on each.

Sample files come in the shapes people have at hand: one JSON event, JSON lines, a JSON array,
or a decrypted ``DatabaseActivityMonitoringRecord`` envelope (heartbeats skipped) — several
documents per file allowed. Raw events are normalized exactly as the pipeline does, so what an
author sees here is what a rule sees in Lambda.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ENVELOPE_TYPE = "DatabaseActivityMonitoringRecord"


class SampleError(ValueError):
    """A sample file that is not JSON events: where and why."""


@dataclass(frozen=True)
class Sample:
    event: dict[str, Any]
    cluster_id: str | None = None
    instance_id: str | None = None
    where: str = ""


def iter_documents(text: str, name: str) -> Iterator[Any]:
    """Every JSON document in ``text`` (one, JSON lines, or several concatenated)."""
    decoder = json.JSONDecoder()
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n\ufeff":
            pos += 1
        if pos >= n:
            return
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise SampleError(f"{name}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from exc
        yield doc


def iter_samples(doc: Any, where: str) -> Iterator[Sample]:
    """Activity events of one document (an event, an array, or an envelope)."""
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from iter_samples(item, f"{where}[{i}]")
        return
    if not isinstance(doc, dict):
        raise SampleError(f"{where}: expected a JSON object or array, not {type(doc).__name__}")
    if doc.get("type") == ENVELOPE_TYPE or "databaseActivityEventList" in doc:
        cluster = doc.get("clusterId") or None
        instance = doc.get("instanceId") or None
        for i, ev in enumerate(doc.get("databaseActivityEventList") or []):
            if isinstance(ev, dict) and ev.get("type") == "heartbeat":
                continue
            if not isinstance(ev, dict):
                raise SampleError(f"{where}.databaseActivityEventList[{i}]: not an object")
            yield Sample(ev, cluster, instance, f"{where}.databaseActivityEventList[{i}]")
        return
    if doc.get("type") == "heartbeat":
        return
    if isinstance(doc.get("Records"), list) or isinstance(doc.get("records"), list):
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
