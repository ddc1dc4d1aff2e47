"""One stack, many streams: the same attacker against two clusters is one incident where the rule
groups by source host only — one alert id, one count — and two where it groups by cluster too.

Two clusters' activity streams (each record encrypted under its own cluster's KMS encryption
context, each batch from its own stream ARN, as Lambda invokes one batch per shard) go through
the stream function in turn; what joins them is only the shared DynamoDB state table and the
alert ids, which are built from rule + key + window and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.das.encoder import Encoder, kinesis_event, stream_arn
from engine.das.keys import KmsKeyProvider
from handlers import _runtime
from handlers.kinesis import handler
from tests.handlers.conftest import Deployment
from tests.pipeline.support import CLUSTER, INSTANCE, FakeContext, ddl, failed_login

OTHER = "cluster-CROSSCLUSTERBBBBBBBBBBBBBB"
OTHER_INSTANCE = "db-CROSSCLUSTERINSTANCEBBBBBB"
ATTACKER = "203.0.113.66"

RULES = {
    # the same host guessing passwords anywhere in the fleet
    "fleet-brute-force.yaml": """\
id: fleet-brute-force
title: "Failed logins from {das.sourceHost} across the fleet"
description: Four failed logins from one host within 5 minutes, whatever the database.
severity: high
when: das.action == 'LOGIN_FAILED'
threshold: {count: 4, window: 5m, group_by: "das.sourceHost"}
""",
    # the same, per database: 2 + 2 never reaches 4
    "db-brute-force.yaml": """\
id: db-brute-force
title: "Failed logins from {das.sourceHost} on one database"
description: Four failed logins from one host within 5 minutes on one database.
severity: high
when: das.action == 'LOGIN_FAILED'
threshold:
  count: 4
  window: 5m
  group_by: "[das.clusterId || das.instanceId, das.sourceHost]"
""",
    # password spraying: three different users from one host, whatever the database
    "fleet-spray.yaml": """\
id: fleet-spray
title: "Password spraying from {das.sourceHost} across the fleet"
description: Three different users failing to log in from one host within 5 minutes.
severity: high
when: das.action == 'LOGIN_FAILED'
threshold: {count: 3, distinct: das.user, window: 5m, group_by: "das.sourceHost"}
""",
    # one alert per host and hour for DDL, wherever it runs
    "host-ddl.yaml": """\
id: host-ddl
title: "DDL from {das.sourceHost}"
description: DDL from one host, one alert per hour across the fleet.
severity: medium
when: das.action == 'DDL'
dedup: {key: "das.sourceHost", window: 1h}
""",
}


def _from(host: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for ev in events:
        ev["remoteHost"] = host
    return events


def _event(
    d: Deployment, cluster: str, instance: str, batches: list[list[dict]], first: int
) -> dict:
    encoder = Encoder(KmsKeyProvider(d.kms, key_id=d.key_arn), cluster)
    payloads = [encoder.encode(b, cluster_id=cluster, instance_id=instance) for b in batches]
    return kinesis_event(payloads, stream_arn(cluster), first_sequence=first)


def test_one_attacker_on_two_clusters_is_one_incident(
    deployment: Deployment, tmp_path: Path
) -> None:
    d = deployment
    rules = tmp_path / "fleet-rules"
    rules.mkdir()
    for name, text in RULES.items():
        (rules / name).write_text(text)
    d.monkeypatch.setenv("DASALERT_RULES", str(rules))
    _runtime.reset()

    a = _event(
        d,
        CLUSTER,
        INSTANCE,
        [_from(ATTACKER, [failed_login("admin", 0, 1), failed_login("root", 10, 2)])],
        first=1000,
    )
    a_ddl = _event(d, CLUSTER, INSTANCE, [_from(ATTACKER, [ddl("admin", 30, 3)])], first=1100)
    b = _event(
        d,
        OTHER,
        OTHER_INSTANCE,
        [_from(ATTACKER, [failed_login("admin", 20, 1), failed_login("dba", 40, 2)])],
        first=2000,
    )
    b_ddl = _event(d, OTHER, OTHER_INSTANCE, [_from(ATTACKER, [ddl("dba", 50, 3)])], first=2100)

    for event in (a, a_ddl, b, b_ddl):  # two streams, as the mappings invoke them
        assert handler(event, FakeContext()) == {"batchItemFailures": []}

    messages = d.sns_messages()
    by_rule: dict[str, list[dict]] = {}
    for m in messages:
        by_rule.setdefault(m["rule_id"], []).append(m)
    # the fleet-wide threshold: 2 + 2 from one host = one alert, counted across both clusters
    (fleet,) = by_rule["fleet-brute-force"]
    assert fleet["count"] == 4
    assert fleet["title"] == f"Failed logins from {ATTACKER} across the fleet"
    # the per-database form of the same rule sees 2 and 2: no alert
    assert "db-brute-force" not in by_rule
    # distinct users from the host: admin, root on one cluster, admin, dba on the other = 3
    (spray,) = by_rule["fleet-spray"]
    assert spray["event"]["das"]["clusterId"] == OTHER
    # the host-keyed dedup: one alert id for the DDL on both clusters, announced once (and,
    # where the second cluster's DDL brings something new, e.g. another user, updated under the
    # same id with count 2: never a second incident)
    ddl_alert, *updates = sorted(by_rule["host-ddl"], key=lambda m: m["count"])
    assert ddl_alert["count"] == 1
    assert ddl_alert["event"]["das"]["clusterId"] == CLUSTER  # the first cluster it was seen on
    assert {m["id"] for m in updates} <= {ddl_alert["id"]}
    assert all(m["count"] == 2 and "escalation" in m["context"] for m in updates)
    findings = {f["Id"]: f for f in d.findings()}
    assert set(findings) == {fleet["id"], spray["id"], ddl_alert["id"]}

    # What the one alert does not say: the threshold alert carries the event that reached the
    # count (cluster B), so it names one cluster, not both.
    assert fleet["event"]["das"]["clusterId"] == OTHER

    # Redelivery of either stream's batch sends nothing again (same ids, same markers).
    for event in (a, b):
        assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert d.sns_messages() == []
