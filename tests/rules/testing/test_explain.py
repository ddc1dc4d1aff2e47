"""``dasalert test --explain``, ``dasalert jp --rule``, ``test -k`` on test names, and what a
failing test shows (the rule's lint warnings, each alert's time)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.cli import main
from engine.rules.lang.loader import load_rule_text
from engine.rules.runtime.functions import make_options
from engine.rules.testing.explain import Explainer, explain_events
from engine.rules.testing.runner import build_events

ROOT = Path(__file__).resolve().parents[3]
LISTS = "lists:\n  admins: [rdsadmin, dba_alice]\n"

RULE = """\
id: ddl-watch
title: "DDL by {dbUserName}: {das.verb}"
severity: high
runbook: https://wiki.example.com/ddl
when: >-
  das.action == 'DDL' && (dbUserName == 'app' || dbUserName == 'etl')
  && !in_list(dbUserName, 'admins')
unless:
  - {when: "das.verb == 'TRUNCATE'", reason: nightly cleanup}
dedup: {key: dbUserName, window: 1h}
tests:
  - name: app drops a table
    event: {class: DDL, command: DROP TABLE, dbUserName: app}
    expect: {match: true}
  - name: a read is quiet
    event: {dbUserName: app}
    expect: {match: false}
"""

THRESHOLD = """\
id: burst
title: "Burst from {remoteHost}"
severity: low
when: das.action == 'LOGIN_FAILED'
threshold: {count: 3, window: 5m, group_by: remoteHost}
tests:
  - name: three failures
    events:
      - &f {class: MISC, command: AUTH FAILURE, exitCode: "28P01", remoteHost: 203.0.113.7}
      - *f
      - *f
    expect: {alerts: 1, count: 3}
  - name: two failures
    events: [*f, *f]
    expect: {match: false}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / "lists.yaml").write_text(LISTS)
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_explain_lists_every_operand_with_its_value_and_the_input(tmp_path: Path, capsys) -> None:
    write(tmp_path, "ddl.yaml", RULE)
    assert main(["test", str(tmp_path), "--explain"]) == 0
    out = capsys.readouterr().out
    hit = out[out.index("app drops a table") : out.index("a read is quiet")]
    assert "das.action == 'DDL'  → true ✓   (das.action = \"DDL\")" in hit
    # the nested || chain: its own value, then its operands one level deeper
    assert "&& ( … || … )  → true ✓" in hit
    assert "|| dbUserName == 'etl'  → false ✗   (dbUserName = \"app\")" in hit
    assert "&& !in_list(dbUserName, 'admins')  → true ✓   (dbUserName = \"app\")" in hit
    assert "unless[0] (nightly cleanup) → false ✗" in hit
    assert '= match: dedup key "app", window 1h [' in hit
    assert "count=1 " in hit and 'dedup key "app"' in hit
    miss = out[out.index("a read is quiet") :]
    assert "das.action == 'DDL'  → false ✗   (das.action = \"READ\")" in miss
    assert "= no match" in miss and "alerts: none" in miss


def test_explain_shows_the_exemption_that_applied(tmp_path: Path) -> None:
    path = str(write(tmp_path, "r.yaml", RULE))
    rule, problems, _ = load_rule_text(textwrap.dedent(RULE), path, {"admins": ["rdsadmin"]})
    assert rule is not None, problems
    from engine.rules.model import RuleTest

    event = {
        "class": "DDL",
        "command": "TRUNCATE",
        "commandText": "TRUNCATE t",
        "dbUserName": "app",
    }
    test = RuleTest("t", (event,), {})
    lines = explain_events(rule, build_events(test), make_options({"admins": ["rdsadmin"]}))
    text = "\n".join(lines)
    assert "unless[0] (nightly cleanup) → true ✓" in text
    assert "→ exempted by unless[0]" in text and "= no match" in text


def test_explain_threshold_counts_per_group_and_names_the_deciding_alert(
    tmp_path: Path, capsys
) -> None:
    write(tmp_path, "burst.yaml", THRESHOLD)
    assert main(["test", str(tmp_path), "--explain"]) == 0
    out = capsys.readouterr().out
    first = out[: out.index("two failures")]
    for n in (1, 2):
        assert f'threshold group "203.0.113.7": {n} of 3 within 5m (not yet)' in first
    assert 'threshold group "203.0.113.7": 3 of 3 within 5m (reached)' in first
    assert 'threshold 3 in 5m reached for group "203.0.113.7"' in first
    assert "alerts: none" in out[out.index("two failures") :]


