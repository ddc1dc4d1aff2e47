"""One string no output can carry (a lone UTF-16 surrogate, valid in JSON, not in UTF-8) must not
cost the batch: its own alert is delivered with the character replaced, the others untouched."""

from __future__ import annotations

import json

from handlers.kinesis import handler
from tests.handlers.conftest import Deployment
from tests.pipeline.support import FakeContext, ddl


def test_a_lone_surrogate_fails_nothing_and_reaches_every_output(deployment: Deployment) -> None:
    d = deployment
    bad = ddl("mallory\ud800", 1, sql="CREATE TABLE loot_\udfff (x text)")
    event = d.event([bad], [ddl("eve", 2)])
    assert handler(event, FakeContext()) == {"batchItemFailures": []}

    titles = sorted(m["title"] for m in d.sns_messages())
    assert titles == ["DDL by eve: CREATE TABLE", "DDL by mallory\ufffd: CREATE TABLE"]
    assert len(d.findings()) == 2
    [post] = d.slack_alerts()
    assert "eve" in post and "mallory\\ufffd" in post
    assert d.dead_letters() == []
    # redelivery sends nothing again
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert d.sns_messages() == []


def test_the_raw_record_keeps_its_bytes_for_replay(deployment: Deployment) -> None:
    """Only what leaves the function is cleaned; rules still see the event as sent."""
    d = deployment
    event = d.event([ddl("mallory\ud800", 1)])
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    [message] = d.sns_messages()
    assert message["event"]["dbUserName"] == "mallory\ufffd"
    json.dumps(message, ensure_ascii=False).encode()  # valid UTF-8 end to end
