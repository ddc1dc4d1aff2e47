"""KMS faults through the pipeline: a throttled or expired KMS makes records transient, quickly.

Records are encrypted under a real KMS key on the moto server; decryption goes to a local fault
server that answers every request as KMS does when it throttles or when the caller's session
token has expired (the status and JSON error document botocore parses in production). The
fault server counts the requests: a throttled batch must cost one KMS call per data key (and a
small shared budget over all keys), not one per record with retries each.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from engine.das.decoder import Decoder
from engine.das.encoder import Encoder
from engine.das.errors import KmsThrottled, KmsUnavailable
from engine.das.keys import FAILURE_BUDGET, KmsKeyProvider, map_kms_error
from engine.das.records import RawRecord
from engine.pipeline.batch import OK, TRANSIENT, Pipeline
from engine.pipeline.state import MemoryStateStore
from tests.das.conftest import Kms
from tests.pipeline.support import ARN, CLUSTER, ListDeadLetters, encode, select
from tests.support.aws_fault_server import AwsFaultServer, Fault

ONE_TRY = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)


class Clock:
    """A monotonic clock the test moves by hand (no sleeping)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _records(encoder: Encoder, n: int) -> list[RawRecord]:
    return [
        RawRecord(str(i), encode(encoder, [select("app", 10.0 + i)]), stream_arn=ARN)
        for i in range(n)
    ]


def _pipeline(keys: KmsKeyProvider) -> tuple[Pipeline, ListDeadLetters]:
    dlq = ListDeadLetters()
    return Pipeline(Decoder(keys), state=MemoryStateStore(), dead_letters=dlq), dlq


@pytest.fixture
def throttled() -> Iterator[AwsFaultServer]:
    server = AwsFaultServer(Fault(400, "ThrottlingException", "Rate exceeded"), "json")
    with server:
        yield server


def _provider(url: str, clock: Clock | None = None) -> KmsKeyProvider:
    client = boto3.client("kms", endpoint_url=url, config=ONE_TRY)
    return KmsKeyProvider(client, clock=clock or Clock())


def test_a_throttled_key_is_asked_once_per_batch(kms: Kms, throttled: AwsFaultServer) -> None:
    """40 records of one data key while KMS throttles: one KMS request, 40 transient records."""
    records = _records(Encoder(kms.provider(), CLUSTER), 40)
    keys = _provider(throttled.url)
    p, dlq = _pipeline(keys)
    result = p.run(records)
    assert [o.status for o in result.outcomes] == [TRANSIENT] * 40
    assert {o.reason for o in result.outcomes} == {"kms_throttled"}
    assert throttled.requests == 1
    assert result.kms_calls == 1 and keys.stats.negative_hits == 39
    assert dlq.docs == []


def test_many_keys_share_one_failure_budget(kms: Kms, throttled: AwsFaultServer) -> None:
    """Ten records, each under its own data key: KMS is asked FAILURE_BUDGET times, not ten."""
    records = _records(Encoder(kms.provider(), CLUSTER, records_per_key=1), 10)
    keys = _provider(throttled.url)
    result = _pipeline(keys)[0].run(records)
    assert [o.status for o in result.outcomes] == [TRANSIENT] * 10
    assert throttled.requests == FAILURE_BUDGET


def test_a_remembered_failure_expires(kms: Kms, throttled: AwsFaultServer) -> None:
    """After the negative cache's time the key is asked again: a recovered KMS decodes."""
    records = _records(Encoder(kms.provider(), CLUSTER), 3)
    clock = Clock()
    keys = _provider(throttled.url, clock)
    p, _ = _pipeline(keys)
    assert {o.status for o in p.run(records).outcomes} == {TRANSIENT}
    keys._client = kms.client  # KMS recovered: the same provider now reaches moto
    assert {o.status for o in p.run(records).outcomes} == {TRANSIENT}  # still remembered
    clock.t += 60
    assert [o.status for o in p.run(records).outcomes] == [OK] * 3
    assert throttled.requests == 1


@pytest.mark.parametrize("code", ["ExpiredTokenException", "ExpiredToken", "RequestExpired"])
def test_an_expired_credential_is_transient_not_a_dead_letter(kms: Kms, code: str) -> None:
    records = _records(Encoder(kms.provider(), CLUSTER), 3)
    with AwsFaultServer(
        Fault(400, code, "The security token included in the request is expired"), "json"
    ) as url:
        keys = _provider(url)
        p, dlq = _pipeline(keys)
        result = p.run(records)
    assert [o.status for o in result.outcomes] == [TRANSIENT] * 3
    assert {o.reason for o in result.outcomes} == {"kms_unavailable"}
    assert dlq.docs == []


@pytest.mark.parametrize(
    "code", ["ExpiredToken", "ExpiredTokenException", "RequestExpired", "RequestTimeTooSkewed"]
)
def test_expired_credential_codes_map_to_transient(code: str) -> None:
    from botocore.exceptions import ClientError

    err = ClientError({"Error": {"Code": code, "Message": "m"}}, "Decrypt")
    mapped = map_kms_error(err)
    assert type(mapped) is KmsUnavailable and mapped.transient


def test_throttling_is_still_throttled() -> None:
    from botocore.exceptions import ClientError

    err = ClientError({"Error": {"Code": "ThrottlingException"}}, "Decrypt")
    assert type(map_kms_error(err)) is KmsThrottled
