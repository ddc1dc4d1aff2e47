"""A clock the test moves by hand, so that no test sleeps or reads the wall clock."""

from __future__ import annotations

from typing import Any


class Clock:
    """Returns ``now`` (seconds, or a datetime where the code under test reads one); the test
    sets ``clock.now`` to move time."""

    def __init__(self, now: Any = 1000.0) -> None:
        self.now = now

    def __call__(self) -> Any:
        return self.now
