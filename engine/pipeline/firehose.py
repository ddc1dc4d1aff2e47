"""The Firehose transformation response: every ``recordId`` answered, within 6 MB.

Firehose counts a missing ``recordId`` as a failure of the whole invocation, so every record gets
exactly one answer:

``Ok``                decoded; ``data`` = the normalized events, **redacted** (passwords in SQL
                      masked, ``paramList`` values dropped), one JSON object per line;
``Dropped``           decoded but heartbeats only: nothing to store;
``ProcessingFailed``  cannot decode, for good or for now (a throttled KMS). Firehose writes such
                      records, as received, under the delivery stream's error prefix, from where
                      ``dasalert run`` can replay them: a transient failure is not retried here
                      because Firehose can only retry the whole invocation.

**The 6 MB limit.** Lambda refuses a response over 6 MB and Firehose then fails the whole batch.
Decoded events are several times larger than the encrypted input, so the response is built
against a byte budget: a record whose data no longer fits is answered ``ProcessingFailed``
(reason ``response_too_large``, counted in the ``RecordsFailed`` metric) and lands in the error
prefix with its original data — never silently lost. Configure the Firehose processor's
``BufferSizeInMBs`` to 1 (docs/deployment.md) and this does not happen.

**Partition keys.** With ``partition=True`` (``DASALERT_FIREHOSE_PARTITION_KEYS``, set by the
template when the archive is on) every ``Ok`` answer carries ``metadata.partitionKeys`` for
Firehose dynamic partitioning: resource, the record's actions, event date and hour
(``engine.pipeline.archive``), so ``dasalert backtest`` reads only what a rule pack can match.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from engine.alerts.redact import redact_event
from engine.das.records import RawRecord
from engine.pipeline.archive import partition_keys
from engine.pipeline.batch import DROPPED, OK, PERMANENT, BatchResult

RESPONSE_LIMIT = 6_000_000  # Lambda allows 6 MB (6,291,456 bytes); keep under either reading
RESPONSE_MARGIN = 64 * 1024  # the envelope, ids, JSON punctuation
TOO_LARGE = "response_too_large"


def _lines(events: Sequence[dict[str, Any]], keep_params: bool) -> bytes:
    return "".join(
        json.dumps(
            redact_event(ev, keep_params=keep_params), ensure_ascii=False, separators=(",", ":")
        )
        + "\n"
        for ev in events
    ).encode("utf-8")


def firehose_response(
    records: Sequence[RawRecord],
    result: BatchResult,
    *,
    keep_params: bool = False,
    limit: int = RESPONSE_LIMIT - RESPONSE_MARGIN,
    partition: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """The handler's return value. ``result`` must come from ``Pipeline.run(records,
    keep_events=True)``; outcomes answered ``ProcessingFailed`` for size get reason
    ``response_too_large`` in ``result`` too, so metrics and logs see them."""
    answers: list[dict[str, Any]] = []
    used = 0
    for rec, out in zip(records, result.outcomes, strict=True):
        entry_overhead = len(rec.record_id) + 64
        if out.status == OK and out.normalized:
            data = base64.b64encode(_lines(out.normalized, keep_params)).decode("ascii")
            answer: dict[str, Any] = {"recordId": rec.record_id, "result": "Ok", "data": data}
            keys = partition_keys(out.normalized) if partition else None
            if keys is not None:
                answer["metadata"] = {"partitionKeys": keys}
                entry_overhead += 160  # the keys' JSON: resource id, actions, date, hour
            if used + len(data) + entry_overhead <= limit:
                answers.append(answer)
                used += len(data) + entry_overhead
                continue
            out.status, out.reason = PERMANENT, TOO_LARGE
        elif out.status in (OK, DROPPED):
            answers.append({"recordId": rec.record_id, "result": "Dropped", "data": ""})
            used += entry_overhead
            continue
        answers.append({"recordId": rec.record_id, "result": "ProcessingFailed", "data": ""})
        used += entry_overhead
    return {"records": answers}
