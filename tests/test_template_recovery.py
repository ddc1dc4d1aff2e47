"""template.yaml's recovery path: every mapping's exhausted batches land, whole, in one private
bucket that `dasalert replay` reads; the function role may only write there.

The SAM transform and cfn-lint of the whole template are in test_template.py; these tests pin
what recovery relies on, for the single- and the multi-database forms.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.test_template import (
    MANY_IDS,
    MANY_PARAMS,
    _resources,
    _statements,
    _transform,
    source,  # noqa: F401  (the module fixture)
)

BUCKET_ARN = {"Fn::GetAtt": ["FailedBatchBucket", "Arn"]}
NO_VALUE = {"Ref": "AWS::NoValue"}


@pytest.fixture(scope="module")
def many(source: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    return _transform(source, MANY_PARAMS)


def test_every_mapping_sends_exhausted_batches_to_the_bucket(many: dict[str, Any]) -> None:
    mappings = _resources(many, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == len(MANY_IDS)
    for name, esm in mappings.items():
        p = esm["Properties"]
        assert p["DestinationConfig"] == {"OnFailure": {"Destination": BUCKET_ARN}}, name
        # a destination only receives batches Lambda gave up on: retries must stay bounded
        assert 1 <= p["MaximumRetryAttempts"] <= 100, name
        assert p["MaximumRecordAgeInSeconds"] <= 24 * 3600, name
    # no queue left behind as a second, range-only destination
    assert "StreamFailureQueue" not in many["Resources"]
    outputs = many["Outputs"]
    assert outputs["FailedBatchBucketName"]["Value"] == {"Ref": "FailedBatchBucket"}
    assert "StreamFailureQueueUrl" not in outputs


def test_the_bucket_is_private_encrypted_tls_only_and_expires(
    source: dict[str, Any],  # noqa: F811
) -> None:
    res = source["Resources"]
    bucket = res["FailedBatchBucket"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    assert "Condition" not in bucket  # always there: Lambda needs a destination
    props = bucket["Properties"]
    assert "BucketName" not in props  # kept on delete: a fixed name would block a re-create
    block = props["PublicAccessBlockConfiguration"]
    assert set(block) == {
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    }
    assert all(v is True for v in block.values())
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (sse,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    cond, with_key, without = sse["ServerSideEncryptionByDefault"]["Fn::If"]
    assert cond == "HasDataKey"
    key = {"Ref": "DataEncryptionKeyArn"}
    assert with_key == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    assert without == {"SSEAlgorithm": "AES256"}
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["failed-batches"]["ExpirationInDays"] == {"Ref": "FailedBatchRetentionDays"}
    assert "Prefix" not in rules["failed-batches"]  # every object, whatever key Lambda picks
    param = source["Parameters"]["FailedBatchRetentionDays"]
    assert param["Type"] == "Number" and param["MinValue"] >= 1
    (deny,) = res["FailedBatchBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [BUCKET_ARN, {"Fn::Sub": "${FailedBatchBucket.Arn}/*"}]


def test_the_function_role_may_only_write_failed_batches(source: dict[str, Any]) -> None:  # noqa: F811
    """Lambda writes the object with the function's execution role (PutObject and ListBucket);
    reading and deleting stay with the operator who replays."""
    res = source["Resources"]
    role = res["StreamFunctionRole"]["Properties"]
    stmts = _statements(role["Policies"][0]["PolicyDocument"])
    plain = {s["Sid"]: s for s in stmts if "Sid" in s}
    assert plain["OnFailureDestination"]["Action"] == "s3:PutObject"
    assert plain["OnFailureDestination"]["Resource"] == {"Fn::Sub": "${FailedBatchBucket.Arn}/*"}
    assert plain["OnFailureDestinationBucket"]["Action"] == "s3:ListBucket"
    assert plain["OnFailureDestinationBucket"]["Resource"] == BUCKET_ARN
    # on the bucket: write and list, nothing else (no read, no delete)
    on_bucket = [s for s in stmts if "Sid" in s and "FailedBatchBucket" in json.dumps(s)]
    assert {s["Action"] for s in on_bucket} == {"s3:PutObject", "s3:ListBucket"}
    # no other role or policy is granted anything on the bucket
    granted = {
        name
        for name, r in res.items()
        if isinstance(r, dict)
        and r.get("Type") in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy")
        and "FailedBatchBucket" in json.dumps(r)
    }
    assert granted == {"StreamFunctionRole", "ReplayRole"}
    (key,) = [
        s["Fn::If"]
        for s in stmts
        if "Fn::If" in s and s["Fn::If"][1].get("Sid") == "EncryptFailedBatches"
    ]
    cond, stmt, absent = key
    assert (cond, absent) == ("HasDataKey", NO_VALUE)
    assert stmt["Action"] == "kms:GenerateDataKey"
    assert stmt["Resource"] == {"Ref": "DataEncryptionKeyArn"}
    assert stmt["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
    }


def test_a_failed_batch_raises_the_alarm_on_the_buckets_request_metrics(
    many: dict[str, Any],
) -> None:
    res = many["Resources"]
    alarm = res["StreamFailureAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/S3", "PutRequests")
    dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dims["BucketName"] == {"Ref": "FailedBatchBucket"}
    filters = [m["Id"] for m in res["FailedBatchBucket"]["Properties"]["MetricsConfigurations"]]
    assert dims["FilterId"] in filters
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"] == [{"Ref": "OpsTopic"}]
    assert "batches-that-exhausted-retries" in alarm["AlarmDescription"]


def test_the_engines_own_dead_letter_queue_stays(many: dict[str, Any]) -> None:
    """Undecodable records and undeliverable alerts still go to SQS (engine/pipeline/dlq.py)."""
    res = many["Resources"]
    assert res["DeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
    env = res["StreamFunction"]["Properties"]["Environment"]["Variables"]
    assert env["DASALERT_DLQ_URL"] == {"Ref": "DeadLetterQueue"}
    assert res["DeadLetterAlarm"]["Properties"]["Namespace"] == "AWS/SQS"


def test_the_replay_role_reads_what_failed_and_decodes_as_the_function_does(
    source: dict[str, Any],  # noqa: F811
) -> None:
    res = source["Resources"]
    role = res["ReplayRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    account = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
    assert trust["Principal"] == {"AWS": {"Fn::Sub": account}}
    assert role["ManagedPolicyArns"] == [{"Ref": "OutputsPolicy"}]  # deliver as the functions do
    stmts = _statements(role["Policies"][0]["PolicyDocument"])
    plain = {s["Sid"]: s for s in stmts if "Sid" in s}
    assert plain["ReadFailedBatches"]["Action"] == "s3:GetObject"
    assert plain["ReadFailedBatches"]["Resource"] == {"Fn::Sub": "${FailedBatchBucket.Arn}/*"}
    assert plain["ListFailedBatches"]["Resource"] == BUCKET_ARN
    assert set(plain["ReadDeadLetters"]["Action"]) == {"sqs:ReceiveMessage", "sqs:DeleteMessage"}
    assert plain["ReadDeadLetters"]["Resource"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert set(plain["ReadTheActivityStreams"]["Action"]) == {
        "kinesis:GetShardIterator",
        "kinesis:GetRecords",
    }
    # the data keys under exactly the stream function's conditions, and its rule pack
    stream = _statements(res["StreamFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"])
    by_sid = {s["Sid"]: s for s in stream if "Sid" in s}
    for sid in ("DecryptClusterDataKeys", "DecryptInstanceDataKeys"):
        assert plain[sid] == by_sid[sid], sid

    def conditional(statements: list[dict[str, Any]], sid: str) -> list[Any]:
        (found,) = [
            s["Fn::If"] for s in statements if "Fn::If" in s and s["Fn::If"][1].get("Sid") == sid
        ]
        return found

    assert conditional(stmts, "ReadTheRulePack") == conditional(stream, "ReadTheRulePack")
    # it may not write to or delete from the bucket, nor touch the state table beyond delivery
    flat = json.dumps(role["Policies"])
    for verb in ("s3:PutObject", "s3:DeleteObject", "dynamodb:", "sqs:SendMessage"):
        assert verb not in flat, verb
    outputs = source["Outputs"]
    assert outputs["ReplayRoleArn"]["Value"] == {"Fn::GetAtt": ["ReplayRole", "Arn"]}
