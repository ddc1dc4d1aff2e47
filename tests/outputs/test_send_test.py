"""``dasalert send-test``: one marked test alert, the delivery report, the exit code."""

from __future__ import annotations

import io
import json

import boto3

from engine.cli import main
from engine.cli.send_test import make_test_alert, send_test
from tests.support.slack_server import SlackResponse


def test_alert_is_clearly_marked() -> None:
    a = make_test_alert()
    assert a.kind == "test" and "TEST" in a.title and a.id.startswith("dasalert-test-")


def test_console_through_the_cli(monkeypatch, capsys) -> None:
    for var in ("DASALERT_OUTPUTS", "CONSOLE_FORMAT"):
        monkeypatch.delenv(var, raising=False)
    assert main(["send-test", "--output", "console"]) == 0
    out = capsys.readouterr().out.splitlines()
    doc = json.loads(out[0])
    assert doc["kind"] == "test" and "TEST" in doc["title"]
    assert out[1] == f"console: {doc['id']}: delivered"


def test_slack_delivered_and_failed(slack) -> None:
    env = {"SLACK_WEBHOOK_URL": slack.webhook_url}
    buf = io.StringIO()
    assert send_test("slack", env, out=buf, sleeper=lambda s: None) == 0
    header = slack.requests[0].json["blocks"][0]["text"]["text"]
    assert header.startswith(":test_tube: TEST · TEST alert")
    assert buf.getvalue().endswith(": delivered\n")
    slack.script(SlackResponse(410, "no_service"))
    buf = io.StringIO()
    assert send_test("slack", env, out=buf, sleeper=lambda s: None) == 1
    assert "failed_permanent (HTTP 410 no_service)" in buf.getvalue()
    assert slack.webhook_path not in buf.getvalue()


def test_sns_through_moto(aws) -> None:
    topic = boto3.client("sns").create_topic(Name="t")["TopicArn"]
    buf = io.StringIO()
    assert send_test("sns", {"SNS_TOPIC_ARN": topic}, out=buf) == 0
    assert "sns: dasalert-test-" in buf.getvalue()


def test_securityhub_through_moto(aws) -> None:
    buf = io.StringIO()
    assert send_test("securityhub", {"SECURITYHUB_ENABLED": "true"}, out=buf) == 0
    (f,) = boto3.client("securityhub").get_findings()["Findings"]
    assert f["Types"] == ["Software and Configuration Checks/dasalert/Test"]
    assert "TEST" in f["Title"] and f["Severity"]["Label"] == "INFORMATIONAL"


def test_unconfigured_output_is_a_configuration_error(capsys) -> None:
    assert send_test("sns", {}, out=io.StringIO()) == 2
    assert "SNS_TOPIC_ARN" in capsys.readouterr().err
