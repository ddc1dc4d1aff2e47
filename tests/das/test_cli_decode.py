"""``dasalert decode`` end to end: the bundled stream, failures with positions, KMS, stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.das.encoder import Encoder, kinesis_event, stream_arn
from engine.das.keys import LocalKeyProvider
from tests.das.conftest import MASTER_KEY, PG, ROOT, SAMPLES, Kms, load_make_stream

STREAM = SAMPLES / "das-stream.jsonl"
DEMO_KEY = SAMPLES / "demo.key"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], list[str]]:
    code = main(["decode", *args])
    cap = capsys.readouterr()
    return code, cap.out.splitlines(), cap.err.splitlines()


def test_bundled_stream(capsys: pytest.CaptureFixture[str]) -> None:
    want = load_make_stream().expected()
    code, out, err = run(capsys, str(STREAM), "--local-key", str(DEMO_KEY))
    assert code == 0, err
    events = [json.loads(line) for line in out]
    raw = [e for _, _, evs in want for e in evs]
    assert len(events) == len(raw) > 0
    for got, expected in zip(events, raw, strict=True):
        assert {k: v for k, v in got.items() if k != "das"} == expected  # raw fields untouched
        assert got["das"]["engine"] in ("postgres", "mysql", "oracle", "sqlserver")
    heartbeats = sum(h for _, h, _ in want)
    assert err == [
        f"dasalert decode: {len(want)} records, {len(raw)} events, {heartbeats} heartbeats, "
        "0 failures"
    ]


def _corrupt_line(tmp_path: Path) -> tuple[Path, str]:
    lines = STREAM.read_text().splitlines()
    event = json.loads(lines[2])
    seq = event["Records"][1]["kinesis"]["sequenceNumber"]
    event["Records"][1]["kinesis"]["data"] = event["Records"][1]["kinesis"]["data"][:-12] + "AAAA"
    lines[2] = json.dumps(event)
    lines.insert(5, "{this is not json")
    path = tmp_path / "stream.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, seq


def test_failures_go_to_stderr_with_positions_and_the_rest_goes_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path, seq = _corrupt_line(tmp_path)
    code, out, err = run(capsys, str(path), "--local-key", str(DEMO_KEY))
    assert code == 1
    assert err[0].startswith(f"{path}:3 Records[1] (record {seq}): ")
    assert err[0].split(": ")[1] in ("bad_envelope (permanent)", "bad_base64 (permanent)")
    assert err[1].startswith(f"{path}:6: bad_envelope (permanent): not JSON")
    assert err[-1].endswith(", 2 failures")
    total = len(STREAM.read_text().splitlines())
    assert len(out) > 0 and f"{total} " not in err[-1]


def test_wrong_key_fails_every_record(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key = tmp_path / "other.key"
    key.write_text(os.urandom(32).hex())
    code, out, err = run(capsys, str(STREAM), "--local-key", str(key))
    assert code == 1 and out == []
    assert all("wrong_encryption_context (permanent)" in line for line in err[:-1])
    assert err[-1].endswith(f"0 events, 0 heartbeats, {len(err) - 1} failures")


def test_raw_payload_lines_and_resource_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    enc = Encoder(LocalKeyProvider(MASTER_KEY), PG)
    path = tmp_path / "raw.jsonl"
    path.write_bytes(
        enc.encode([{"type": "record", "command": "SELECT"}], cluster_id=PG, instance_id="db-X")
        + b"\n"
    )
    key = tmp_path / "k"
    key.write_bytes(MASTER_KEY)
    code, out, err = run(capsys, str(path), "--local-key", str(key))
    assert code == 1 and f"{path}:1: missing_resource_id (permanent)" in err[0]
    code, out, err = run(capsys, str(path), "--local-key", str(key), "--resource-id", PG)
    assert code == 0 and json.loads(out[0])["command"] == "SELECT"
    assert json.loads(out[0])["das"]["clusterId"] == PG


def test_bad_arguments(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(STREAM), "--local-key", str(tmp_path / "missing.key"))
    assert code == 2 and "missing.key" in err[0]
    code, _, err = run(capsys, str(STREAM), "--local-key", str(DEMO_KEY), "--resource-id", "x")
    assert code == 2
    code, _, err = run(capsys, str(tmp_path / "nope.jsonl"), "--local-key", str(DEMO_KEY))
    assert code == 1 and "nope.jsonl: cannot read" in err[0]


def test_through_kms(kms: Kms, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """No --local-key: data keys through KMS, found via AWS_ENDPOINT_URL like production."""
    enc = Encoder(kms.provider(), PG)
    payloads = [
        enc.encode([{"type": "record", "n": i}], cluster_id=PG, instance_id="db-X")
        for i in range(5)
    ]
    path = tmp_path / "event.json"
    path.write_text(json.dumps(kinesis_event(payloads, stream_arn(PG)), indent=2))
    code, out, err = run(capsys, str(path))
    assert code == 0, err
    assert [json.loads(line)["n"] for line in out] == list(range(5))
    assert err[-1].endswith("0 failures (KMS calls: 1)")


def test_stdin_in_a_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "decode", "-", "--local-key", str(DEMO_KEY)],
        input=STREAM.read_bytes(),
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == sum(len(e) for _, _, e in load_make_stream().expected())
    assert b"0 failures" in proc.stderr


def test_committed_stream_matches_its_generator() -> None:
    ms = load_make_stream()
    assert ms.decoded(STREAM, DEMO_KEY) == ms.expected()
    assert STREAM.stat().st_size <= 200 * 1024


def test_kms_without_a_region_is_a_clear_argument_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code, out, err = run(capsys, str(STREAM))
    assert code == 2 and out == [] and "region" in err[0]
