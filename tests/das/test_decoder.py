"""End-to-end decoding: records from the encoder, data keys through KMS on moto or a local key."""

from __future__ import annotations

import base64
import gzip
import json
import os

import pytest

from engine.das.crypto import FRAME_LENGTH
from engine.das.decoder import DecodedRecord, Decoder
from engine.das.encoder import Encoder, firehose_event, kinesis_event, stream_arn
from engine.das.errors import (
    BadEnvelope,
    BadJson,
    CiphertextInvalid,
    DecodeError,
    MissingResourceId,
    NotGzip,
    TooLarge,
    UnsupportedType,
    WrongEncryptionContext,
)
from engine.das.keys import LocalKeyProvider
from engine.das.records import RawRecord
from engine.das.sources import records_from_firehose_event, records_from_kinesis_event
from tests.das.conftest import ORA, PG, EngineCase, Kms, engine_cases

CASES = engine_cases()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.engine)
def test_round_trip_through_kms_for_each_engine(kms: Kms, case: EngineCase) -> None:
    keys = kms.provider()
    enc = Encoder(keys, case.resource_id)
    data = enc.encode(
        case.events,
        cluster_id=case.cluster_id,
        instance_id=case.instance_id,
        version=case.version,
        heartbeats=2,
    )
    [rec] = records_from_kinesis_event(kinesis_event([data], stream_arn(case.resource_id)))
    out = Decoder(kms.provider()).decode(rec)
    assert out == DecodedRecord(
        record_id=rec.record_id,
        version=case.version,
        cluster_id=case.cluster_id,
        instance_id=case.instance_id,
        events=case.events,
        heartbeats=2,
    )


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "1.3", "1.4"])
def test_round_trip_through_kms_for_each_envelope_version(kms: Kms, version: str) -> None:
    case = CASES[0]
    data = Encoder(kms.provider(), PG).encode(
        case.events[:3], cluster_id=PG, instance_id="db-X", version=version
    )
    out = Decoder(kms.provider()).decode(RawRecord("r1", data, stream_arn=stream_arn(PG)))
    assert out.version == version
    assert out.events == case.events[:3]


def test_kms_enforces_the_encryption_context(kms: Kms) -> None:
    """moto checks the context (verified): the right cluster decrypts, another id does not."""
    data = Encoder(kms.provider(), PG).encode([{"a": 1}], cluster_id=PG, instance_id="db-X")
    dec = Decoder(kms.provider())
    assert dec.decode(RawRecord("ok", data, resource_id=PG)).events == [{"a": 1}]
    for wrong in ("cluster-SOMEOTHERCLUSTER", "db-" + PG.removeprefix("cluster-")):
        with pytest.raises(WrongEncryptionContext) as info:
            dec.decode(RawRecord("bad", data, resource_id=wrong))
        assert info.value.record_id == "bad"
        assert not info.value.transient


def test_kms_cache_one_call_for_records_sharing_a_key(kms: Kms) -> None:
    enc = Encoder(kms.provider(), ORA)  # one data key for all records
    payloads = [enc.encode([{"n": i}], cluster_id="", instance_id=ORA) for i in range(12)]
    event = firehose_event(payloads, stream_arn(ORA))
    keys = kms.provider()
    dec = Decoder(keys)
    out = [dec.decode(r) for r in records_from_firehose_event(event)]
    assert [o.events for o in out] == [[{"n": i}] for i in range(12)]
    assert (keys.stats.kms_calls, keys.stats.misses, keys.stats.hits) == (1, 1, 11)


def test_kms_cache_rotated_keys_one_call_per_key(kms: Kms) -> None:
    enc = Encoder(kms.provider(), PG, records_per_key=4)
    payloads = [enc.encode([{"n": i}], cluster_id=PG, instance_id="db-X") for i in range(10)]
    keys = kms.provider()
    dec = Decoder(keys, default_resource_id=PG)
    for i, p in enumerate(payloads):
        dec.decode(RawRecord(str(i), p))
    assert keys.stats.kms_calls == 3  # records 0-3, 4-7, 8-9


def test_kms_cache_is_bounded(kms: Kms) -> None:
    enc = Encoder(kms.provider(), PG, records_per_key=1)
    payloads = [enc.encode([], cluster_id=PG, instance_id="db-X") for _ in range(3)]
    keys = kms.provider(cache_size=2)
    dec = Decoder(keys, default_resource_id=PG)
    for p in [*payloads, payloads[0]]:  # the first key was evicted by the third
        dec.decode(RawRecord("r", p))
    assert keys.stats.kms_calls == 4
    dec.decode(RawRecord("r", payloads[2]))  # still cached
    assert keys.stats.kms_calls == 4


