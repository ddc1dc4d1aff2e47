"""Sources: Lambda Kinesis events, Firehose events and files, each record with id and position."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from engine.das.decoder import Decoder
from engine.das.encoder import Encoder, firehose_event, kinesis_event, stream_arn
from engine.das.errors import BadBase64, BadEnvelope, DecodeError
from engine.das.keys import LocalKeyProvider
from engine.das.sources import (
    UndecodableRecord,
    iter_records_from_file,
    records_from_firehose_event,
    records_from_kinesis_event,
    resource_id_from_arn,
)
from tests.das.conftest import ORA, PG

SHAPES = Path(__file__).resolve().parents[3] / "shared" / "das" / "samples"


@pytest.mark.parametrize(
    ("arn", "rid"),
    [
        (stream_arn(PG), PG),
        ("arn:aws:kinesis:ap-northeast-2:123456789012:stream/aws-rds-das-db-ABC", "db-ABC"),
        ("arn:aws-us-gov:kinesis:us-gov-west-1:1:stream/aws-rds-das-cluster-X", "cluster-X"),
        ("arn:aws:kinesis:us-east-1:1:stream/my-stream", None),
        ("arn:aws:kinesis:us-east-1:1:stream/aws-rds-das-other-X", None),
        ("arn:aws:kinesis:us-east-1:1:stream/aws-rds-das-", None),
        ("", None),
        (None, None),
    ],
)
def test_resource_id_from_arn(arn: str | None, rid: str | None) -> None:
    assert resource_id_from_arn(arn) == rid


@pytest.fixture(scope="module")
def payloads(local_keys: LocalKeyProvider) -> list[bytes]:
    enc = Encoder(local_keys, PG)
    return [enc.encode([{"n": i}], cluster_id=PG, instance_id="db-X") for i in range(3)]


def test_kinesis_event_ids_and_shape(payloads: list[bytes]) -> None:
    event = kinesis_event(payloads, stream_arn(PG))
    if SHAPES.exists():  # same keys as the AWS sample event
        sample = json.loads((SHAPES / "kinesis-lambda-event-shape.json").read_text())
        assert set(event["Records"][0]) == set(sample["Records"][0])
        assert set(event["Records"][0]["kinesis"]) == set(sample["Records"][0]["kinesis"])
    recs = records_from_kinesis_event(event)
    assert [r.record_id for r in recs] == [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert [r.data for r in recs] == payloads
    assert {r.stream_arn for r in recs} == {stream_arn(PG)}
    assert recs[1].position == "Records[1]"


def test_firehose_event_ids_and_shape(payloads: list[bytes]) -> None:
    event = firehose_event(payloads, stream_arn(PG))
    if SHAPES.exists():
        sample = json.loads((SHAPES / "firehose-transformation-event-shape.json").read_text())
        assert set(event) == set(sample)
        assert set(event["records"][0]) == set(sample["records"][0])
    recs = records_from_firehose_event(event)
    assert [r.record_id for r in recs] == [r["recordId"] for r in event["records"]]
    assert [r.data for r in recs] == payloads
    assert recs[0].stream_arn == stream_arn(PG)


def test_broken_transport_becomes_a_typed_error_not_a_lost_record(
    payloads: list[bytes], local_keys: LocalKeyProvider
) -> None:
    event = kinesis_event(payloads, stream_arn(PG))
    event["Records"][0]["kinesis"]["data"] = "%%% not base64"
    del event["Records"][1]["kinesis"]["data"]
    event["Records"].append("nonsense")
    recs = records_from_kinesis_event(event)
    assert len(recs) == 4
    dec = Decoder(local_keys)
    outcomes = []
    for r in recs:
        try:
            outcomes.append(dec.decode(r).events)
        except DecodeError as exc:
            outcomes.append((type(exc), exc.record_id))
    seq = [r["kinesis"]["sequenceNumber"] for r in event["Records"][:3]]
    assert outcomes == [
        (BadBase64, seq[0]),
        (BadEnvelope, seq[1]),
        [{"n": 2}],
        (BadEnvelope, "Records[3]"),
    ]


def test_aws_cli_get_records_output(payloads: list[bytes], tmp_path: Path) -> None:
    doc = {
        "Records": [
            {
                "SequenceNumber": "42",
                "Data": base64.b64encode(payloads[0]).decode(),
                "PartitionKey": "k",
            }
        ],
        "NextShardIterator": "x",
    }
    path = tmp_path / "get-records.json"
    path.write_text(json.dumps(doc, indent=2))
    [rec] = list(iter_records_from_file(path))
    assert (rec.record_id, rec.data) == ("42", payloads[0])


def test_file_with_several_documents_of_each_kind(payloads: list[bytes], tmp_path: Path) -> None:
    kin = json.dumps(kinesis_event(payloads[:2], stream_arn(PG)), indent=2)
    fh = json.dumps(firehose_event(payloads[2:], stream_arn(PG)))
    raw = payloads[0].decode()
    text = f'{kin}\n{fh}\n\n{raw}\n{{broken json\n{raw}\n[{raw}, {{"x": 1}}]\n'
    path = tmp_path / "mixed.jsonl"
    path.write_text(text)
    recs = list(iter_records_from_file(path))
    kin_lines = kin.count("\n") + 1
    fh_line = kin_lines + 1
    raw_line = fh_line + 2
    p = str(path)
    assert [r.position for r in recs] == [
        f"{p}:1 Records[0]",
        f"{p}:1 Records[1]",
        f"{p}:{fh_line} records[0]",
        f"{p}:{raw_line}",
        f"{p}:{raw_line + 1}",
        f"{p}:{raw_line + 2}",
        f"{p}:{raw_line + 3}[0]",
        f"{p}:{raw_line + 3}[1]",
    ]
    assert recs[3].record_id == f"{p}:{raw_line}"  # raw payloads are named FILE:LINE
    assert recs[3].data == payloads[0]
    assert isinstance(recs[4], UndecodableRecord) and recs[4].error_type is BadEnvelope
    assert recs[5].data == payloads[0]
    assert isinstance(recs[7], UndecodableRecord)


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin"
    path.write_bytes(b"\xff\xfe\xfa")
    [rec] = list(iter_records_from_file(path))
    assert isinstance(rec, UndecodableRecord)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_text("\n\n")
    assert list(iter_records_from_file(path)) == []


def test_raw_payload_lines_need_a_resource_id(
    payloads: list[bytes], tmp_path: Path, local_keys: LocalKeyProvider
) -> None:
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b"\n".join(payloads))
    recs = list(iter_records_from_file(path))
    assert [Decoder(local_keys, default_resource_id=PG).decode(r).events for r in recs] == [
        [{"n": i}] for i in range(3)
    ]
    with pytest.raises(DecodeError, match="resource id"):
        Decoder(local_keys).decode(recs[0])
    with pytest.raises(DecodeError):
        Decoder(local_keys, default_resource_id=ORA).decode(recs[0])


def test_a_non_string_stream_arn_is_ignored_on_every_record(payloads: list[bytes]) -> None:
    event = kinesis_event(payloads[:2], stream_arn(PG))
    for rec in event["Records"]:
        rec["eventSourceARN"] = {"not": "an arn"}
    del event["Records"][1]["kinesis"]["data"]
    recs = records_from_kinesis_event(event)
    assert [r.stream_arn for r in recs] == [None, None]


@pytest.mark.parametrize("records", [5, "abc", {"a": 1}, 1.5, True])
def test_records_that_are_not_a_list_are_one_typed_error(records: object) -> None:
    """``{"Records": 5}``: one record the decoder rejects with BadEnvelope, not a TypeError
    (nor one bogus record per character of a string or key of an object)."""
    for read, field in (
        (records_from_kinesis_event, "Records"),
        (records_from_firehose_event, "records"),
    ):
        (rec,) = read({field: records}, where="event.json ")
        assert isinstance(rec, UndecodableRecord)
        assert rec.error_type is BadEnvelope
        assert rec.record_id == f"event.json {field}"
        assert "must be a list" in rec.error_message


@pytest.mark.parametrize("records", [None, []])
def test_no_records_is_an_empty_batch(records: object) -> None:
    assert records_from_kinesis_event({"Records": records}) == []
    assert records_from_firehose_event({"records": records}) == []
    assert records_from_kinesis_event({}) == []
