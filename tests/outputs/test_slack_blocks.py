"""Block Kit rendering: hostile strings arrive as text, and every Slack limit holds."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.outputs import slack_blocks as sb
from tests.outputs.factory import HOSTILE, make_alert

ENTITY = re.compile(r"&(amp|lt|gt);")
# The one markup the renderer builds itself in fields: Slack date formatting, from a number and an
# ISO time it parsed (so no untrusted character can be inside).
SLACK_DATE = re.compile(r"<!date\^\d+\^\{date_short_pretty\} \{time_secs\}\|[0-9T:.+\- Z]+>")


def without_dates(text: str) -> str:
    return SLACK_DATE.sub("", text)


def all_texts(payload: dict) -> list[str]:
    """Every text string Slack will render from the payload."""
    out = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(f["text"] for f in block.get("fields", []))
        out.extend(e["text"] for e in block.get("elements", []))
    return out


def assert_within_limits(payload: dict) -> None:
    blocks = payload["blocks"]
    assert len(blocks) <= sb.BLOCKS_MAX
    assert len(payload["text"]) <= sb.TEXT_MAX
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert len(block["text"]["text"]) <= sb.HEADER_MAX
        if block["type"] == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= sb.SECTION_MAX
            assert len(block.get("fields", [])) <= sb.FIELDS_MAX
            assert all(len(f["text"]) <= sb.FIELD_MAX for f in block.get("fields", []))
        if block["type"] == "context":
            assert len(block["elements"]) <= sb.CONTEXT_ELEMENTS_MAX
        for obj in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if obj and obj["type"] == "mrkdwn":
                assert obj["verbatim"] is True  # no auto-linking or auto-mentions


def test_escape_neutralises_mentions_links_and_entities() -> None:
    s = sb.escape("<!channel> <@U123> <https://evil|click> a&b")
    assert s == "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|click&gt; a&amp;b"


def test_clean_removes_control_and_bidi_characters() -> None:
    assert sb.clean("a\x00b\x07c\x1b[0m\u202ed\u200be\x85f\tg") == "abc[0mdef g"
    assert sb.clean("one\r\ntwo\rthree", oneline=True) == "one ⏎ two ⏎ three"


def test_backticks_cannot_close_the_code_block() -> None:
    payload = sb.render_one(make_alert(event_updates={"commandText": "SELECT 1 ``` <!here>"}))
    code = next(t for t in all_texts(payload) if "```" in t)
    body = code.split("```\n", 1)[1].rsplit("\n```", 1)[0]
    assert "`" not in body
    assert "ˋˋˋ" in body and "&lt;!here&gt;" in body


def test_hostile_user_and_sql_comment_arrive_as_text() -> None:
    alert = make_alert(
        title=f"DDL by {HOSTILE}",
        event_updates={
            "dbUserName": HOSTILE,
            "remoteHost": "<@U123>",
            "clientApplication": "<https://evil.example|click>",
            "commandText": f"SELECT 1 /* {HOSTILE} */",
        },
    )
    payload = sb.render_one(alert)
    texts = all_texts(payload)
    joined = "\n".join(texts)
    assert "<!channel>" not in joined and "<@U123>" not in joined
    assert "<https://evil" not in joined
    assert "&lt;!channel&gt;" in joined and "&lt;@U123&gt;" in joined
    assert "\x07" not in joined and "\x1b" not in joined and "\u202e" not in joined
    # the only raw '<' left: Slack dates and the trusted runbook link in the context line
    raw = [t for t in texts if "<" in without_dates(t)]
    assert raw == [payload["blocks"][-1]["elements"][0]["text"]]
    assert "<https://wiki.example.com/runbooks/ddl|Runbook>" in texts[-1]
    header = payload["blocks"][0]["text"]["text"]
    assert "\n" not in header and header.startswith(":large_orange_circle: HIGH · DDL by")
    assert_within_limits(payload)


def _fields(payload: dict, index: int = 1) -> dict[str, str]:
    return {
        f["text"].split("\n")[0]: f["text"].split("\n", 1)[1]
        for f in payload["blocks"][index]["fields"]
    }


def test_fields_show_what_a_responder_needs() -> None:
    alert = make_alert(
        count=7,
        event_updates={"sessionId": "725118"},
        context={"aws_account_id": "123456789012"},
    )
    alert.das.update(verb="DROP TABLE", object="public.loot", rows=0, failed=True,
                     errorCode="42P01")  # fmt: skip
    payload = sb.render_one(alert, region="eu-west-1")
    assert _fields(payload) == {
        "*Where*": "postgres · cluster-ABCDEFGHIJKLMNOP · 123456789012/eu-west-1",
        "*Database*": "orders",
        "*What*": "DROP TABLE public.loot · 0 rows · failed (42P01)",
        "*Who*": "app @ 10.0.1.23",
        "*Client application*": "psql",
        "*Session*": "725118",
        "*Event time*": "<!date^1767323045^{date_short_pretty} {time_secs}"
        "|2026-01-02T03:04:05.678000+00:00>",
        "*Count*": "7",
        "*Rule*": "ddl-by-non-admin",
    }
    description = payload["blocks"][2]["text"]["text"]
    assert description == "A user outside the admin list changed the schema."
    context = payload["blocks"][-1]["elements"][0]["text"]
    assert "Rule `ddl-by-non-admin`" in context and "Alert `a0000" in context


def test_first_and_last_seen_in_the_readers_time() -> None:
    alert = make_alert(
        first_seen="2026-01-02T03:00:00Z", last_seen="2026-01-02T03:30:00.000000+00:00"
    )
    alert.das.update(failed=False, rows=1)
    fields = _fields(sb.render_one(alert))
    assert fields["*First seen*"].startswith("<!date^1767322800^{date_short_pretty}")
    assert fields["*Last seen*"].startswith("<!date^1767324600^")
    assert fields["*What*"] == "DDL · 1 row · succeeded"
    assert "*Event time*" not in fields and len(fields) == 10


def test_an_unparseable_time_is_shown_escaped_not_formatted() -> None:
    alert = make_alert(first_seen="<!channel>", last_seen="<!channel>")
    fields = _fields(sb.render_one(alert))
    assert fields["*Event time*"] == "&lt;!channel&gt;"


def test_hostile_description_is_escaped() -> None:
    payload = sb.render_one(make_alert(description="see <!channel> & <https://evil|x>"))
    assert (
        payload["blocks"][2]["text"]["text"] == "see &lt;!channel&gt; &amp; &lt;https://evil|x&gt;"
    )


def test_here_from_a_severity_up() -> None:
    high, medium = make_alert(severity="high"), make_alert(severity="medium")
    assert sb.render_one(high, here_from="high")["blocks"][0]["text"]["text"] == "<!here> HIGH"
    assert sb.render_one(medium, here_from="high")["blocks"][0]["type"] == "header"
    assert sb.render_one(high)["blocks"][0]["type"] == "header"  # never, unless configured
    group = sb.render_group([high, medium], here_from="critical")
    assert "<!here>" not in json.dumps(group)
    assert sb.render_group([high, medium], here_from="high")["blocks"][0]["text"]["text"] == (
        "<!here> HIGH"
    )


def test_long_values_are_truncated_to_the_limits_without_splitting_entities() -> None:
    alert = make_alert(
        title="<" * 500,
        event_updates={"commandText": "<&>" * 5000, "dbUserName": "&" * 5000},
    )
    payload = sb.render_one(alert)
    assert_within_limits(payload)
    header = payload["blocks"][0]["text"]["text"]
    assert header.endswith("…") and len(header) <= 150
    for text in all_texts(payload):
        # every '&' still starts a whole entity after cutting
        assert all(ENTITY.match(text, m.start()) for m in re.finditer("&", text))
    code = next(t for t in all_texts(payload) if "```" in t)
    assert len(code) <= 3000 and code.endswith("…\n```")


def test_runbook_that_is_not_a_plain_url_is_not_linked() -> None:
    payload = sb.render_one(make_alert(runbook="https://x|<!channel>"))
    context = payload["blocks"][-1]["elements"][0]["text"]
    assert "<" not in context and "&lt;!channel&gt;" in context


def test_many_alerts_of_one_rule_make_one_message_within_limits() -> None:
    alerts = [make_alert(i, event_updates={"dbUserName": f"user{i}<!here>"}) for i in range(400)]
    payload = sb.render_group(alerts)
    assert_within_limits(payload)
    assert payload["blocks"][0]["text"]["text"].startswith(
        ":large_orange_circle: HIGH · 400 alerts"
    )
    text = json.dumps(payload)
    assert "<!here>" not in text
    listed = "\n".join(t for t in all_texts(payload) if t.startswith("•"))
    shown = listed.count("• ")
    assert 0 < shown < 400 and f"…and {400 - shown} more alerts" in listed
    assert "400 alerts" in payload["blocks"][-1]["elements"][0]["text"]


def test_group_by_rule_keeps_order() -> None:
    a, b, c = make_alert(1), make_alert(2, rule_id="other"), make_alert(3)
    assert sb.group_by_rule([a, b, c]) == [[a, c], [b]]


def test_test_alert_is_marked() -> None:
    payload = sb.render_one(make_alert(kind="test", severity="info", title="TEST alert"))
    assert payload["blocks"][0]["text"]["text"].startswith(":test_tube: TEST · TEST alert")


untrusted = st.text(
    alphabet=st.sampled_from([*"<>&`*_~|!@#\n\r\t\x00\x07\x1b\u202e\u200b", "a", "b", "é", "😀"]),
    max_size=4000,
)


@settings(max_examples=150, deadline=None)
@given(title=untrusted, user=untrusted, sql=untrusted, host=untrusted, n=st.integers(1, 60))
def test_renderer_never_emits_raw_angle_brackets_and_stays_within_limits(
    title: str, user: str, sql: str, host: str, n: int
) -> None:
    alerts = [
        make_alert(
            i,
            title=title,
            runbook=None,
            event_updates={"dbUserName": user, "commandText": sql, "remoteHost": host},
        )
        for i in range(n)
    ]
    payload = sb.render_group(alerts)
    assert_within_limits(payload)
    for text in map(without_dates, all_texts(payload)):
        assert "<" not in text and ">" not in text
        assert all(ENTITY.match(text, m.start()) for m in re.finditer("&", text))
        assert not re.search("[\x00-\x09\x0b-\x1f\u202e\u200b]", text)
    for block in payload["blocks"]:
        if block["type"] == "section" and "```" in block.get("text", {}).get("text", ""):
            inner = block["text"]["text"].split("```\n", 1)[1].rsplit("\n```", 1)[0]
            assert "`" not in inner


def test_group_header_shows_a_rendered_title_never_the_template() -> None:
    same = [make_alert(i, title="Brute force from 203.0.113.50") for i in range(3)]
    header = sb.render_group(same)["blocks"][0]["text"]["text"]
    assert header.endswith("3 alerts · Brute force from 203.0.113.50")
    mixed = [make_alert(i, rule_title="DDL by {dbUserName}") for i in range(3)]
    header = sb.render_group(mixed)["blocks"][0]["text"]["text"]
    assert header.endswith("3 alerts · ddl-by-non-admin") and "{" not in header


def test_security_hub_finding_link_only_when_it_can_exist() -> None:
    alert = make_alert()
    ctx = sb.render_one(alert, region="eu-west-1", finding_links=True)["blocks"][-1]
    text = ctx["elements"][0]["text"]
    assert (
        "<https://eu-west-1.console.aws.amazon.com/securityhub/home?region=eu-west-1#/findings"
        f"?search=Id%3D%255Coperator%255C%253AEQUALS%255C%253A{alert.id}|Security Hub finding>"
    ) in text
    assert "Security Hub" not in json.dumps(sb.render_one(alert, region="eu-west-1"))
    assert "Security Hub" not in json.dumps(sb.render_one(alert, finding_links=True))  # no region
    for region in ("eu-west-1|x", "<!channel>", "eu-west-1.evil.example/"):
        assert sb.finding_url(alert.id, region) is None
    assert sb.finding_url("a|<!here>", "eu-west-1") is None
    pipeline = make_alert(kind="pipeline")
    assert "Security Hub" not in json.dumps(
        sb.render_one(pipeline, region="eu-west-1", finding_links=True)
    )


RESOURCE = {
    "id": "cluster-ABCDEFGHIJKLMNOP",
    "kind": "cluster",
    "name": "orders-prod",
    "arn": None,
    "account": "123456789012",
    "region": "eu-west-1",
}


def test_escalation_line_above_the_fields_and_in_the_notification() -> None:
    alert = make_alert(
        context={
            "escalation": {
                "step": 2,
                "reasons": ["new verb: DROP TABLE", "severity high → critical"],
                "previous_severity": "high",
            }
        }
    )
    payload = sb.render_one(alert)
    assert payload["blocks"][1]["text"]["text"] == (
        ":arrow_double_up: *Escalated* (update 2): new verb: DROP TABLE · severity high → critical"
    )
    assert payload["blocks"][2]["fields"]
    assert payload["text"].startswith("HIGH (escalated): ")


def test_folded_values_with_more() -> None:
    alert = make_alert(
        context={
            "folded": {
                "verbs": ["CREATE TABLE", "DROP TABLE"],
                "objects": ["public.a", "public.b"],
                "users": ["app"],
                "hosts": ["10.0.1.23", "10.0.1.24"],
                "more": {"hosts": 12},
            }
        }
    )
    blocks = sb.render_one(alert)["blocks"]
    assert blocks[2]["text"]["text"] == (
        "*Folded into this alert*\nVerbs: CREATE TABLE, DROP TABLE\nObjects: public.a, public.b\n"
        "Users: app\nHosts: 10.0.1.23, 10.0.1.24 +12 more"
    )


def test_hostile_escalation_and_folded_values_stay_text() -> None:
    alert = make_alert(
        context={
            "escalation": {"step": 1, "reasons": [f"new user: {HOSTILE}"]},
            "folded": {"users": [HOSTILE, "rds\u200badmin"], "objects": ["x`y"]},
        }
    )
    payload = sb.render_one(alert)
    assert_within_limits(payload)
    for text in all_texts(payload)[:-1]:  # the context line (last) carries our own links
        stripped = ENTITY.sub("", without_dates(text))
        assert "<!" not in stripped and "<@" not in stripped and "<http" not in stripped
    folded = payload["blocks"][3]["text"]["text"]
    assert "rds⟨U+200B⟩admin" in folded and "`" not in folded


def test_links_to_the_console_and_logs_insights_with_the_db_identifier() -> None:
    alert = make_alert(event_updates={"sessionId": "5ce5f7f0.474b"}, context={"resource": RESOURCE})
    payload = sb.render_one(alert, finding_links=True)
    fields = _fields(payload)
    assert fields["*Where*"] == (
        "postgres · cluster-ABCDEFGHIJKLMNOP (orders-prod) · 123456789012/eu-west-1"
    )
    context = payload["blocks"][-1]["elements"][0]["text"]
    labels = re.findall(r"<https://[^|>]+\|([^>]+)>", context)
    assert labels == ["Runbook", "RDS console", "Security Hub finding", "Logs Insights (session)"]
    assert (
        "<https://eu-west-1.console.aws.amazon.com/rds/home?region=eu-west-1"
        "#database:id=orders-prod;is-cluster=true|RDS console>"
    ) in context
    assert_within_limits(payload)


def test_no_console_link_without_the_db_identifier() -> None:
    alert = make_alert(context={"resource": {**RESOURCE, "name": None}})
    context = sb.render_one(alert)["blocks"][-1]["elements"][0]["text"]
    assert "RDS console" not in context and "Logs Insights" not in context


def test_shipped_runbook_shows_its_first_lines_quoted() -> None:
    alert = make_alert(
        runbook="runbooks/ddl.md",
        context={"runbook_excerpt": "Someone changed the schema <!here>.\n1. Read the alert."},
    )
    blocks = sb.render_one(alert)["blocks"]
    (section,) = [b for b in blocks if b.get("text", {}).get("text", "").startswith("*Runbook*")]
    assert section["text"]["text"] == (
        "*Runbook* `runbooks/ddl.md`\n&gt; Someone changed the schema &lt;!here&gt;.\n"
        "&gt; 1. Read the alert."
    )
    assert "Runbook:" not in blocks[-1]["elements"][0]["text"]
