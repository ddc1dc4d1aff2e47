"""normalize is total: any JSON-like event gives a das object of the documented shape."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.events import ENGINES, UnknownEngineError, base_event, normalize

DAS_KEYS = {
    "engine",
    "clusterId",
    "instanceId",
    "time",
    "epoch",
    "action",
    "verb",
    "failed",
    "errorCode",
    "aux",
    "user",
    "database",
    "object",
    "sourceHost",
    "client",
    "rows",
    "sql",
    "statementKey",
    "hour",
    "weekday",
    "schema",
}
ACTIONS = {
    "CONNECT",
    "DISCONNECT",
    "LOGIN_FAILED",
    "DDL",
    "ROLE",
    "READ",
    "WRITE",
    "FUNCTION",
    "MISC",
}
FIELDS = [
    "class",
    "command",
    "commandText",
    "exitCode",
    "errorMessage",
    "logTime",
    "startTime",
    "endTime",
    "rowCount",
    "dbUserName",
    "databaseName",
    "remoteHost",
    "serverType",
    "serviceName",
    "dbProtocol",
    "sessionId",
    "statementId",
    "objectName",
    "clientApplication",
    "engineNativeAuditFields",
    "dbid",
    "das",
    "clusterId",
    "instanceId",
]
VOCAB = st.sampled_from(
    [
        "MAIN",
        "AUX",
        "QUERY",
        "CONNECT",
        "LOGON",
        "LOGIN FAILED",
        "AUTH FAILURE",
        "FAILED_CONNECT",
        "DDL",
        "PostgreSQL",
        "MySQL",
        "oracle",
        "SQLSERVER",
        "0",
        "1045",
        "28P01",
        "0x1f",
        "2019-10-30 00:39:49.990579+00",
        "2022-10-06 21:44:38.4120677+00",
        "CREATE USER x IDENTIFIED BY 'p'",
        "/* c */ SELECT 1",
        "",
        " ",
    ]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | VOCAB,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
EVENTS = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), JSON, max_size=12)


def _check_shape(das: dict) -> None:
    assert set(das) == DAS_KEYS
    assert das["engine"] in (*ENGINES, None)
    assert das["action"] in ACTIONS
    assert isinstance(das["failed"], bool) and isinstance(das["aux"], bool)
    assert das["rows"] is None or type(das["rows"]) is int
    assert das["time"] is None or (isinstance(das["time"], str) and das["time"].endswith("Z"))
    assert (das["time"] is None) == (das["epoch"] is None)
    for key in ("verb", "sql", "user", "database", "clusterId", "instanceId", "errorCode"):
        assert das[key] is None or isinstance(das[key], str)
    json.dumps(das)  # always serialisable


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=EVENTS, cluster=st.none() | st.text(max_size=5), instance=st.none() | st.text(max_size=5)
)
def test_normalize_is_total(raw: dict, cluster: str | None, instance: str | None) -> None:
    before = copy.deepcopy(raw)
    event = normalize(raw, cluster_id=cluster, instance_id=instance)
    _check_shape(event["das"])
    assert {k: v for k, v in event.items() if k != "das"} == {
        k: v for k, v in before.items() if k != "das"
    }
    assert raw == before  # not mutated


@settings(max_examples=200, deadline=None)
@given(engine=st.sampled_from(ENGINES), patch=EVENTS)
def test_base_events_with_random_patches(engine: str, patch: dict) -> None:
    raw = base_event(engine)
    raw.update(patch)
    _check_shape(normalize(raw)["das"])


@settings(max_examples=150, deadline=None)
@given(raw=EVENTS)
def test_normalize_is_idempotent(raw: dict) -> None:
    once = normalize(raw, cluster_id="cluster-A", instance_id="db-B")
    twice = normalize(once)
    assert json.dumps(twice, sort_keys=True, default=repr) == json.dumps(
        once, sort_keys=True, default=repr
    )


def test_non_dict_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="JSON object"):
        normalize(["not", "an", "event"])  # type: ignore[arg-type]


def test_envelope_ids_and_fallbacks() -> None:
    raw = base_event("oracle")
    assert normalize(raw, cluster_id="", instance_id="db-1")["das"]["clusterId"] is None
    assert normalize(raw, cluster_id="cluster-1")["das"]["clusterId"] == "cluster-1"
    flattened = {**raw, "clusterId": "cluster-F", "instanceId": "db-F"}  # ids inside the event
    das = normalize(flattened)["das"]
    assert (das["clusterId"], das["instanceId"]) == ("cluster-F", "db-F")
    assert normalize(flattened, instance_id="db-E")["das"]["instanceId"] == "db-E"  # envelope wins


def test_time_falls_back_to_end_then_start_time() -> None:
    raw = {**base_event("mysql"), "logTime": None}
    assert normalize(raw)["das"]["time"] == "2020-05-22T18:29:57.986467Z"  # endTime
    raw = {**base_event("postgres"), "logTime": "garbage"}
    assert normalize(raw)["das"]["time"] == "2019-05-24T00:39:49.920564Z"  # startTime


@pytest.mark.parametrize(
    ("value", "rows"),
    [(5, 5), (5.0, 5), (5.5, None), ("12", 12), ("x", None), (True, None), (None, None), (-1, -1)],
)
def test_rows_coercion(value: object, rows: int | None) -> None:
    assert normalize({**base_event("postgres"), "rowCount": value})["das"]["rows"] == rows


def test_base_event_is_a_fresh_realistic_copy() -> None:
    for engine in ENGINES:
        first = base_event(engine)
        first["dbUserName"] = "changed"
        if "engineNativeAuditFields" in first:
            first["engineNativeAuditFields"]["x"] = 1
        second = base_event(engine)
        assert second["dbUserName"] != "changed"
        assert "x" not in second.get("engineNativeAuditFields", {})
        das = normalize(second)["das"]
        assert das["engine"] == engine
        assert (das["action"], das["verb"], das["failed"]) == ("READ", "SELECT", False)
        assert das["time"] is not None


def test_base_event_accepts_spellings_and_rejects_unknown() -> None:
    assert base_event("PostgreSQL")["serverType"] == "PostgreSQL"
    assert base_event("sqlserver-ee")["serverType"] == "SQLSERVER"
    with pytest.raises(UnknownEngineError, match="expected one of postgres, mysql"):
        base_event("db2")
