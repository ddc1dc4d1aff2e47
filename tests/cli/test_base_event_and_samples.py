"""``dasalert base-event`` and the decoded sample file that ships in samples/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.events import ENGINES, base_event, normalize
from engine.rules.lang.loader import load_rule_text
from engine.rules.testing.runner import run_test

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


@pytest.mark.parametrize("engine", ENGINES)
def test_base_event_prints_the_event_tests_are_merged_over(engine: str, capsys) -> None:
    assert main(["base-event", engine]) == 0
    assert json.loads(capsys.readouterr().out) == base_event(engine)


def test_base_event_normalized_shows_the_das_fields(capsys) -> None:
    assert main(["base-event", "sqlserver", "--normalized", "--compact"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    das = json.loads(out)["das"]
    assert das["engine"] == "sqlserver" and das["action"] == "READ" and das["failed"] is False


def test_base_event_unknown_engine_is_exit_2_with_the_choices(capsys) -> None:
    assert main(["base-event", "db2"]) == 2
    assert "postgres, mysql, oracle, sqlserver" in capsys.readouterr().err


def test_what_base_event_prints_is_what_a_test_title_sees() -> None:
    """The printed databaseName is the one a test's title renders: the command tells the truth."""
    text = """
id: t
title: "read on {databaseName} by {dbUserName}"
severity: low
when: das.action == 'READ'
tests:
  - name: plain read
    engine: sqlserver
    event: {}
    expect: {match: true, title: "read on testDB by app"}
"""
    rule, problems, _ = load_rule_text(text, "t.yaml")
    assert rule is not None, problems
    assert base_event("sqlserver")["databaseName"] == "testDB"
    assert run_test(rule, rule.tests[0]).passed


def test_shipped_decoded_events_equal_a_fresh_decode_of_the_demo_stream(capsys) -> None:
    rc = main(
        [
            "decode",
            str(SAMPLES / "das-stream.jsonl"),
            "--local-key",
            str(SAMPLES / "demo.key"),
        ]
    )
    assert rc == 0
    fresh = capsys.readouterr().out
    shipped = (SAMPLES / "das-events.jsonl").read_text(encoding="utf-8")
    assert shipped == fresh, (
        "samples/das-events.jsonl is stale: regenerate it with "
        "`dasalert decode --local-key samples/demo.key samples/das-stream.jsonl "
        "> samples/das-events.jsonl`"
    )
    events = [json.loads(line) for line in shipped.splitlines()]
    assert len(events) == 110
    assert {e["das"]["engine"] for e in events} == set(ENGINES)


def test_the_docs_table_of_base_events_matches_the_base_events() -> None:
    import re

    text = (ROOT / "docs" / "rule-testing.md").read_text(encoding="utf-8")
    section = text[text.index("### The base events") : text.index("## `dasalert test`")]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    checked = 0
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        field = cells[0].strip("`")
        if "/" in field or "." in field:
            continue  # composite rows (class / command, das.*) are checked below
        for engine, cell in zip(ENGINES, cells[1:], strict=True):
            shown = re.match(r"`([^`]*)`", cell)
            assert shown, (field, engine, cell)
            value = base_event(engine)[field]
            want = value if isinstance(value, str) else json.dumps(value)
            assert shown.group(1).strip('"') == want, (field, engine)
            checked += 1
    assert checked >= 7 * 4
    for engine in ENGINES:
        das = normalize(base_event(engine))["das"]
        assert (das["action"], das["verb"]) == ("READ", "SELECT")
