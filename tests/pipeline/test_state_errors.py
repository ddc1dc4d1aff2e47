"""The DynamoDB state store raises typed errors: transient (retry the record) or permanent.

Over real HTTP: a table that does not exist on the moto server is permanent, a closed loopback
port is transient, and throttling / server errors / access denied come from a local server that
answers with DynamoDB's own error documents.
"""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest
from botocore.config import Config

from engine.pipeline.state import StateError, StatePermanentError, StateUnavailable
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from tests.support.aws_fault_server import AwsFaultServer, Fault, closed_port

ONE_TRY = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)

OPERATIONS: dict[str, Callable[[DynamoDBStateStore], object]] = {
    "incr": lambda s: s.incr("k", expires_at=10),
    "get_counts": lambda s: s.get_counts(["k"]),
    "add_once": lambda s: s.add_once("k", expires_at=10),
    "record_max": lambda s: s.record_max("heartbeat", "db-1", 5.0),
    "read_namespace": lambda s: s.read_namespace("heartbeat"),
    "put_if_absent": lambda s: s.put_if_absent("v", "x", expires_at=10),
    "get_values": lambda s: s.get_values(["v"]),
    "put_values": lambda s: s.put_values({"v": ("x", 10.0)}),
    "put_members": lambda s: s.put_members([("seen", "db-1", 1.0, 10.0)]),
}


def store_at(url: str | None, table: str = "dasalert-state") -> DynamoDBStateStore:
    return DynamoDBStateStore(table, boto3.client("dynamodb", endpoint_url=url, config=ONE_TRY))


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_missing_table_is_permanent(aws: str, op: str) -> None:
    create_table(boto3.client("dynamodb"), "dasalert-state")  # a table exists, just not this one
    with pytest.raises(StatePermanentError) as caught:
        OPERATIONS[op](store_at(None, table="no-such-table"))
    assert not caught.value.transient
    assert "DynamoDB ResourceNotFoundException" in str(caught.value)
    assert "table no-such-table" in str(caught.value)


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_closed_port_is_transient(moto_server: str, op: str) -> None:
    with pytest.raises(StateUnavailable) as caught:
        OPERATIONS[op](store_at(closed_port()))
    assert caught.value.transient
    assert "DynamoDB unreachable: EndpointConnectionError" in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(400, "ProvisionedThroughputExceededException", "slow down"), StateUnavailable),
        (Fault(400, "ThrottlingException", "Rate exceeded"), StateUnavailable),
        (Fault(500, "InternalServerError", "oops"), StateUnavailable),
        (Fault(503, "ServiceUnavailable", "later"), StateUnavailable),
        (Fault(400, "AccessDeniedException", "not allowed"), StatePermanentError),
        (Fault(400, "ValidationException", "bad key"), StatePermanentError),
    ],
    ids=lambda v: getattr(v, "code", None),
)
def test_service_errors_are_typed(
    moto_server: str, fault: Fault, expected: type[StateError]
) -> None:
    with AwsFaultServer(fault, "json") as url:
        store = store_at(url)
        for op in OPERATIONS.values():
            with pytest.raises(expected, match=f"DynamoDB {fault.code}: {fault.message}"):
                op(store)


def test_conditional_check_is_an_answer_not_an_error(aws: str) -> None:
    client = boto3.client("dynamodb")
    create_table(client, "dasalert-state")
    store = DynamoDBStateStore("dasalert-state", client)
    assert store.add_once("once", expires_at=10) is True
    assert store.add_once("once", expires_at=10) is False  # a failed condition, typed as False
    store.record_max("heartbeat", "db-1", 5.0)
    store.record_max("heartbeat", "db-1", 4.0)  # smaller: the condition fails, silently
    assert store.read_namespace("heartbeat") == {"db-1": 5.0}
