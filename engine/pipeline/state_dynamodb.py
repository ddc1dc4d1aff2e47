"""StateStore on DynamoDB: suppression state shared by every shard, container and invocation.

Key schema (table keys ``pk`` (S, hash) and ``sk`` (S, range); TTL attribute ``expires_at``):

=================  ==========================  =============  ==================================
what               pk                          sk             attributes
=================  ==========================  =============  ==================================
counter            ``c#<key>``                 ``-``          ``n`` (N), ``expires_at`` (N)
once-marker        ``o#<key>``                 ``-``          ``expires_at`` (N)
maximum / member   ``m#<namespace>``           ``<name>``     ``v`` (N), ``expires_at`` (N)?
value              ``v#<key>``                 ``-``          ``s`` (S), ``expires_at`` (N)
firing slot        ``a#<key>``                 ``-``          ``v`` (N), ``expires_at`` (N)
mute               ``mute``                    ``<rule>#…``   ``rule``, ``key``?, ``who``,
                                                              ``reason``, ``kind`` (S);
                                                              ``until``, ``created``,
                                                              ``expires_at`` (N)
=================  ==========================  =============  ==================================

Mutes share one partition so the engine reads them all with one ``Query`` per batch; their sort
key is the rule id and a digest of the key (``*`` for a whole rule), so any key fits.

Values and members serve the stateful rule types (sequences, first seen, distinct counts): they are
read with ``BatchGetItem`` / one ``Query`` per namespace and written with ``BatchWriteItem`` (25
items a call), so a batch of events costs a few calls, not one per event; only ``put_if_absent``
(a new value, a firing) is a conditional write of its own.

**Settled per batch.** An attacker's cheapest noise (failed logins) matches several stateful rules
per event, so a batch's state is read and written in batched calls, not one call per event:

* ``add_once_many`` (the idempotency markers of a batch's matches): one consistent
  ``BatchGetItem`` (100 keys a call) tells which markers exist, one ``BatchWriteItem`` (25 items a
  call) writes the others. This read-then-write is not atomic per key: two invocations that see
  *the same event at the same moment* could both take it for new. That cannot happen with the
  event source: Kinesis hands a shard's records (with a parallelization factor, a partition key's)
  to one invocation at a time, and redelivers a batch only after its attempt has ended; two
  invocations racing on one incident see different events, and what decides on shared keys (a
  threshold's fire marker, a sequence's firing slot, a first-seen value) stays a conditional write
  of its own. The alternatives were weighed: ``BatchWriteItem`` alone takes no condition;
  ``TransactWriteItems`` (100 conditional puts) is all or nothing, so a half-redelivered chunk
  needs a second round, it bills two write units per item and conflicts with concurrent writers
  of the same items; one item per window holding a string set of fingerprints (``UpdateItem ADD``
  with ``UPDATED_OLD``) is atomic but is billed on the item's size on every call (a 200 KB set:
  200 write units) and stops at DynamoDB's 400 KB item limit in exactly the flood it is for.
* ``add_once_each``: the same for keys with different expiries (the markers of many dedup
  windows of one call), still one ``BatchGetItem`` per 100 keys and one ``BatchWriteItem`` per 25.
* ``incr_many`` / ``add_counts`` (counters): one ``UpdateItem ... ADD`` per counter, since no batch
  call can add; callers aggregate a batch in memory first, so that is one update per counter per
  batch.
* the chunks and updates of one operation go out concurrently (a pool of four threads).

Throttling that persists raises :class:`StateUnavailable` (the records are retried), never a
silent miss.

Counters and markers are one item each (spread across partitions); the maxima of one namespace
share a partition so ``read_namespace`` is a single ``Query`` (the heartbeat watchdog reads every
resource at once). Every operation is one conditional write, so two Lambda containers on two shards
never double count or both win an ``add_once``.

Callers set ``expires_at`` in *event time* (the rule engine's windows), and every key already
names its window, so expiry is garbage collection, not meaning: DynamoDB's TTL deletes the items,
and by default the store never hides an item because the wall clock passed it — that would break
late events, a lagging shard and replays (the in-memory store behaves the same). With a
``clock``, items whose ``expires_at`` is past are treated as absent, as DynamoDB's TTL would
eventually make them. Keys longer than ``MAX_KEY_CHARS``
are replaced by their SHA-256 so that a long dedup key never exceeds DynamoDB's key size limit.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.outputs.aws_errors import classify
from engine.pipeline.state import (
    Member,
    Mute,
    StatePermanentError,
    StateStore,
    StateUnavailable,
)

MAX_KEY_CHARS = 512
_BATCH_GET_LIMIT = 100
_UNPROCESSED_ROUNDS = 8
_BATCH_WRITE_LIMIT = 25
_POOL = 4  # concurrent independent calls of one store operation
_SK = "-"


def _pk(prefix: str, key: str) -> str:
    if len(key) > MAX_KEY_CHARS:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return f"{prefix}#{key}"


_MUTE_PK = "mute"


def _mute_sk(rule_id: str, key: str | None) -> str:
    if key is None:
        return f"{rule_id}#*"
    return f"{rule_id}#" + hashlib.sha256(key.encode()).hexdigest()


def _num(value: float) -> dict[str, str]:
    return {"N": repr(int(value)) if float(value).is_integer() else repr(float(value))}


class TypedErrors:
    """The boto3 DynamoDB client with every failure typed for the pipeline.

    A botocore error becomes :class:`StateUnavailable` (throttled, 5xx, no connection) or
    :class:`StatePermanentError` (no such table, access denied, validation), read by the AWS
    error mapper the outputs use. ``ConditionalCheckFailedException`` passes through unchanged:
    for this store it is an answer ("someone else was first"), not a failure. Wrapping the
    client rather than each method keeps every call — present and future — typed.
    """

    def __init__(self, client: Any, table: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self._client = client
        self._table = table
        self._boto_errors = (BotoCoreError, ClientError)
        self.exceptions = client.exceptions
        self.meta = client.meta
        self._answer = client.exceptions.ConditionalCheckFailedException

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except self._answer:
                raise
            except self._boto_errors as exc:
                failure = classify(exc, "DynamoDB")
                error = StateUnavailable if failure.retryable else StatePermanentError
                raise error(f"{failure.reason} ({name}, table {self._table})") from exc

        setattr(self, name, call)  # built once per operation
        return call


class DynamoDBStateStore(StateStore):
    """The production store. ``client`` is a boto3 DynamoDB client (passed in: thin edge).

    ``clock`` (e.g. ``time.time``) makes expired-but-not-yet-deleted items count as absent;
    ``None`` (the default) leaves expiry to DynamoDB's TTL alone, see the module docstring.
    """

    def __init__(
        self,
        table: str,
        client: Any,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.table = table
        self._ddb: Any = TypedErrors(client, table)
        self._clock = clock
        self._cond_failed = client.exceptions.ConditionalCheckFailedException

    def _now(self) -> float:
        # DynamoDB conditions need a number; with no clock nothing is ever expired.
        return self._clock() if self._clock is not None else 0.0

    def _key(self, pk: str, sk: str = _SK) -> dict[str, dict[str, str]]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _alive(self, item: dict[str, Any]) -> bool:
        exp = item.get("expires_at")
        return exp is None or float(exp["N"]) > self._now()

    # -- counters ----------------------------------------------------------------------
    def incr(self, key: str, amount: int = 1, *, expires_at: float) -> int:
        pk = _pk("c", key)
        for _ in range(5):
            try:
                resp = self._ddb.update_item(
                    TableName=self.table,
                    Key=self._key(pk),
                    UpdateExpression="ADD n :amount SET expires_at = :exp",
                    ConditionExpression="attribute_not_exists(pk) OR expires_at > :now",
                    ExpressionAttributeValues={
                        ":amount": _num(amount),
                        ":exp": _num(expires_at),
                        ":now": _num(self._now()),
                    },
                    ReturnValues="UPDATED_NEW",
                )
                return int(resp["Attributes"]["n"]["N"])
            except self._cond_failed:
                # The counter expired but DynamoDB has not deleted it yet: restart it from
                # ``amount``, unless a concurrent writer restarted it first (then loop and ADD).
                try:
                    self._ddb.put_item(
                        TableName=self.table,
                        Item={**self._key(pk), "n": _num(amount), "expires_at": _num(expires_at)},
                        ConditionExpression="expires_at <= :now",
                        ExpressionAttributeValues={":now": _num(self._now())},
                    )
                    return amount
                except self._cond_failed:
                    continue
        raise StateUnavailable(f"state counter {pk!r}: too much contention")  # pragma: no cover

    def get_counts(self, keys: Sequence[str]) -> dict[str, int]:
        by_pk = {_pk("c", k): k for k in keys}
        out = dict.fromkeys(keys, 0)
        for item in self._batch_get(list(by_pk)):
            if self._alive(item):
                out[by_pk[item["pk"]["S"]]] = int(item.get("n", {"N": "0"})["N"])
        return out

    def _batch_get(self, pks: list[str]) -> list[dict[str, Any]]:
        def chunk(keys: list[str]) -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = []
            request: dict[str, Any] = {
                self.table: {"Keys": [self._key(pk) for pk in keys], "ConsistentRead": True}
            }
            for _ in range(_UNPROCESSED_ROUNDS):
                resp = self._ddb.batch_get_item(RequestItems=request)
                items += resp.get("Responses", {}).get(self.table, [])
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    return items
            # DynamoDB keeps throttling the read: let the record be retried later
            raise StateUnavailable("DynamoDB BatchGetItem: keys left unprocessed")

        pks = list(dict.fromkeys(pks))  # BatchGetItem rejects a key asked twice
        chunks = [pks[i : i + _BATCH_GET_LIMIT] for i in range(0, len(pks), _BATCH_GET_LIMIT)]
        return [item for items in self._parallel(chunk, chunks) for item in items]

    # -- idempotency markers -----------------------------------------------------------
    def add_once(self, key: str, *, expires_at: float) -> bool:
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item={**self._key(_pk("o", key)), "expires_at": _num(expires_at)},
                ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                ExpressionAttributeValues={":now": _num(self._now())},
            )
            return True
        except self._cond_failed:
            return False

    def add_once_many(self, keys: Iterable[str], *, expires_at: float) -> set[str]:
        return self.add_once_each(dict.fromkeys(keys, expires_at))

    def add_once_each(self, expiries: Mapping[str, float]) -> set[str]:
        """``add_once`` for many keys, each with its own expiry: one consistent
        ``BatchGetItem`` (100 keys a call) says which markers exist, one ``BatchWriteItem`` (25
        a call) writes the others; chunks go out concurrently. Why not a conditional write per
        key: see the module docstring."""
        by_pk: dict[str, tuple[str, float]] = {}
        for key, exp in expiries.items():
            by_pk.setdefault(_pk("o", key), (key, exp))
        if not by_pk:
            return set()
        known = {item["pk"]["S"] for item in self._batch_get(list(by_pk)) if self._alive(item)}
        new = [pk for pk in by_pk if pk not in known]
        self._batch_write([{**self._key(pk), "expires_at": _num(by_pk[pk][1])} for pk in new])
        return {by_pk[pk][0] for pk in new}

    def incr_many(self, amounts: Mapping[str, tuple[int, float]]) -> dict[str, int]:
        """``incr`` for many counters: one ``UpdateItem ... ADD`` per counter (no batch call
        can add, and each total must be this call's own), sent concurrently — so many counters
        wait about one round trip per ``_POOL`` of them, not one each in turn."""
        items = list(amounts.items())
        totals = self._parallel(
            lambda item: self.incr(item[0], item[1][0], expires_at=item[1][1]), items
        )
        return {key: total for (key, _), total in zip(items, totals, strict=True)}

    def put_counts(self, values: Mapping[str, tuple[int, float]]) -> None:
        """Counters written outright: one ``BatchWriteItem`` per 25 (chunks concurrent)."""
        self._batch_write(
            [
                {**self._key(_pk("c", key)), "n": _num(value), "expires_at": _num(exp)}
                for key, (value, exp) in values.items()
            ]
        )

    def add_counts(self, amounts: Mapping[str, tuple[int, float]]) -> None:
        """``incr_many`` without the totals, skipping zero amounts: the caller aggregates a
        batch in memory first, so that is one update per counter per batch, not per event."""
        self.incr_many({k: v for k, v in amounts.items() if v[0]})

    def _parallel(self, fn: Callable[[Any], Any], jobs: list[Any]) -> list[Any]:
        """Run independent calls concurrently (a small pool): a big batch's chunks wait for one
        round trip, not for one per chunk. The first failure is raised once all are done."""
        if len(jobs) <= 1:
            return [fn(j) for j in jobs]
        with ThreadPoolExecutor(max_workers=min(_POOL, len(jobs))) as pool:
            futures = [pool.submit(fn, j) for j in jobs]
            return [f.result() for f in futures]

    # -- maxima ------------------------------------------------------------------------
    def record_max(
        self, namespace: str, name: str, value: float, *, expires_at: float | None = None
    ) -> None:
        update = "SET v = :v"
        values = {":v": _num(value)}
        if expires_at is not None:
            update += ", expires_at = :exp"
            values[":exp"] = _num(expires_at)
        # A failed condition means a larger value is already stored: that is the point.
        with contextlib.suppress(self._cond_failed):
            self._ddb.update_item(
                TableName=self.table,
                Key=self._key(_pk("m", namespace), name),
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(v) OR v < :v",
                ExpressionAttributeValues=values,
            )

    def read_namespace(self, namespace: str) -> dict[str, float]:
        out: dict[str, float] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _pk("m", namespace)}},
            "ConsistentRead": True,
        }
        while True:
            resp = self._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                if self._alive(item):
                    out[item["sk"]["S"]] = float(item["v"]["N"])
            last = resp.get("LastEvaluatedKey")
            if not last:
                return out
            kwargs["ExclusiveStartKey"] = last

    def read_namespaces(self, namespaces: Iterable[str]) -> dict[str, dict[str, float]]:
        """One ``Query`` per namespace, sent concurrently (independent reads)."""
        names = list(dict.fromkeys(namespaces))
        return dict(zip(names, self._parallel(self.read_namespace, names), strict=True))

    # -- values (first seen, firings) --------------------------------------------------
    def put_if_absent(self, key: str, value: str, *, expires_at: float) -> tuple[str, bool]:
        pk = _pk("v", key)
        for _ in range(5):
            try:
                self._ddb.put_item(
                    TableName=self.table,
                    Item={**self._key(pk), "s": {"S": value}, "expires_at": _num(expires_at)},
                    ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                    ExpressionAttributeValues={":now": _num(self._now())},
                )
                return value, True
            except self._cond_failed:
                resp = self._ddb.get_item(
                    TableName=self.table, Key=self._key(pk), ConsistentRead=True
                )
                item = resp.get("Item")
                if item is not None and "s" in item:
                    return item["s"]["S"], False
                # deleted between the two calls (TTL): try to store it again
        raise StateUnavailable(f"state value {pk!r}: too much contention")  # pragma: no cover

    def advance(self, key: str, value: float, *, if_below: float, expires_at: float) -> bool:
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=self._key(_pk("a", key)),
                UpdateExpression="SET v = :v, expires_at = :exp",
                ConditionExpression="attribute_not_exists(v) OR v < :below OR expires_at <= :now",
                ExpressionAttributeValues={
                    ":v": _num(value),
                    ":below": _num(if_below),
                    ":exp": _num(expires_at),
                    ":now": _num(self._now()),
                },
            )
            return True
        except self._cond_failed:
            return False

    def get_values(self, keys: Sequence[str]) -> dict[str, tuple[str, float] | None]:
        by_pk = {_pk("v", k): k for k in keys}
        out: dict[str, tuple[str, float] | None] = dict.fromkeys(keys)
        for item in self._batch_get(list(by_pk)):
            if self._alive(item) and "s" in item:
                exp = float(item["expires_at"]["N"]) if "expires_at" in item else float("inf")
                out[by_pk[item["pk"]["S"]]] = (item["s"]["S"], exp)
        return out

    def put_values(self, items: Mapping[str, tuple[str, float]]) -> None:
        self._batch_write(
            [
                {**self._key(_pk("v", key)), "s": {"S": value}, "expires_at": _num(exp)}
                for key, (value, exp) in items.items()
            ]
        )

    def put_members(self, members: Iterable[Member]) -> None:
        latest: dict[tuple[str, str], tuple[float, float]] = {}
        for namespace, name, value, exp in members:  # one write per item per call
            latest[(namespace, name)] = (value, exp)
        self._batch_write(
            [
                {**self._key(_pk("m", ns), name), "v": _num(value), "expires_at": _num(exp)}
                for (ns, name), (value, exp) in latest.items()
            ]
        )

    # -- mutes -------------------------------------------------------------------------
    def put_mute(self, mute: Mute, *, expires_at: float) -> None:
        item: dict[str, Any] = {
            **self._key(_MUTE_PK, _mute_sk(mute.rule_id, mute.key)),
            "rule": {"S": mute.rule_id},
            "until": _num(mute.until),
            "who": {"S": mute.who},
            "reason": {"S": mute.reason},
            "created": _num(mute.created),
            "kind": {"S": mute.kind},
            "expires_at": _num(expires_at),
        }
        if mute.key is not None:
            item["key"] = {"S": mute.key}
        self._ddb.put_item(TableName=self.table, Item=item)

    def list_mutes(self) -> list[Mute]:
        out: list[Mute] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _MUTE_PK}},
            "ConsistentRead": True,
        }
        while True:
            resp = self._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                if not self._alive(item):
                    continue
                with contextlib.suppress(KeyError, ValueError):  # not ours: ignore, never crash
                    out.append(
                        Mute(
                            rule_id=item["rule"]["S"],
                            key=item["key"]["S"] if "key" in item else None,
                            until=float(item["until"]["N"]),
                            who=item["who"]["S"],
                            reason=item["reason"]["S"],
                            created=float(item["created"]["N"]),
                            kind=item.get("kind", {"S": "mute"})["S"],
                        )
                    )
            last = resp.get("LastEvaluatedKey")
            if not last:
                return out
            kwargs["ExclusiveStartKey"] = last

    def delete_mute(self, rule_id: str, key: str | None) -> bool:
        resp = self._ddb.delete_item(
            TableName=self.table,
            Key=self._key(_MUTE_PK, _mute_sk(rule_id, key)),
            ReturnValues="ALL_OLD",
        )
        return bool(resp.get("Attributes"))

    def _batch_write(self, items: list[dict[str, Any]]) -> None:
        def chunk(part: list[dict[str, Any]]) -> None:
            request: dict[str, Any] = {self.table: [{"PutRequest": {"Item": i}} for i in part]}
            for _ in range(_UNPROCESSED_ROUNDS):
                resp = self._ddb.batch_write_item(RequestItems=request)
                request = resp.get("UnprocessedItems") or {}
                if not request:
                    return
            # still throttled after retries: the records are retried, never lost
            raise StateUnavailable("DynamoDB BatchWriteItem: items left unprocessed")

        n = _BATCH_WRITE_LIMIT
        self._parallel(chunk, [items[i : i + n] for i in range(0, len(items), n)])


def create_table(client: Any, table: str) -> None:
    """Create the table exactly as template.yaml declares it (tests, local development)."""
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    )
    client.get_waiter("table_exists").wait(
        TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    client.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
