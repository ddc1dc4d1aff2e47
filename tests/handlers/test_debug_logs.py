"""Even at DEBUG, the AWS SDK never logs the KMS data key or an alert's body: its request and
response bodies (``Decrypt``'s ``Plaintext``, SNS ``Message``, Security Hub findings) stay out
of the function's logs whatever the application log level."""

from __future__ import annotations

import logging

import pytest

from handlers.kinesis import handler
from tests.handlers.conftest import Deployment
from tests.pipeline.support import FakeContext, ddl

SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "aws_encryption_sdk")


def test_sdk_bodies_never_reach_the_logs_at_debug(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    d = deployment
    caplog.set_level(logging.DEBUG)  # what LOG_LEVEL=DEBUG / a debugging operator does
    sql = "CREATE TABLE loot_debugcheck (x text)"
    event = d.event([ddl("mallory", 1, sql=sql)])
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    records, text = list(caplog.records), caplog.text  # the function's logs only
    assert [m["title"] for m in d.sns_messages()] == ["DDL by mallory: CREATE TABLE"]

    sdk = [r for r in records if r.name.split(".")[0] in SDK_LOGGERS]
    assert all(r.levelno >= logging.WARNING for r in sdk), {r.name for r in sdk}
    for leak in ("Plaintext", "loot_debugcheck", "DDL by mallory", "PublishBatch"):
        assert leak not in text