def test_a_failing_test_shows_lint_warnings_and_alert_times(tmp_path: Path, capsys) -> None:
    broken = RULE.replace(
        "    expect: {match: true}", '    expect: {match: true, title: "DDL by app: CREATE"}'
    ).replace("event: {dbUserName: app}", "event: {dbUserName: app, rowcount: 5}")
    write(tmp_path, "ddl.yaml", broken)
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    failure = out[out.index("FAILURES") :]
    assert "first_seen=2019-05-24T00:39:49.940668Z last_seen=2019-05-24T00:39:49.940668Z" in failure
    assert "lint warnings for this rule" in failure
    assert "`rowcount`" in failure and "did you mean `rowCount`" in failure


@pytest.mark.parametrize(
    ("keyword", "ran"),
    [
        ("READ IS", ["a read is quiet"]),  # a test name, ignoring case
        ("ddl-watch", ["app drops a table", "a read is quiet"]),  # a rule id: all its tests
    ],
)
def test_k_matches_test_names_and_rule_ids(tmp_path: Path, capsys, keyword, ran) -> None:
    write(tmp_path, "ddl.yaml", RULE)
    write(tmp_path, "burst.yaml", THRESHOLD)
    assert main(["test", str(tmp_path), "-k", keyword]) == 0
    out = capsys.readouterr().out
    listed = [
        line.split(" :: ")[1].rsplit(" ", 1)[0] for line in out.splitlines() if " :: " in line
    ]
    assert listed == ran


def test_k_matching_nothing_is_an_error(tmp_path: Path, capsys) -> None:
    write(tmp_path, "ddl.yaml", RULE)
    assert main(["test", str(tmp_path), "-k", "nothing-like-this"]) == 1
    assert "no test matches" in capsys.readouterr().err


def test_jp_rule_explains_the_demo_events(capsys) -> None:
    events = str(ROOT / "samples" / "das-events.jsonl")
    rc = main(["jp", "--rules", str(ROOT / "rules"), "--rule", "ddl-by-non-admin", events])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.splitlines()[0].startswith("ddl-by-non-admin (")
    matches = [line for line in out.splitlines() if line.endswith(": MATCH")]
    assert len(matches) == 9 and all("DDL" in line for line in matches)
    assert "9 of 110 events match" in out
    assert "das.action == 'DDL'  → false ✗   (das.action = \"CONNECT\")" in out


def test_jp_rule_unknown_id_suggests_the_close_one(capsys) -> None:
    events = str(ROOT / "samples" / "das-events.jsonl")
    assert main(["jp", "--rules", str(ROOT / "rules"), "--rule", "ddl-by-nonadmin", events]) == 2
    assert "did you mean `ddl-by-non-admin`?" in capsys.readouterr().err


def test_jp_expression_mode_still_needs_a_file(capsys) -> None:
    assert main(["jp", "das.action"]) == 2
    assert "at least one FILE" in capsys.readouterr().err


def test_explainer_survives_an_operand_that_raises() -> None:
    from jmespath.parser import Parser

    class Boom(dict):
        def get(self, key, default=None):
            raise RuntimeError("boom")

    ex = Explainer()
    node = Parser().parse("a.b").parsed
    assert str(ex.value(node, {"a": Boom()})).startswith("<error:")


def test_explain_covers_sequence_distinct_and_escalate_rules(capsys) -> None:
    rules = str(ROOT / "rules")
    assert main(["test", rules, "-k", "login-success-after-failures", "--explain"]) == 0
    out = capsys.readouterr().out
    assert 'step "failed logins" (min 5): 5 so far' in out
    assert 'step "successful login" (min 1): 1 so far' in out
    assert "escalate[0] to critical: !cidr_match(remoteHost, 'internal_nets')  → true ✓" in out
    assert main(["test", rules, "-k", "password-spray", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "5 distinct of 5 needed within 10m" in out


def test_a_passing_run_still_says_how_many_lint_warnings_there_are(tmp_path: Path, capsys) -> None:
    write(tmp_path, "ddl.yaml", RULE.replace("event: {dbUserName: app}", "event: {rowcount: 1}"))
    assert main(["test", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "note: " in out and "lint warning" in out and "on the tested rules" in out
    write(tmp_path, "ddl.yaml", RULE)  # without the misspelt field: one warning fewer
    main(["test", str(tmp_path)])
    clean = capsys.readouterr().out
    count = int(out.split("note: ")[1].split()[0])
    assert (count - 1 == 0 and "note: " not in clean) or f"note: {count - 1} " in clean


def test_pytest_plugin_failure_shows_warnings_times_and_the_explanation(tmp_path: Path) -> None:
    import subprocess
    import sys

    broken = RULE.replace(
        "    expect: {match: true}", '    expect: {match: true, title: "DDL by app: CREATE"}'
    ).replace("event: {dbUserName: app}", "event: {dbUserName: app, rowcount: 5}")
    write(tmp_path, "ddl.yaml", broken)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path), "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "first_seen=2019-05-24T00:39:49.940668Z" in out
    assert "lint warnings for this rule" in out and "`rowcount`" in out
    assert "explanation:" in out and "das.action == 'DDL'  → true ✓" in out
