"""StateStore: the memory of suppression (dedup windows, thresholds, sent alerts, heartbeats).

Everything is keyed in *event time* by the caller, so replays and tests are deterministic.
Implementations must make each operation atomic on its own (DynamoDB: conditional writes and
``ADD``), because concurrent shards share one table. Items expire at ``expires_at`` (epoch
seconds; DynamoDB TTL), so the store never needs cleaning.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# (namespace, name, value, expires_at): one member written by ``put_members``
Member = tuple[str, str, float, float]


@dataclass(frozen=True, slots=True)
class Mute:
    """A responder's decision that a rule (for one dedup / group key, or all of it) should not
    alert until ``until`` (epoch seconds, compared with the alert's event time).

    ``key`` is the canonical JSON text an alert carries as ``dedup_key`` (``None``: every key of
    the rule). ``kind`` is ``mute`` or ``false_positive`` (a mute a responder marked as a false
    positive, kept apart so tuning can find them). Validation lives in ``engine.pipeline.mutes``:
    the store keeps what it is given.
    """

    rule_id: str
    key: str | None
    until: float
    who: str
    reason: str
    created: float
    kind: str = "mute"

    def applies(self, rule_id: str, key: str | None, at: float) -> bool:
        """Whether this mute silences an alert of ``rule_id``/``key`` whose event time is ``at``."""
        return rule_id == self.rule_id and (self.key is None or key == self.key) and at < self.until


class StateError(Exception):
    """The state store failed. ``transient`` says whether the same call may work in a moment."""

    transient = False


class StateUnavailable(StateError):
    """Throttled, a server error, no connection: retrying the record may help."""

    transient = True


class StatePermanentError(StateError):
    """The store refuses the call (no such table, access denied, an invalid request): the same
    call fails the same way, so retrying the record would block its shard for nothing."""


class StateStore(ABC):
    """Implementations raise :class:`StateUnavailable` or :class:`StatePermanentError` for a
    failure of the store itself, and nothing else: the pipeline retries a record only for the
    first, and treats any other exception as a bug that a retry cannot fix."""

    @abstractmethod
    def incr(self, key: str, amount: int = 1, *, expires_at: float) -> int:
        """Atomically add ``amount`` to the counter ``key`` and return the new total."""

    @abstractmethod
    def get_counts(self, keys: Sequence[str]) -> dict[str, int]:
        """Current value of each counter (0 when absent or expired)."""

    @abstractmethod
    def add_once(self, key: str, *, expires_at: float) -> bool:
        """Record ``key``; True only for the first caller (an idempotency marker)."""

    def add_once_many(self, keys: Iterable[str], *, expires_at: float) -> set[str]:
        """Record every key of ``keys``; return those that were new (first caller for each).

        The batched ``add_once``: a batch's idempotency markers in a few round trips instead of
        one per event. Per key it keeps ``add_once``'s promise (of two concurrent callers exactly
        one gets the key back), and it shares ``add_once``'s storage, so the two can be mixed.
        This default calls ``add_once`` per key; the stores override it.
        """
        return {key for key in dict.fromkeys(keys) if self.add_once(key, expires_at=expires_at)}

    def add_once_each(self, expiries: Mapping[str, float]) -> set[str]:
        """``add_once_many`` for keys with different expiries (``key -> expires_at``): the
        markers of many dedup windows, each expiring with its own window, in one batched call.
        The same per-key promise as ``add_once``; this default makes one ``add_once_many`` per
        distinct expiry, the stores override it with one batch whatever the expiries (and make
        ``add_once_many`` the special case: a store that overrides only ``add_once_many`` must
        not build it on this default, which calls it)."""
        by_expiry: dict[float, list[str]] = {}
        for key, exp in expiries.items():
            by_expiry.setdefault(exp, []).append(key)
        new: set[str] = set()
        for exp, keys in by_expiry.items():
            new |= self.add_once_many(keys, expires_at=exp)
        return new

    def incr_many(self, amounts: Mapping[str, tuple[int, float]]) -> dict[str, int]:
        """``incr`` for many counters (``key -> (amount, expires_at)``); each new total.

        Atomic per counter exactly like ``incr`` (a dedup window is opened by the caller whose
        add returns its own amount, across shards), so it is one ``incr`` per key: no store can
        add to many counters in one atomic call. The stores send them concurrently."""
        return {key: self.incr(key, n, expires_at=exp) for key, (n, exp) in amounts.items()}

    def put_counts(self, values: Mapping[str, tuple[int, float]]) -> None:
        """Write counters outright (``key -> (value, expires_at)``), read back with
        ``get_counts``: for flags kept as counters — a delivery's sent marker, where only whether
        it is set matters — so many go out in one batched write instead of an atomic update
        each. The last write wins against a concurrent ``incr`` of the same key, so never use it
        for a count. This default adds the value (the same for a counter not yet set)."""
        for key, (value, exp) in values.items():
            self.incr(key, value, expires_at=exp)

    def add_counts(self, amounts: Mapping[str, tuple[int, float]]) -> None:
        """Add ``amount`` to each counter ``key -> (amount, expires_at)``; read back with
        ``get_counts``. Atomic per counter like ``incr`` (concurrent adds are never lost); the
        batched form of ``incr`` when the caller does not need each new total."""
        for key, (amount, exp) in amounts.items():
            self.incr(key, amount, expires_at=exp)

    @abstractmethod
    def record_max(
        self, namespace: str, name: str, value: float, *, expires_at: float | None = None
    ) -> None:
        """Keep the largest ``value`` seen for ``name`` (e.g. last heartbeat time per cluster)."""

    @abstractmethod
    def read_namespace(self, namespace: str) -> dict[str, float]:
        """All ``name -> value`` pairs written with ``record_max`` in ``namespace``."""

    def read_namespaces(self, namespaces: Iterable[str]) -> dict[str, dict[str, float]]:
        """``read_namespace`` for several namespaces (the stores read them concurrently)."""
        return {ns: self.read_namespace(ns) for ns in dict.fromkeys(namespaces)}

    # -- the stateful rule types (sequence, first seen, distinct count) ------------------------
    # Written for one round trip per batch: a batched read, a batched unconditional write, and a
    # conditional write only where a race decides something (a new value, a firing).

    @abstractmethod
    def put_if_absent(self, key: str, value: str, *, expires_at: float) -> tuple[str, bool]:
        """Store ``value`` unless ``key`` holds one: (the stored value, True if this call
        stored it). Atomic: of two concurrent callers exactly one gets True."""

    @abstractmethod
    def advance(self, key: str, value: float, *, if_below: float, expires_at: float) -> bool:
        """Set the number ``key`` to ``value`` if it is absent or below ``if_below``; True when
        set. Atomic: a firing slot (of racing invocations, the one that sets it alerts)."""

    @abstractmethod
    def get_values(self, keys: Sequence[str]) -> dict[str, tuple[str, float] | None]:
        """``key -> (value, expires_at)`` for each key (None when absent): one batched read."""

    @abstractmethod
    def put_values(self, items: Mapping[str, tuple[str, float]]) -> None:
        """Overwrite ``key -> (value, expires_at)`` (refreshing a remembered value's expiry)."""

    @abstractmethod
    def put_members(self, members: Iterable[Member]) -> None:
        """Overwrite ``name = value`` in each namespace (read back with ``read_namespace``)."""

    # -- mutes (responders, from Slack or the CLI) ------------------------------------------
    # Few and read together: the engine reads them all once per batch, so they share one
    # partition. Each expires (TTL) ``expires_at`` after it is written; the caller chooses it.

    @abstractmethod
    def put_mute(self, mute: Mute, *, expires_at: float) -> None:
        """Store ``mute``, replacing the one of the same rule and key."""

    @abstractmethod
    def list_mutes(self) -> list[Mute]:
        """Every stored mute, expired ones included (the caller compares ``until``)."""

    @abstractmethod
    def delete_mute(self, rule_id: str, key: str | None) -> bool:
        """Remove the mute of ``rule_id``/``key``; False when there was none."""


class MemoryStateStore(StateStore):
    """In-process store for the CLI, tests and Lambda without a table (state lasts a container).

    ``now`` decides expiry; it defaults to never expiring so that event-time replays of old
    captures are not thrown away by the wall clock.
    """

    def __init__(self, now: float | None = None) -> None:
        self._now = now
        self._counts: dict[str, tuple[int, float]] = {}
        self._markers: dict[str, float] = {}
        self._maxima: dict[str, dict[str, float]] = {}
        self._values: dict[str, tuple[str, float]] = {}
        self._slots: dict[str, tuple[float, float]] = {}
        self._mutes: dict[tuple[str, str | None], tuple[Mute, float]] = {}
        self._lock = threading.Lock()

    def _alive(self, expires_at: float) -> bool:
        return self._now is None or expires_at > self._now

    def incr(self, key: str, amount: int = 1, *, expires_at: float) -> int:
        with self._lock:
            value, exp = self._counts.get(key, (0, expires_at))
            if not self._alive(exp):
                value = 0
            value += amount
            self._counts[key] = (value, max(exp, expires_at))
            return value

    def put_counts(self, values: Mapping[str, tuple[int, float]]) -> None:
        with self._lock:
            for key, (value, exp) in values.items():
                self._counts[key] = (value, exp)

    def get_counts(self, keys: Sequence[str]) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for key in keys:
                value, exp = self._counts.get(key, (0, 0.0))
                out[key] = value if value and self._alive(exp) else 0
            return out

    def add_once(self, key: str, *, expires_at: float) -> bool:
        with self._lock:
            exp = self._markers.get(key)
            if exp is not None and self._alive(exp):
                return False
            self._markers[key] = expires_at
            return True

    def add_once_many(self, keys: Iterable[str], *, expires_at: float) -> set[str]:
        return self.add_once_each(dict.fromkeys(keys, expires_at))

    def add_once_each(self, expiries: Mapping[str, float]) -> set[str]:
        with self._lock:
            new: set[str] = set()
            for key, expires_at in expiries.items():
                exp = self._markers.get(key)
                if exp is not None and self._alive(exp):
                    continue
                self._markers[key] = expires_at
                new.add(key)
            return new

    def record_max(
        self, namespace: str, name: str, value: float, *, expires_at: float | None = None
    ) -> None:
        with self._lock:
            bucket = self._maxima.setdefault(namespace, {})
            if value > bucket.get(name, float("-inf")):
                bucket[name] = value

    def read_namespace(self, namespace: str) -> dict[str, float]:
        with self._lock:
            return dict(self._maxima.get(namespace, {}))

    def put_if_absent(self, key: str, value: str, *, expires_at: float) -> tuple[str, bool]:
        with self._lock:
            old = self._values.get(key)
            if old is not None and self._alive(old[1]):
                return old[0], False
            self._values[key] = (value, expires_at)
            return value, True

    def advance(self, key: str, value: float, *, if_below: float, expires_at: float) -> bool:
        with self._lock:
            old = self._slots.get(key)
            if old is not None and self._alive(old[1]) and old[0] >= if_below:
                return False
            self._slots[key] = (value, expires_at)
            return True

    def get_values(self, keys: Sequence[str]) -> dict[str, tuple[str, float] | None]:
        with self._lock:
            out: dict[str, tuple[str, float] | None] = {}
            for key in keys:
                item = self._values.get(key)
                out[key] = item if item is not None and self._alive(item[1]) else None
            return out

    def put_values(self, items: Mapping[str, tuple[str, float]]) -> None:
        with self._lock:
            self._values.update(items)

    def put_members(self, members: Iterable[Member]) -> None:
        with self._lock:
            for namespace, name, value, _expires in members:
                self._maxima.setdefault(namespace, {})[name] = value

    def put_mute(self, mute: Mute, *, expires_at: float) -> None:
        with self._lock:
            self._mutes[(mute.rule_id, mute.key)] = (mute, expires_at)

    def list_mutes(self) -> list[Mute]:
        with self._lock:
            return [m for m, exp in self._mutes.values() if self._alive(exp)]

    def delete_mute(self, rule_id: str, key: str | None) -> bool:
        with self._lock:
            return self._mutes.pop((rule_id, key), None) is not None

    def size(self) -> int:
        """Items held (what a test of bounded state counts)."""
        with self._lock:
            return (
                len(self._counts)
                + len(self._markers)
                + len(self._values)
                + len(self._slots)
                + len(self._mutes)
                + sum(len(v) for v in self._maxima.values())
            )
