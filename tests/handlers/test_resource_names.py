"""The deployed stream function names the database of its alerts, through the real handler.

The cluster is named by ``DASALERT_RESOURCE_NAMES`` (the test stream's resource id is not one
moto can create); the instance is asked of RDS on the moto server, which does not know it: the
alert still goes out, with that name unknown.
"""

from __future__ import annotations

import json

import pytest

from engine.pipeline.env import ConfigError
from handlers.kinesis import handler
from tests.handlers.conftest import Deployment
from tests.pipeline.support import CLUSTER, INSTANCE, FakeContext, ddl

ACCOUNT = "210987654321"  # the function's account, from the invocation's ARN


class Context(FakeContext):
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:dasalert-stream"


def test_alerts_carry_the_cluster_arn_to_sns_and_security_hub(deployment: Deployment) -> None:
    d = deployment
    d.monkeypatch.setenv("DASALERT_RESOURCE_NAMES", json.dumps({CLUSTER: "orders-prod"}))
    assert handler(d.event([ddl("mallory", 1)]), Context()) == {"batchItemFailures": []}
    arn = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:orders-prod"
    (msg,) = d.sns_messages()
    assert msg["context"]["resource"] == {
        "id": CLUSTER,
        "kind": "cluster",
        "name": "orders-prod",
        "arn": arn,
        "account": ACCOUNT,
        "region": "us-east-1",
        "instance": {"id": INSTANCE, "name": None, "arn": None},
    }
    (finding,) = d.findings()
    assert [(r["Type"], r["Id"]) for r in finding["Resources"]] == [
        ("AwsRdsDbCluster", arn),
        ("AwsRdsDbInstance", INSTANCE),
    ]
    assert "orders-prod" in "".join(d.slack_alerts())


def test_a_bad_override_map_stops_the_cold_start(deployment: Deployment) -> None:
    d = deployment
    d.monkeypatch.setenv("DASALERT_RESOURCE_NAMES", '{"orders": "orders-prod"}')
    with pytest.raises(ConfigError, match="DASALERT_RESOURCE_NAMES"):
        handler(d.event([ddl("mallory", 1)]), Context())
