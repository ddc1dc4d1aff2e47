"""The watchdog cannot be blinded by time: replayed old records, future events, forged state.

A resource silent for hours stays silent when a captured old record is put on its stream again;
an event claiming a future time records no more than the invocation's clock; and a heartbeat time
written into the state table ahead of the clock is itself reported.
"""

from __future__ import annotations

from engine.das.decoder import Decoder
from engine.das.encoder import Encoder
from engine.das.keys import LocalKeyProvider
from engine.das.records import RawRecord
from engine.pipeline.batch import HEARTBEAT_NS, Pipeline
from engine.pipeline.state import MemoryStateStore
from engine.pipeline.watchdog import FUTURE_TOLERANCE_S, find_silent, silence_alert
from tests.pipeline.support import ARN, CLUSTER, T0, encode, select

KEY = bytes(range(32))
DAY = 86_400.0
EPOCH0 = T0.timestamp()


def _run(events: list[dict], now: float, heartbeats: int = 0) -> dict[str, float]:
    keys = LocalKeyProvider(KEY)
    state = MemoryStateStore()
    state.record_max(HEARTBEAT_NS, CLUSTER, now - 3 * 3600)  # silent for three hours
    data = encode(Encoder(keys, CLUSTER), events, heartbeats=heartbeats)
    Pipeline(Decoder(keys), state=state, clock=lambda: now).run(
        [RawRecord("1", data, stream_arn=ARN)]
    )
    return state.read_namespace(HEARTBEAT_NS)


def test_a_replayed_old_record_does_not_clear_a_silence() -> None:
    now = EPOCH0 + 5 * DAY  # the record's event is five days old
    seen = _run([select("app", 0)], now)
    assert seen[CLUSTER] == now - 3 * 3600
    assert [s.resource_id for s in find_silent(seen, [CLUSTER], now, 600)] == [CLUSTER]


def test_a_live_record_counts_as_heard_at_its_newest_event() -> None:
    now = EPOCH0 + 30
    assert _run([select("app", 10), select("app", 20, n=2)], now)[CLUSTER] == EPOCH0 + 20


def test_an_event_from_the_future_is_clamped_to_the_clock() -> None:
    now = EPOCH0
    assert _run([select("app", 30 * DAY)], now)[CLUSTER] == now


def test_a_heartbeat_only_record_is_heard_now() -> None:
    now = EPOCH0 + 100
    assert _run([], now, heartbeats=3)[CLUSTER] == now
    assert _run([select("app", 0)], now, heartbeats=1)[CLUSTER] == now


def test_a_heartbeat_time_ahead_of_the_clock_is_reported() -> None:
    now = EPOCH0
    forged = {CLUSTER: now + 365 * DAY, "cluster-SKEWED": now + FUTURE_TOLERANCE_S - 1}
    silent = find_silent(forged, [CLUSTER, "cluster-SKEWED"], now, 600)
    assert [(s.resource_id, s.future) for s in silent] == [(CLUSTER, True)]
    alert = silence_alert(silent[0], now, 600)
    assert "in the future" in alert.title and alert.severity == "high"
