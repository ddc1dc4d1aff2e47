"""Resource facts: DAS resource ids resolved to DB identifiers and ARNs over real HTTP.

RDS is the moto server (clusters, instances, STS) or, for refusals (access denied, throttling),
a loopback server answering as RDS does; requests are counted by observing botocore's
``before-call`` event, never by patching a client.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.das.decoder import Decoder
from engine.das.encoder import Encoder
from engine.das.keys import LocalKeyProvider
from engine.das.records import RawRecord
from engine.outputs.routing import Router
from engine.pipeline.batch import Pipeline, summarize
from engine.pipeline.env import ConfigError
from engine.pipeline.resources import (
    DENIED_TTL_S,
    ERROR_TTL_S,
    IDENTIFIER,
    NOT_FOUND_TTL_S,
    RESOURCE_ID,
    ResourceResolver,
    parse_names,
)
from engine.pipeline.state import MemoryStateStore
from engine.rules import build_engine
from tests.outputs.factory import make_alert
from tests.pipeline.support import (
    ARN,
    CLUSTER,
    INSTANCE,
    ListDeadLetters,
    ScriptedOutput,
    ddl,
    write_rules,
)
from tests.support.clock import Clock

ACCOUNT = "123456789012"  # moto's default account
FUNCTION_ARN = "arn:aws:lambda:us-east-1:210987654321:function:dasalert-stream"


def counted(client: Any) -> list[str]:
    """The operations ``client`` sends, in order (observed, not altered)."""
    calls: list[str] = []
    client.meta.events.register("before-call.rds.*", lambda model, **_: calls.append(model.name))
    return calls


def make_cluster(name: str = "orders-prod") -> dict[str, Any]:
    rds = boto3.client("rds")
    return rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
    )["DBCluster"]


def make_instance(name: str = "billing-db") -> dict[str, Any]:
    rds = boto3.client("rds")
    return rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
    )["DBInstance"]


def resolver(clock: Clock | None = None, **kw: Any) -> tuple[ResourceResolver, list[str]]:
    client = boto3.client("rds")
    calls = counted(client)
    r = ResourceResolver(
        lambda: client,
        sts=lambda: boto3.client("sts"),
        region="us-east-1",
        clock=clock or Clock(),
        **kw,
    )
    return r, calls


def test_an_instance_resolves_to_its_identifier_and_arn(aws) -> None:
    db = make_instance()
    r, calls = resolver()
    got = r.resolve(db["DbiResourceId"])
    assert got.kind == "instance" and got.name == "billing-db"
    assert got.arn == db["DBInstanceArn"] and got.arn.endswith(":db:billing-db")
    assert (got.account, got.region) == (ACCOUNT, "us-east-1")
    assert calls == ["DescribeDBInstances"]
    assert r.resolve(db["DbiResourceId"]).name == "billing-db"
    assert calls == ["DescribeDBInstances"]  # cached for the container


def test_a_cluster_resolves_and_its_neighbours_are_cached_on_the_way(aws) -> None:
    # moto refuses the db-cluster-resource-id filter RDS documents: the resolver then lists
    # the clusters once and caches every one of them
    a, b = make_cluster("orders-prod"), make_cluster("orders-stage")
    r, calls = resolver()
    got = r.resolve(a["DbClusterResourceId"])
    assert (got.kind, got.name, got.arn) == ("cluster", "orders-prod", a["DBClusterArn"])
    n = len(calls)
    assert r.resolve(b["DbClusterResourceId"]).name == "orders-stage"
    assert len(calls) == n  # no further call
    assert calls[0] == "DescribeDBClusters"


def test_unknown_ids_are_none_and_remembered_briefly(aws) -> None:
    clock = Clock()
    r, calls = resolver(clock)
    got = r.resolve("db-NOSUCHINSTANCEAAAAAAAAAAAA")
    assert (got.name, got.arn) == (None, None)
    assert (got.account, got.region) == (ACCOUNT, "us-east-1")  # STS, once
    assert r.stats.failures == 1
    r.resolve("db-NOSUCHINSTANCEAAAAAAAAAAAA")
    assert len(calls) == 1
    clock.now += NOT_FOUND_TTL_S + 1
    r.resolve("db-NOSUCHINSTANCEAAAAAAAAAAAA")
    assert len(calls) == 2  # asked again: it may have been created since


def test_overrides_need_no_call_and_take_the_account_from_the_function(aws) -> None:
    names = parse_names('{"cluster-ABCDEFGHIJKLMNOP": "orders-prod"}')
    r, calls = resolver(names=names)
    r.use_function_arn(FUNCTION_ARN)
    got = r.resolve("cluster-ABCDEFGHIJKLMNOP")
    assert got.name == "orders-prod"
    assert got.arn == "arn:aws:rds:us-east-1:210987654321:cluster:orders-prod"
    assert got.account == "210987654321" and calls == []


def test_offline_resolver_makes_no_call() -> None:
    r = ResourceResolver(region="eu-west-1", names={"db-ABC": "x-db"})
    assert r.resolve("db-ABC").to_dict() == {
        "id": "db-ABC",
        "kind": "instance",
        "name": "x-db",
        "arn": None,
        "account": None,
        "region": "eu-west-1",
    }
    assert r.resolve("cluster-OTHER").name is None and r.stats.lookups == 0


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"orders": "orders-prod"}',
        '{"cluster-ABC": "1starts-with-digit"}',
        '{"cluster-ABC": "two--hyphens"}',
        '{"db-ABC": 5}',
    ],
)
def test_bad_override_maps_name_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="DASALERT_RESOURCE_NAMES"):
        parse_names(raw)


# -- refusals: a loopback server that answers as RDS does ---------------------------------


class _Refusing(http.server.BaseHTTPRequestHandler):
    code = "AccessDenied"
    status = 403
    requests = 0

    def do_POST(self) -> None:
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{self.code}</Code><Message>not allowed</Message></Error>"
            "<RequestId>r-1</RequestId></ErrorResponse>"
        ).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def refusing(aws) -> Iterator[type[_Refusing]]:
    handler = type("Handler", (_Refusing,), {"requests": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def _refused_client(url: str) -> Any:
    from botocore.config import Config

    return boto3.client("rds", endpoint_url=url, config=Config(retries={"total_max_attempts": 1}))


def test_access_denied_stops_lookups_for_a_while(refusing) -> None:
    clock = Clock()
    client = _refused_client(refusing.url)
    r = ResourceResolver(lambda: client, region="us-east-1", clock=clock)
    r.use_function_arn(FUNCTION_ARN)
    first = r.resolve("cluster-AAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert (first.name, first.arn, first.account) == (None, None, "210987654321")
    assert r.resolve("db-BBBBBBBBBBBBBBBBBBBBBBBBBB").name is None
    assert refusing.requests == 1  # the second id was not even asked
    clock.now += DENIED_TTL_S + 1
    r.resolve("db-BBBBBBBBBBBBBBBBBBBBBBBBBB")
    assert refusing.requests == 2


def test_throttling_is_remembered_for_a_minute(refusing) -> None:
    refusing.code, refusing.status = "Throttling", 400
    clock = Clock()
    client = _refused_client(refusing.url)
    r = ResourceResolver(lambda: client, region="us-east-1", clock=clock)
    assert r.resolve("db-CCCCCCCCCCCCCCCCCCCCCCCCCC").name is None
    r.resolve("db-CCCCCCCCCCCCCCCCCCCCCCCCCC")
    assert refusing.requests == 1
    clock.now += ERROR_TTL_S + 1
    r.resolve("db-CCCCCCCCCCCCCCCCCCCCCCCCCC")
    assert refusing.requests == 2


def test_enrichment_stops_asking_when_the_budget_is_spent(aws) -> None:
    make_instance()
    clock = Clock()
    client = boto3.client("rds")
    calls: list[str] = []

    def slow(model: Any, **_: Any) -> None:  # every call "takes" 1.5 s of the fake clock
        calls.append(model.name)
        clock.now += 1.5

    client.meta.events.register("before-call.rds.*", slow)
    r = ResourceResolver(lambda: client, region="us-east-1", clock=clock, budget_s=2.0)
    alerts = [
        make_alert(i, event_updates={"das": {"clusterId": "", "instanceId": f"db-X{i:026d}"}})
        for i in range(5)
    ]
    enriched, unresolved = r.enrich(alerts)
    assert len(calls) == 2 and unresolved == 5
    assert all(a.context["resource"]["name"] is None for a in enriched)
    # ids not asked this batch are asked the next one (nothing was cached for them)
    r.enrich(alerts[2:3])
    assert len(calls) == 3


def test_alerts_carry_the_resource_and_keep_their_context(aws) -> None:
    db = make_instance()
    cluster = make_cluster()
    r, _ = resolver()
    alert = make_alert(
        context={"escalation": {"step": 1}},
        event_updates={
            "das": {"clusterId": cluster["DbClusterResourceId"], "instanceId": db["DbiResourceId"]}
        },
    )
    [out], unresolved = r.enrich([alert])
    assert unresolved == 0 and out.id == alert.id
    assert out.context["escalation"] == {"step": 1}  # the frozen alert was copied, not mutated
    assert "resource" not in alert.context
    res = out.context["resource"]
    assert (res["id"], res["kind"], res["name"]) == (
        cluster["DbClusterResourceId"],
        "cluster",
        "orders-prod",
    )
    assert res["arn"] == cluster["DBClusterArn"] and res["account"] == ACCOUNT
    assert res["instance"] == {
        "id": db["DbiResourceId"],
        "name": "billing-db",
        "arn": db["DBInstanceArn"],
    }


def test_the_pipeline_names_the_database_before_delivery(aws, tmp_path) -> None:
    keys = LocalKeyProvider(bytes(range(32)))
    data = Encoder(keys, CLUSTER).encode(
        [ddl("mallory", 1)], cluster_id=CLUSTER, instance_id=INSTANCE
    )
    output = ScriptedOutput()
    router = Router({"fake": output}, ("fake",), {"fake": "info"}, ("fake",), ("fake",))
    state = MemoryStateStore()
    names = {CLUSTER: "orders-prod"}
    client = boto3.client("rds")
    calls = counted(client)
    p = Pipeline(
        Decoder(keys),
        state=state,
        engine=build_engine(write_rules(tmp_path / "rules"), state).engine,
        router=router,
        dead_letters=ListDeadLetters(),
        resources=ResourceResolver(lambda: client, region="us-east-1", names=names),
    )
    result = p.run([RawRecord("1", data, stream_arn=ARN)])
    [sent] = output.sent
    assert sent.context["resource"]["name"] == "orders-prod"
    assert sent.context["resource"]["instance"]["name"] is None  # moto has no such instance
    assert calls == ["DescribeDBInstances"]  # the cluster came from the override map
    assert result.resources_unresolved == 0 and summarize(result)["resources_unresolved"] == 0


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.dictionaries(st.text(max_size=20), st.one_of(st.text(max_size=20), st.integers())).map(
            json.dumps
        ),
        st.dictionaries(
            st.from_regex(r"(cluster|db)-[A-Z0-9]{4,12}", fullmatch=True),
            st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
        ).map(json.dumps),
    )
)
def test_any_override_text_is_a_map_of_valid_names_or_a_config_error(raw: str) -> None:
    try:
        names = parse_names(raw)
    except ConfigError as exc:
        assert exc.variable == "DASALERT_RESOURCE_NAMES"
        return
    for rid, name in names.items():
        assert RESOURCE_ID.match(rid) and IDENTIFIER.match(name) and "--" not in name


def test_the_lambda_client_tries_once_and_the_failure_is_remembered(aws, monkeypatch) -> None:
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    client = ResourceResolver.default_client("rds")
    attempts: list[str] = []
    client.meta.events.register("before-send.rds.*", lambda **kw: attempts.append("x"))
    clock = Clock()
    r = ResourceResolver(lambda: client, region="us-east-1", clock=clock)
    assert r.resolve("db-DDDDDDDDDDDDDDDDDDDDDDDDDD").name is None
    assert attempts == ["x"]  # one attempt: no retry inside the batch
    r.resolve("db-DDDDDDDDDDDDDDDDDDDDDDDDDD")
    assert attempts == ["x"]
    clock.now += ERROR_TTL_S + 1
    r.resolve("db-DDDDDDDDDDDDDDDDDDDDDDDDDD")
    assert attempts == ["x", "x"]
