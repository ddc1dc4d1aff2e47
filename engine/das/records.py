"""The unit every source hands to the decoder."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One Kinesis record's payload, before anything is decoded.

    ``record_id`` is what the caller must echo back when the record fails: the Kinesis
    ``sequenceNumber`` (partial batch response), the Firehose ``recordId``, or ``FILE:LINE`` for
    files. ``resource_id`` is the DAS resource id (``cluster-…`` or ``db-…``) when known; the
    decoder needs it for the KMS encryption context.
    """

    record_id: str
    data: bytes
    stream_arn: str | None = None
    resource_id: str | None = None
    position: str | None = None  # human-readable origin, e.g. "events.json:3" or "Records[4]"
