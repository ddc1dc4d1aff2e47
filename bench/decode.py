"""Decoder throughput: dasalert's ``Decoder`` next to the published decoders' approach.

Run: ``python bench/decode.py [--records 400] [--events 50] [--records-per-key 100]``.

Both sides decode the same records, made by ``engine.das.encoder`` in RDS's exact format, with
their data keys wrapped by KMS on a moto server started in this process (real HTTP on
127.0.0.1). The baseline is what the widely copied decoders do, ported to Encryption SDK ≥ 2:
per record ``kms.decrypt`` (no cache), a fresh ``EncryptionSDKClient`` and ``RawMasterKey``,
``client.decrypt``, ``gzip.decompress``, ``json.loads``, heartbeats filtered. Each side runs
``--repeat`` times, the two alternating; the best run counts (least disturbed by the machine).
Both outputs are compared, so the two sides provably do the same work. A third row runs our
decoder with the data-key cache off, to show what the decrypt path alone is worth.

A KMS call to moto on loopback costs far less than one to AWS (a network round trip of several
milliseconds), so the ratio printed here understates the gain in production.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._moto import moto_server  # noqa: E402

RESOURCE_ID = "cluster-BENCHPG4HNY5V4RRNPKKYB7ICFKE"
INSTANCE_ID = "db-BENCHPGFZJTMYKCXQBUUZ6VLU7NW3"


def template_events(engine: str) -> list[dict[str, Any]]:
    """The bundled demo stream's events of one engine: realistic fields and sizes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_stream", ROOT / "samples" / "make_stream.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    stream = {s.__name__: s for s in mod.STREAMS}[engine]()
    return [e for _, e in stream.events]


def make_records(
    kms: Any, key_id: str, n: int, per_record: int, records_per_key: int, engine: str
) -> list[Any]:
    from engine.das.encoder import Encoder, kinesis_event, stream_arn
    from engine.das.keys import KmsKeyProvider
    from engine.das.sources import records_from_kinesis_event

    base = template_events(engine)
    enc = Encoder(KmsKeyProvider(kms, key_id=key_id), RESOURCE_ID, records_per_key=records_per_key)
    payloads = []
    for i in range(n):
        events = [base[(i * per_record + j) % len(base)] for j in range(per_record)]
        payloads.append(
            enc.encode(events, cluster_id=RESOURCE_ID, instance_id=INSTANCE_ID, heartbeats=1)
        )
    return records_from_kinesis_event(kinesis_event(payloads, stream_arn(RESOURCE_ID)))


def ours(records: Sequence[Any], kms: Any) -> tuple[list[list[dict[str, Any]]], int]:
    from engine.das.decoder import Decoder
    from engine.das.keys import KmsKeyProvider

    keys = KmsKeyProvider(kms)
    decoder = Decoder(keys)
    return [decoder.decode(r).events for r in records], keys.stats.kms_calls


def ours_no_cache(records: Sequence[Any], kms: Any) -> tuple[list[list[dict[str, Any]]], int]:
    """Our decoder with the data-key cache off: what the decrypt path alone is worth."""
    from engine.das.decoder import Decoder
    from engine.das.keys import KmsKeyProvider

    keys = KmsKeyProvider(kms, cache_size=0)
    decoder = Decoder(keys)
    return [decoder.decode(r).events for r in records], keys.stats.kms_calls


