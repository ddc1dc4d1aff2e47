"""The fixtures themselves: moto answers over HTTP, the Slack server answers as scripted."""

import urllib.request

import boto3

from tests.support.slack_server import SlackResponse


def test_moto_server_is_reached_over_http(aws: str) -> None:
    kms = boto3.client("kms")
    assert kms.meta.endpoint_url == aws
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"] == key


def test_slack_server_scripts_responses(slack) -> None:
    slack.script(SlackResponse(429, "rate_limited", {"Retry-After": "3"}))
    req = urllib.request.Request(slack.webhook_url, data=b'{"text":"x"}', method="POST")
    try:
        urllib.request.urlopen(req)
        raise AssertionError("expected 429")
    except urllib.error.HTTPError as e:
        assert e.code == 429 and e.headers["Retry-After"] == "3"
    with urllib.request.urlopen(
        urllib.request.Request(slack.webhook_url, data=b"{}", method="POST")
    ) as r:
        assert r.status == 200 and r.read() == b"ok"
    assert [r.json for r in slack.requests] == [{"text": "x"}, {}]
