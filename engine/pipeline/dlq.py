"""Dead letters: what the pipeline cannot process goes somewhere a person will look.

Two kinds of message, both JSON with ``"dasalert": 1`` and a ``kind`` so a redrive tool (or a
person) can tell them apart:

* ``undecodable_record`` — a record that can never decode (corrupt, wrong key, key disabled…),
  with the reason, the error text and the raw record (base64), so it can be replayed with
  ``dasalert run`` once the cause is fixed;
* ``unevaluated_record`` — a record that decoded but that the rule engine raised on (a bug) or
  the state store refused for good (no table, no access): same fields, replayable the same way
  once the cause is fixed;
* ``undeliverable_alert`` — an alert that an output refused for good (or that still failed when
  no retry was possible), with the output, the reason and the alert (already redacted).

SQS caps a message at 256 KiB. A record too big to fit is sent without its data but with its
size, SHA-256 and Kinesis sequence number (it stays readable in the stream for its retention);
an alert too big is sent with the event reduced to its derived ``das`` fields. Never silently.

``send`` raises ``DeadLetterError`` when SQS does not take the message: the caller then reports
the record as a transient failure, so that Lambda redelivers it rather than losing it.

``dasalert replay`` reads these messages back (``engine.pipeline.replay``): records go through
the pipeline again, alerts to the output that refused them (``alert_from_dict`` is the inverse
of ``Alert.to_dict`` for that).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from engine.alerts import Alert
from engine.das.records import RawRecord

log = logging.getLogger("dasalert.dlq")

MAX_MESSAGE_BYTES = 256 * 1024
_MARGIN = 1024  # attributes and JSON overhead


class DeadLetterError(Exception):
    """The dead-letter queue did not accept a message (the caller must not drop the item)."""


def record_message(
    rec: RawRecord,
    reason: str,
    message: str,
    resource_id: str | None,
    *,
    kind: str = "undecodable_record",
) -> dict:
    doc: dict[str, Any] = {
        "dasalert": 1,
        "kind": kind,
        "reason": reason,
        "error": message,
        "record_id": rec.record_id,
        "position": rec.position,
        "stream_arn": rec.stream_arn,
        "resource_id": resource_id,
        "data_bytes": len(rec.data),
        "data_sha256": hashlib.sha256(rec.data).hexdigest(),
        "data": base64.b64encode(rec.data).decode("ascii"),
    }
    if _size(doc) > MAX_MESSAGE_BYTES - _MARGIN:
        doc["data"] = None
        doc["data_omitted"] = (
            "too large for SQS: re-read the record from the stream by its sequence number "
            "(record_id) within the stream's retention"
        )
    return doc


def alert_message(alert: Alert, output: str, reason: str) -> dict:
    doc: dict[str, Any] = {
        "dasalert": 1,
        "kind": "undeliverable_alert",
        "output": output,
        "reason": reason,
        "alert": alert.to_dict(),
    }
    if _size(doc) > MAX_MESSAGE_BYTES - _MARGIN:
        doc["alert"]["event"] = {"das": alert.das}
        doc["event_omitted"] = "too large for SQS: only the derived das fields are kept"
    return doc


UNDECODABLE_RECORD, UNEVALUATED_RECORD = "undecodable_record", "unevaluated_record"
UNDELIVERABLE_ALERT = "undeliverable_alert"
RECORD_KINDS = (UNDECODABLE_RECORD, UNEVALUATED_RECORD)

_TUPLES = ("tags", "references")


def alert_from_dict(doc: Mapping[str, Any]) -> Alert:
    """The ``Alert`` an ``alert_message`` carries (the inverse of ``Alert.to_dict``).

    Keys the model does not know are ignored and missing optional ones take their defaults, so
    a dead letter written by an older or newer version still replays. Raises ``ValueError``
    when a required field (id, rule id, title, severity) is missing.
    """
    if not isinstance(doc, Mapping):
        raise ValueError(f"the dead-lettered alert is a {type(doc).__name__}, not an object")
    known = {f.name for f in fields(Alert)}
    values = {k: v for k, v in doc.items() if k in known}
    missing = [k for k in ("id", "rule_id", "title", "severity") if not values.get(k)]
    if missing:
        raise ValueError(f"the dead-lettered alert has no {', '.join(missing)}")
    for key in _TUPLES:
        if key in values:
            values[key] = tuple(values[key] or ())
    if values.get("outputs") is not None:
        values["outputs"] = tuple(values["outputs"])
    values["event"] = dict(values.get("event") or {})
    values["context"] = dict(values.get("context") or {})
    return Alert(**values)


def _size(doc: Mapping[str, Any]) -> int:
    return len(json.dumps(doc, default=str).encode())


class DeadLetters:
    """Where dead letters go. This base class only logs them (local runs, no queue configured);
    the log line carries the kind, reason and ids, never the record data or the alert body."""

    def send(self, doc: dict[str, Any]) -> None:
        log.error(
            "dead letter (no queue configured): %s %s %s",
            doc.get("kind"),
            doc.get("reason"),
            doc.get("record_id") or (doc.get("alert") or {}).get("id"),
        )


class SqsDeadLetters(DeadLetters):
    """Dead letters on an SQS queue (``DASALERT_DLQ_URL``); ``client`` is a boto3 SQS client."""

    def __init__(self, queue_url: str, client: Any) -> None:
        self.queue_url = queue_url
        self._sqs = client

    def send(self, doc: dict[str, Any]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        attrs = {
            "kind": {"DataType": "String", "StringValue": str(doc["kind"])},
            "reason": {"DataType": "String", "StringValue": str(doc.get("reason") or "unknown")},
        }
        try:
            self._sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=json.dumps(doc, default=str),
                MessageAttributes=attrs,
            )
        except (ClientError, BotoCoreError) as exc:
            raise DeadLetterError(f"SQS SendMessage failed: {type(exc).__name__}") from exc
