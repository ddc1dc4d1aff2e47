"""One Kinesis record in, its activity events out: envelope → data key → message → gzip → JSON.

The decoder holds only caches (data keys in the provider, ciphers or materials managers per data
key, resource ids per stream ARN), never per-record state, so one bad record cannot affect the
next. Every failure is a ``DecodeError`` subclass carrying the record id. The Encryption SDK
message is opened by ``engine.das.message.MessageReader`` (``reader``: native, esdk or compare).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine.das.envelope import parse_envelope
from engine.das.errors import DecodeError, MissingResourceId
from engine.das.keys import DataKeyProvider, encryption_context
from engine.das.message import MessageReader, Mode
from engine.das.payload import DEFAULT_MAX_INFLATED, inflate, parse_payload
from engine.das.records import RawRecord
from engine.das.sources import UndecodableRecord, resource_id_from_arn


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """A decoded record. ``events`` are the raw activity events exactly as AWS sent them."""

    record_id: str
    version: str
    cluster_id: str | None
    instance_id: str | None
    events: list[dict[str, Any]]
    heartbeats: int


_arn_resource_id = lru_cache(maxsize=256)(resource_id_from_arn)


def _valid_resource_id(resource_id: str) -> bool:
    return resource_id.startswith(("cluster-", "db-"))


class Decoder:
    """Decodes records with one ``DataKeyProvider``; reuse one instance for a whole batch/process.

    The resource id comes from ``RawRecord.resource_id``, else ``override_resource_id`` (an
    operator's ``DASALERT_RESOURCE_ID``: it beats the ARN), else the stream ARN, else
    ``default_resource_id`` (e.g. a file of raw payloads). ``max_inflated_bytes`` caps the
    gunzipped payload.
    """

    def __init__(
        self,
        keys: DataKeyProvider,
        *,
        default_resource_id: str | None = None,
        override_resource_id: str | None = None,
        max_inflated_bytes: int = DEFAULT_MAX_INFLATED,
        reader: Mode | str = Mode.NATIVE,
        verify_signature: bool = False,
    ) -> None:
        for rid in (default_resource_id, override_resource_id):
            if rid is not None:
                encryption_context(rid)  # ValueError now, not on every record
        if max_inflated_bytes < 1:
            raise ValueError("max_inflated_bytes must be positive")
        self.keys = keys
        self.default_resource_id = default_resource_id
        self.override_resource_id = override_resource_id
        self.max_inflated_bytes = max_inflated_bytes
        self.messages = MessageReader(reader, verify_signature=verify_signature)

    def resource_id(self, rec: RawRecord) -> str:
        """Which resource's encryption context opens ``rec``'s data key."""
        rid = rec.resource_id or self.override_resource_id
        if rid is None and rec.stream_arn:
            rid = _arn_resource_id(rec.stream_arn)
        if rid is None:
            rid = self.default_resource_id
        if rid is None:
            raise MissingResourceId(
                "no resource id: the stream ARN does not name one (aws-rds-das-<id>) and none "
                "was configured (--resource-id / DASALERT_RESOURCE_ID)"
            )
        if not _valid_resource_id(rid):
            raise MissingResourceId(
                f"resource id {rid[:80]!r} starts with neither cluster- nor db-"
            )
        return rid

    def decode(self, rec: RawRecord) -> DecodedRecord:
        try:
            return self._decode(rec)
        except DecodeError as exc:
            if exc.record_id is None:
                exc.record_id = rec.record_id
            raise

    def _decode(self, rec: RawRecord) -> DecodedRecord:
        if isinstance(rec, UndecodableRecord):
            raise rec.error_type(rec.error_message)
        envelope = parse_envelope(rec.data)
        resource_id = self.resource_id(rec)
        data_key = self.keys.plaintext_key(envelope.key_blob, resource_id)
        plaintext = self.messages.decrypt(envelope.ciphertext, data_key)
        payload = parse_payload(inflate(plaintext, self.max_inflated_bytes))
        return DecodedRecord(
            record_id=rec.record_id,
            version=envelope.version,
            cluster_id=payload.cluster_id,
            instance_id=payload.instance_id,
            events=payload.events,
            heartbeats=payload.heartbeats,
        )
