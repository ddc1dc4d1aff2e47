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
    deadline = Deadline(lambda: 18_000, margin_s=5.0)  # 13 s left: one request, no 30 s wait
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


def test_no_request_is_begun_without_time_for_it_to_finish() -> None:
    """A request started with 2 s left could hold the Lambda past its timeout (the whole batch,
    delivered alerts too, would be retried): it is reported retryable without being sent."""
    calls: list[int] = []
    deadline = Deadline(lambda: 7_000, margin_s=5.0)  # 2 s left, a request may take 10 s
    out = RetryPolicy().call(lambda: calls.append(1) or Outcome.delivered(), deadline)
    assert out.status is Status.RETRYABLE and calls == []
    assert "no time left for a request" in out.reason
    batch = RetryPolicy().call_batch(
        [1, 2], lambda i: i, lambda items: calls.append(2) or {}, deadline
    )
    assert calls == [] and {k: o.status for k, o in batch.items()} == {
        1: Status.RETRYABLE,
        2: Status.RETRYABLE,
    }


def test_a_retry_needs_time_for_its_wait_and_its_request() -> None:
    sleep = Recorder()
    deadline = Deadline(lambda: 15_400, margin_s=5.0)  # 10.4 s: one request, not 0.5 s + another
    out = RetryPolicy(sleeper=sleep).call(lambda: Outcome.retryable("HTTP 500"), deadline)
    assert out.status is Status.RETRYABLE and sleep.waits == []
    assert "no time left to wait 0.5s" in out.reason
