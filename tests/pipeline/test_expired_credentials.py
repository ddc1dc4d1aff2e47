"""An expired session token is a retry, not a refusal, for every AWS call of the function.

Lambda refreshes the role's credentials for the next invocation; a record dead-lettered (or an
alert given up) because one call raced the expiry would wait for a manual replay. DynamoDB and
SNS answer through the local fault server exactly as AWS does (status and error document).
"""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from engine.outputs.aws_errors import classify
from engine.pipeline.state import StateUnavailable
from engine.pipeline.state_dynamodb import DynamoDBStateStore
from tests.support.aws_fault_server import AwsFaultServer, Fault

ONE_TRY = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)
EXPIRED = ["ExpiredTokenException", "ExpiredToken", "RequestExpired"]


@pytest.mark.parametrize("code", EXPIRED)
def test_state_store_expired_token_is_transient(moto_server: str, code: str) -> None:
    with AwsFaultServer(
        Fault(400, code, "The security token included in the request is expired"), "json"
    ) as url:
        client = boto3.client("dynamodb", endpoint_url=url, config=ONE_TRY)
        store = DynamoDBStateStore("dasalert-state", client)
        with pytest.raises(StateUnavailable) as caught:
            store.incr("k", expires_at=10)
    assert caught.value.transient


@pytest.mark.parametrize("code", EXPIRED)
def test_sns_expired_token_is_retryable(moto_server: str, code: str) -> None:
    with AwsFaultServer(Fault(403, code, "expired"), "query") as url:
        sns = boto3.client("sns", endpoint_url=url, config=ONE_TRY)
        with pytest.raises(Exception) as caught:
            sns.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:t", Message="m")
    verdict = classify(caught.value, "SNS")
    assert verdict.retryable and verdict.code == code


def test_access_denied_stays_permanent(moto_server: str) -> None:
    with AwsFaultServer(Fault(403, "AuthorizationError", "no"), "query") as url:
        sns = boto3.client("sns", endpoint_url=url, config=ONE_TRY)
        with pytest.raises(Exception) as caught:
            sns.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:t", Message="m")
    assert not classify(caught.value, "SNS").retryable
