"""The archive layout: partition keys written by the Firehose handler, parsed back by backtest.

Pruning must be *sound*: a partition the reader skips can hold no event that a pack with the
given actions could match inside the range. Hypothesis checks that over generated records.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from engine.pipeline.archive import (
    NO_ACTION,
    SLACK_S,
    parse_partition,
    partition_keys,
    wanted,
)

ACTIONS = ["READ", "WRITE", "DDL", "ROLE", "CONNECT", "LOGIN_FAILED", None]
T0 = dt.datetime(2026, 11, 20, 9, 59, 58, tzinfo=dt.UTC).timestamp()


def ev(action: str | None, epoch: float | None = T0, cluster: str | None = "cluster-ABC") -> dict:
    return {"das": {"action": action, "epoch": epoch, "clusterId": cluster, "instanceId": "db-X"}}


def prefix(keys: dict[str, str]) -> str:
    return "resource={resource}/action={action}/dt={dt}/hour={hour}/".format(**keys)


def test_keys_are_the_sorted_actions_the_resource_and_the_first_event_hour() -> None:
    keys = partition_keys([ev("READ"), ev("DDL", T0 + 5), ev("READ")])
    assert keys == {
        "resource": "cluster-ABC",
        "action": "DDL.READ",
        "dt": "2026-11-20",
        "hour": "09",
    }


def test_an_instance_without_cluster_an_unknown_action_and_unsafe_text() -> None:
    keys = partition_keys([ev(None, cluster=None), ev("WEIRD/../x", cluster=None)])
    assert keys is not None
    assert keys["resource"] == "db-X"
    assert keys["action"] == f"{NO_ACTION}.WEIRD_.._x"
    assert "/" not in keys["action"]


def test_no_event_no_keys_and_an_untimed_record_is_kept_at_the_epoch() -> None:
    assert partition_keys([]) is None
    assert partition_keys([{"no": "das"}]) is None
    assert partition_keys([ev("READ", epoch=None)])["dt"] == "1970-01-01"


def test_a_key_outside_the_layout_is_not_a_partition() -> None:
    assert parse_partition("2026/11/20/09/stream-1-2026-11-20") is None
    assert parse_partition("resource=a/action=READ/dt=2026-13-40/hour=09/x") is None
    assert parse_partition("resource=a/action=READ/dt=2026-11-20/hour=24/x") is None


def test_a_pack_without_action_restriction_reads_everything_in_range() -> None:
    part = parse_partition(prefix(partition_keys([ev("READ")])) + "obj.gz")
    assert part is not None
    assert wanted(part, None)
    assert not wanted(part, frozenset({"DDL"}))
    assert wanted(part, frozenset({"DDL", "READ"}))
    assert not wanted(part, None, start=part.end + SLACK_S)
    assert not wanted(part, None, end=part.start)
    assert wanted(part, None, start=part.end + SLACK_S - 1, end=part.start + 1)


records = st.lists(
    st.tuples(st.sampled_from(ACTIONS), st.floats(min_value=0, max_value=3000)),
    min_size=1,
    max_size=8,
).map(lambda items: [ev(a, T0 + offset) for a, offset in sorted(items, key=lambda i: i[1])])


@given(
    record=records,
    pack=st.one_of(st.none(), st.frozensets(st.sampled_from(ACTIONS[:-1]), max_size=3)),
    start=st.one_of(st.none(), st.floats(min_value=T0 - 7200, max_value=T0 + 7200)),
    length=st.floats(min_value=1, max_value=9000),
)
def test_pruning_never_skips_an_event_the_pack_could_match(record, pack, start, length) -> None:
    keys = partition_keys(record)
    assert keys is not None
    part = parse_partition("s3prefix/" + prefix(keys) + "object")
    assert part is not None
    end = None if start is None else start + length
    if wanted(part, pack, start, end):
        return
    for e in record:
        action, epoch = e["das"]["action"], e["das"]["epoch"]
        in_pack = pack is None or action is None or action in pack
        in_range = start is None or (start <= epoch < end)
        assert not (in_pack and in_range), (keys, e)
