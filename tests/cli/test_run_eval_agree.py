"""``dasalert run`` (the Lambda's pipeline, one record at a time) and ``dasalert eval`` (one pass
over the capture) raise the same alerts on the demo stream: same ids, titles, events, counts and
times, printed in the same table and order."""

from __future__ import annotations

import json
from pathlib import Path

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
STREAM = str(ROOT / "samples" / "das-stream.jsonl")
KEY = str(ROOT / "samples" / "demo.key")
RULES = str(ROOT / "rules")
FIELDS = (
    "id",
    "rule_id",
    "severity",
    "kind",
    "title",
    "count",
    "first_seen",
    "last_seen",
    "dedup_key",
    "event",
)


def _run(capsys, command: str, fmt: str) -> str:
    argv = [command, STREAM, "--local-key", KEY, "--rules", RULES, "--format", fmt]
    assert main(argv) == 0
    return capsys.readouterr().out


def test_run_and_eval_agree_alert_by_alert(capsys) -> None:
    run = [json.loads(line) for line in _run(capsys, "run", "json").splitlines()]
    evaluated = [json.loads(line) for line in _run(capsys, "eval", "json").splitlines()]
    assert len(run) == len(evaluated) >= 19
    for r, e in zip(run, evaluated, strict=True):
        assert {k: r[k] for k in FIELDS} == {k: e[k] for k in FIELDS}, r["rule_id"]
    # the alerts that fold several events (dedup, thresholds) are the ones that used to differ
    assert any(a["count"] > 1 and a["dedup_key"] for a in run)
    assert any("threshold" in (a.get("context") or {}) for a in run)


def test_run_and_eval_print_the_same_table(capsys) -> None:
    run = _run(capsys, "run", "text").splitlines()
    evaluated = _run(capsys, "eval", "text").splitlines()
    table = run[: run.index("")]  # run adds its summary after a blank line
    assert table == evaluated
    assert table[0].split()[:5] == ["SEVERITY", "RULE", "COUNT", "FIRST", "SEEN"]
    ddl = [line for line in table if "ddl-by-non-admin" in line]
    assert ddl and all(line.endswith("DROP TABLE") for line in ddl)  # the most recent event


def test_run_from_elsewhere_says_where_it_looked_for_rules(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DASALERT_RULES", raising=False)
    assert main(["run", STREAM, "--local-key", KEY]) == 2
    err = capsys.readouterr().err
    assert "rules does not exist" in err and "pass --rules DIR" in err


def test_run_takes_lists_like_the_other_commands(tmp_path, capsys) -> None:
    lists = tmp_path / "lists.yaml"
    lists.write_text((ROOT / "rules" / "lists.yaml").read_text(encoding="utf-8"))
    argv = ["run", STREAM, "--local-key", KEY, "--rules", RULES, "--lists", str(lists)]
    assert main([*argv, "--format", "json"]) == 0
    with_file = capsys.readouterr().out.splitlines()
    lists.write_text("lists: {}\n")
    assert main([*argv, "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "unknown list" in captured.err  # the rules that name a list no longer load
    assert len(captured.out.splitlines()) < len(with_file)