def published(records: Sequence[Any], kms: Any) -> tuple[list[list[dict[str, Any]]], int]:
    """The published decoders' loop, as they write it (SDK ≥ 2 client, one-shot decrypt)."""
    import aws_encryption_sdk
    from aws_encryption_sdk.identifiers import (
        CommitmentPolicy,
        EncryptionKeyType,
        WrappingAlgorithm,
    )
    from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
    from aws_encryption_sdk.key_providers.raw import RawMasterKey

    out = []
    calls = 0
    for r in records:
        record = json.loads(r.data)
        payload = base64.b64decode(record["databaseActivityEvents"])
        data_key = base64.b64decode(record["key"])
        resource_id = r.stream_arn.split("/")[-1].removeprefix("aws-rds-das-")
        plaintext_key = kms.decrypt(
            CiphertextBlob=data_key, EncryptionContext={"aws:rds:dbc-id": resource_id}
        )["Plaintext"]
        calls += 1
        client = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
        )
        master_key = RawMasterKey(
            provider_id="BC",
            key_id=b"DataKey",
            wrapping_key=WrappingKey(
                wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                wrapping_key=plaintext_key,
                wrapping_key_type=EncryptionKeyType.SYMMETRIC,
            ),
        )
        decrypted, _ = client.decrypt(source=payload, key_provider=master_key)
        doc = json.loads(gzip.decompress(decrypted))
        out.append([e for e in doc["databaseActivityEventList"] if e.get("type") != "heartbeat"])
    return out, calls


def interleaved(
    repeat: int, sides: Sequence[Callable[..., tuple[list[Any], int]]], *args: Any
) -> list[tuple[float, list[Any], int]]:
    """Best time of each side over ``repeat`` rounds, the sides alternating within each round so
    that a change in machine load hits both alike."""
    best = [(float("inf"), [], 0) for _ in sides]
    for _ in range(repeat):
        for i, fn in enumerate(sides):
            t0 = time.perf_counter()
            events, calls = fn(*args)
            elapsed = time.perf_counter() - t0
            if elapsed < best[i][0]:
                best[i] = (elapsed, events, calls)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="dasalert decoder vs the published approach")
    p.add_argument("--records", type=int, default=400, help="records to decode (default 400)")
    p.add_argument("--events", type=int, default=50, help="activity events per record (50)")
    p.add_argument(
        "--records-per-key",
        type=int,
        default=100,
        help="consecutive records sharing one data key, as RDS does (default 100)",
    )
    p.add_argument(
        "--engine", default="postgres", choices=["postgres", "mysql", "oracle", "sqlserver"]
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per side; the best counts (3)")
    args = p.parse_args(argv)

    import boto3

    with moto_server():
        kms = boto3.client("kms")
        key_id = kms.create_key(Description="dasalert bench")["KeyMetadata"]["KeyId"]
        t0 = time.perf_counter()
        records = make_records(
            kms, key_id, args.records, args.events, args.records_per_key, args.engine
        )
        made = time.perf_counter() - t0
        ours(records[:5], kms)  # warm imports and connections on both sides
        published(records[:5], kms)
        (t_pub, ev_pub, calls_pub), (t_nc, ev_nc, calls_nc), (t_ours, ev_ours, calls_ours) = (
            interleaved(args.repeat, (published, ours_no_cache, ours), records, kms)
        )
    if not ev_ours == ev_pub == ev_nc:
        print("MISMATCH: the two decoders disagree", file=sys.stderr)
        return 1
    n = len(records)
    events = sum(len(e) for e in ev_ours)
    size = sum(len(r.data) for r in records) / n
    print(
        f"dasalert decode bench: {n} records x {args.events} events ({args.engine}), "
        f"1 heartbeat each, {size / 1024:.1f} KiB/record, a data key per "
        f"{args.records_per_key} records; KMS = moto on 127.0.0.1; best of {args.repeat}"
    )
    print(f"(made the records in {made:.1f} s)")
    rows = [
        ("published approach", t_pub, calls_pub),
        ("dasalert, cache off", t_nc, calls_nc),
        ("dasalert Decoder", t_ours, calls_ours),
    ]
    print(f"{'':22}{'records/s':>12}{'events/s':>12}{'ms/record':>11}{'KMS calls':>11}")
    for name, t, calls in rows:
        print(f"{name:22}{n / t:12,.0f}{events / t:12,.0f}{1000 * t / n:11.3f}{calls:11,}")
    print(
        f"ratio: dasalert is {t_pub / t_ours:.2f}x the published approach's throughput "
        f"(same {events:,} events out)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
