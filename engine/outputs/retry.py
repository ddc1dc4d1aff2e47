"""Shared retry with backoff that never outlives the Lambda.

Every output retries the same way: a throttle (``Retry-After``) or a transient server error is
tried again after a wait, but only while the :class:`~engine.outputs.base.Deadline` still has
time for the wait; otherwise the item is reported *retryable* at once, so the caller can hand it
back to Kinesis (``batchItemFailures``) instead of the function timing out and losing the batch.
The sleeper is injected so tests record the requested waits instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from engine.outputs.aws_errors import classify
from engine.outputs.base import Deadline, Status

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Outcome:
    """What one attempt did for one item (or one request)."""

    status: Status
    reason: str = ""
    retry_after: float | None = None  # seconds the service asked us to wait (429)

    @classmethod
    def delivered(cls) -> Outcome:
        return cls(Status.DELIVERED)

    @classmethod
    def permanent(cls, reason: str) -> Outcome:
        return cls(Status.PERMANENT, reason)

    @classmethod
    def retryable(cls, reason: str, retry_after: float | None = None) -> Outcome:
        return cls(Status.RETRYABLE, reason, retry_after)

    @classmethod
    def of_aws_error(cls, exc: BaseException, service: str) -> Outcome:
        """A failed boto3 call, read by the one AWS error mapper (``engine.outputs.aws_errors``)."""
        failure = classify(exc, service)
        return cls.retryable(failure.reason) if failure.retryable else cls.permanent(failure.reason)


@dataclass
class RetryPolicy:
    """Exponential backoff (``base_s * 2**n``, capped) for at most ``attempts`` tries.

    No jitter: one Lambda per shard sends serially, so there is no herd to spread, and a
    deterministic schedule is what the tests and the docs can state exactly.
    """

    attempts: int = 4
    base_s: float = 0.5
    cap_s: float = 8.0
    sleeper: Callable[[float], None] = field(default=time.sleep)
    # The longest one request may take (the outputs' HTTP read timeout, 10 s). An attempt starts
    # only while the deadline still has that much time: a request begun with 2 s left could hold
    # the function past its timeout, and the whole batch — delivered alerts too — would be
    # retried.
    request_timeout_s: float = 10.0

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1-based)."""
        return min(self.cap_s, self.base_s * (2 ** (retry - 1)))

    def _wait(self, retry: int, outcome: Outcome, deadline: Deadline) -> str | None:
        """Sleep before the next try; a reason string when there is no time (or try) left."""
        if retry >= self.attempts:
            return f"gave up after {self.attempts} attempts"
        wait = outcome.retry_after if outcome.retry_after is not None else self.backoff(retry)
        if not deadline.allows(wait + self.request_timeout_s):
            left = max(0.0, deadline.remaining())
            return f"no time left to wait {wait:g}s before retrying ({left:.1f}s left)"
        self.sleeper(wait)
        return None

    def _no_time(self, deadline: Deadline) -> Outcome | None:
        if deadline.allows(self.request_timeout_s):
            return None
        left = max(0.0, deadline.remaining())
        return Outcome.retryable(
            f"no time left for a request ({left:.1f}s left, a request may take "
            f"{self.request_timeout_s:g}s)"
        )

    def call(self, attempt: Callable[[], Outcome], deadline: Deadline | None = None) -> Outcome:
        """Run one request until it is delivered, fails for good, or retrying must stop."""
        deadline = deadline or Deadline()
        if (late := self._no_time(deadline)) is not None:
            return late
        tries = 0
        while True:
            tries += 1
            outcome = attempt()
            if outcome.status is not Status.RETRYABLE:
                return outcome
            stop = self._wait(tries, outcome, deadline)
            if stop is not None:
                return Outcome.retryable(f"{outcome.reason}; {stop}")

    def call_batch(
        self,
        items: Sequence[T],
        key: Callable[[T], K],
        attempt: Callable[[Sequence[T]], Mapping[K, Outcome]],
        deadline: Deadline | None = None,
    ) -> dict[K, Outcome]:
        """Send ``items``; retry only the ones whose outcome is retryable.

        ``attempt`` returns an outcome per key for the items it was given; an item it leaves
        out counts as retryable (a batch API that forgets an entry must not lose it).
        """
        deadline = deadline or Deadline()
        if (late := self._no_time(deadline)) is not None:
            return {key(item): late for item in items}
        final: dict[K, Outcome] = {}
        pending = list(items)
        tries = 0
        while pending:
            tries += 1
            got = attempt(pending)
            retry: list[T] = []
            worst: Outcome | None = None
            for item in pending:
                k = key(item)
                out = got.get(k) or Outcome.retryable("no result returned for this entry")
                if out.status is Status.RETRYABLE:
                    retry.append(item)
                    if worst is None or (out.retry_after or 0) > (worst.retry_after or 0):
                        worst = out
                final[k] = out
            if not retry:
                break
            assert worst is not None
            stop = self._wait(tries, worst, deadline)
            if stop is not None:
                for item in retry:
                    k = key(item)
                    final[k] = Outcome.retryable(f"{final[k].reason}; {stop}")
                break
            pending = retry
        return final
