"""``dasalert backtest``: the same alerts as ``eval``, read from an archive laid out by Firehose.

The archive is built the way production builds it: the bundled demo stream goes through the
pipeline and the Firehose transformation response (``firehose_response(partition=True)``), and
each ``Ok`` record's data is written under the prefix its partition keys name — gzip-compressed,
as Firehose writes it with compression on — to S3 on the moto server or to a local folder.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
from collections import defaultdict
from pathlib import Path

import boto3
import pytest

from engine.cli import main
from engine.cli.backtest_run import (
    BacktestError,
    Progress,
    Source,
    parse_time,
    read_archive_object,
    time_range,
)
from engine.das.decoder import Decoder
from engine.das.keys import LocalKeyProvider
from engine.das.sources import iter_records_from_file
from engine.outputs.routing import Router
from engine.pipeline.batch import Pipeline
from engine.pipeline.firehose import firehose_response
from engine.pipeline.state import MemoryStateStore
from engine.rules import build_engine
from tests.pipeline.support import ListDeadLetters, ScriptedOutput

ROOT = Path(__file__).resolve().parents[2]
STREAM = ROOT / "samples" / "das-stream.jsonl"
KEY = ROOT / "samples" / "demo.key"
RULES = ROOT / "rules"


def archive_objects() -> dict[str, bytes]:
    """Object key -> gzip bytes: the demo stream as the Firehose archive would hold it."""
    records = list(iter_records_from_file(STREAM))
    state = MemoryStateStore()
    output = ScriptedOutput()
    router = Router({"fake": output}, ("fake",), {"fake": "info"}, ("fake",), ("fake",))
    pipeline = Pipeline(
        Decoder(LocalKeyProvider.from_file(KEY)),
        state=state,
        engine=build_engine(RULES, state).engine,
        router=router,
        dead_letters=ListDeadLetters(),
        can_retry=False,
    )
    by_prefix: dict[str, list[bytes]] = defaultdict(list)
    for start in range(0, len(records), 10):  # Firehose hands the function batches
        batch = records[start : start + 10]
        response = firehose_response(batch, pipeline.run(batch, keep_events=True), partition=True)
        for answer in response["records"]:
            if answer["result"] != "Ok":
                continue
            keys = answer["metadata"]["partitionKeys"]
            prefix = "resource={resource}/action={action}/dt={dt}/hour={hour}/".format(**keys)
            by_prefix[prefix].append(base64.b64decode(answer["data"]))
    objects = {}
    for prefix, chunks in by_prefix.items():
        for i in range(0, len(chunks), 3):  # a few records per object, several objects a prefix
            objects[f"{prefix}dasalert-archive-{i // 3}.gz"] = gzip.compress(
                b"".join(chunks[i : i + 3])
            )
    return objects


@pytest.fixture(scope="module")
def objects() -> dict[str, bytes]:
    return archive_objects()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def eval_alerts(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    code, out, err = run_cli(
        capsys,
        "eval",
        str(STREAM),
        "--local-key",
        str(KEY),
        "--rules",
        str(RULES),
        "--format",
        "json",
    )
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def split_summary(out: str) -> tuple[list[dict], dict]:
    docs = [json.loads(line) for line in out.splitlines()]
    assert "summary" in docs[-1]
    return docs[:-1], docs[-1]["summary"]


def test_the_archive_holds_partitions_by_action(objects: dict[str, bytes]) -> None:
    actions = {k.split("/")[1] for k in objects}
    assert "action=READ" in actions or any("READ" in a for a in actions)
    assert any("LOGIN_FAILED" in a for a in actions)
    assert len(objects) > 10


def test_backtest_over_a_local_archive_gives_exactly_the_alerts_eval_gives(
    objects: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, data in objects.items():
        path = tmp_path / "archive" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    expected = eval_alerts(capsys)
    code, out, err = run_cli(
        capsys,
        "backtest",
        str(tmp_path / "archive"),
        "--rules",
        str(RULES),
        "--format",
        "json",
        "-q",
    )
    assert code == 0, err
    alerts, summary = split_summary(out)
    assert alerts == expected
    assert summary["alerts"] == len(expected) and summary["events"] == 110
    assert summary["objects"] == len(objects) and summary["objects_pruned"] == 0


@pytest.fixture
def bucket(aws: str, objects: dict[str, bytes]) -> str:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="das-archive")
    for key, data in objects.items():
        s3.put_object(Bucket="das-archive", Key=f"archive/{key}", Body=data)
    s3.put_object(Bucket="das-archive", Key="archive/README.txt", Body=b"not an archive object\n")
    return "das-archive"


def test_backtest_from_s3_gives_the_alerts_eval_gives(
    bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = eval_alerts(capsys)
    code, out, err = run_cli(
        capsys,
        "backtest",
        f"s3://{bucket}/archive/",
        "--rules",
        str(RULES),
        "--format",
        "json",
        "-q",
    )
    assert code == 0, err
    alerts, summary = split_summary(out)
    assert alerts == expected
    # the stray text object is skipped, counted and named, not a traceback
    assert summary["objects_not_archive"] == 1
    assert "archive/README.txt" in err and "Traceback" not in err


def test_a_pack_that_matches_only_ddl_fetches_only_ddl_partitions(
    bucket: str, objects: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ddl.yaml").write_text(
        "id: any-ddl\ntitle: DDL {das.verb}\nseverity: high\nwhen: \"das.action == 'DDL'\"\n"
    )
    code, out, err = run_cli(
        capsys,
        "backtest",
        f"s3://{bucket}/archive/",
        "--rules",
        str(rules),
        "--format",
        "json",
        "-q",
    )
    assert code == 0, err
    _, summary = split_summary(out)
    ddl = [k for k in objects if "DDL" in k.split("/")[1]]
    assert 0 < len(ddl) < len(objects)
    fetched = summary["objects"] - summary["objects_not_archive"]
    assert fetched == len(ddl)
    assert summary["objects_pruned"] == len(objects) - len(ddl)
    assert summary["alerts"] >= 1


def test_a_time_range_prunes_hours_and_filters_events(
    bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys, "backtest", f"s3://{bucket}/archive/", "--rules", str(RULES),
        "--from", "2026-11-20T09:03:00Z", "--to", "2026-11-20T09:05:00Z", "--format", "json", "-q",
    )  # fmt: skip
    assert code == 0, err
    alerts, summary = split_summary(out)
    _, whole = split_summary(
        run_cli(capsys, "backtest", f"s3://{bucket}/archive/", "--rules", str(RULES),
                "--format", "json", "-q")[1]
    )  # fmt: skip
    assert 0 < summary["events"] < whole["events"]
    assert summary["events_out_of_range"] == whole["events"] - summary["events"]
    assert all("2026-11-20T09:03" <= a["first_seen"] < "2026-11-20T09:05" for a in alerts)
    code, out, _ = run_cli(
        capsys,
        "backtest",
        f"s3://{bucket}/archive/",
        "--from",
        "2027-01-01",
        "--format",
        "json",
        "-q",
    )
    _, summary = split_summary(out)
    assert summary["objects"] == 1  # only the stray object: every partition is before the range
    assert summary["events"] == 0


def test_compare_prints_what_the_candidate_adds_and_removes(
    bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "baseline"
    candidate = tmp_path / "candidate"
    for d in (baseline, candidate):
        d.mkdir()
        (d / "lists.yaml").write_text((RULES / "lists.yaml").read_text())
    (baseline / "failed.yaml").write_text(
        "id: failed\ntitle: failed {dbUserName}\nseverity: low\n"
        "when: \"das.action == 'LOGIN_FAILED'\"\ndedup: {key: dbUserName, window: 1h}\n"
    )
    (candidate / "failed.yaml").write_text(
        "id: failed\ntitle: failed {dbUserName}\nseverity: low\n"
        "when: \"das.action == 'LOGIN_FAILED' && dbUserName != 'postgres'\"\n"
        "dedup: {key: dbUserName, window: 1h}\n"
    )
    (candidate / "ddl.yaml").write_text(
        "id: any-ddl\ntitle: DDL {das.verb}\nseverity: high\nwhen: \"das.action == 'DDL'\"\n"
    )
    code, out, err = run_cli(
        capsys, "backtest", f"s3://{bucket}/archive/", "--rules", str(candidate),
        "--compare", str(baseline), "-q",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.startswith("- removed  failed") and "postgres" in line for line in lines)
    assert any(line.startswith("+ added    any-ddl") for line in lines)
    assert not any("failed" in line and line.startswith("+") for line in lines)
    assert lines[-1].startswith("compare: ") and "removed" in lines[-1]
    code, out, err = run_cli(
        capsys, "backtest", f"s3://{bucket}/archive/", "--rules", str(candidate),
        "--compare", str(baseline), "--format", "json", "-q",
    )  # fmt: skip
    docs = [json.loads(line) for line in out.splitlines()]
    kinds = {d["change"] for d in docs[:-1]}
    assert kinds == {"added", "removed"}
    assert docs[-1]["summary"]["compare"]["removed"] == 1


def test_the_text_report_lists_each_rule_with_days_keys_and_examples(
    bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        capsys, "backtest", f"s3://{bucket}/archive/", "--rules", str(RULES), "-q"
    )
    assert code == 0
    assert " events from " in out and "skipped by partition" in out
    assert "failed-login: 4 alerts" in out
    assert "  per day: 2026-11-20 4" in out
    assert "  top key: " in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["s3://no-such-bucket/x/"], "the bucket does not exist"),
        (["s3://"], "write s3://BUCKET/PREFIX/"),
        (["/no/such/path"], "no such file or directory"),
        (["s3://b/", "--from", "yesterday-ish"], "write an ISO date"),
        (["s3://b/", "--from", "2026-11-21", "--to", "2026-11-20"], "must be before --to"),
    ],
)
def test_bad_sources_and_ranges_are_clear_errors(
    aws: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run_cli(capsys, "backtest", *argv, "--rules", str(RULES), "-q")
    assert code == 1
    assert message in err and "Traceback" not in err


def test_no_credentials_is_a_clear_error(
    aws: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run_cli(capsys, "backtest", "s3://b/x/", "--rules", str(RULES), "-q")
    assert code == 1 and "no AWS credentials" in err


def test_times_accept_dates_times_zones_and_durations() -> None:
    assert parse_time("2026-11-20", "--from") == 1795132800.0
    assert parse_time("2026-11-20T09:00Z", "--from") == 1795132800.0 + 9 * 3600
    assert parse_time("2026-11-20T11:00+02:00", "--from") == 1795132800.0 + 9 * 3600
    assert parse_time("7d", "--from", now=1_000_000.0) == 1_000_000.0 - 7 * 86400
    assert time_range(None, None) == (None, None)
    with pytest.raises(BacktestError):
        time_range("2026-11-21", "2026-11-21")


def test_an_object_that_stops_mid_way_keeps_its_events_and_names_the_problem() -> None:
    good = b'{"logTime": "2026-11-20 09:00:00+00", "command": "SELECT", "class": "READ"}\n'
    data = gzip.compress(good * 3)[:-12]  # the gzip trailer cut off
    outcome = read_archive_object(Source("cut.gz", None, lambda: io.BytesIO(data)))
    # what was decompressed before the cut is kept; the object is named, not skipped whole
    assert outcome.events and outcome.not_archive is None
    assert outcome.problems and outcome.problems[0].startswith("cut.gz: cut short")


def test_progress_is_a_live_line_on_a_terminal_and_plain_lines_in_ci() -> None:
    live, plain = io.StringIO(), io.StringIO()
    p = Progress(20, live, live=True)
    p.update(20, 500, final=True)
    q = Progress(20, plain, live=False)
    for i in range(1, 21):
        q.update(i, i * 10)
    q.update(20, 200, final=True)
    assert live.getvalue().startswith("\r\x1b[K") and live.getvalue().endswith("\n")
    lines = plain.getvalue().splitlines()
    assert "\r" not in plain.getvalue() and 2 <= len(lines) <= 11
    assert lines[-1].startswith("backtest: 20/20 objects, 200 events")
