"""The facts every message shows, and the links built from them (never a broken one)."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.alerts import facts as F
from tests.outputs.factory import make_alert

RESOURCE = {
    "id": "cluster-ABCDEFGHIJKLMNOP",
    "kind": "cluster",
    "name": "orders-prod",
    "arn": "arn:aws:rds:eu-west-1:123456789012:cluster:orders-prod",
    "account": "123456789012",
    "region": "eu-west-1",
}


def alert_with(**context: Any) -> Any:
    return make_alert(
        event_updates={"sessionId": "5ce5f7f0.474b"},
        last_seen="2026-01-02T03:34:05.678000+00:00",
        context=context,
    )


def test_where_what_who_when() -> None:
    a = make_alert(
        event_updates={
            "sessionId": "725",
            "das": {
                "engine": "postgres",
                "clusterId": "cluster-ABCDEFGHIJKLMNOP",
                "verb": "DROP TABLE",
                "object": "public.loot",
                "rows": 0,
                "failed": True,
                "errorCode": "42P01",
                "time": "2026-01-02T03:04:05.678000+00:00",
            },
        },
        context={"resource": RESOURCE},
    )
    f = F.extract(a)
    assert f.where == "postgres · cluster-ABCDEFGHIJKLMNOP (orders-prod) · 123456789012/eu-west-1"
    assert f.what == "DROP TABLE public.loot · 0 rows · failed (42P01)"
    assert (f.user, f.host, f.client, f.session) == ("app", "10.0.1.23", "psql", "725")
    assert f.first_epoch == f.last_epoch and not f.spans_time


def test_region_from_the_deployment_when_the_alert_has_none() -> None:
    f = F.extract(make_alert(), region="us-east-2")
    assert f.region == "us-east-2" and f.where.endswith("us-east-2")


def test_console_link_needs_the_db_identifier() -> None:
    f = F.extract(alert_with(resource=RESOURCE))
    links = {link.label: link.url for link in f.links}
    assert links["RDS console"] == (
        "https://eu-west-1.console.aws.amazon.com/rds/home?region=eu-west-1"
        "#database:id=orders-prod;is-cluster=true"
    )
    nameless = F.extract(alert_with(resource={**RESOURCE, "name": None}))
    assert "RDS console" not in {link.label for link in nameless.links}
    assert "Logs Insights (session)" not in {link.label for link in nameless.links}


@pytest.mark.parametrize(
    "name",
    ["orders prod", "orders/../x", "-x", "a--b", "x" * 64, "<!channel>", "db#1", "1abc"],
)
def test_no_console_link_from_an_invalid_identifier(name: str) -> None:
    assert F.console_url("instance", name, "eu-west-1") is None
    assert F.log_group("postgres", "instance", name) is None


def test_instance_console_link_and_log_groups_per_engine() -> None:
    assert F.console_url(
        "instance",
        "ora-1",
        "us-east-1",
    ).endswith(  # type: ignore[union-attr]
        "#database:id=ora-1;is-cluster=false"
    )
    assert F.console_url("instance", "ora-1", "not a region") is None
    assert F.log_group("postgres", "cluster", "c1") == "/aws/rds/cluster/c1/postgresql"
    assert F.log_group("mysql", "cluster", "c1") == "/aws/rds/cluster/c1/audit"
    assert F.log_group("oracle", "instance", "o1") == "/aws/rds/instance/o1/audit"
    assert F.log_group("sqlserver", "instance", "s1") == "/aws/rds/instance/s1/error"
    assert F.log_group("db2", "instance", "d1") is None


def test_finding_link_only_when_security_hub_is_on_and_for_rule_alerts() -> None:
    a = alert_with(resource=RESOURCE)
    assert "Security Hub finding" not in {link.label for link in F.extract(a).links}
    on = {link.label: link.url for link in F.extract(a, finding_links=True).links}
    assert on["Security Hub finding"].endswith("EQUALS%255C%253A" + a.id)


def decode_insights(url: str) -> dict[str, Any]:
    """Reverse of the console's encoding, independently of the code under test."""
    prefix, _, fragment = url.partition("#logsV2:logs-insights")
    assert prefix.startswith("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=")
    once = urllib.parse.unquote(fragment.replace("$", "%"))
    assert once.startswith("?queryDetail=")
    detail = urllib.parse.unquote(once.removeprefix("?queryDetail="))
    assert detail.startswith("~(")
    doc, end = _parse(detail, 1)
    assert end == len(detail)
    return doc


def _parse(s: str, i: int) -> tuple[Any, int]:
    """One value at ``s[i]``: ``(k~v~k~v)`` an object, ``(~v~v)`` a list, ``'text`` a string."""
    if s[i] == "(":
        i += 1
        if s[i] == "~":
            items = []
            while s[i] == "~":
                item, i = _parse(s, i + 1)
                items.append(item)
            assert s[i] == ")"
            return items, i + 1
        obj = {}
        while s[i] != ")":
            j = s.index("~", i)
            obj[s[i:j]], i = _parse(s, j + 1)
            if s[i] == "~":
                i += 1
        return obj, i + 1
    j = i
    while j < len(s) and s[j] not in "~)":
        j += 1
    raw = s[i:j]
    if raw.startswith("'"):
        return urllib.parse.unquote(raw[1:].replace("*", "%")), j
    return {"false": False, "true": True}.get(raw, raw), j


