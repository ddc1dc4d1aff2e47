"""Build DAS records exactly as RDS emits them, for tests, the bundled demo and benchmarks.

Format (docs/decoding.md): the activity events as gzip JSON, encrypted as an Encryption SDK message
(suite 0x0378, 262144-byte frames, one data key under "BC"/"DataKey"), the data key wrapped by KMS
(or the local provider) under the resource's encryption context, inside the JSON envelope. RDS
reuses one data key for many consecutive records; ``records_per_key`` models that (``None``: one
key for the encoder's lifetime; ``1``: a new key, hence a KMS call on decode, for every record).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from engine.das.crypto import FRAME_LENGTH, SUITE, encrypt_message, make_client
from engine.das.envelope import RECORDS_TYPE
from engine.das.keys import DATA_KEY_BYTES, DataKeyProvider, encryption_context
from engine.das.payload import PAYLOAD_TYPE

HEARTBEAT: dict[str, Any] = {"type": "heartbeat"}


def payload_json(
    events: Iterable[dict[str, Any]],
    *,
    cluster_id: str | None,
    instance_id: str | None,
    heartbeats: int = 0,
) -> bytes:
    """The inner JSON document (before gzip). ``None`` ids are left out, as RDS may do."""
    doc: dict[str, Any] = {"type": PAYLOAD_TYPE}
    if cluster_id is not None:
        doc["clusterId"] = cluster_id
    if instance_id is not None:
        doc["instanceId"] = instance_id
    doc["databaseActivityEventList"] = [*([HEARTBEAT] * heartbeats), *events]
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def envelope_json(version: str, ciphertext: bytes, key_blob: bytes) -> bytes:
    """The outer Kinesis record data."""
    return json.dumps(
        {
            "type": RECORDS_TYPE,
            "version": version,
            "databaseActivityEvents": base64.b64encode(ciphertext).decode("ascii"),
            "key": base64.b64encode(key_blob).decode("ascii"),
        }
    ).encode("utf-8")


class Encoder:
    """Encrypts events for one resource (``cluster-…`` or ``db-…``) with ``keys``."""

    def __init__(
        self,
        keys: DataKeyProvider,
        resource_id: str,
        *,
        records_per_key: int | None = None,
        frame_length: int = FRAME_LENGTH,
        gzip_level: int = 6,
    ) -> None:
        encryption_context(resource_id)  # refuse ids RDS would never use
        if records_per_key is not None and records_per_key < 1:
            raise ValueError("records_per_key must be >= 1 or None")
        self.keys = keys
        self.resource_id = resource_id
        self.records_per_key = records_per_key
        self.frame_length = frame_length
        self.gzip_level = gzip_level
        self._client = make_client()
        self._key: tuple[bytes, bytes] | None = None
        self._uses = 0

    def data_key(self) -> tuple[bytes, bytes]:
        """(plaintext, wrapped blob) for the next record, rotating every ``records_per_key``."""
        if self._key is None or (
            self.records_per_key is not None and self._uses >= self.records_per_key
        ):
            plaintext = os.urandom(DATA_KEY_BYTES)
            self._key = (plaintext, self.keys.encrypt_key(plaintext, self.resource_id))
            self._uses = 0
        self._uses += 1
        return self._key

    def encrypt_plaintext(self, plaintext: bytes, *, version: str = "1.2") -> bytes:
        """Record data for an arbitrary (already gzipped, or deliberately broken) plaintext."""
        key, blob = self.data_key()
        message = encrypt_message(
            plaintext, key, frame_length=self.frame_length, algorithm=SUITE, client=self._client
        )
        return envelope_json(version, message, blob)

    def encode(
        self,
        events: Sequence[dict[str, Any]],
        *,
        cluster_id: str | None,
        instance_id: str | None,
        version: str = "1.2",
        heartbeats: int = 0,
    ) -> bytes:
        """The Kinesis record data carrying ``events`` (plus ``heartbeats`` heartbeats)."""
        doc = payload_json(
            events, cluster_id=cluster_id, instance_id=instance_id, heartbeats=heartbeats
        )
        return self.encrypt_plaintext(
            gzip.compress(doc, compresslevel=self.gzip_level, mtime=0), version=version
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _region_account(stream_arn: str) -> tuple[str, str]:
    parts = stream_arn.split(":")
    if len(parts) >= 5:
        return parts[3], parts[4]
    return "us-east-1", "123456789012"


def kinesis_event(
    payloads: Sequence[bytes],
    stream_arn: str,
    *,
    first_sequence: int = 49642881480676763694242309434545606762700577414896943122,
    arrival: float = 1690034653.976,
) -> dict[str, Any]:
    """A Lambda Kinesis event carrying ``payloads`` (shape of the AWS sample)."""
    region, account = _region_account(stream_arn)
    records = []
    for i, data in enumerate(payloads):
        seq = str(first_sequence + i)
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"{i:08x}-e253-4d4f-a21d-06f44ef61be2",
                    "sequenceNumber": seq,
                    "data": _b64(data),
                    "approximateArrivalTimestamp": round(arrival + i * 0.001, 3),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{seq}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{account}:role/das-consumer",
                "awsRegion": region,
                "eventSourceARN": stream_arn,
            }
        )
    return {"Records": records}


def firehose_event(
    payloads: Sequence[bytes],
    stream_arn: str,
    *,
    first_sequence: int = 49605848106803408097691799470104043760743503384497094706,
    arrival_ms: int = 1586257403000,
) -> dict[str, Any]:
    """A Firehose transformation event carrying ``payloads`` (shape of the AWS sample)."""
    region, account = _region_account(stream_arn)
    records = []
    for i, data in enumerate(payloads):
        seq = str(first_sequence + i)
        records.append(
            {
                "recordId": f"{seq}000000",
                "approximateArrivalTimestamp": arrival_ms + i,
                "data": _b64(data),
                "kinesisRecordMetadata": {
                    "shardId": "shardId-000000000000",
                    "partitionKey": f"{i:08x}",
                    "approximateArrivalTimestamp": arrival_ms + i,
                    "sequenceNumber": seq,
                    "subsequenceNumber": "",
                },
            }
        )
    return {
        "invocationId": "00540a87-5050-496a-84e4-e7d92bbaf5e2",
        "deliveryStreamArn": f"arn:aws:firehose:{region}:{account}:deliverystream/das-archive",
        "sourceKinesisStreamArn": stream_arn,
        "region": region,
        "records": records,
    }


def stream_arn(
    resource_id: str, *, region: str = "us-east-1", account: str = "123456789012"
) -> str:
    """The ARN of the stream RDS creates for ``resource_id``."""
    return f"arn:aws:kinesis:{region}:{account}:stream/aws-rds-das-{resource_id}"
