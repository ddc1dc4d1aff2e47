"""StateStore on DynamoDB: suppression state shared by every shard, container and invocation.

Key schema (table keys ``pk`` (S, hash) and ``sk`` (S, range); TTL attribute ``expires_at``):

=================  ==========================  =============  ==================================
what               pk                          sk             attributes
=================  ==========================  =============  ==================================
counter            ``c#<key>``                 ``-``          ``n`` (N), ``expires_at`` (N)
once-marker        ``o#<key>``                 ``-``          ``expires_at`` (N)
maximum            ``m#<namespace>``           ``<name>``     ``v`` (N), ``expires_at`` (N)?
=================  ==========================  =============  ==================================

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
from collections.abc import Callable, Sequence
from typing import Any

from engine.pipeline.state import StateStore

MAX_KEY_CHARS = 512
_BATCH_GET_LIMIT = 100
_SK = "-"


def _pk(prefix: str, key: str) -> str:
    if len(key) > MAX_KEY_CHARS:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return f"{prefix}#{key}"


def _num(value: float) -> dict[str, str]:
    return {"N": repr(int(value)) if float(value).is_integer() else repr(float(value))}


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
        self._ddb = client
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
        raise RuntimeError(f"state counter {pk!r}: too much contention")  # pragma: no cover

    def get_counts(self, keys: Sequence[str]) -> dict[str, int]:
        by_pk = {_pk("c", k): k for k in keys}
        out = dict.fromkeys(keys, 0)
        for item in self._batch_get(list(by_pk)):
            if self._alive(item):
                out[by_pk[item["pk"]["S"]]] = int(item.get("n", {"N": "0"})["N"])
        return out

    def _batch_get(self, pks: list[str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(pks), _BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [self._key(pk) for pk in pks[start : start + _BATCH_GET_LIMIT]],
                    "ConsistentRead": True,
                }
            }
            while request:
                resp = self._ddb.batch_get_item(RequestItems=request)
                items += resp.get("Responses", {}).get(self.table, [])
                request = resp.get("UnprocessedKeys") or {}
        return items

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
