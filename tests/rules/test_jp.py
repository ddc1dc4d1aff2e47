"""`dasalert jp`: one expression over sample events, as the rules see them."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.cli.jp_input import SampleError, read_samples

FIX = Path(__file__).parent / "fixtures_lang"
SAMPLES = Path(__file__).resolve().parents[1] / "events" / "aws_samples"

PG_CONNECT = {
    "type": "record",
    "logTime": "2019-10-30 00:39:49.940668+00",
    "command": "CONNECT",
    "dbUserName": "app",
    "remoteHost": "10.1.2.3",
    "serverType": "PostgreSQL",
    "exitCode": None,
    "class": "MISC",
}
SQLSERVER_FAILED = {
    "type": "record",
    "logTime": "2022-10-06 21:34:42.7113072+00",
    "class": "LOGIN",
    "command": "LOGIN FAILED",
    "dbUserName": "test",
    "remoteHost": "local machine",
    "serverType": "SQLSERVER",
    "exitCode": 0,
}
ENVELOPE = {
    "type": "DatabaseActivityMonitoringRecord",
    "clusterId": "",
    "instanceId": "db-ABC",
    "databaseActivityEventList": [SQLSERVER_FAILED, {"type": "heartbeat"}],
}


def jp(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["jp", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_read_samples_shapes():
    one = json.dumps(PG_CONNECT)
    assert len(read_samples(one, "f")) == 1
    assert len(read_samples(one + "\n" + one + "\n", "f")) == 2  # JSON lines
    assert len(read_samples(json.dumps([PG_CONNECT, PG_CONNECT]), "f")) == 2
    (env,) = read_samples(json.dumps(ENVELOPE), "f")  # heartbeat skipped
    assert env.instance_id == "db-ABC" and env.cluster_id is None
    assert read_samples("", "f") == []
    with pytest.raises(SampleError, match="f:1:4: not JSON"):
        read_samples("{} x", "f")
    with pytest.raises(SampleError, match="decode it first"):
        read_samples(json.dumps({"Records": []}), "k")
    with pytest.raises(SampleError, match="expected a JSON object"):
        read_samples("5", "f")


def test_evaluates_with_functions_lists_and_normalization(tmp_path, capsys):
    f = tmp_path / "events.jsonl"
    f.write_text(json.dumps(PG_CONNECT) + "\n" + json.dumps(ENVELOPE) + "\n")
    expr = (
        "[das.engine, das.action, in_list(dbUserName, 'admins'), "
        "cidr_match(remoteHost, 'office_nets'), param('large_read_rows')]"
    )
    code, out, err = jp(capsys, expr, str(f), "--rules", str(FIX / "good"))
    assert (code, err) == (0, "")
    assert [json.loads(line) for line in out.splitlines()] == [
        ["postgres", "CONNECT", False, True, 100000],
        ["sqlserver", "LOGIN_FAILED", False, False, 100000],
    ]


def test_raw_skips_normalization(tmp_path, capsys):
    f = tmp_path / "e.json"
    f.write_text(json.dumps(PG_CONNECT))
    code, out, _ = jp(capsys, "das", str(f), "--raw")
    assert (code, out) == (0, "null\n")


def test_mixed_type_comparison_is_no_match_not_a_crash(tmp_path, capsys):
    f = tmp_path / "e.json"
    f.write_text(json.dumps([{"exitCode": "0"}, {"exitCode": 3}]))
    code, out, _ = jp(capsys, "exitCode < `5`", str(f), "--raw")
    assert code == 0 and out.splitlines() == ["null", "true"]


def test_syntax_error_shows_a_caret_under_the_column(tmp_path, capsys):
    f = tmp_path / "e.json"
    f.write_text("{}")
    code, out, err = jp(capsys, "dbUserName == 'x' and b", str(f))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "error: JMESPath syntax error at column 18: unexpected unquoted_identifier `and`",
        "dbUserName == 'x' and b",
        "                  ^",
        "hint: JMESPath writes `and` as `&&`",
    ]


def test_unknown_list_or_function_is_reported_before_evaluating(tmp_path, capsys):
    f = tmp_path / "e.json"
    f.write_text("{}")
    code, _, err = jp(capsys, "in_list(dbUserName, 'admns')", str(f), "--rules", str(FIX / "good"))
    assert code == 2 and "unknown list `admns` in `in_list()` — did you mean `admins`?" in err
    code, _, err = jp(capsys, "lowr(dbUserName)", str(f))
    assert code == 2 and "unknown function `lowr()` — did you mean `lower`?" in err


def test_default_rules_directory(tmp_path, capsys, monkeypatch):
    shutil.copytree(FIX / "good", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "e.json").write_text(json.dumps({"dbUserName": "flyway"}))
    code, out, _ = jp(capsys, "in_list(dbUserName, 'admins')", "e.json")
    assert (code, out) == (0, "true\n")


def test_stdin_and_bad_files_do_not_stop_the_others(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    code, out, err = jp(
        capsys,
        "dbUserName",
        str(bad),
        "-",
        str(tmp_path / "missing.json"),
        stdin=json.dumps(PG_CONNECT),
        monkeypatch=monkeypatch,
    )
    assert code == 1
    assert out == '"app"\n'
    assert "bad.json:1:2: not JSON" in err and "missing.json" in err


def test_aws_samples(capsys):
    files = sorted(str(p) for p in SAMPLES.glob("*.json") if "event-shape" not in p.name)
    code, out, err = jp(capsys, "das.engine", *files)
    assert (code, err) == (0, "")
    engines = {json.loads(line) for line in out.splitlines()}
    assert {"postgres", "mysql", "oracle", "sqlserver"} <= engines
