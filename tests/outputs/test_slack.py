"""The Slack output against the local Slack server: delivered, retried, permanent, secrets."""

from __future__ import annotations

import json
import logging

import boto3
import pytest

from engine.outputs.base import Deadline, Status
from engine.outputs.retry import RetryPolicy
from engine.outputs.routing import Router
from engine.outputs.slack import BotTransport, ChannelMap, SlackOutput, WebhookTransport
from engine.pipeline.env import ConfigError
from tests.outputs.factory import HOSTILE, make_alert
from tests.support.slack_server import SlackResponse

TOKEN = "xoxb-0000000000-secret-token-value"


class Recorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def webhook_output(slack, sleep: Recorder) -> SlackOutput:
    url = slack.webhook_url
    return SlackOutput(WebhookTransport(lambda: url), policy=RetryPolicy(sleeper=sleep))


def statuses(report) -> list[Status]:
    return [d.status for d in report.deliveries]


def test_webhook_delivers_one_message_per_rule(slack) -> None:
    sleep = Recorder()
    alerts = [make_alert(1), make_alert(2), make_alert(3, rule_id="other-rule")]
    report = webhook_output(slack, sleep).send(alerts)
    assert statuses(report) == [Status.DELIVERED] * 3
    assert [d.alert_id for d in report.deliveries] == [a.id for a in alerts]
    assert len(slack.requests) == 2 and sleep.waits == []
    first = slack.requests[0]
    assert first.path == slack.webhook_path
    body = first.json
    assert body["unfurl_links"] is False and body["unfurl_media"] is False
    assert body["blocks"][0]["text"]["text"].startswith(":large_orange_circle: HIGH · 2 alerts")
    assert "other-rule" in json.dumps(slack.requests[1].json)


def test_hostile_strings_are_escaped_on_the_wire(slack) -> None:
    alert = make_alert(
        title=f"DDL by {HOSTILE}",
        event_updates={"dbUserName": "<!channel>", "commandText": "SELECT 1 -- <@U123> ``` &"},
    )
    webhook_output(slack, Recorder()).send([alert])
    wire = slack.requests[0].body.decode()
    body = json.loads(wire)
    rendered = json.dumps(body["blocks"], ensure_ascii=False) + body["text"]
    assert "<!channel>" not in rendered and "<@U123>" not in rendered
    assert "<https://evil" not in rendered
    assert "&lt;!channel&gt;" in rendered and "&lt;@U123&gt;" in rendered
    assert "\x07" not in rendered and "```\\nSELECT 1 -- &lt;@U123&gt; ˋˋˋ &amp;\\n```" in rendered


def test_429_waits_retry_after_then_delivers(slack) -> None:
    sleep = Recorder()
    slack.script(SlackResponse(429, "rate_limited", {"Retry-After": "3"}))
    report = webhook_output(slack, sleep).send([make_alert()])
    assert statuses(report) == [Status.DELIVERED]
    assert sleep.waits == [3.0] and len(slack.requests) == 2


def test_5xx_backs_off_then_delivers(slack) -> None:
    sleep = Recorder()
    slack.script(SlackResponse(500, "internal_error"), SlackResponse(503, "unavailable"))
    report = webhook_output(slack, sleep).send([make_alert()])
    assert statuses(report) == [Status.DELIVERED]
    assert sleep.waits == [0.5, 1.0] and len(slack.requests) == 3


