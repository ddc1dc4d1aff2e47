"""The one AWS error mapper, through the SNS and Security Hub outputs over real HTTP.

Healthy-AWS answers (a missing topic) come from moto; throttling and 5xx, which moto cannot
produce, come from a local server that answers with AWS's own error documents; "unreachable" is a
closed loopback port. Both outputs must reach the same verdict for the same failure.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from hypothesis import given
from hypothesis import strategies as st

from engine.outputs.aws_errors import RETRYABLE_CODES, classify, retryable_code
from engine.outputs.base import Status
from engine.outputs.retry import RetryPolicy
from engine.outputs.securityhub import SecurityHubOutput
from engine.outputs.sns import SnsOutput
from tests.outputs.factory import make_alert
from tests.support.aws_fault_server import AwsFaultServer, Fault, closed_port

TOPIC = "arn:aws:sns:us-east-1:123456789012:dasalert-alerts"
ONE_TRY = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)


def _policy() -> RetryPolicy:
    return RetryPolicy(attempts=1, sleeper=lambda s: None)


def sns_at(url: str) -> SnsOutput:
    client = boto3.client("sns", endpoint_url=url, config=ONE_TRY)
    return SnsOutput(client, TOPIC, policy=_policy())


def securityhub_at(url: str) -> SecurityHubOutput:
    client = boto3.client("securityhub", endpoint_url=url, config=ONE_TRY)
    return SecurityHubOutput(client, account_id="123456789012", policy=_policy())


OUTPUTS = {"sns": (sns_at, "query", "SNS"), "securityhub": (securityhub_at, "json", "Security Hub")}

FAULTS = [
    (Fault(400, "ThrottlingException", "Rate exceeded"), Status.RETRYABLE),
    (Fault(400, "Throttling", "Rate exceeded"), Status.RETRYABLE),
    (Fault(429, "TooManyRequestsException", "slow down"), Status.RETRYABLE),
    (Fault(500, "InternalFailure", "oops"), Status.RETRYABLE),
    (Fault(503, "ServiceUnavailable", "try later"), Status.RETRYABLE),
    (Fault(502, "SomethingNew", "bad gateway"), Status.RETRYABLE),  # any 5xx
    (Fault(403, "AccessDeniedException", "not allowed to publish"), Status.PERMANENT),
    (Fault(400, "ValidationException", "bad field"), Status.PERMANENT),
    (Fault(400, "InvalidParameter", "bad topic"), Status.PERMANENT),
]


@pytest.mark.parametrize("name", sorted(OUTPUTS))
@pytest.mark.parametrize(("fault", "expected"), FAULTS, ids=lambda v: getattr(v, "code", None))
def test_same_verdict_and_reason_for_both_outputs(
    moto_server: str, name: str, fault: Fault, expected: Status
) -> None:
    build, protocol, service = OUTPUTS[name]
    with AwsFaultServer(fault, protocol) as url:
        report = build(url).send([make_alert(1), make_alert(2)])
    assert [d.status for d in report.deliveries] == [expected, expected]
    reason = report.deliveries[0].reason
    assert reason.startswith(f"{service} {fault.code}: {fault.message}")
    if expected is Status.RETRYABLE:  # one attempt allowed: the reason says it gave up
        assert "gave up after 1 attempts" in reason


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_unreachable_endpoint_is_retryable(moto_server: str, name: str) -> None:
    build, _, service = OUTPUTS[name]
    report = build(closed_port()).send([make_alert()])
    (d,) = report.deliveries
    assert d.status is Status.RETRYABLE
    assert d.reason.startswith(f"{service} unreachable: EndpointConnectionError")


def test_missing_topic_on_moto_is_permanent_with_the_service_reason(aws: str) -> None:
    out = SnsOutput(boto3.client("sns"), TOPIC + "-missing", policy=_policy())
    (d,) = out.send([make_alert()]).deliveries
    assert d.status is Status.PERMANENT and d.reason.startswith("SNS NotFound:")


def test_request_refused_before_sending_is_permanent(aws: str) -> None:
    """botocore validates parameters locally: the same request would be refused again."""
    client = boto3.client("sns")
    with pytest.raises(Exception) as caught:
        client.publish_batch(TopicArn=TOPIC, PublishBatchRequestEntries=[{"Id": 1}])
    failure = classify(caught.value, "SNS")
    assert not failure.retryable and failure.reason.startswith("SNS refused the request:")


def test_per_entry_codes_use_the_same_rule() -> None:
    assert all(retryable_code(c) for c in RETRYABLE_CODES)
    assert retryable_code("SomeNewThrottlingError") and retryable_code("X", 429)
    assert not retryable_code("AccessDeniedException", 403)
    assert not retryable_code("InvalidAccess")


class _Answered(Exception):
    """An exception carrying a (possibly malformed) service answer, as botocore's do."""

    def __init__(self, response: object) -> None:
        super().__init__("answered")
        self.response = response


_values = st.none() | st.integers(-1, 999) | st.text(max_size=30) | st.booleans()


@given(
    st.dictionaries(
        st.sampled_from(["Error", "ResponseMetadata", "Other"]),
        _values
        | st.dictionaries(
            st.sampled_from(["Code", "Message", "HTTPStatusCode"]), _values, max_size=3
        ),
        max_size=3,
    )
)
def test_the_mapper_never_raises_and_follows_its_rule(response: dict) -> None:
    failure = classify(_Answered(response), "SNS")
    assert failure.reason.startswith("SNS")
    assert len(failure.reason) <= len("SNS ") + len(failure.code) + 2 + 200
    assert failure.retryable == retryable_code(failure.code, failure.http_status)
    assert failure.retryable == (
        failure.code in RETRYABLE_CODES
        or "Throttl" in failure.code
        or failure.http_status == 429
        or failure.http_status >= 500
    )