def test_a_cached_key_under_a_wrong_resource_id_still_fails(kms: Kms) -> None:
    data = Encoder(kms.provider(), PG).encode([], cluster_id=PG, instance_id="db-X")
    dec = Decoder(kms.provider())
    dec.decode(RawRecord("ok", data, resource_id=PG))
    with pytest.raises(WrongEncryptionContext):
        dec.decode(RawRecord("bad", data, resource_id="cluster-OTHER"))


def test_local_provider_round_trip_and_wrong_context(local_keys: LocalKeyProvider) -> None:
    data = Encoder(local_keys, ORA).encode([{"x": 1}], cluster_id="", instance_id=ORA)
    dec = Decoder(local_keys)
    out = dec.decode(RawRecord("a", data, stream_arn=stream_arn(ORA)))
    assert (out.cluster_id, out.instance_id, out.events) == ("", ORA, [{"x": 1}])
    with pytest.raises(WrongEncryptionContext):
        dec.decode(RawRecord("b", data, resource_id="cluster-" + ORA.removeprefix("db-")))
    with pytest.raises(WrongEncryptionContext):
        Decoder(LocalKeyProvider(os.urandom(32))).decode(RawRecord("c", data, resource_id=ORA))


def test_payload_larger_than_8_kib_of_gzip(local_keys: LocalKeyProvider) -> None:
    """Published decoders that gunzip 8 KiB stream chunks break here; we decrypt in one shot."""
    rnd = os.urandom(12000).hex()
    events = [
        {"type": "record", "commandText": f"SELECT '{rnd[i * 500 : i * 500 + 500]}'"}
        for i in range(40)
    ]
    enc = Encoder(local_keys, PG)
    raw = json.dumps({"databaseActivityEventList": events}).encode()
    assert len(gzip.compress(raw)) > 8192
    data = enc.encode(events, cluster_id=PG, instance_id="db-X")
    assert Decoder(local_keys).decode(RawRecord("r", data, resource_id=PG)).events == events


def test_payload_spanning_several_frames(local_keys: LocalKeyProvider) -> None:
    blob = base64.b64encode(os.urandom(450_000)).decode()  # incompressible random text
    events = [
        {"type": "record", "commandText": blob[i : i + 100_000]}
        for i in range(0, len(blob), 100_000)
    ]
    data = Encoder(local_keys, PG).encode(events, cluster_id=PG, instance_id="db-X")
    message = base64.b64decode(json.loads(data)["databaseActivityEvents"])
    assert len(message) > FRAME_LENGTH + 100_000  # one full frame and a final frame
    assert Decoder(local_keys).decode(RawRecord("r", data, resource_id=PG)).events == events


def test_heartbeat_only_record(local_keys: LocalKeyProvider) -> None:
    data = Encoder(local_keys, PG).encode([], cluster_id=PG, instance_id="db-X", heartbeats=3)
    out = Decoder(local_keys).decode(RawRecord("hb", data, resource_id=PG))
    assert (out.events, out.heartbeats) == ([], 3)


def test_event_without_type_is_a_record_and_unknown_fields_kept(
    local_keys: LocalKeyProvider,
) -> None:
    events = [
        {"command": "LOGON", "dbUserName": "TEST"},
        {"type": "record", "new": {"x": [1]}},
        {"type": "heartbeat"},
        {"type": "somethingNew", "a": 1},
    ]
    data = Encoder(local_keys, ORA).encode(events, cluster_id=None, instance_id=ORA)
    out = Decoder(local_keys).decode(RawRecord("r", data, resource_id=ORA))
    assert out.events == [events[0], events[1], events[3]]
    assert out.heartbeats == 1
    assert out.cluster_id is None  # absent clusterId stays absent


