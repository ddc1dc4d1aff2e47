"""Sequence, first-seen and distinct-count rules through the Kinesis handler on moto: state in
DynamoDB across batches, cold starts and redelivery (each ``_runtime.reset()`` is a new container).
"""

from __future__ import annotations

import os
from pathlib import Path

from handlers import _runtime
from handlers.kinesis import handler
from tests.handlers.conftest import Deployment
from tests.pipeline.support import FakeContext, failed_login, select

SEQUENCE = """\
id: test-login-after-failures
title: "Login by {dbUserName} from {remoteHost} after failures"
severity: high
sequence:
  by: "[das.clusterId || das.instanceId, remoteHost]"
  within: 10m
  steps:
    - when: "das.action == 'LOGIN_FAILED'"
      min: 3
    - when: "das.action == 'CONNECT'"
"""
FIRST_SEEN = """\
id: test-new-source
title: "{dbUserName} connects from a new address {remoteHost}"
severity: medium
when: "das.action == 'CONNECT'"
first_seen:
  key: "[dbUserName, remoteHost]"
  scope: "das.clusterId || das.instanceId"
  learn: 1h
  remember: 30d
"""
SPRAY = """\
id: test-spray
title: "Failed logins for many users from {remoteHost}"
severity: high
when: "das.action == 'LOGIN_FAILED'"
threshold: {count: 3, distinct: dbUserName, window: 10m, group_by: remoteHost}
"""


def _rules(d: Deployment, *texts: str) -> None:
    folder = Path(os.environ["DASALERT_RULES"])
    for text in texts:
        rid = text.split("\n", 1)[0].split(": ", 1)[1]
        (folder / f"{rid}.yaml").write_text(text)
    _runtime.reset()


def _at(event: dict, host: str) -> dict:
    event["remoteHost"] = host
    return event


def fail(user: str, at: float, n: int, host: str = "198.51.100.7") -> dict:
    return _at(failed_login(user, at, n), host)


def connect(user: str, at: float, n: int, host: str = "198.51.100.7") -> dict:
    ev = select(user, at, n)
    ev.update({"class": "MISC", "command": "CONNECT", "commandText": None})
    return _at(ev, host)


def _ids(d: Deployment, rule_id: str) -> list[str]:
    return [m["id"] for m in d.sns_messages() if m["rule_id"] == rule_id]


def test_sequence_across_batches_and_cold_starts_fires_once(deployment: Deployment) -> None:
    d = deployment
    _rules(d, SEQUENCE)
    ok = {"batchItemFailures": []}
    assert handler(d.event([fail("bob", 0, 1), fail("bob", 5, 2)], first=100), FakeContext()) == ok
    assert _ids(d, "test-login-after-failures") == []
    _runtime.reset()  # a cold start: only DynamoDB carries the two failures over
    completing = d.event([fail("bob", 10, 3)], [connect("bob", 20, 4)], first=200)
    assert handler(completing, FakeContext()) == ok
    (alert_id,) = _ids(d, "test-login-after-failures")
    _runtime.reset()
    # Kinesis redelivers the completing batch: the alert id is re-emitted, never sent again
    assert handler(completing, FakeContext()) == ok
    assert _ids(d, "test-login-after-failures") == []
    # a success much later from the same host does not complete anything
    assert handler(d.event([connect("bob", 2000, 5)], first=300), FakeContext()) == ok
    assert _ids(d, "test-login-after-failures") == []
    assert alert_id


def test_first_seen_learns_in_one_invocation_and_alerts_in_the_next(
    deployment: Deployment,
) -> None:
    d = deployment
    _rules(d, FIRST_SEEN)
    ok = {"batchItemFailures": []}
    learning = d.event([connect("bob", 0, 1, "10.1.1.1"), connect("ann", 60, 2, "10.1.1.2")])
    assert handler(learning, FakeContext()) == ok
    assert _ids(d, "test-new-source") == []
    _runtime.reset()
    later = d.event(
        [connect("bob", 7200, 3, "10.1.1.1"), connect("bob", 7201, 4, "10.9.9.9")], first=2000
    )
    assert handler(later, FakeContext()) == ok
    assert len(_ids(d, "test-new-source")) == 1
    _runtime.reset()
    assert handler(later, FakeContext()) == ok  # redelivered: nothing new is sent
    assert _ids(d, "test-new-source") == []


def test_distinct_users_add_up_across_invocations(deployment: Deployment) -> None:
    d = deployment
    _rules(d, SPRAY)
    ok = {"batchItemFailures": []}
    assert handler(d.event([fail("a", 0, 1), fail("b", 1, 2)], first=10), FakeContext()) == ok
    _runtime.reset()
    assert handler(d.event([fail("a", 2, 3), fail("c", 3, 4)], first=20), FakeContext()) == ok
    assert len(_ids(d, "test-spray")) == 1
