"""template.yaml, offline: SAM transforms it, cfn-lint finds no error, IAM is least privilege.

The transform runs exactly as `sam deploy` would run it (after `sam package` replaced ``CodeUri``
with an S3 URI), with a managed-policy loader that needs no AWS account: the template names no
AWS managed policy, so an empty map is the truth, not a stub that hides something.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent

CLUSTER_PARAMS = {
    "StreamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/aws-rds-das-cluster-ABCDEFGHIJ",
    "ResourceId": "cluster-ABCDEFGHIJ",
    "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "SlackWebhookSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbCdEf",
    "AlertEmail": "secops@example.com",
}


class NoManagedPolicies:
    """The loader SAM asks for AWS managed policy ARNs; the template uses none."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return yaml_parse((ROOT / "template.yaml").read_text())


def _transform(source: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    tpl = copy.deepcopy(source)
    tpl["Globals"]["Function"]["CodeUri"] = "s3://dasalert-artifacts/dasalert.zip"  # sam package
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")  # SAM resolves AWS::Region offline from it
        return transform(tpl, params, NoManagedPolicies())


@pytest.fixture(scope="module")
def transformed(source: dict[str, Any]) -> dict[str, Any]:
    return _transform(source, CLUSTER_PARAMS)


def _resources(tpl: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == rtype}


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["Statement"]


def test_sam_transforms_and_cfn_lint_finds_no_error(transformed: dict[str, Any]) -> None:
    matches = lint(json.dumps(transformed), regions=["us-east-1"])
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    warnings = [str(m) for m in matches if m.rule.id.startswith("W")]
    assert warnings == []


def test_instance_resource_ids_transform_too(source: dict[str, Any]) -> None:
    params = dict(
        CLUSTER_PARAMS,
        StreamArn="arn:aws:kinesis:us-east-1:123456789012:stream/aws-rds-das-db-ABCDEFGHIJ",
        ResourceId="db-ABCDEFGHIJ",
        SlackWebhookSecretArn="",
        AlertEmail="",
        SecurityHubEnabled="false",
    )
    out = _transform(source, params)
    assert [str(m) for m in lint(json.dumps(out), regions=["us-east-1"])] == []


def test_function_runtime_and_kinesis_event_source(transformed: dict[str, Any]) -> None:
    fn = transformed["Resources"]["StreamFunction"]["Properties"]
    assert fn["Runtime"] == "python3.12"
    assert fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "handlers.kinesis.handler"
    env = fn["Environment"]["Variables"]
    for var in (
        "DASALERT_RULES",
        "DASALERT_RESOURCE_ID",
        "SNS_TOPIC_ARN",
        "SLACK_WEBHOOK_SECRET_ARN",
        "SECURITYHUB_ENABLED",
        "DASALERT_STATE_TABLE",
        "DASALERT_DLQ_URL",
        "LOG_LEVEL",
    ):
        assert var in env, var
    (esm,) = _resources(transformed, "AWS::Lambda::EventSourceMapping").values()
    p = esm["Properties"]
    assert p["EventSourceArn"] == {"Ref": "StreamArn"}
    assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert p["BisectBatchOnFunctionError"] is True
    assert p["StartingPosition"] == {"Ref": "StartingPosition"}
    assert p["MaximumRetryAttempts"] >= 1
    assert p["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["StreamFailureQueue", "Arn"]
    }
    for key in ("BatchSize", "MaximumBatchingWindowInSeconds"):
        assert key in p


def test_kms_decrypt_only_on_the_key_under_the_resource_context(source: dict[str, Any]) -> None:
    role = source["Resources"]["StreamFunctionRole"]["Properties"]
    stmts = _statements(role["Policies"][0]["PolicyDocument"])
    kms = [s for s in stmts if "Fn::If" in s]
    assert len(kms) == 1
    cond, cluster, instance = kms[0]["Fn::If"]
    assert cond == "IsCluster"
    for stmt, ctx_key in (
        (cluster, "kms:EncryptionContext:aws:rds:dbc-id"),
        (instance, "kms:EncryptionContext:aws:rds:db-id"),
    ):
        assert stmt["Action"] == "kms:Decrypt"
        assert stmt["Resource"] == {"Ref": "KmsKeyArn"}
        assert stmt["Condition"] == {"StringEquals": {ctx_key: {"Ref": "ResourceId"}}}
    # IsCluster is decided by the resource id's prefix
    assert source["Conditions"]["IsCluster"] == {
        "Fn::Equals": [{"Fn::Select": [0, {"Fn::Split": ["-", {"Ref": "ResourceId"}]}]}, "cluster"]
    }


def test_no_wildcard_resource_or_action_in_function_permissions(
    transformed: dict[str, Any],
) -> None:
    docs = []
    for role in _resources(transformed, "AWS::IAM::Role").values():
        docs += [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
    for pol in _resources(transformed, "AWS::IAM::ManagedPolicy").values():
        docs.append(pol["Properties"]["PolicyDocument"])
    flat = json.dumps(docs)
    assert '"*"' not in flat
    assert ":*" not in flat


def test_each_output_permission_names_exactly_one_resource(source: dict[str, Any]) -> None:
    stmts = _statements(source["Resources"]["OutputsPolicy"]["Properties"]["PolicyDocument"])
    plain = {s["Sid"]: s for s in stmts if "Sid" in s}
    conditional = {s["Fn::If"][1]["Sid"]: s["Fn::If"] for s in stmts if "Fn::If" in s}
    assert plain["PublishAlerts"]["Action"] == "sns:Publish"
    assert plain["PublishAlerts"]["Resource"] == {"Ref": "AlertTopic"}
    assert plain["DeadLetter"]["Action"] == "sqs:SendMessage"
    assert plain["DeadLetter"]["Resource"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert plain["StateTable"]["Resource"] == {"Fn::GetAtt": ["StateTable", "Arn"]}
    assert "dynamodb:Scan" not in plain["StateTable"]["Action"]
    assert "dynamodb:DeleteTable" not in plain["StateTable"]["Action"]
    cond, secret, absent = conditional["SlackWebhookSecret"]
    assert (cond, absent) == ("HasSlack", {"Ref": "AWS::NoValue"})
    assert secret["Action"] == "secretsmanager:GetSecretValue"
    assert secret["Resource"] == {"Ref": "SlackWebhookSecretArn"}
    cond, hub, absent = conditional["ImportFindings"]
    assert (cond, absent) == ("SecurityHubOn", {"Ref": "AWS::NoValue"})
    assert hub["Action"] == "securityhub:BatchImportFindings"
    assert hub["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}"
        ":product/${AWS::AccountId}/default"
    }


def test_encryption_ttl_alarms_and_retention(transformed: dict[str, Any]) -> None:
    res = transformed["Resources"]
    assert res["AlertTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertTopicKey"}
    for q in _resources(transformed, "AWS::SQS::Queue").values():
        assert q["Properties"]["SqsManagedSseEnabled"] is True
    table = res["StateTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    alarms = {
        a["Properties"]["MetricName"]
        for a in _resources(transformed, "AWS::CloudWatch::Alarm").values()
    }
    assert {"IteratorAge", "Errors", "ApproximateNumberOfMessagesVisible"} <= alarms
    for group in _resources(transformed, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    (rule,) = _resources(transformed, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"].startswith("rate(")
    health = res["HealthFunction"]["Properties"]
    assert health["Handler"] == "handlers.health.handler"
    health_env = health["Environment"]["Variables"]
    assert "DASALERT_HEARTBEAT_MAX_SILENCE" in health_env
    # merged with the Globals: the watchdog reads the table and alerts through the same outputs
    assert {"DASALERT_STATE_TABLE", "SNS_TOPIC_ARN", "DASALERT_DLQ_URL"} <= set(health_env)


def test_lambda_console_output_carries_no_sql(transformed: dict[str, Any]) -> None:
    """Experimental rules' alerts go to the console (CloudWatch Logs) by default: the function is
    configured so those lines hold no SQL text."""
    from engine.outputs.routing import Router

    env = transformed["Resources"]["StreamFunction"]["Properties"]["Environment"]["Variables"]
    assert env["CONSOLE_INCLUDE_SQL"] == "false"
    assert "DASALERT_STAGING_OUTPUTS" not in env  # default staging route: the console
    router = Router.from_env({"CONSOLE_INCLUDE_SQL": env["CONSOLE_INCLUDE_SQL"]})
    assert router.staging == ("console",) and router.outputs["console"].include_sql is False


def test_state_table_actions_are_exactly_what_the_store_calls(source: dict[str, Any]) -> None:
    """Least privilege, checked against the code: every DynamoDB call the store makes is
    allowed, and nothing else is."""
    import re

    code = (ROOT / "engine" / "pipeline" / "state_dynamodb.py").read_text()
    called = {
        "dynamodb:" + "".join(part.title() for part in m.split("_"))
        for m in re.findall(r"self\._ddb\.(\w+)\(", code)
    }
    policy = source["Resources"]["OutputsPolicy"]["Properties"]["PolicyDocument"]
    (stmt,) = [s for s in _statements(policy) if s.get("Sid") == "StateTable"]
    assert set(stmt["Action"]) == called


def test_alarm_key_grant_is_limited_to_this_account(source: dict[str, Any]) -> None:
    policy = source["Resources"]["AlertTopicKey"]["Properties"]["KeyPolicy"]
    (stmt,) = [s for s in _statements(policy) if s.get("Sid") == "CloudWatchAlarmsPublish"]
    assert stmt["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
