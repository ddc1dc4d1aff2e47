"""Security Hub through moto: fields, one finding per alert id, validation, batching."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest

from engine.outputs import asff
from engine.outputs.base import Status
from engine.outputs.retry import RetryPolicy
from engine.outputs.routing import Router
from engine.outputs.securityhub import SecurityHubOutput
from engine.pipeline.env import ConfigError
from tests.outputs.factory import make_alert
from tests.support.clock import Clock

T0 = dt.datetime(2026, 1, 2, 4, 0, 0, tzinfo=dt.UTC)
ACCOUNT = "123456789012"  # moto's default account


def output(clock: Clock) -> SecurityHubOutput:
    return SecurityHubOutput(
        boto3.client("securityhub"),
        sts=lambda: boto3.client("sts"),
        clock=clock,
        policy=RetryPolicy(sleeper=lambda s: None),
    )


def findings() -> list[dict]:
    return boto3.client("securityhub").get_findings(MaxResults=100)["Findings"]


def test_finding_fields_in_security_hub(aws) -> None:
    alert = make_alert(
        severity="critical",
        tags=("attack.credential_access", "attack.exfiltration", "attack.t1110"),
        count=3,
        last_seen="2026-01-02T03:10:00Z",
    )
    report = output(Clock(T0)).send([alert])
    assert [d.status for d in report.deliveries] == [Status.DELIVERED]
    (f,) = findings()
    assert f["SchemaVersion"] == "2018-10-08"
    assert f["Id"] == alert.id and f["GeneratorId"] == "ddl-by-non-admin"
    assert f["AwsAccountId"] == ACCOUNT  # from STS
    assert f["ProductArn"] == f"arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default"
    assert f["Types"] == ["TTPs/Credential Access", "Effects/Data Exfiltration"]
    assert f["Severity"] == {"Label": "CRITICAL", "Original": "critical"}
    assert f["CreatedAt"] == f["FirstObservedAt"] == "2026-01-02T03:04:05.678Z"
    assert f["LastObservedAt"] == "2026-01-02T03:10:00.000Z"
    assert f["UpdatedAt"] == "2026-01-02T04:00:00.000Z"
    assert f["Title"] == alert.title and f["ProductFields"]["dasalert/Count"] == "3"
    assert f["Description"].startswith(
        "A user outside the admin list changed the schema. — 3 events"
    )
    assert "user app from 10.0.1.23 via psql on database orders (postgres)" in f["Description"]
    assert [(r["Type"], r["Id"]) for r in f["Resources"]] == [
        ("AwsRdsDbCluster", "cluster-ABCDEFGHIJKLMNOP"),
        ("AwsRdsDbInstance", "db-QRSTUVWXYZ012345"),
    ]
    assert f["Resources"][0]["Details"]["AwsRdsDbCluster"]["DbClusterResourceId"] == (
        "cluster-ABCDEFGHIJKLMNOP"
    )
    assert f["Region"] == "us-east-1" and f["Resources"][0]["Region"] == "us-east-1"
    assert f["ProductFields"]["dasalert/AttackTechniques"] == "T1110"
    assert f["ProductFields"]["dasalert/SqlRedacted"] == "CREATE TABLE t (id int)"
    assert f["Network"] == {"Direction": "IN", "SourceIpV4": "10.0.1.23"}
    assert f["SourceUrl"] == "https://wiki.example.com/runbooks/ddl"


def test_repeat_of_an_alert_updates_the_one_finding(aws) -> None:
    """moto keeps one finding per Id and merges the new fields in, which is what AWS does for a
    newer UpdatedAt; moto does not check that UpdatedAt moves forward, so we cannot show that."""
    clock = Clock(T0)
    out = output(clock)
    out.send([make_alert(count=1)])
    clock.now = T0 + dt.timedelta(minutes=5)
    again = make_alert(count=9, last_seen="2026-01-02T03:30:00+00:00")
    report = out.send([again, again])  # even twice in one batch: one finding
    assert [d.status for d in report.deliveries] == [Status.DELIVERED] * 2
    (f,) = findings()
    assert f["ProductFields"]["dasalert/Count"] == "9"
    assert f["CreatedAt"] == "2026-01-02T03:04:05.678Z"  # unchanged: event time
    assert f["UpdatedAt"] == "2026-01-02T04:05:00.000Z"
    assert f["LastObservedAt"] == "2026-01-02T03:30:00.000Z"


def test_batches_of_100(aws) -> None:
    out = output(Clock(T0))
    calls: list[int] = []
    out.client.meta.events.register(
        "provide-client-params.securityhub.BatchImportFindings",
        lambda params, **_: calls.append(len(params["Findings"])),
    )
    alerts = [make_alert(i) for i in range(150)]
    report = out.send(alerts)
    assert calls == [100, 50]
    assert len(report.delivered) == 150
    ids = set()
    client = boto3.client("securityhub")
    for page in client.get_paginator("get_findings").paginate():
        ids.update(f["Id"] for f in page["Findings"])
    assert ids == {a.id for a in alerts}


def test_invalid_finding_is_permanent_and_named_the_rest_go_on(aws) -> None:
    out = SecurityHubOutput(
        boto3.client("securityhub"), account_id="not-an-account", clock=Clock(T0)
    )
    report = out.send([make_alert(1), make_alert(2, context={"aws_account_id": ACCOUNT})])
    bad, good = report.deliveries
    assert bad.status is Status.PERMANENT
    assert "AwsAccountId 'not-an-account' is not a 12-digit account id" in bad.reason
    assert good.status is Status.DELIVERED
    assert [f["Id"] for f in findings()] == [good.alert_id]


def test_account_and_region_from_the_stream_arn(aws) -> None:
    arn = "arn:aws:kinesis:eu-west-1:210987654321:stream/aws-rds-das-cluster-ABC"
    out = SecurityHubOutput(boto3.client("securityhub"), clock=Clock(T0))  # no STS needed
    f = out.finding(make_alert(context={"stream_arn": arn}), T0)
    assert f["AwsAccountId"] == "210987654321" and f["Region"] == "eu-west-1"
    assert f["ProductArn"] == (
        "arn:aws:securityhub:eu-west-1:210987654321:product/210987654321/default"
    )


def test_failed_findings_are_reported_per_finding(aws) -> None:
    """moto refuses a finding without Resources: that one alone fails (InvalidInput)."""
    out = output(Clock(T0))
    good = out.finding(make_alert(1), T0)
    bad = dict(out.finding(make_alert(2), T0), Resources=[])
    results = out._import([good["Id"], bad["Id"]], {good["Id"]: good, bad["Id"]: bad})
    assert results[good["Id"]].status is Status.DELIVERED
    assert results[bad["Id"]].status is Status.PERMANENT
    assert "InvalidInput" in results[bad["Id"]].reason


def test_problems_name_every_missing_field() -> None:
    assert asff.problems({}) == [
        "SchemaVersion is missing",
        "Id is missing",
        "ProductArn is missing",
        "GeneratorId is missing",
        "AwsAccountId is missing",
        "Types is missing",
        "CreatedAt is missing",
        "UpdatedAt is missing",
        "Severity is missing",
        "Title is missing",
        "Description is missing",
        "Resources is missing",
    ]


def test_limits_and_mappings() -> None:
    alert = make_alert(
        title="x" * 1000, description="d" * 5000, severity="info", tags=("foo", "attack.impact")
    )
    f = asff.build_finding(alert, account_id=ACCOUNT, region="us-east-1", now=T0)
    assert asff.problems(f) == []
    assert len(f["Title"]) == 256 and len(f["Description"]) == 1024
    assert f["Severity"]["Label"] == "INFORMATIONAL"
    assert f["Types"] == ["Effects/Data Destruction"]
    assert asff.asff_types(()) == ["Unusual Behaviors/User"]
    assert asff.asff_types(("asff:Sensitive Data Identifications/PII",)) == [
        "Sensitive Data Identifications/PII"
    ]
    assert asff.asff_types((), kind="pipeline")[0].startswith("Software and Configuration Checks/")
    assert asff.timestamp("2019-10-30 00:39:49.990579+00", T0) == "2019-10-30T00:39:49.990Z"
    assert asff.timestamp("garbage", T0) == "2026-01-02T04:00:00.000Z"


def test_pipeline_alert_without_database_has_an_other_resource() -> None:
    alert = make_alert(kind="pipeline", event={"das": {}}, tags=())
    f = asff.build_finding(alert, account_id=ACCOUNT, region="us-east-1", now=T0)
    assert asff.problems(f) == []
    assert f["Resources"][0]["Type"] == "Other"


def test_from_env(aws) -> None:
    router = Router.from_env({"SECURITYHUB_ENABLED": "true"})
    assert router.enabled == ("securityhub",) and router.min_severity["securityhub"] == "low"
    with pytest.raises(ConfigError, match="SECURITYHUB_ENABLED: expected true or false"):
        Router.from_env({"SECURITYHUB_ENABLED": "maybe"})
    with pytest.raises(ConfigError, match="SECURITYHUB_ACCOUNT_ID"):
        Router.from_env({"SECURITYHUB_ENABLED": "1", "SECURITYHUB_ACCOUNT_ID": "12"})
