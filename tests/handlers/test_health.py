"""handlers.health, the heartbeat watchdog, on moto: silent and never-seen resources alert once."""

from __future__ import annotations

import time

import boto3

from engine.pipeline.batch import HEARTBEAT_NS
from engine.pipeline.state_dynamodb import DynamoDBStateStore
from handlers.health import handler
from handlers.kinesis import handler as stream_handler
from tests.handlers.conftest import TABLE, Deployment
from tests.pipeline.support import CLUSTER, FakeContext, select

SILENT = "cluster-SILENTSINCEANHOURAAAAAAAA"
NEVER = "db-CONFIGUREDBUTNEVERSEENAAAA"


def test_watchdog_alerts_on_silence_once_per_episode(deployment: Deployment) -> None:
    d = deployment
    d.monkeypatch.setenv("DASALERT_HEARTBEAT_MAX_SILENCE", "10m")
    d.monkeypatch.setenv("DASALERT_EXPECTED_RESOURCES", f"{CLUSTER},{NEVER}")
    # the stream function hears CLUSTER now; SILENT was last heard an hour ago
    stream_handler(d.event([select("app", 1)], heartbeats=3), FakeContext())
    store = DynamoDBStateStore(TABLE, boto3.client("dynamodb"))
    store.record_max(HEARTBEAT_NS, SILENT, time.time() - 3600)

    result = handler({}, FakeContext())
    assert result["watched"] == sorted([CLUSTER, SILENT])
    assert result["silent"] == sorted([SILENT, NEVER])
    assert len(result["alerts_sent"]) == 2 and result["alerts_failed"] == []
    titles = sorted(m["title"] for m in d.sns_messages())
    assert titles[0].startswith(f"Activity stream of {SILENT} silent for 60 min")
    assert titles[1] == f"Activity stream of {NEVER} has never reported"
    assert len(d.slack.requests) >= 1

    # five minutes later, still silent: no second page for the same episode
    result = handler({}, FakeContext())
    assert result["silent"] == sorted([SILENT, NEVER])
    assert d.sns_messages() == []


def test_watchdog_is_quiet_when_every_stream_beats(deployment: Deployment) -> None:
    d = deployment
    d.monkeypatch.setenv("DASALERT_EXPECTED_RESOURCES", CLUSTER)
    stream_handler(d.event([], heartbeats=2), FakeContext())
    result = handler({}, FakeContext())
    assert result == {"watched": [CLUSTER], "silent": [], "alerts_sent": [], "alerts_failed": []}
    assert d.sns_messages() == []