def test_resource_id_sources_in_order(local_keys: LocalKeyProvider) -> None:
    data = Encoder(local_keys, PG).encode([], cluster_id=PG, instance_id="db-X")
    dec = Decoder(local_keys, default_resource_id="cluster-DEFAULT")
    # the record's own id wins over the ARN, the ARN over the default
    with pytest.raises(WrongEncryptionContext):
        dec.decode(RawRecord("r", data, resource_id="cluster-NOPE", stream_arn=stream_arn(PG)))
    dec.decode(RawRecord("r", data, stream_arn=stream_arn(PG)))
    with pytest.raises(WrongEncryptionContext):
        dec.decode(RawRecord("r", data))  # falls back to the (wrong) default
    assert Decoder(local_keys, default_resource_id=PG).decode(RawRecord("r", data)).heartbeats == 0
    with pytest.raises(MissingResourceId) as info:
        Decoder(local_keys).decode(
            RawRecord("r9", data, stream_arn="arn:aws:kinesis:x:1:stream/mine")
        )
    assert info.value.record_id == "r9"
    with pytest.raises(MissingResourceId):
        Decoder(local_keys).decode(RawRecord("r", data, resource_id="instance-1"))
    with pytest.raises(ValueError):
        Decoder(local_keys, default_resource_id="my-cluster")
    with pytest.raises(ValueError):
        Decoder(local_keys, override_resource_id="my-cluster")


def test_override_resource_id_beats_the_arn(local_keys: LocalKeyProvider) -> None:
    data = Encoder(local_keys, PG).encode([], cluster_id=PG, instance_id="db-X")
    other_arn = stream_arn("cluster-OTHER")
    assert (
        Decoder(local_keys, override_resource_id=PG)
        .decode(RawRecord("r", data, stream_arn=other_arn))
        .events
        == []
    )
    with pytest.raises(WrongEncryptionContext):
        Decoder(local_keys, default_resource_id=PG).decode(
            RawRecord("r", data, stream_arn=other_arn)
        )


def _plain(enc: Encoder, plaintext: bytes) -> bytes:
    return enc.encrypt_plaintext(plaintext)


@pytest.mark.parametrize(
    ("plaintext", "error"),
    [
        (b"not gzip at all", NotGzip),
        (gzip.compress(b"{not json"), BadJson),
        (gzip.compress(b"[1, 2]"), BadJson),
        (gzip.compress(b'{"databaseActivityEventList": []}'), BadJson),
        (gzip.compress(b'{"type": "DatabaseActivityMonitoringRecord"}'), BadJson),
        (
            gzip.compress(
                b'{"type": "DatabaseActivityMonitoringRecord", "databaseActivityEventList": [1]}'
            ),
            BadJson,
        ),
        (
            gzip.compress(
                b'{"type": "DatabaseActivityMonitoringRecord", "clusterId": 5, '
                b'"databaseActivityEventList": []}'
            ),
            BadJson,
        ),
        (gzip.compress(b'{"type": "Other", "databaseActivityEventList": []}'), UnsupportedType),
        (gzip.compress(b"{}" * 10)[:-9], NotGzip),
        (gzip.compress(b" " * 5000 + b"{}"), TooLarge),
    ],
)
def test_payload_errors(local_keys: LocalKeyProvider, plaintext: bytes, error: type) -> None:
    enc = Encoder(local_keys, PG)
    data = _plain(enc, plaintext)
    dec = Decoder(local_keys, max_inflated_bytes=4096)
    with pytest.raises(error) as info:
        dec.decode(RawRecord("p1", data, resource_id=PG))
    assert info.value.record_id == "p1"
    assert "p1" in str(info.value) and info.value.reason in str(info.value)


def test_one_bad_record_never_affects_another(local_keys: LocalKeyProvider) -> None:
    enc = Encoder(local_keys, PG)
    good = [enc.encode([{"n": i}], cluster_id=PG, instance_id="db-X") for i in range(3)]
    env = json.loads(good[1])
    ct = bytearray(base64.b64decode(env["databaseActivityEvents"]))
    ct[len(ct) // 2] ^= 0x01  # inside the GCM-authenticated part (a footer edit needs verify)
    env["databaseActivityEvents"] = base64.b64encode(bytes(ct)).decode()
    bad = [b"garbage", json.dumps(env).encode(), good[0].replace(b"Records", b"Nope")]
    dec = Decoder(local_keys, default_resource_id=PG)
    results: list[object] = []
    for i, data in enumerate([good[0], bad[0], good[1], bad[1], bad[2], good[2]]):
        try:
            results.append(dec.decode(RawRecord(f"r{i}", data)).events)
        except DecodeError as exc:
            results.append(type(exc))
    assert results == [
        [{"n": 0}],
        BadEnvelope,
        [{"n": 1}],
        CiphertextInvalid,
        UnsupportedType,
        [{"n": 2}],
    ]
