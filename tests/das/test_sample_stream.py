"""The bundled demo stream holds what docs/decoding.md promises, in each engine's real shapes."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.das.decoder import Decoder
from engine.das.keys import LocalKeyProvider
from engine.das.sources import iter_records_from_file, resource_id_from_arn
from tests.das.conftest import SAMPLES

ATTACKER = "203.0.113.50"
ADMINS = {"rdsadmin", "RDSADMIN", "rdsa"}
ENGINE_BY_SERVER = {
    "PostgreSQL": "postgres",
    "MySQL": "mysql",
    "oracle": "oracle",
    "SQLSERVER": "sqlserver",
}


@pytest.fixture(scope="module")
def stream() -> dict[str, Any]:
    decoder = Decoder(LocalKeyProvider.from_file(SAMPLES / "demo.key"))
    by_engine: dict[str, list[dict[str, Any]]] = defaultdict(list)
    resources: dict[str, set[str]] = defaultdict(set)
    versions: dict[str, set[str]] = defaultdict(set)
    heartbeat_only = 0
    for rec in iter_records_from_file(SAMPLES / "das-stream.jsonl"):
        out = decoder.decode(rec)
        if not out.events:
            heartbeat_only += out.heartbeats > 0
            continue
        engine = ENGINE_BY_SERVER[out.events[0]["serverType"]]
        by_engine[engine].extend(out.events)
        resources[engine].add(resource_id_from_arn(rec.stream_arn) or "")
        versions[engine].add(out.version)
    return {
        "events": by_engine,
        "resources": resources,
        "versions": versions,
        "heartbeat_only": heartbeat_only,
    }


def _time(event: dict[str, Any]) -> datetime:
    t = datetime.fromisoformat(event["logTime"])
    return t if t.tzinfo else t.replace(tzinfo=UTC)


FAILED_LOGIN = {
    "postgres": lambda e: e["exitCode"] in ("28P01", "28000"),
    "mysql": lambda e: e["command"] == "FAILED_CONNECT" and e["exitCode"] == "1045",
    "oracle": lambda e: e["command"] == "LOGON" and e["exitCode"] != 0,
    "sqlserver": lambda e: e["command"] == "LOGIN FAILED" and e["exitCode"] == 0,
}
PASSWORD_SQL = re.compile(r"PASSWORD\s*=?\s*'|IDENTIFIED BY", re.I)


def test_four_streams_of_the_right_kind(stream: dict[str, Any]) -> None:
    res = stream["resources"]
    assert [
        next(iter(res[e])).split("-")[0] for e in ("postgres", "mysql", "oracle", "sqlserver")
    ] == ["cluster", "cluster", "db", "db"]
    assert stream["versions"] == {
        "postgres": {"1.1"},
        "mysql": {"1.2"},
        "oracle": {"1.3"},
        "sqlserver": {"1.4"},
    }
    assert stream["heartbeat_only"] >= 4


@pytest.mark.parametrize("engine", ["postgres", "mysql", "oracle", "sqlserver"])
def test_attacks_and_quiet_admin_per_engine(stream: dict[str, Any], engine: str) -> None:
    events = stream["events"][engine]
    failed = sorted(
        _time(e) for e in events if FAILED_LOGIN[engine](e) and e["remoteHost"] == ATTACKER
    )
    assert len(failed) >= 6 and (failed[5] - failed[0]).total_seconds() <= 120
    others = [e for e in events if e["dbUserName"] not in ADMINS and not FAILED_LOGIN[engine](e)]
    texts = [e.get("commandText") or "" for e in others]
    assert any(re.match(r"CREATE TABLE", t, re.I) for t in texts)
    assert any(re.match(r"DROP TABLE", t, re.I) for t in texts)
    assert any(PASSWORD_SQL.search(t) for t in texts)
    big = [e for e in others if re.match(r"SELECT \*", e.get("commandText") or "")]
    assert big
    if engine != "oracle":  # Oracle never reports row counts
        assert max(e["rowCount"] or 0 for e in big) == 250000
    admin = [e for e in events if e["dbUserName"] in ADMINS]
    assert len(admin) >= 3


def test_engine_specific_shapes(stream: dict[str, Any]) -> None:
    ev = stream["events"]
    assert all("type" not in e for e in ev["oracle"])  # a missing type is a record
    assert all(isinstance(e["sessionId"], int) and e["dbUserName"].isupper() for e in ev["oracle"])
    assert {e["exitCode"] for e in ev["sqlserver"] if e["command"] != "LOGIN FAILED"} == {1}
    mains = {e["statementId"] for e in ev["mysql"] if e["class"] == "MAIN"}
    aux = [e for e in ev["mysql"] if e["class"] == "AUX"]
    assert aux and all(e["statementId"] in mains and e["exitCode"] == "" for e in aux)
    assert all(isinstance(e["sessionId"], str) for e in ev["postgres"] + ev["mysql"])
    assert all(
        e["logTime"].endswith("+00") and len(e["logTime"].split(".")[1]) == 10
        for e in ev["sqlserver"]
    )
