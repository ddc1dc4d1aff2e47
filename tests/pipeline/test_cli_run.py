"""``dasalert run``: the README's first command, and what it says when records are bad."""

from __future__ import annotations

import json
from pathlib import Path

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = str(ROOT / "samples" / "das-stream.jsonl")
KEY = str(ROOT / "samples" / "demo.key")
RULES = str(ROOT / "rules")


def test_the_readme_command_prints_alerts_and_a_summary(capsys) -> None:
    rc = main(["run", SAMPLE, "--local-key", KEY, "--rules", RULES])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["SEVERITY", "RULE", "COUNT"]
    assert "FIRST SEEN" in lines[0] and "LAST SEEN" in lines[0] and "SERVER" in lines[0]
    assert "records failed" in lines[-1] and lines[-1].startswith("0 ")
    summary = next(line for line in lines if line.endswith("rules") and "records" in line)
    assert summary.split(",")[0] == "60 records"
    n_alerts = int(next(line for line in lines if " alerts: " in line).split()[0])
    table = lines[1 : lines.index("")]
    assert n_alerts == len(table) > 0


def test_json_format_writes_one_alert_per_line_and_the_summary_to_stderr(capsys) -> None:
    rc = main(["run", SAMPLE, "--local-key", KEY, "--rules", RULES, "--format", "json"])
    captured = capsys.readouterr()
    assert rc == 0
    alerts = [json.loads(line) for line in captured.out.splitlines()]
    summary = json.loads(captured.err.strip().splitlines()[-1])["summary"]
    assert summary["records"] == 60 and summary["failed"] == 0
    assert summary["alerts"] == len(alerts) > 0
    assert all({"id", "rule_id", "title", "severity"} <= set(a) for a in alerts)


def test_bad_records_are_reported_and_alerted_exit_1(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "mixed.jsonl"
    first = Path(SAMPLE).read_text().splitlines()[0]
    bad.write_text(first + "\n" + '{"type": "DatabaseActivityMonitoringRecords"}\n')
    rc = main(["run", str(bad), "--local-key", KEY, "--rules", RULES])
    captured = capsys.readouterr()
    assert rc == 1
    assert "bad_envelope (permanent)" in captured.err
    assert "cannot be decoded (bad_envelope)" in captured.out
    assert "1 records failed: 1 bad_envelope" in captured.out


def test_usage_errors_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["run", SAMPLE, "--rules", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["run", SAMPLE, "--local-key", str(tmp_path / "missing.key")]) == 2
