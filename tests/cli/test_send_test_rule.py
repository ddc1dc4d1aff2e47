"""``dasalert send-test --rule ID --event FILE``: the alert a real event would produce, sent
through a real output (the local Slack server, SNS on moto); and the failures a first run meets
(no credentials, a timeout too short, a rule that does not match) as sentences, not tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from engine.cli import main
from engine.cli.send_test import NoAlert, SendTestError, rule_alerts

RULE = """\
id: ddl-by-app
title: "DDL by {dbUserName} on {databaseName}: {das.verb}"
description: An application user changed the schema.
severity: high
runbook: https://wiki.example.com/runbooks/ddl
when: das.action == 'DDL' && dbUserName != 'rdsadmin'
dedup:
  key: dbUserName
  window: 1h
"""

EVENT = {
    "logTime": "2026-11-20 09:14:00.120000+00",
    "statementId": 7,
    "command": "DROP TABLE",
    "objectName": "public.audit_log",
    "databaseName": "orders",
    "dbUserName": "app_orders",
    "remoteHost": "10.0.12.34",
    "sessionId": "6745a3f0.1f2c",
    "rowCount": 0,
    "commandText": "DROP TABLE public.audit_log",
    "clientApplication": "psql",
    "class": "DDL",
    "serverType": "PostgreSQL",
    "type": "record",
}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ddl-by-app.yaml").write_text(RULE)
    match = tmp_path / "drop.json"
    match.write_text(json.dumps(EVENT))
    admin = tmp_path / "admin.json"
    admin.write_text(json.dumps({**EVENT, "dbUserName": "rdsadmin"}))
    return {"rules": str(rules), "match": str(match), "admin": str(admin)}


def test_the_alert_of_the_event_through_the_engine(files) -> None:
    (alert,) = rule_alerts("ddl-by-app", files["match"], [files["rules"]])
    assert alert.title == "TEST: DDL by app_orders on orders: DROP TABLE"
    assert alert.id.startswith("dasalert-test-") and alert.context["test_of"] != alert.id
    assert alert.kind == "rule" and alert.severity == "high" and alert.dedup_key


def test_a_rule_that_does_not_alert_says_why(files, capsys) -> None:
    with pytest.raises(NoAlert) as err:
        rule_alerts("ddl-by-app", files["admin"], [files["rules"]])
    assert "did not alert" in str(err.value)
    assert "dbUserName != 'rdsadmin'  → false ✗" in str(err.value)
    code = main(
        ["send-test", "--output", "console", "--rule", "ddl-by-app", "--event", files["admin"],
         "--rules", files["rules"]]
    )  # fmt: skip
    assert code == 1
    captured = capsys.readouterr()
    assert "did not alert" in captured.err and "Traceback" not in captured.err
    assert captured.out == ""  # nothing sent


def test_unknown_rule_and_missing_file_are_usage_errors(files, capsys) -> None:
    with pytest.raises(SendTestError, match=r"no rule 'ddl-by-ap'.*did you mean ddl-by-app"):
        rule_alerts("ddl-by-ap", files["match"], [files["rules"]])
    with pytest.raises(SendTestError, match="is not a file"):
        rule_alerts("ddl-by-app", files["match"] + ".missing", [files["rules"]])
    assert main(["send-test", "--output", "console", "--rule", "ddl-by-app"]) == 2
    assert "--rule and --event go together" in capsys.readouterr().err


def test_slack_gets_the_real_message(files, slack, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.webhook_url)
    monkeypatch.delenv("DASALERT_OUTPUTS", raising=False)
    code = main(
        ["send-test", "--output", "slack", "--rule", "ddl-by-app", "--event", files["match"],
         "--rules", files["rules"]]
    )  # fmt: skip
    assert code == 0
    (request,) = slack.requests
    blocks = request.json["blocks"]
    assert blocks[0]["text"]["text"].startswith(":large_orange_circle: HIGH · TEST: DDL by app")
    fields = " ".join(f["text"] for f in blocks[1]["fields"])
    assert "DROP TABLE public.audit_log · 0 rows" in fields
    assert "app_orders @ 10.0.12.34" in fields and "6745a3f0.1f2c" in fields
    out = capsys.readouterr().out
    assert out.startswith("[HIGH] TEST: DDL by app_orders on orders: DROP TABLE\n")
    assert out.rstrip().endswith(": delivered")


def test_sns_gets_the_alert_document(files, aws, monkeypatch) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    monkeypatch.setenv("SNS_TOPIC_ARN", topic)
    code = main(
        ["send-test", "--output", "sns", "--rule", "ddl-by-app", "--event", files["match"],
         "--rules", files["rules"]]
    )  # fmt: skip
    assert code == 0
    (msg,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(msg["Body"])
    assert "TEST: DDL by app_orders on orders: DROP TABLE" in body["Message"]


@pytest.fixture
def only_region(monkeypatch, tmp_path):
    """Nothing but AWS_REGION: no credentials anywhere botocore looks (and no metadata
    service: the lookup must not leave the machine)."""
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "SNS_TOPIC_ARN",
        "SECURITYHUB_ENABLED",
        "DASALERT_OUTPUTS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.parametrize("output", ["sns", "securityhub"])
def test_only_aws_region_set_is_a_sentence_not_a_traceback(only_region, output, capsys) -> None:
    assert main(["send-test", "--output", output]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("dasalert send-test: ")
    if output == "sns":
        assert "SNS_TOPIC_ARN" in err
    else:
        assert "no AWS credentials found for the securityhub output" in err


def test_sns_with_a_topic_but_no_credentials(only_region, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SNS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:alerts")
    assert main(["send-test", "--output", "sns"]) == 2
    assert "no AWS credentials found for the sns output" in capsys.readouterr().err


def test_a_timeout_too_short_to_try_says_so(slack, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.webhook_url)
    assert main(["send-test", "--output", "slack", "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert "--timeout 2s is too short to try" in err and "use --timeout 10 or more" in err
    assert slack.requests == []


def test_help_lists_the_environment(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["send-test", "--help"])
    out = capsys.readouterr().out
    for var in ("SLACK_WEBHOOK_URL", "SNS_TOPIC_ARN", "SECURITYHUB_ENABLED", "AWS_REGION",
                "DASALERT_RULES", "SLACK_HERE_SEVERITY"):  # fmt: skip
        assert var in out


def test_resource_names_give_the_preview_its_console_link(files, tmp_path, monkeypatch) -> None:
    event = tmp_path / "cluster.json"
    event.write_text(json.dumps({**EVENT, "clusterId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"}))
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv(
        "DASALERT_RESOURCE_NAMES", json.dumps({"cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ": "orders-prod"})
    )
    (alert,) = rule_alerts("ddl-by-app", str(event), [files["rules"]])
    assert alert.context["resource"]["name"] == "orders-prod"
    from engine.alerts.plaintext import render_text

    assert "#database:id=orders-prod;is-cluster=true" in render_text(alert)


def test_securityhub_with_only_the_region_and_credentials(aws, monkeypatch, capsys) -> None:
    for var in ("SECURITYHUB_ENABLED", "SECURITYHUB_ACCOUNT_ID", "DASALERT_OUTPUTS"):
        monkeypatch.delenv(var, raising=False)
    assert main(["send-test", "--output", "securityhub"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(": delivered")
    (finding,) = boto3.client("securityhub").get_findings()["Findings"]
    assert finding["Region"] == "us-east-1" and finding["AwsAccountId"].isdigit()