def test_5xx_every_time_is_retryable_after_the_attempts(slack) -> None:
    sleep = Recorder()
    slack.script(*[SlackResponse(500, "internal_error")] * 4)
    report = webhook_output(slack, sleep).send([make_alert(1), make_alert(2)])
    assert statuses(report) == [Status.RETRYABLE] * 2
    assert "HTTP 500 internal_error" in report.deliveries[0].reason
    assert len(slack.requests) == 4 and sleep.waits == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    ("status", "body"),
    [(410, "no_service"), (404, "no_team"), (403, "invalid_token"), (400, "invalid_payload")],
)
def test_other_4xx_is_permanent_without_retry(slack, status: int, body: str) -> None:
    sleep = Recorder()
    slack.script(SlackResponse(status, body))
    report = webhook_output(slack, sleep).send([make_alert()])
    assert statuses(report) == [Status.PERMANENT]
    assert report.deliveries[0].reason == f"HTTP {status} {body}"
    assert len(slack.requests) == 1 and sleep.waits == []


def test_200_without_ok_is_not_delivered(slack) -> None:
    slack.script(SlackResponse(200, "invalid_blocks"), SlackResponse(200, "ok"))
    sleep = Recorder()
    report = webhook_output(slack, sleep).send([make_alert()])
    assert statuses(report) == [Status.DELIVERED] and len(slack.requests) == 2


def test_retry_after_beyond_the_deadline_is_reported_retryable_without_waiting(slack) -> None:
    sleep = Recorder()
    slack.script(SlackResponse(429, "rate_limited", {"Retry-After": "30"}))
    deadline = Deadline(lambda: 17_000, margin_s=5.0)  # 12 s left: one request, no long wait
    report = webhook_output(slack, sleep).send([make_alert()], deadline)
    assert statuses(report) == [Status.RETRYABLE]
    assert "no time left to wait 30s" in report.deliveries[0].reason
    assert sleep.waits == [] and len(slack.requests) == 1


def test_unreachable_slack_is_retryable(slack) -> None:
    url = slack.base_url.replace(slack.base_url.rsplit(":", 1)[1], "1") + slack.webhook_path
    out = SlackOutput(WebhookTransport(lambda: url), policy=RetryPolicy(attempts=1))
    report = out.send([make_alert()])
    assert statuses(report) == [Status.RETRYABLE]
    assert "cannot reach Slack" in report.deliveries[0].reason
    assert "XXXXXXXX" not in report.deliveries[0].reason


def test_bot_token_routes_by_severity_to_channels(slack) -> None:
    channels = ChannelMap.parse("critical=#sec-page,high=#sec-alerts,default=#sec-feed")
    out = SlackOutput(
        BotTransport(lambda: TOKEN, slack.api_url),
        channels=channels,
        policy=RetryPolicy(sleeper=Recorder()),
    )
    alerts = [
        make_alert(1, severity="critical"),
        make_alert(2, severity="high", rule_id="r2"),
        make_alert(3, severity="low", rule_id="r3"),
    ]
    report = out.send(alerts)
    assert statuses(report) == [Status.DELIVERED] * 3
    assert [r.path for r in slack.requests] == ["/api/chat.postMessage"] * 3
    sent = {}
    for r in slack.requests:
        from urllib.parse import parse_qs

        if r.headers.get("content-type", "").startswith("application/json"):
            data = r.json
        else:
            data = {k: v[0] for k, v in parse_qs(r.body.decode()).items()}
        sent[data["channel"]] = data
        assert r.headers["authorization"] == f"Bearer {TOKEN}"
    assert set(sent) == {"#sec-page", "#sec-alerts", "#sec-feed"}


def test_channel_map_nearest_lower_then_default() -> None:
    m = ChannelMap.parse("high=#hi,medium=#med")
    assert [m.channel_for(s) for s in ("critical", "high", "medium", "low")] == [
        "#hi",
        "#hi",
        "#med",
        "#med",
    ]
    assert ChannelMap.parse("#all").channel_for("critical") == "#all"
    with pytest.raises(ConfigError, match="SLACK_CHANNELS: unknown severity 'urgent'"):
        ChannelMap.parse("urgent=#x")


