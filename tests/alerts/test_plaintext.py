"""The plain-text alert (SNS e-mail): the same facts as Slack, safe as text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.alerts.invisible import INVISIBLE
from engine.alerts.plaintext import SQL_MAX, render_text
from tests.outputs.factory import HOSTILE, make_alert

RESOURCE = {
    "id": "cluster-ABCDEFGHIJKLMNOP",
    "kind": "cluster",
    "name": "orders-prod",
    "arn": None,
    "account": "123456789012",
    "region": "eu-west-1",
}


def field(text: str, label: str) -> str:
    (line,) = [ln for ln in text.splitlines() if ln.startswith(label + ":")]
    return line.split(":", 1)[1].strip()


def test_every_fact_a_responder_needs() -> None:
    alert = make_alert(
        event_updates={
            "sessionId": "5ce5f7f0.474b",
            "das": {
                "engine": "postgres",
                "clusterId": "cluster-ABCDEFGHIJKLMNOP",
                "verb": "DROP TABLE",
                "object": "public.audit_log",
                "rows": 0,
                "failed": True,
                "errorCode": "42501",
                "time": "2026-01-02T03:04:05.678000+00:00",
            },
        },
        severity="critical",
        count=7,
        last_seen="2026-01-02T03:34:05.678000+00:00",
        context={
            "resource": RESOURCE,
            "folded": {"verbs": ["CREATE TABLE", "DROP TABLE"], "hosts": ["10.0.1.23"]},
            "escalation": {
                "step": 2,
                "reasons": ["new verb: DROP TABLE", "severity high → critical"],
                "previous_severity": "high",
            },
        },
    )
    text = render_text(alert, finding_links=True)
    assert text.startswith("[CRITICAL] DDL by non-admin app on orders #0\n")
    assert "Escalated (update 2): new verb: DROP TABLE; severity high → critical" in text
    assert field(text, "Where") == (
        "postgres · cluster-ABCDEFGHIJKLMNOP (orders-prod) · 123456789012/eu-west-1"
    )
    assert field(text, "What") == "DROP TABLE public.audit_log · 0 rows · failed (42501)"
    assert field(text, "Who") == "app @ 10.0.1.23"
    assert field(text, "Client") == "psql"
    assert field(text, "Session") == "5ce5f7f0.474b"
    assert field(text, "First seen") == "2026-01-02 03:04:05 UTC"
    assert field(text, "Last seen") == "2026-01-02 03:34:05 UTC"
    assert field(text, "Count") == "7"
    assert "  Verbs: CREATE TABLE, DROP TABLE\n  Hosts: 10.0.1.23\n" in text
    assert "Why it matters:\n  A user outside the admin list changed the schema.\n" in text
    assert "SQL (redacted):\n  CREATE TABLE t (id int)\n" in text
    assert field(text, "Runbook") == "https://wiki.example.com/runbooks/ddl"
    assert field(text, "RDS console").endswith("#database:id=orders-prod;is-cluster=true")
    assert field(text, "Security Hub finding").startswith("https://eu-west-1.console.aws")
    assert "cloudwatch/home?region=eu-west-1#logsV2:logs-insights" in text
    assert text.endswith(f"Alert id: {alert.id}\n")


def test_one_event_has_one_time_and_no_console_link_without_a_name() -> None:
    text = render_text(make_alert(context={"resource": {**RESOURCE, "name": None}}))
    assert field(text, "Event time") == "2026-01-02 03:04:05 UTC"
    assert "First seen" not in text and "RDS console" not in text and "Logs Insights" not in text


def test_shipped_runbook_shows_its_first_lines() -> None:
    alert = make_alert(
        runbook="runbooks/ddl.md",
        context={"runbook_excerpt": "Someone changed the schema.\n1. Ask"},
    )
    assert "Runbook: runbooks/ddl.md\n  Someone changed the schema.\n  1. Ask\n" in render_text(
        alert
    )


def test_a_name_with_an_invisible_character_is_shown_marked() -> None:
    text = render_text(make_alert(event_updates={"dbUserName": "rdsadmin\u200b"}))
    assert field(text, "Who") == "rdsadmin⟨U+200B⟩ @ 10.0.1.23"


def test_hostile_values_cannot_fake_a_line() -> None:
    alert = make_alert(
        title=HOSTILE,
        event_updates={
            "dbUserName": "x\nRule: fake",
            "clientApplication": HOSTILE,
            "commandText": "DROP\nTABLE\u2028x" + "y" * 10_000,
        },
    )
    text = render_text(alert)
    assert not any(line.startswith("Rule: fake") for line in text.splitlines())
    assert field(text, "Rule") == "ddl-by-non-admin"
    sql = text.split("SQL (redacted):\n", 1)[1].split("\n\n", 1)[0]
    assert len(sql) <= SQL_MAX + 10 and sql.startswith("  DROP\n  TABLEx")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_any_value_gives_text_with_no_invisible_character(user: str, sql: str) -> None:
    text = render_text(
        make_alert(title=user, event_updates={"dbUserName": user, "commandText": sql})
    )
    assert not INVISIBLE.search(text)
    assert field(text, "Rule") == "ddl-by-non-admin"
