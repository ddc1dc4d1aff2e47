"""The pipeline stops evaluating before the Lambda timeout and returns the rest as transient.

The evaluation is made slow by our own engine subclass: each engine call uses up three seconds of
the invocation's remaining time, and each decode (when asked) one second (a clock the test owns;
nothing sleeps). The pipeline evaluates a batch's records together, ``events_per_call`` events a
call; the deadline is checked before each record is decoded and before each call.
"""

from __future__ import annotations

from typing import Any

from engine.das.decoder import Decoder
from engine.das.encoder import Encoder
from engine.das.keys import LocalKeyProvider
from engine.das.records import RawRecord
from engine.outputs.base import Deadline
from engine.outputs.routing import Router
from engine.pipeline.batch import DEADLINE, OK, TRANSIENT, Pipeline
from engine.pipeline.state import MemoryStateStore
from engine.rules import build_engine
from engine.rules.runtime.engine import Engine, EngineResult
from tests.pipeline.support import (
    ARN,
    CLUSTER,
    ListDeadLetters,
    ScriptedOutput,
    ddl,
    encode,
    write_rules,
)

KEY = bytes(range(32))
NOW = 1_800_000_000.0


class Budget:
    """Milliseconds left in the invocation, spent by the slow engine."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


class SlowEngine(Engine):
    budget: Budget
    calls: int = 0

    def process(self, events: Any, origins: Any = None) -> EngineResult:
        self.budget.ms -= 3000
        self.calls += 1
        return super().process(events, origins)


class SlowDecoder(Decoder):
    budget: Budget | None = None
    cost_ms = 0

    def decode(self, record: RawRecord) -> Any:
        if self.budget is not None:
            self.budget.ms -= self.cost_ms
        return super().decode(record)


def _run(
    tmp_path,
    ms: int,
    can_retry: bool = True,
    *,
    events_per_call: int = 1,
    decode_ms: int = 0,
):
    keys = LocalKeyProvider(KEY)
    enc = Encoder(keys, CLUSTER)
    state = MemoryStateStore()
    wired = build_engine(write_rules(tmp_path / "rules"), state).engine
    engine = SlowEngine(wired.ruleset, state)
    engine.budget = Budget(ms)
    decoder = SlowDecoder(keys)
    decoder.budget, decoder.cost_ms = engine.budget, decode_ms
    output = ScriptedOutput()
    router = Router({"fake": output}, ("fake",), {"fake": "info"}, ("fake",), ("fake",))
    p = Pipeline(
        decoder,
        state=state,
        engine=engine,
        router=router,
        dead_letters=ListDeadLetters(),
        clock=lambda: NOW,
        can_retry=can_retry,
        events_per_call=events_per_call,
    )
    records = [
        RawRecord(str(i), encode(enc, [ddl(f"user{i}", i, n=i)]), stream_arn=ARN) for i in range(10)
    ]
    return p.run(records, Deadline(engine.budget, margin_s=5.0)), output, engine


def test_records_left_when_time_runs_short_are_transient(tmp_path) -> None:
    result, output, _ = _run(tmp_path, 30_000)
    # 30 s, 5 s margin, 10 s reserve: records evaluated while >= 15 s remained, 3 s each
    assert [o.status for o in result.outcomes] == [OK] * 6 + [TRANSIENT] * 4
    assert {o.reason for o in result.outcomes[6:]} == {DEADLINE}
    assert result.transient_ids == ["6", "7", "8", "9"]
    assert sorted(a.event["dbUserName"] for a in output.sent) == [f"user{i}" for i in range(6)]


def test_without_a_deadline_every_record_is_evaluated(tmp_path) -> None:
    result, _, engine = _run(tmp_path, 10**9, events_per_call=1000)
    assert [o.status for o in result.outcomes] == [OK] * 10
    assert engine.calls == 1  # the whole batch in one engine call


def test_the_deadline_is_checked_between_calls_of_a_split_batch(tmp_path) -> None:
    # four records a call: at 23 s records 0-3 are evaluated (20 s left), then 4-7 (17 s left);
    # under 20 s each record is evaluated as soon as it is decoded: record 8 (14 s left), and
    # record 9 is not decoded any more
    result, output, engine = _run(tmp_path, 23_000, events_per_call=4)
    assert [o.status for o in result.outcomes] == [OK] * 9 + [TRANSIENT]
    assert result.transient_ids == ["9"] and engine.calls == 3
    assert sorted(a.event["dbUserName"] for a in output.sent) == [f"user{i}" for i in range(9)]


def test_a_batch_that_decodes_slowly_is_evaluated_before_time_runs_short(tmp_path) -> None:
    # decoding costs 1 s: records 0 and 1 are decoded (21.5 -> 19.5 s); under 20 s the call is
    # made at once (16.5 s left), then record 2 alone (12.5 s left); the rest are not decoded
    result, output, engine = _run(tmp_path, 21_500, events_per_call=1000, decode_ms=1000)
    assert [o.status for o in result.outcomes] == [OK] * 3 + [TRANSIENT] * 7
    assert engine.calls == 2
    assert sorted(a.event["dbUserName"] for a in output.sent) == ["user0", "user1", "user2"]


def test_records_decoded_when_time_runs_out_are_returned_unevaluated(tmp_path) -> None:
    # one decode eats 6 s (20.5 -> 14.5 s): no time is left for its call, which is not made
    result, output, engine = _run(tmp_path, 20_500, events_per_call=1000, decode_ms=6000)
    assert [o.status for o in result.outcomes] == [TRANSIENT] * 10
    assert {o.reason for o in result.outcomes} == {DEADLINE}
    assert engine.calls == 0 and output.sent == []
