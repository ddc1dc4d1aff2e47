"""Mutes in the state table: the store (memory and DynamoDB on the moto server), validation,
and the engine honouring them, read once per batch and counted."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest

from engine.pipeline.mutes import (
    TTL_MARGIN_S,
    MuteError,
    MuteRequest,
    active_mutes,
    canonical_key,
    make_mute,
    parse_duration,
    store_mute,
)
from engine.pipeline.state import MemoryStateStore, Mute, StateStore
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from engine.rules.lang import schema
from engine.rules.lang.expr import compile_expr
from engine.rules.model import Dedup, Threshold
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.ruleset import RuleSet
from tests.rules.runtime.test_engine import T0, ev, rule

TABLE = "dasalert-state"


@pytest.fixture
def ddb(aws: str):
    client = boto3.client("dynamodb")
    create_table(client, TABLE)
    return client


@pytest.fixture(params=["memory", "dynamodb"])
def store(request) -> StateStore:
    if request.param == "memory":
        return MemoryStateStore()
    return DynamoDBStateStore(TABLE, request.getfixturevalue("ddb"))


def mute(rule_id: str = "r", key: str | None = None, seconds: int = 3600, **kw) -> Mute:
    req = MuteRequest(rule_id, key, seconds, kw.pop("who", "U0AAA"), kw.pop("reason", "noise"))
    return make_mute(req, kw.pop("now", T0))


# -- the store -------------------------------------------------------------------------


def test_mutes_round_trip_replace_and_delete(store: StateStore) -> None:
    long_key = canonical_key("x" * 3000)  # longer than a DynamoDB sort key may be
    store_mute(store, mute("r", '"alice"'))
    store_mute(store, mute("r", None, 7200, reason="whole rule"))
    store_mute(store, mute("s", long_key))
    store_mute(store, mute("r", '"alice"', 60, reason="shorter now"))  # replaces, same key
    got = {(m.rule_id, m.key): m for m in store.list_mutes()}
    assert set(got) == {("r", '"alice"'), ("r", None), ("s", long_key)}
    assert got[("r", '"alice"')].reason == "shorter now"
    assert got[("r", '"alice"')].until == T0 + 60
    assert got[("r", None)].who == "U0AAA" and got[("r", None)].kind == "mute"
    assert store.delete_mute("r", '"alice"') is True
    assert store.delete_mute("r", '"alice"') is False
    assert {(m.rule_id, m.key) for m in store.list_mutes()} == {("r", None), ("s", long_key)}


def test_dynamodb_mute_item_carries_its_ttl(ddb) -> None:
    store = DynamoDBStateStore(TABLE, ddb)
    m = mute("r", '"alice"', 3600)
    store_mute(store, m)
    items = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "mute"}},
    )["Items"]
    assert len(items) == 1
    assert float(items[0]["expires_at"]["N"]) == m.until + TTL_MARGIN_S
    ttl = ddb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


def test_active_mutes_hide_the_ended_ones(store: StateStore) -> None:
    store_mute(store, mute("r", None, 60))
    store_mute(store, mute("s", None, 3600))
    assert [m.rule_id for m in active_mutes(store, now=T0 + 30)] == ["r", "s"]
    assert [m.rule_id for m in active_mutes(store, now=T0 + 61)] == ["s"]


# -- validation ------------------------------------------------------------------------


def test_durations() -> None:
    assert parse_duration("1h") == 3600
    assert parse_duration("24h") == 86400
    assert parse_duration(" 7d ") == 7 * 86400
    assert parse_duration("30m") == 1800
    for bad in ("", "24", "h", "-1h", "1y", "0m", "91d", "1.5h"):
        with pytest.raises(MuteError):
            parse_duration(bad)


@pytest.mark.parametrize(
    "req",
    [
        MuteRequest("Bad Rule", None, 3600, "u", "r"),
        MuteRequest("", None, 3600, "u", "r"),
        MuteRequest("r", "", 3600, "u", "r"),
        MuteRequest("r", "k" * 5000, 3600, "u", "r"),
        MuteRequest("r", None, 10, "u", "r"),
        MuteRequest("r", None, 3600, "", "r"),
        MuteRequest("r", None, 3600, "u", "  \u202e "),
        MuteRequest("r", None, 3600, "u", "x" * 501),
        MuteRequest("r", None, 3600, "u", "r", kind="forever"),
    ],
)
def test_invalid_mutes_are_refused(req: MuteRequest) -> None:
    with pytest.raises(MuteError):
        make_mute(req, T0)


def test_reason_is_cleaned_of_controls() -> None:
    m = make_mute(MuteRequest("r", None, 3600, "U1", "noisy\u202e job\x00"), T0)
    assert m.reason == "noisy job"


def test_rule_id_syntax_is_the_rule_languages() -> None:
    from engine.pipeline import mutes

    assert mutes.RULE_ID_RE.pattern == schema.RULE_ID_RE.pattern


def test_canonical_key_matches_what_alerts_carry() -> None:
    assert canonical_key("alice") == '"alice"'
    assert canonical_key('"alice"') == '"alice"'
    assert canonical_key('[ "alice", "10.0.0.5" ]') == '["alice","10.0.0.5"]'
    assert canonical_key(None) is None


# -- the engine ------------------------------------------------------------------------


class CountingStore(MemoryStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def list_mutes(self) -> list[Mute]:
        self.calls["list_mutes"] += 1
        return super().list_mutes()


def dedup_engine(state: StateStore) -> Engine:
    r = rule("r", "`true`", dedup=Dedup(compile_expr("dbUserName"), 600))
    return Engine(RuleSet([r], {}, {}), state)


def test_a_keyed_mute_drops_that_key_only_and_is_counted(store: StateStore) -> None:
    engine = dedup_engine(store)
    store_mute(store, mute("r", canonical_key("alice"), 3600))
    res = engine.process([ev(dbUserName="alice"), ev(dbUserName="bob")])
    assert [a.dedup_key for a in res.alerts] == ['"bob"']
    assert res.muted == 1


def test_a_rule_mute_drops_every_key_and_other_rules_still_alert(store: StateStore) -> None:
    other = rule("other", "`true`")
    r = rule("r", "`true`", dedup=Dedup(compile_expr("dbUserName"), 600))
    engine = Engine(RuleSet([r, other], {}, {}), store)
    store_mute(store, mute("r", None, 3600))
    res = engine.process([ev(dbUserName="alice"), ev(dbUserName="bob")])
    assert [a.rule_id for a in res.alerts] == ["other", "other"]
    assert res.muted == 2


def test_a_mute_ends_at_its_until_in_event_time(store: StateStore) -> None:
    engine = dedup_engine(store)
    store_mute(store, mute("r", None, 3600))  # T0 .. T0 + 1 h
    assert engine.process([ev(epoch=T0 + 3599)]).muted == 1
    engine.begin_batch()
    late = engine.process([ev(epoch=T0 + 3600, dbUserName="carol")])
    assert late.muted == 0 and [a.dedup_key for a in late.alerts] == ['"carol"']


def test_after_a_mute_the_window_alerts_with_its_true_count() -> None:
    store = MemoryStateStore()
    engine = dedup_engine(store)
    store_mute(store, mute("r", None, 120))  # the window (600 s) outlives the mute
    assert engine.process([ev(epoch=T0 + 10)]).alerts == []
    engine.begin_batch()
    res = engine.process([ev(epoch=T0 + 200)])
    assert len(res.alerts) == 1 and res.alerts[0].count == 2


def test_threshold_mute_by_group() -> None:
    store = MemoryStateStore()
    r = rule("t", "`true`", threshold=Threshold(2, 300, compile_expr("dbUserName")))
    engine = Engine(RuleSet([r], {}, {}), store)
    store_mute(store, mute("t", canonical_key("alice")))
    events = [ev(epoch=T0 + i, dbUserName=u) for i in range(2) for u in ("alice", "bob")]
    res = engine.process(events)
    assert [a.dedup_key for a in res.alerts] == ['"bob"'] and res.muted == 1


def test_rule_errors_are_never_muted() -> None:
    store = MemoryStateStore()
    r = rule("r", "boom(dbUserName)")
    from tests.rules.runtime.test_engine import BOOM

    engine = Engine(RuleSet([r], {}, {}, options=BOOM), store)
    store_mute(store, mute("r", None))
    res = engine.process([ev()])
    assert [a.kind for a in res.alerts] == ["rule_error"] and res.muted == 0


def test_mutes_are_read_once_per_batch_and_only_when_something_fires() -> None:
    store = CountingStore()
    engine = dedup_engine(store)
    engine.process([ev(action="READ", dbUserName=None)])  # fires: reads once
    engine.begin_batch()
    engine.process([])  # nothing fires: no read
    assert store.calls["list_mutes"] == 1
    engine.begin_batch()
    for i in range(5):  # one batch, many records (the pipeline calls process per record)
        engine.process([ev(epoch=T0 + 1000 * i, dbUserName=f"u{i}")])
    assert store.calls["list_mutes"] == 2


def test_a_mute_stored_between_batches_takes_effect_on_the_next(store: StateStore) -> None:
    engine = dedup_engine(store)
    assert len(engine.process([ev(dbUserName="alice")]).alerts) == 1
    store_mute(store, mute("r", canonical_key("dave")))
    same_batch = engine.process([ev(dbUserName="dave")])
    assert len(same_batch.alerts) == 1  # cached for the batch
    engine.begin_batch()
    assert engine.process([ev(dbUserName="dave", epoch=T0 + 1)]).muted == 1


class UnreadableMutes(MemoryStateStore):
    def list_mutes(self) -> list[Mute]:
        from engine.pipeline.state import StateUnavailable

        raise StateUnavailable("throttled")


def test_unreadable_mutes_fail_open() -> None:
    store = UnreadableMutes()
    store_mute(store, mute("r", None))
    res = dedup_engine(store).process([ev()])
    assert len(res.alerts) == 1 and res.muted == 0