def test_bot_errors_invalid_auth_permanent_ratelimited_retried(slack) -> None:
    sleep = Recorder()
    out = SlackOutput(
        BotTransport(lambda: TOKEN, slack.api_url),
        channels=ChannelMap.parse("#c"),
        policy=RetryPolicy(sleeper=sleep),
    )
    slack.script(
        SlackResponse(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "2"}),
        SlackResponse(200, {"ok": False, "error": "invalid_auth"}),
    )
    report = out.send([make_alert()])
    assert statuses(report) == [Status.PERMANENT]
    assert report.deliveries[0].reason == "HTTP 200 invalid_auth"
    assert sleep.waits == [2.0] and len(slack.requests) == 2


def test_webhook_url_from_secrets_manager_and_no_secret_in_debug_logs(aws, slack, caplog) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name="dasalert/slack-webhook-logtest", SecretString=json.dumps({"url": slack.webhook_url})
    )["ARN"]
    caplog.set_level(logging.DEBUG)
    # The Lambda runtime pins botocore to WARNING; unpinned here so that the SDK's own DEBUG
    # records (the Secrets Manager response among them) exist and are checked.
    caplog.set_level(logging.DEBUG, logger="botocore")
    sleep = Recorder()
    router = Router.from_env(
        {"DASALERT_OUTPUTS": "slack", "SLACK_WEBHOOK_SECRET_ARN": arn}, sleeper=sleep
    )
    slack.script(
        SlackResponse(429, "rate_limited", {"Retry-After": "1"}), SlackResponse(410, "no_service")
    )
    report = router.outputs["slack"].send([make_alert(1)])
    assert statuses(report) == [Status.PERMANENT] and sleep.waits == [1.0]
    report = router.outputs["slack"].send([make_alert(2)])
    assert statuses(report) == [Status.DELIVERED]
    assert len(slack.requests) == 3
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert caplog.records, "expected debug records from boto3/slack-sdk"
    assert slack.webhook_path not in logged and "XXXXXXXXXXXXXXXXXXXXXXXX" not in logged
    for d in report.deliveries:
        assert slack.webhook_path not in d.reason


def test_bot_token_from_secret_never_logged(aws, slack, caplog) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name="dasalert/slack-bot-logtest", SecretString=TOKEN
    )["ARN"]
    caplog.set_level(logging.DEBUG)
    router = Router.from_env(
        {
            "SLACK_BOT_TOKEN_SECRET_ARN": arn,
            "SLACK_CHANNELS": "default=#sec",
            "SLACK_API_URL": slack.api_url,
        },
        sleeper=Recorder(),
    )
    slack.script(SlackResponse(500, {"ok": False, "error": "internal_error"}))
    report = router.outputs["slack"].send([make_alert()])
    assert statuses(report) == [Status.DELIVERED]
    assert slack.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in caplog.text and "secret-token-value" not in caplog.text


def test_missing_secret_is_permanent_and_names_no_value(aws, slack) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dasalert/nope-AbCdEf"
    router = Router.from_env({"SLACK_WEBHOOK_SECRET_ARN": arn}, sleeper=Recorder())
    report = router.outputs["slack"].send([make_alert()])
    assert statuses(report) == [Status.PERMANENT]
    assert "ResourceNotFoundException" in report.deliveries[0].reason
    assert slack.requests == []


def test_redactor_catches_a_known_url_even_in_slack_sdk_default_logging(slack, caplog) -> None:
    """Second line of defence: a plain WebhookClient (its default logger logs the URL at
    DEBUG) cannot print a webhook URL that dasalert has seen."""
    from slack_sdk.webhook import WebhookClient

    url = slack.webhook_url
    SlackOutput(WebhookTransport(lambda: url), policy=RetryPolicy(attempts=1)).send([make_alert()])
    caplog.set_level(logging.DEBUG)
    WebhookClient(url).send(text="x")
    sdk = [r.getMessage() for r in caplog.records if r.name == "slack_sdk.webhook.client"]
    assert sdk and any("[redacted]" in m for m in sdk)
    assert slack.webhook_path not in caplog.text
