"""Fixtures the pipeline tests share: the local data key and our encoder (real-format records),
and a factory of state stores on either backend."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from engine.das.encoder import Encoder
from engine.das.keys import LocalKeyProvider
from engine.pipeline.state import MemoryStateStore, StateStore
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from tests.pipeline.support import CLUSTER

KEY = bytes(range(32))
TABLE = "dasalert-state"


@pytest.fixture(scope="module")
def keys() -> LocalKeyProvider:
    return LocalKeyProvider(KEY)


@pytest.fixture(scope="module")
def encoder(keys: LocalKeyProvider) -> Encoder:
    return Encoder(keys, CLUSTER)


@pytest.fixture(params=["memory", "dynamodb"])
def make_store(request: pytest.FixtureRequest) -> Callable[..., StateStore]:
    """A factory of stores sharing one backend (two stores = two Lambda containers); a store on
    DynamoDB (the moto server) expires items by the ``clock`` it is given."""
    if request.param == "memory":
        shared = MemoryStateStore()
        return lambda clock=None: shared
    request.getfixturevalue("aws")
    create_table(boto3.client("dynamodb"), TABLE)
    return lambda clock=None: DynamoDBStateStore(TABLE, boto3.client("dynamodb"), clock=clock)
