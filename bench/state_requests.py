"""DynamoDB requests per event for a failed-login flood, through the real pipeline.

Failed logins need no credentials, only network access to the database port, so they are the
cheapest noise an outsider can send. Every matching event costs state operations (threshold
counters, once-markers, sequence and distinct-count state, delivery markers). This bench sends
floods through ``Pipeline.run`` with the shipped rule pack, a DynamoDB state table on a local moto
server (real HTTP) and one output that takes everything, and counts the HTTP requests botocore
sends to DynamoDB (the ``before-send`` hook: one per attempt, retries included).

The same run measures plain SELECTs as the baseline (no rule matches, no state request).
``--callers`` breaks the requests down by the engine function that sent them ("state store pool":
chunks of one batched call sent concurrently by the store's threads).

State is settled per batch: the pipeline evaluates a batch's records in one engine call, every
rule's idempotency markers go out in batched reads and writes, every dedup window of the call is
settled together (one counter update per window, concurrent), counters get one update per group
and window, reads are batched, and the sent markers of the batch's alerts are one batched write.
Before that (per-event ``add_once`` and ``incr``), the same run measured 4.19 requests per failed
login from one host (4,193 for 10 x 100: 4,000 ``PutItem``, half of them threshold markers, half
dedup markers) and 15.2 with rotating users and IPv6 hosts; with one engine call per record,
0.37 and 12.56.

    python -m bench.state_requests [--records 10] [--events 100] [--callers]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = "cluster-BENCHSTATEREQUESTSAAAAAAAAA"
INSTANCE = "db-BENCHSTATEREQUESTSAAAAAAAA"
T0 = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=dt.UTC)


def _event(i: int, **fields: Any) -> dict[str, Any]:
    from engine.events.base_events import base_event

    ev = base_event("postgres")
    at = T0 + dt.timedelta(milliseconds=50 * i)
    ev.update({"logTime": at.strftime("%Y-%m-%d %H:%M:%S.%f+00"), "statementId": i, **fields})
    return ev


def failed_login(i: int, user: str, host: str) -> dict[str, Any]:
    return _event(
        i,
        **{
            "class": "MISC",
            "command": "AUTH FAILURE",
            "commandText": None,
            "dbUserName": user,
            "remoteHost": host,
            "exitCode": "28P01",
            "errorMessage": f'password authentication failed for user "{user}"',
        },
    )


SCENARIOS: dict[str, Callable[[int], dict[str, Any]]] = {
    "plain SELECTs (baseline)": lambda i: _event(i, dbUserName="app"),
    "failed logins, one user, one host": lambda i: failed_login(i, "admin", "203.0.113.7"),
    "failed logins, rotating users and IPv6 hosts": lambda i: failed_login(
        i, f"user{i % 97}", f"2001:db8::{i:x}"
    ),
}


def measure(make: Callable[[int], dict[str, Any]], records: int, per_record: int) -> dict[str, Any]:
    """One fresh table and pipeline; the DynamoDB requests of ``records`` records."""
    import boto3

    from engine.alerts import Alert
    from engine.das.decoder import Decoder
    from engine.das.encoder import Encoder, stream_arn
    from engine.das.keys import LocalKeyProvider
    from engine.das.records import RawRecord
    from engine.outputs.base import Deadline, DeliveryReport, Output, Status
    from engine.outputs.routing import Router
    from engine.pipeline.batch import Pipeline
    from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
    from engine.rules import build_engine

    class TakeAll(Output):
        def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
            report = DeliveryReport("take-all")
            for a in alerts:
                report.add(a.id, Status.DELIVERED)
            return report

    client = boto3.client("dynamodb")
    table = f"bench-{os.urandom(4).hex()}"
    create_table(client, table)
    sent: Counter[str] = Counter()
    callers: Counter[str] = Counter()

    def on_send(request: Any, **_: Any) -> None:
        sent.update([request.headers.get("X-Amz-Target", b"?").decode().split(".")[-1]])
        callers.update([_caller()])

    client.meta.events.register("before-send.dynamodb.*", on_send)
    store = DynamoDBStateStore(table, client)
    keys = LocalKeyProvider(bytes(range(32)))
    enc = Encoder(keys, CLUSTER)
    engine = build_engine(ROOT / "rules", store).engine
    out = TakeAll()
    router = Router(
        {"take-all": out}, ("take-all",), {"take-all": "info"}, ("take-all",), ("take-all",)
    )
    p = Pipeline(
        Decoder(keys),
        state=store,
        engine=engine,
        router=router,
        clock=lambda: T0.timestamp() + 3600,
    )
    raw = []
    for r in range(records):
        events = [make(r * per_record + j) for j in range(per_record)]
        data = enc.encode(events, cluster_id=CLUSTER, instance_id=INSTANCE)
        raw.append(RawRecord(str(r), data, stream_arn=stream_arn(CLUSTER)))
    sent.clear()  # table creation and rule loading are not the flood's cost
    callers.clear()
    result = p.run(raw)
    events_n = records * per_record
    total = sum(sent.values())
    return {
        "events": events_n,
        "requests": total,
        "per_event": total / events_n,
        "alerts": len(result.alerts),
        "by_op": dict(sent.most_common()),
        "by_caller": dict(callers.most_common()),
    }


def _caller() -> str:
    """Which part of the engine sent a request: the innermost frame outside the state stores
    (a thread of the store's pool has no engine frame: it is named after the pool)."""
    import traceback

    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace(os.sep, "/")
        if "/engine/" in path and "/engine/pipeline/state" not in path:
            return f"{path.rsplit('/engine/', 1)[1]}:{frame.name}"
    return "state store pool"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=10)
    ap.add_argument("--events", type=int, default=100, help="events per record")
    ap.add_argument("--callers", action="store_true", help="requests by calling function")
    args = ap.parse_args(argv)
    from bench._moto import moto_server

    with moto_server():
        print(f"{args.records} records x {args.events} events, shipped rules, DynamoDB on moto")
        for name, make in SCENARIOS.items():
            m = measure(make, args.records, args.events)
            ops = ", ".join(f"{k} {v}" for k, v in m["by_op"].items()) or "-"
            print(
                f"  {name:46s} {m['per_event']:6.2f} requests/event, "
                f"{m['requests'] / args.records:6.1f}/record, {m['requests']}/batch "
                f"({m['alerts']} alerts; {ops})"
            )
            if args.callers:
                for caller, n in m["by_caller"].items():
                    print(f"      {n:6d}  {caller}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
