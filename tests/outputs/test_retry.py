"""Retry/backoff: waits as asked, never past the deadline, retries only what failed."""

from __future__ import annotations

from engine.outputs.base import Deadline, Status
from engine.outputs.retry import Outcome, RetryPolicy


class Recorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_backoff_is_exponential_and_capped() -> None:
    p = RetryPolicy(base_s=0.5, cap_s=3.0)
    assert [p.backoff(i) for i in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_retry_after_is_honoured_then_delivered() -> None:
    sleep = Recorder()
    answers = iter([Outcome.retryable("429", 7.0), Outcome.retryable("500"), Outcome.delivered()])
    out = RetryPolicy(sleeper=sleep).call(lambda: next(answers))
    assert out.status is Status.DELIVERED and sleep.waits == [7.0, 1.0]


def test_permanent_is_not_retried() -> None:
    sleep = Recorder()
    calls = []
    out = RetryPolicy(sleeper=sleep).call(lambda: calls.append(1) or Outcome.permanent("410"))
    assert out.status is Status.PERMANENT and calls == [1] and sleep.waits == []


def test_gives_up_after_attempts() -> None:
    sleep = Recorder()
    out = RetryPolicy(attempts=3, sleeper=sleep).call(lambda: Outcome.retryable("500"))
    assert out.status is Status.RETRYABLE and "gave up after 3 attempts" in out.reason
    assert sleep.waits == [0.5, 1.0]


def test_wait_longer_than_the_deadline_is_not_taken() -> None:
    sleep = Recorder()
    deadline = Deadline(lambda: 8_000, margin_s=5.0)  # 3 s left
    out = RetryPolicy(sleeper=sleep).call(lambda: Outcome.retryable("HTTP 429", 30.0), deadline)
    assert out.status is Status.RETRYABLE and sleep.waits == []
    assert "no time left to wait 30s" in out.reason


def test_batch_retries_only_the_retryable_items() -> None:
    sleep = Recorder()
    seen: list[list[int]] = []

    def attempt(items):
        seen.append(list(items))
        out = {}
        for i in items:
            if i == 2:
                out[i] = Outcome.permanent("bad")
            elif i == 3 and len(seen) == 1:
                out[i] = Outcome.retryable("throttled")
            elif i == 4:
                continue  # the service forgot this entry
            else:
                out[i] = Outcome.delivered()
        return out

    res = RetryPolicy(attempts=2, sleeper=sleep).call_batch([1, 2, 3, 4], lambda i: i, attempt)
    assert seen == [[1, 2, 3, 4], [3, 4]]
    assert res[1].status is Status.DELIVERED and res[3].status is Status.DELIVERED
    assert res[2].status is Status.PERMANENT
    assert res[4].status is Status.RETRYABLE and "no result returned" in res[4].reason
    assert sleep.waits == [0.5]
