"""The pipeline stops evaluating before the Lambda timeout and returns the rest as transient.

The evaluation is made slow by our own engine subclass: each record's evaluation uses up three
seconds of the invocation's remaining time (a clock the test owns; nothing sleeps).
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

    def process(self, events: Any) -> EngineResult:
        self.budget.ms -= 3000
        return super().process(events)


def _run(tmp_path, ms: int, can_retry: bool = True):
    keys = LocalKeyProvider(KEY)
    enc = Encoder(keys, CLUSTER)
    state = MemoryStateStore()
    wired = build_engine(write_rules(tmp_path / "rules"), state).engine
    engine = SlowEngine(wired.ruleset, state)
    engine.budget = Budget(ms)
    output = ScriptedOutput()
    router = Router({"fake": output}, ("fake",), {"fake": "info"}, ("fake",), ("fake",))
    p = Pipeline(
        Decoder(keys),
        state=state,
        engine=engine,
        router=router,
        dead_letters=ListDeadLetters(),
        clock=lambda: NOW,
        can_retry=can_retry,
    )
    records = [
        RawRecord(str(i), encode(enc, [ddl(f"user{i}", i, n=i)]), stream_arn=ARN) for i in range(10)
    ]
    return p.run(records, Deadline(engine.budget, margin_s=5.0)), output


def test_records_left_when_time_runs_short_are_transient(tmp_path) -> None:
    result, output = _run(tmp_path, 30_000)
    # 30 s, 5 s margin, 10 s reserve: records evaluated while >= 15 s remained, 3 s each
    assert [o.status for o in result.outcomes] == [OK] * 6 + [TRANSIENT] * 4
    assert {o.reason for o in result.outcomes[6:]} == {DEADLINE}
    assert result.transient_ids == ["6", "7", "8", "9"]
    assert sorted(a.event["dbUserName"] for a in output.sent) == [f"user{i}" for i in range(6)]


def test_without_a_deadline_every_record_is_evaluated(tmp_path) -> None:
    result, _ = _run(tmp_path, 10**9)
    assert [o.status for o in result.outcomes] == [OK] * 10