def test_logs_insights_link_decodes_to_the_session_query() -> None:
    f = F.extract(alert_with(resource=RESOURCE))
    url = {link.label: link.url for link in f.links}["Logs Insights (session)"]
    assert re.fullmatch(r"[A-Za-z0-9:/.?=#\-$*_]+", url), url  # nothing a link could break on
    doc = decode_insights(url)
    assert doc["source"] == ["/aws/rds/cluster/orders-prod/postgresql"]
    assert doc["timeType"] == "ABSOLUTE" and doc["isLiveTail"] is False
    assert doc["start"] == "2026-01-02T02:59:05.678Z"  # first seen − 5 min
    assert doc["end"] == "2026-01-02T03:39:05.678Z"  # last seen + 5 min
    assert (
        'filter @message like "5ce5f7f0.474b" or @message like "10.0.1.23"' in (doc["editorString"])
    )


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_hostile_session_or_host_never_enters_the_query(session: str, host: str) -> None:
    a = make_alert(
        event_updates={"sessionId": session, "remoteHost": host},
        context={"resource": RESOURCE},
    )
    query = F.logs_query(F.extract(a)) or ""
    assert query.count('"') in (0, 2, 4)  # only whole quoted terms
    for line in query.splitlines():
        assert line.startswith(("fields", "| filter", "| sort", "| limit"))


def test_folded_and_escalation_from_the_context() -> None:
    f = F.extract(
        alert_with(
            folded={
                "verbs": ["CREATE TABLE", "DROP TABLE"],
                "objects": ["a", "b", "c", "d", "e", "f"],
                "users": [],
                "more": {"objects": 3},
            },
            escalation={"step": 2, "reasons": ["new verb: DROP TABLE"], "previous_severity": "m"},
        )
    )
    assert f.folded is not None
    assert f.folded.lines() == [
        ("Verbs", ("CREATE TABLE", "DROP TABLE"), 0),
        ("Objects", ("a", "b", "c", "d", "e"), 4),  # 3 said + 1 over the cap
    ]
    assert f.escalation == F.Escalation(2, ("new verb: DROP TABLE",), "m")


@pytest.mark.parametrize("bad", [None, "x", [], {"verbs": "DROP"}, {"more": 3}, {"verbs": [None]}])
def test_malformed_folded_is_ignored(bad: Any) -> None:
    assert F.extract(alert_with(folded=bad)).folded is None


def test_runbook_excerpt_of_a_shipped_file(tmp_path) -> None:
    rule = tmp_path / "r.yaml"
    rule.write_text("id: r\n")
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "r.md").write_text(
        "# Runbook: r\n\nSomeone did a thing.\n\n1. Read the alert.\n2. Ask.\n3. a\n4. b\n5. c\n"
    )
    text = F.runbook_excerpt(str(rule), "runbooks/r.md")
    assert text == "Someone did a thing.\n\n1. Read the alert.\n2. Ask.\n3. a\n4. b"
    assert F.runbook_excerpt(str(rule), "runbooks/missing.md") is None
    assert F.runbook_excerpt(str(rule), "https://wiki/x") is None
    f = F.extract(make_alert(runbook="runbooks/r.md", context={"runbook_excerpt": text}))
    assert f.runbook_url is None and f.runbook_text == text and f.runbook_path == "runbooks/r.md"
    bare = F.extract(make_alert(runbook="runbooks/r.md"))
    assert bare.runbook_text is None and bare.runbook_path == "runbooks/r.md"


def test_engine_puts_the_shipped_runbooks_first_lines_in_the_alert(tmp_path) -> None:
    from engine.events.normalize import normalize
    from engine.rules import build_engine

    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "ddl.md").write_text("# Runbook\n\nAsk the owner first.\n")
    (tmp_path / "ddl.yaml").write_text(
        "id: ddl\ntitle: DDL\nseverity: high\nrunbook: runbooks/ddl.md\n"
        "description: schema change\nwhen: das.action == 'DDL'\n"
    )
    wired = build_engine([str(tmp_path)])
    event = {
        "class": "DDL",
        "command": "CREATE TABLE",
        "dbUserName": "app",
        "logTime": "2026-01-02 03:04:05+00",
        "serverType": "PostgreSQL",
        "type": "record",
    }
    (alert,) = wired.engine.process([normalize(event)]).alerts
    assert alert.context["runbook_excerpt"] == "Ask the owner first."
    f = F.extract(alert)
    assert f.runbook_text == "Ask the owner first." and f.runbook_path == "runbooks/ddl.md"


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["resource", "folded", "escalation", "runbook_excerpt", "error", "x"]),
        JSONISH,
    ),
    st.dictionaries(st.sampled_from(["verb", "object", "rows", "failed", "errorCode"]), JSONISH),
)
def test_any_context_renders_without_raising(context: dict, das: dict) -> None:
    """Malformed context from a producer never costs the alert: every renderer still answers."""
    from engine.alerts.plaintext import render_text
    from engine.outputs.slack_blocks import render_one

    alert = make_alert(context=context)
    alert.das.update(das)
    F.extract(alert, region="eu-west-1", finding_links=True)
    assert render_text(alert).startswith("[HIGH] ")
    assert render_one(alert, actions=True, region="eu-west-1", finding_links=True)["blocks"]


def test_the_query_names_what_each_engines_log_writes() -> None:
    pg = make_alert(event_updates={"sessionId": "6745a4b2.3f10", "pid": 7980})
    assert F.logs_query(F.extract(pg)) == (
        "fields @timestamp, @logStream, @message\n"
        '| filter @message like "6745a4b2.3f10" or @message like "[7980]"'
        ' or @message like "10.0.1.23"\n'
        "| sort @timestamp asc\n"
        "| limit 500"
    )
    mysql = make_alert(event_updates={"sessionId": "1187", "remoteHost": "not an address"})
    mysql.das.update(engine="mysql")
    assert '| filter @message like ",1187,"\n' in (F.logs_query(F.extract(mysql)) or "")
    assert F.logs_query(F.extract(make_alert(event_updates={"remoteHost": "x"}))) is None
