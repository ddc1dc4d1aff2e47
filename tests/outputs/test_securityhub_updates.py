"""Security Hub through moto: resources by ARN, and escalations re-importing the same finding.

Read back with ``GetFindings`` (moto stores what ``BatchImportFindings`` sent, a re-import of
an Id replacing its fields, as Security Hub does for a provider's update).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import boto3

from engine.alerts import Alert
from engine.outputs import asff
from engine.outputs.base import Status
from engine.outputs.retry import RetryPolicy
from engine.outputs.securityhub import SecurityHubOutput
from tests.outputs.factory import HOSTILE, make_alert
from tests.support.clock import Clock

T0 = dt.datetime(2026, 1, 2, 4, 0, 0, tzinfo=dt.UTC)
ACCOUNT = "123456789012"
CLUSTER_ARN = "arn:aws:rds:eu-west-1:210987654321:cluster:orders-prod"
INSTANCE_ARN = "arn:aws:rds:eu-west-1:210987654321:db:orders-prod-1"


def output(clock: Clock) -> SecurityHubOutput:
    return SecurityHubOutput(
        boto3.client("securityhub"),
        sts=lambda: boto3.client("sts"),
        clock=clock,
        policy=RetryPolicy(sleeper=lambda s: None),
    )


def findings() -> list[dict[str, Any]]:
    return boto3.client("securityhub").get_findings(MaxResults=100)["Findings"]


def resolved(**overrides: Any) -> Alert:
    resource = {
        "id": "cluster-ABCDEFGHIJKLMNOP",
        "kind": "cluster",
        "name": "orders-prod",
        "arn": CLUSTER_ARN,
        "account": "210987654321",
        "region": "eu-west-1",
        "instance": {"id": "db-QRSTUVWXYZ012345", "name": "orders-prod-1", "arn": INSTANCE_ARN},
    }
    ctx = {"resource": resource, **overrides.pop("context", {})}
    return make_alert(context=ctx, **overrides)


def escalated(alert: Alert, step: int, severity: str, previous: str, *reasons: str) -> Alert:
    ctx = {
        **alert.context,
        "escalation": {"step": step, "reasons": list(reasons), "previous_severity": previous},
    }
    return dataclasses.replace(alert, severity=severity, context=ctx, count=alert.count + 40)


def test_resolved_resources_are_named_by_arn(aws) -> None:
    report = output(Clock(T0)).send([resolved()])
    assert [d.status for d in report.deliveries] == [Status.DELIVERED]
    (f,) = findings()
    cluster, instance = f["Resources"]
    assert (cluster["Type"], cluster["Id"]) == ("AwsRdsDbCluster", CLUSTER_ARN)
    assert cluster["Region"] == "eu-west-1" and cluster["Partition"] == "aws"
    assert cluster["Details"]["AwsRdsDbCluster"] == {
        "DbClusterResourceId": "cluster-ABCDEFGHIJKLMNOP",
        "DbClusterIdentifier": "orders-prod",
    }
    assert (instance["Type"], instance["Id"]) == ("AwsRdsDbInstance", INSTANCE_ARN)
    assert instance["Details"]["AwsRdsDbInstance"] == {
        "DbiResourceId": "db-QRSTUVWXYZ012345",
        "DBInstanceIdentifier": "orders-prod-1",
        "DBClusterIdentifier": "orders-prod",
    }
    assert f["ProductFields"]["dasalert/ResourceName"] == "orders-prod"


def test_unresolved_or_implausible_arns_keep_the_resource_id(aws) -> None:
    alert = make_alert(
        context={
            "resource": {
                "id": "cluster-ABCDEFGHIJKLMNOP",
                "kind": "cluster",
                "name": None,
                "arn": None,
            }
        }
    )
    forged = resolved(n=1)
    forged.context["resource"]["arn"] = "arn:aws:rds:eu-west-1:210987654321:cluster:" + HOSTILE
    forged.context["resource"]["instance"]["arn"] = "https://evil.example"
    output(Clock(T0)).send([alert, forged])
    by_id = {f["Id"]: f for f in findings()}
    plain = [(r["Type"], r["Id"]) for r in by_id[alert.id]["Resources"]]
    assert plain == [
        ("AwsRdsDbCluster", "cluster-ABCDEFGHIJKLMNOP"),
        ("AwsRdsDbInstance", "db-QRSTUVWXYZ012345"),
    ]
    assert by_id[alert.id]["Resources"][0]["Details"]["AwsRdsDbCluster"] == {
        "DbClusterResourceId": "cluster-ABCDEFGHIJKLMNOP"
    }
    assert [r["Id"] for r in by_id[forged.id]["Resources"]] == [
        "cluster-ABCDEFGHIJKLMNOP",
        "db-QRSTUVWXYZ012345",
    ]


def test_an_escalation_updates_the_same_finding_through_provider_fields(aws) -> None:
    clock = Clock(T0)
    out = output(clock)
    first = resolved(severity="high")
    out.send([first])
    (before,) = findings()
    assert before["FindingProviderFields"] == {
        "Severity": {"Label": "HIGH", "Original": "high"},
        "Types": ["TTPs/Persistence"],
    }
    clock.now = T0 + dt.timedelta(minutes=7)
    update = escalated(
        first, 1, "critical", "high", "new verb: DROP TABLE", "severity high → critical"
    )
    report = out.send([update])
    assert [d.status for d in report.deliveries] == [Status.DELIVERED]
    (after,) = findings()  # the same finding, updated in place
    assert after["Id"] == first.id and after["CreatedAt"] == before["CreatedAt"]
    assert after["FindingProviderFields"]["Severity"] == {
        "Label": "CRITICAL",
        "Original": "critical",
    }
    assert after["FindingProviderFields"]["Types"] == ["TTPs/Persistence"]
    # not sent top level (AWS mirrors FindingProviderFields there unless an analyst changed
    # it; moto keeps what the first import said)
    assert after["Severity"] == before["Severity"] == {"Label": "HIGH", "Original": "high"}
    assert after["UpdatedAt"] == "2026-01-02T04:07:00.000Z" > before["UpdatedAt"]
    assert after["Description"].startswith(
        "Escalated (update 1): new verb: DROP TABLE; severity high → critical. "
    )
    fields = after["ProductFields"]
    assert fields["dasalert/EscalationStep"] == "1"
    assert fields["dasalert/EscalationReasons"] == "new verb: DROP TABLE; severity high → critical"
    assert fields["dasalert/PreviousSeverity"] == "high"
    assert fields["dasalert/Count"] == "41"


def test_the_severity_never_goes_down(aws) -> None:
    clock = Clock(T0)
    out = output(clock)
    first = make_alert(severity="critical")
    out.send([first])
    # an update whose own severity is lower than what was imported (another container's
    # escalation said so): the escalation's previous severity holds it up
    lower = escalated(first, 2, "medium", "critical", "new user: x")
    clock.now = T0 + dt.timedelta(minutes=1)
    out.send([lower])
    (f,) = findings()
    assert f["Severity"]["Label"] == "CRITICAL"
    assert f["FindingProviderFields"]["Severity"]["Label"] == "CRITICAL"
    # a plain repeat with a lower severity: this container remembers what it imported
    clock.now = T0 + dt.timedelta(minutes=2)
    out.send([dataclasses.replace(first, severity="low", count=9)])
    (f,) = findings()
    assert f["FindingProviderFields"]["Severity"]["Label"] == "CRITICAL"
    assert f["ProductFields"]["dasalert/Count"] == "9"


def test_escalation_text_is_cleaned_and_cut() -> None:
    alert = escalated(make_alert(), 3, "high", "high", HOSTILE * 200, "new host: 1.2.3.4")
    finding = asff.build_finding(alert, account_id=ACCOUNT, region="us-east-1", now=T0)
    assert asff.problems(finding) == []
    assert len(finding["Description"]) <= asff.DESCRIPTION_MAX
    assert "\x07" not in finding["Description"] and "\u202e" not in finding["Description"]
    assert len(finding["ProductFields"]["dasalert/EscalationReasons"]) <= asff.PRODUCT_FIELD_MAX
    assert finding["Description"].startswith("Escalated (update 3): ")


def test_folded_values_reach_product_fields() -> None:
    alert = make_alert(
        context={
            "folded": {
                "verbs": ["CREATE TABLE", "DROP TABLE"],
                "users": ["app"],
                "more": {"verbs": 4},
            }
        }
    )
    fields = asff.build_finding(alert, account_id=ACCOUNT, region="us-east-1", now=T0)[
        "ProductFields"
    ]
    assert fields["dasalert/FoldedVerbs"] == "CREATE TABLE, DROP TABLE +4 more"
    assert fields["dasalert/FoldedUsers"] == "app"
    assert "dasalert/FoldedHosts" not in fields


def test_top_level_severity_and_types_only_when_the_finding_may_be_new() -> None:
    alert = make_alert(severity="high")
    new = asff.build_finding(alert, account_id=ACCOUNT, region="us-east-1", now=T0)
    assert new["Severity"] == new["FindingProviderFields"]["Severity"]
    assert new["Types"] == new["FindingProviderFields"]["Types"] == ["TTPs/Persistence"]
    for update in (
        asff.build_finding(alert, account_id=ACCOUNT, region="us-east-1", now=T0, update=True),
        asff.build_finding(
            escalated(alert, 1, "critical", "high", "new verb: DROP TABLE"),
            account_id=ACCOUNT,
            region="us-east-1",
            now=T0,
        ),
    ):
        assert "Severity" not in update and "Types" not in update
        assert asff.problems(update) == []
    broken = dict(new)
    del broken["Severity"], broken["FindingProviderFields"]
    assert "Severity is missing" in asff.problems(broken)  # neither here nor there
    broken["FindingProviderFields"] = {"Severity": {"Label": "SEVERE"}, "Types": ["Bad"]}
    assert asff.problems(broken) == [
        "FindingProviderFields.Severity.Label is not a Security Hub label",
        "FindingProviderFields.Types entry 'Bad' is not namespace/category",
    ]
