"""A record carrying more events than any real one is refused whole, typed and replayable: its
neighbours are evaluated, it is dead-lettered with the reason, nothing runs out of memory."""

from __future__ import annotations

import pytest

import engine.pipeline.batch as batch
from engine.das.encoder import Encoder
from engine.das.keys import LocalKeyProvider
from engine.pipeline.batch import OK, PERMANENT
from engine.rules import build_engine
from tests.pipeline.support import CLUSTER, ddl, encode, write_rules
from tests.pipeline.test_pipeline import KEY, Setup, rec


def test_a_record_over_the_event_cap_is_permanent_and_alone(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "MAX_EVENTS_PER_RECORD", 5)
    keys = LocalKeyProvider(KEY)
    encoder = Encoder(keys, CLUSTER)
    s = Setup(keys, build_engine(write_rules(tmp_path / "rules")).ruleset)
    records = [
        rec(1, encode(encoder, [ddl("a", 1)])),
        rec(2, encode(encoder, [ddl(f"u{n}", n, n=n) for n in range(6)])),
        rec(3, encode(encoder, [ddl(f"v{n}", n, n=n) for n in range(5)])),
    ]
    result = s.pipeline.run(records)
    assert [o.status for o in result.outcomes] == [OK, PERMANENT, OK]
    [doc] = s.dlq.docs
    assert (doc["record_id"], doc["reason"]) == ("2", "too_many_events")
    users = {a.event["dbUserName"] for a in s.output.sent if a.kind == "rule"}
    assert users == {"a", "v0", "v1", "v2", "v3", "v4"}


def test_the_cap_is_far_above_real_records() -> None:
    assert batch.MAX_EVENTS_PER_RECORD >= 100_000
