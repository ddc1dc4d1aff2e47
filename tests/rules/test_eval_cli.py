"""``dasalert eval``: every input shape, text and JSON output, summary, exit codes."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.das.encoder import Encoder, firehose_event, kinesis_event
from engine.das.keys import LocalKeyProvider
from engine.events import base_event

REPO = Path(__file__).resolve().parents[2]
RULES = str(REPO / "rules")
SAMPLES = REPO / "tests" / "events" / "aws_samples"  # verbatim AWS samples (E)
DEMO_STREAM = REPO / "samples" / "das-stream.jsonl"
DEMO_KEY = REPO / "samples" / "demo.key"
STREAM_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/aws-rds-das-cluster-ABCDEFGHIJKL"


def pg(**fields) -> dict:
    event = base_event("postgres")
    # a Tuesday morning: inside the shipped working hours (off-hours-privileged-change stays quiet)
    event["logTime"] = "2019-05-21 10:39:49.940668+00"
    event.update(fields)
    return event


DDL = pg(**{"class": "DDL", "command": "CREATE TABLE", "commandText": "CREATE TABLE loot (x int)"})
PASSWORD = pg(
    **{
        "class": "ROLE",
        "command": "ALTER ROLE",
        "commandText": "ALTER ROLE app PASSWORD 'Tr0ub4dor&3'",
        "paramList": ["4111111111111111"],
    }
)


def run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["eval", "--rules", RULES, *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_one_event_text_table_and_summary(tmp_path, capsys) -> None:
    path = tmp_path / "ddl.json"
    path.write_text(json.dumps(DDL, indent=2))
    rc, out, err = run(capsys, str(path))
    assert rc == 0
    header, row = out.splitlines()
    assert header.split()[:4] == ["SEVERITY", "RULE", "COUNT", "FIRST"]
    assert row.split()[:3] == ["HIGH", "ddl-by-non-admin", "1"]
    assert "2019-05-21 10:39:49" in row
    assert row.endswith("DDL by non-admin app on postgres: CREATE TABLE")
    assert "dasalert eval: 1 events, 1 matches, 1 alerts, 0 rule errors" in err


def test_json_lines_one_alert_per_line_redacted(tmp_path, capsys) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in (DDL, PASSWORD, pg())) + "\n")
    rc, out, _ = run(capsys, "--format", "json", str(path))
    assert rc == 0
    docs = [json.loads(line) for line in out.splitlines()]
    assert {d["rule_id"] for d in docs} == {"ddl-by-non-admin", "privilege-change-by-non-admin"}
    for doc in docs:
        assert {"id", "rule_id", "severity", "title", "count", "event"} <= doc.keys()
    assert "Tr0ub4dor" not in out and "4111111111111111" not in out
    role = next(d for d in docs if d["rule_id"].startswith("privilege"))
    assert role["event"]["commandText"] != PASSWORD["commandText"]
    assert role["event"]["das"]["action"] == "ROLE"


def test_arrays_envelopes_and_stdin(tmp_path, capsys, monkeypatch) -> None:
    array = tmp_path / "array.json"
    array.write_text(json.dumps([DDL, {"type": "heartbeat"}]))
    envelope = SAMPLES / "rds-sqlserver-failed-login.json"  # a decrypted AWS sample
    rc, out, _ = run(capsys, str(array), str(envelope))
    assert rc == 0
    assert "ddl-by-non-admin" in out and "failed-login" in out
    assert "Failed login for test from local machine (sqlserver)" in out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(DDL).encode())))
    rc, out, _ = run(capsys, "-")
    assert rc == 0 and "ddl-by-non-admin" in out


def test_encrypted_demo_stream_with_a_local_key(capsys) -> None:
    rc, out, err = run(capsys, "--format", "json", "--local-key", str(DEMO_KEY), str(DEMO_STREAM))
    assert rc == 0, err
    docs = [json.loads(line) for line in out.splitlines()]
    bursts = [d for d in docs if d["rule_id"] == "brute-force-failed-logins"]
    assert sorted(d["event"]["das"]["engine"] for d in bursts) == [
        "mysql",
        "oracle",
        "postgres",
        "sqlserver",
    ]
    assert all(d["event"]["remoteHost"] == "203.0.113.50" for d in bursts)
    # the RDS automation accounts stay quiet
    assert not [d for d in docs if d["event"]["dbUserName"] in ("rdsadmin", "rdsa", "RDSADMIN")]
    assert " from 60 records" in err and "0 rule errors" in err


@pytest.mark.parametrize("shape", ["kinesis", "firehose"])
def test_kinesis_and_firehose_events_made_by_our_encoder(tmp_path, capsys, shape) -> None:
    key = bytes(range(32))
    (tmp_path / "k.key").write_bytes(key)
    encoder = Encoder(LocalKeyProvider(key), "cluster-ABCDEFGHIJKL")
    payload = encoder.encode([DDL], cluster_id="cluster-ABCDEFGHIJKL", instance_id="db-X")
    make = kinesis_event if shape == "kinesis" else firehose_event
    (tmp_path / "in.json").write_text(json.dumps(make([payload], STREAM_ARN)))
    rc, out, err = run(capsys, "--local-key", str(tmp_path / "k.key"), str(tmp_path / "in.json"))
    assert rc == 0, err
    assert "ddl-by-non-admin" in out and "from 1 records" in err


def test_decode_errors_are_precise_and_the_rest_goes_on(tmp_path, capsys) -> None:
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(b"\x01" * 32)
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(DDL) + "\n{not json\n" + json.dumps({"hello": "world"}) + "\n")
    rc, out, err = run(capsys, str(path), str(DEMO_STREAM), "--local-key", str(wrong))
    assert rc == 1
    assert "ddl-by-non-admin" in out  # the good event still alerts
    assert f"{path}:2: not JSON" in err
    assert f"{path}:3: not a DAS activity event" in err
    assert "das-stream.jsonl:1" in err and "permanent" in err
    assert "input problems" in err


def test_missing_file_and_rule_load_errors_exit_1(tmp_path, capsys) -> None:
    rc, _, err = run(capsys, str(tmp_path / "nope.json"))
    assert rc == 1 and "nope.json: cannot read" in err
    bad = tmp_path / "rules"
    bad.mkdir()
    (bad / "r.yaml").write_text('id: r\ntitle: t\nseverity: hihg\nwhen: "`true`"\n')
    (tmp_path / "e.json").write_text(json.dumps(DDL))
    rc = main(["eval", "--rules", str(bad), str(tmp_path / "e.json")])
    _, err = capsys.readouterr()
    assert rc == 1 and "r.yaml:3" in err and "no rules loaded" in err


def test_no_alerts_is_success(tmp_path, capsys) -> None:
    path = tmp_path / "read.json"
    path.write_text(json.dumps(pg()))
    rc, out, err = run(capsys, str(path))
    assert rc == 0 and out == "no alerts\n" and "0 alerts" in err
