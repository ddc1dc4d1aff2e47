"""The common published approach, written plainly as those decoders do it.

This is the reference the end-to-end bench compares dasalert against, so it must be the approach
people actually copy, not a straw man: the AWS documentation's Python example and the widely
shared Lambda / Firehose decoders, ported to the Encryption SDK ≥ 2 client (their module-level
``aws_encryption_sdk.decrypt`` no longer exists) and given the same rules to run:

* one ``kms.decrypt`` per record (no cache of the data key),
* one module-level ``EncryptionSDKClient`` and a fresh ``RawMasterKey`` per record,
* ``gzip.decompress`` and ``json.loads`` of the whole payload,
* for every activity event and every rule, ``jmespath.search(rule_when, event)`` (jmespath's own
  parse cache is left to do what it does; nothing is compiled ahead).

To evaluate *our* rules at all it must produce the fields they read, so each event goes through
``engine.events.normalize`` first — the same call dasalert makes, so the comparison is about the
decoding and evaluation strategy, not about what is computed. Matches are counted, not alerted:
the baseline does strictly less work than dasalert (no unless, dedup, thresholds, alerts).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aws_encryption_sdk
import jmespath
from aws_encryption_sdk.identifiers import (
    CommitmentPolicy,
    EncryptionKeyType,
    WrappingAlgorithm,
)
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKey

# As in the published samples: one client for the module, built at import.
ENC_CLIENT = aws_encryption_sdk.EncryptionSDKClient(
    commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
)


@dataclass
class BaselineResult:
    records: int = 0
    events: int = 0
    heartbeats: int = 0
    matches: int = 0
    kms_calls: int = 0


def _truthy(value: Any) -> bool:
    """JMESPath truthiness (``0`` is true), so both sides count the same matches."""
    return not (value is None or value is False or value == "" or value == [] or value == {})


def resource_id_of(stream_arn: str) -> str:
    """What the samples do: the stream name minus ``aws-rds-das-``."""
    return stream_arn.rsplit("/", 1)[-1].replace("aws-rds-das-", "")


def encryption_context(resource_id: str) -> dict[str, str]:
    key = "aws:rds:dbc-id" if resource_id.startswith("cluster-") else "aws:rds:db-id"
    return {key: resource_id}


def decrypt_payload(payload: bytes, data_key: bytes) -> bytes:
    """A fresh raw master key per record, as the samples build it."""
    master_key = RawMasterKey(
        provider_id="BC",
        key_id=b"DataKey",
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=data_key,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )
    plaintext, _header = ENC_CLIENT.decrypt(source=payload, key_provider=master_key)
    return plaintext


def decrypt_decompress(payload: bytes, data_key: bytes) -> bytes:
    return gzip.decompress(decrypt_payload(payload, data_key))


def handler(
    event: dict[str, Any],
    kms: Any,
    rules: Sequence[str],
    options: Any = None,
    result: BaselineResult | None = None,
) -> BaselineResult:
    """Process one Lambda Kinesis event the published way; count what it finds."""
    from engine.events import normalize

    out = result if result is not None else BaselineResult()
    for record in event["Records"]:
        resource_id = resource_id_of(record["eventSourceARN"])
        record_data = json.loads(base64.b64decode(record["kinesis"]["data"]))
        payload_decoded = base64.b64decode(record_data["databaseActivityEvents"])
        data_key_decoded = base64.b64decode(record_data["key"])
        data_key_decrypt_result = kms.decrypt(
            CiphertextBlob=data_key_decoded, EncryptionContext=encryption_context(resource_id)
        )
        out.kms_calls += 1
        plaintext = decrypt_decompress(payload_decoded, data_key_decrypt_result["Plaintext"])
        doc = json.loads(plaintext)
        out.records += 1
        for db_event in doc["databaseActivityEventList"]:
            if db_event.get("type") == "heartbeat":
                out.heartbeats += 1
                continue
            out.events += 1
            ev = normalize(
                db_event, cluster_id=doc.get("clusterId"), instance_id=doc.get("instanceId")
            )
            for when in rules:
                if _truthy(jmespath.search(when, ev, options=options)):
                    out.matches += 1
    return out


def run(
    events: Iterable[dict[str, Any]], kms: Any, rules: Sequence[str], options: Any = None
) -> BaselineResult:
    result = BaselineResult()
    for event in events:
        handler(event, kms, rules, options, result)
    return result


def gzip_payloads(events: Iterable[dict[str, Any]], kms: Any) -> list[bytes]:
    """The decrypted (still gzipped) payloads, prepared untimed for the floor measurement."""
    out: list[bytes] = []
    for event in events:
        for record in event["Records"]:
            resource_id = resource_id_of(record["eventSourceARN"])
            record_data = json.loads(base64.b64decode(record["kinesis"]["data"]))
            key = kms.decrypt(
                CiphertextBlob=base64.b64decode(record_data["key"]),
                EncryptionContext=encryption_context(resource_id),
            )["Plaintext"]
            out.append(
                decrypt_payload(base64.b64decode(record_data["databaseActivityEvents"]), key)
            )
    return out


def floor(payloads: Iterable[bytes]) -> int:
    """gunzip + ``json.loads`` and nothing else: what any Python consumer must pay per event."""
    n = 0
    for p in payloads:
        doc = json.loads(gzip.decompress(p))
        n += len(doc["databaseActivityEventList"])
    return n
