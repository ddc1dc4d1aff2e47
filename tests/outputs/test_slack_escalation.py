"""Slack escalation updates against the local Slack server: parent updated in place and a thread
reply (bot token), one rate-limited follow-up per step (webhook), lost parents, failures."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import parse_qs

from engine.alerts import Alert
from engine.outputs.base import Deadline, Status
from engine.outputs.retry import RetryPolicy
from engine.outputs.slack import BotTransport, ChannelMap, SlackOutput, WebhookTransport
from engine.pipeline.state import MemoryStateStore
from tests.outputs.factory import make_alert
from tests.support.slack_server import SlackResponse

TOKEN = "xoxb-0000000000-escalation-token"
TS = "1700000000.000100"  # what the local server answers for every Web API call


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def body(req) -> dict:
    if req.headers.get("content-type", "").startswith("application/json"):
        return req.json
    return {k: v[0] for k, v in parse_qs(req.body.decode()).items()}


def calls(slack) -> list[tuple[str, dict]]:
    return [(r.path.rsplit("/", 1)[-1], body(r)) for r in slack.requests]


def escalated(alert: Alert, step: int, *reasons: str, **kw) -> Alert:
    context = {
        "update": True,
        "folded": {
            "verbs": ["CREATE TEMP TABLE", "DROP TABLE"],
            "objects": ["tmp1", "public.audit_log"],
            "users": ["app"],
            "hosts": ["10.0.1.23"],
            "more": {},
        },
        "escalation": {"step": step, "reasons": list(reasons), "previous_severity": "high"},
    }
    return replace(alert, context=context, count=kw.pop("count", 3), **kw)


def bot(slack, state=None, sleeps=None, clock=None, **kw) -> SlackOutput:
    out = SlackOutput(
        BotTransport(lambda: TOKEN, slack.api_url),
        channels=ChannelMap.parse("critical=#sec-page,default=#sec-alerts"),
        policy=RetryPolicy(sleeper=sleeps if sleeps is not None else Sleeps()),
        buttons=True,
        clock=clock or Clock(),
        **kw,
    )
    out.bind_state(state if state is not None else MemoryStateStore())
    return out


def test_bot_updates_the_parent_and_replies_in_its_thread(slack) -> None:
    state = MemoryStateStore()
    parent = make_alert(1)
    assert bot(slack, state).send([parent]).deliveries[0].status is Status.DELIVERED
    slack.reset()
    # a later batch on a cold container: a new output object, the same state table
    step = escalated(parent, 1, "new verb: DROP TABLE", "new object: public.audit_log")
    report = bot(slack, state).send([step])
    assert [(d.alert_id, d.status) for d in report.deliveries] == [(parent.id, Status.DELIVERED)]
    (update_call, update), (post_call, reply) = calls(slack)
    assert update_call == "chat.update" and post_call == "chat.postMessage"
    assert update["channel"] == "C0000000" and update["ts"] == TS  # the channel id Slack gave
    assert "Escalated" in json.dumps(update["blocks"])  # the parent re-rendered with the step
    assert update["blocks"][-1]["type"] == "actions"  # the buttons stay
    assert reply["thread_ts"] == TS and reply["channel"] == "C0000000"
    assert reply["reply_broadcast"] is True  # a new verb: shown in the channel too
    text = json.dumps(reply["blocks"])
    assert "new verb: DROP TABLE" in text and "Escalation 1" in text
    assert "Count*\\n3" in text


def test_a_step_without_verb_or_severity_stays_in_the_thread(slack) -> None:
    state = MemoryStateStore()
    parent = make_alert(1)
    bot(slack, state).send([parent])
    slack.reset()
    bot(slack, state).send([escalated(parent, 2, "count passed 10", count=10)])
    (_, _), (_, reply) = calls(slack)
    assert reply["reply_broadcast"] is False


def test_a_parent_posted_for_several_alerts_is_not_edited_only_replied_to(slack) -> None:
    state = MemoryStateStore()
    a, b = make_alert(1), make_alert(2)
    bot(slack, state).send([a, b])  # one message for both
    slack.reset()
    bot(slack, state).send([escalated(a, 1, "new verb: DROP TABLE")])
    assert [c for c, _ in calls(slack)] == ["chat.postMessage"]
    assert calls(slack)[0][1]["thread_ts"] == TS


def test_unknown_parent_posts_a_new_message_that_says_it_is_an_update(slack) -> None:
    state = MemoryStateStore()
    alert = escalated(make_alert(1), 2, "severity high → critical", severity="critical")
    report = bot(slack, state).send([alert])
    assert report.deliveries[0].status is Status.DELIVERED
    ((method, msg),) = calls(slack)
    assert method == "chat.postMessage" and "thread_ts" not in msg
    assert msg["channel"] == "#sec-page"  # routed by the new severity
    assert msg["text"].startswith("Update: ")
    assert "Update 2 of an alert posted earlier" in json.dumps(msg["blocks"])
    slack.reset()
    # that message is now the parent of the next step
    bot(slack, state).send([escalated(make_alert(1), 3, "new user: x", severity="critical")])
    assert [c for c, _ in calls(slack)] == ["chat.update", "chat.postMessage"]


def test_a_deleted_parent_falls_back_to_a_new_message(slack) -> None:
    state = MemoryStateStore()
    parent = make_alert(1)
    bot(slack, state).send([parent])
    slack.reset()
    slack.script(SlackResponse(200, {"ok": False, "error": "message_not_found"}))
    report = bot(slack, state).send([escalated(parent, 1, "new verb: DROP TABLE")])
    assert report.deliveries[0].status is Status.DELIVERED
    methods = [c for c, _ in calls(slack)]
    assert methods == ["chat.update", "chat.postMessage"]
    assert "thread_ts" not in calls(slack)[1][1]


def test_updates_are_retried_like_posts_and_failures_are_reported(slack) -> None:
    state = MemoryStateStore()
    parent = make_alert(1)
    bot(slack, state).send([parent])
    slack.reset()
    sleeps = Sleeps()
    slack.script(
        SlackResponse(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"}),
        *[SlackResponse(500, {"ok": False, "error": "internal_error"})] * 4,
    )
    report = bot(slack, state, sleeps).send([escalated(parent, 1, "new verb: DROP TABLE")])
    (d,) = report.deliveries
    assert d.status is Status.RETRYABLE and "internal_error" in d.reason
    assert sleeps[0] == 3.0  # Retry-After honoured on chat.update
    assert all(c == "chat.update" for c, _ in calls(slack))  # no reply before the edit worked
    slack.reset()
    report = bot(slack, state).send([escalated(parent, 1, "new verb: DROP TABLE")])
    assert report.deliveries[0].status is Status.DELIVERED  # the redelivery completes it
    assert [c for c, _ in calls(slack)] == ["chat.update", "chat.postMessage"]


def test_an_update_never_runs_past_the_deadline(slack) -> None:
    state = MemoryStateStore()
    parent = make_alert(1)
    bot(slack, state).send([parent])
    slack.reset()
    sleeps = Sleeps()
    slack.script(SlackResponse(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"}))
    deadline = Deadline(lambda: 20_000, margin_s=5)  # 15 s: not enough to wait 30 s
    report = bot(slack, state, sleeps).send([escalated(parent, 1, "new verb: X")], deadline)
    (d,) = report.deliveries
    assert d.status is Status.RETRYABLE and "no time left" in d.reason
    assert sleeps == [] and len(slack.requests) == 1


def test_reasons_are_escaped(slack) -> None:
    state = MemoryStateStore()
    parent = make_alert(1)
    bot(slack, state).send([parent])
    slack.reset()
    bot(slack, state).send([escalated(parent, 1, "new user: <!channel> <@U1>")])
    wire = b"".join(r.body for r in slack.requests).decode()
    assert "<!channel>" not in wire and "<@U1>" not in wire
    assert "&lt;!channel&gt;" in wire


def webhook(slack, state, clock) -> SlackOutput:
    url = slack.webhook_url
    out = SlackOutput(
        WebhookTransport(lambda: url), policy=RetryPolicy(sleeper=Sleeps()), clock=clock
    )
    out.bind_state(state)
    return out


def test_webhook_posts_one_follow_up_per_step_rate_limited(slack) -> None:
    state, clock = MemoryStateStore(), Clock()
    parent = make_alert(1)
    out = webhook(slack, state, clock)
    out.send([parent])
    slack.reset()

    def step(n: int, *reasons: str) -> list[str]:
        report = webhook(slack, state, clock).send([escalated(parent, n, *reasons)])
        assert [d.status for d in report.deliveries] == [Status.DELIVERED]
        posted = [json.dumps(r.json) for r in slack.requests]
        slack.reset()
        return posted

    (first,) = step(1, "new object: public.audit_log")
    assert "Escalation 1" in first and "public.audit_log" in first
    clock.now += 60
    assert step(2, "new host: 10.9.9.9") == []  # within 10 minutes: held
    clock.now += 60
    (urgent,) = step(3, "new verb: DROP TABLE")  # never held
    assert "DROP TABLE" in urgent and "10.9.9.9" in urgent  # the held reason comes along
    clock.now += 60
    assert step(4, "count passed 10") == []
    clock.now += 600
    (later,) = step(5, "new user: bob")
    assert "count passed 10" in later and "new user: bob" in later
    assert "10.9.9.9" not in later  # already said


def test_webhook_follow_up_names_the_alert_and_escapes(slack) -> None:
    state, clock = MemoryStateStore(), Clock()
    alert = escalated(make_alert(1, title="DDL by <!here>"), 1, "new verb: DROP TABLE")
    webhook(slack, state, clock).send([alert])
    ((req),) = slack.requests
    msg = req.json
    assert msg["blocks"][0]["type"] == "header"
    assert "DDL by &lt;!here&gt;" in msg["blocks"][0]["text"]["text"]
    assert alert.id in json.dumps(msg["blocks"])


def test_the_thread_reply_marks_invisible_characters_in_names(slack) -> None:
    # the reply must not show a look-alike of AWS's own account as that account
    state = MemoryStateStore()
    parent = make_alert(1)
    bot(slack, state).send([parent])
    slack.reset()
    look_alike = replace(parent, event={**parent.event, "dbUserName": "rdsadmin\u200b"})
    update = escalated(look_alike, 1, "new user: rdsadmin")
    update.context["folded"]["users"] = ["rdsadmin\u200b"]
    bot(slack, state).send([update])
    reply = next(b for name, b in calls(slack) if name == "chat.postMessage")
    text = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "rdsadmin⟨U+200B⟩" in text
    assert "rdsadmin\u200b" not in text
