"""An alert SNS cannot carry fails alone: the others of its batch are published."""

from __future__ import annotations

import json

from engine.outputs.base import Status
from tests.outputs.factory import make_alert
from tests.outputs.test_sns import drain, output, topic_with_queue


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text form")


def test_an_unencodable_alert_is_permanent_and_alone(aws) -> None:
    topic, url = topic_with_queue(raw=True)
    good = [make_alert(i) for i in range(3)]
    bad = make_alert(99, event={**good[0].event, "odd": Unprintable()})
    report = output(topic).send([good[0], bad, good[1], good[2]])
    status = {d.alert_id: d.status for d in report.deliveries}
    assert status[bad.id] is Status.PERMANENT
    assert all(status[a.id] is Status.DELIVERED for a in good)
    assert sorted(json.loads(m["Body"])["id"] for m in drain(url)) == sorted(a.id for a in good)


def test_a_lone_surrogate_is_published_replaced(aws) -> None:
    topic, url = topic_with_queue(raw=True)
    # built without redact_event, which would have cleaned it already
    alert = make_alert(1, event={**make_alert(1).event, "commandText": "CREATE TABLE x\ud800"})
    report = output(topic).send([alert])
    assert [d.status for d in report.deliveries] == [Status.DELIVERED]
    [message] = drain(url)
    assert json.loads(message["Body"])["event"]["commandText"] == "CREATE TABLE x\ufffd"


def test_nan_is_published_as_null_so_the_body_is_strict_json(aws) -> None:
    topic, url = topic_with_queue(raw=True)
    alert = make_alert(1, event={**make_alert(1).event, "rowCount": float("nan")})
    report = output(topic).send([alert])
    assert [d.status for d in report.deliveries] == [Status.DELIVERED]
    [message] = drain(url)
    body = json.loads(
        message["Body"], parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c))
    )
    assert body["event"]["rowCount"] is None
