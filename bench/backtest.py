"""Backtest speed and pruning: local archive, S3 archive on a moto server, and what a pack skips.

An archive is generated the way the Firehose transformation writes it — realistic events of four
engines (``bench/streamgen.py``), normalized and redacted, grouped into records, gzip JSON lines
under ``resource=/action=/dt=/hour=/`` prefixes from ``engine.pipeline.archive.partition_keys`` —
then read back by ``dasalert backtest``'s library with the shipped rules. Baseline in the same
run: ``dasalert eval``'s path (one JSON-lines file, read whole, one ``Engine.process``) over the
same events, so the figures say what the archive reader costs on top of rule evaluation.

    python bench/backtest.py [--events 200000] [--events-per-record 20] [--workers 8]

Figures are for this machine and a moto server in this process: S3 on AWS is a network away
(higher latency per object, more bandwidth in parallel), which the docs extrapolate from.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.streamgen import StreamSpec, plan  # noqa: E402
from engine.alerts.redact import redact_event  # noqa: E402
from engine.cli import backtest_run as bt  # noqa: E402
from engine.events import normalize  # noqa: E402
from engine.pipeline.archive import partition_keys  # noqa: E402
from engine.rules import build_engine  # noqa: E402


def make_archive(n_events: int, per_record: int, records_per_object: int = 50) -> dict[str, bytes]:
    """Object key -> gzip JSON lines, laid out as the Firehose archive is."""
    spec = StreamSpec(
        records=n_events // per_record,
        events_per_record=per_record,
        heartbeat_every=0,
        events_per_second=10.0,  # spread over hours, as a real day's archive is
        start=datetime(2026, 11, 16, 6, 0, tzinfo=UTC),
    )
    by_prefix: dict[str, list[bytes]] = defaultdict(list)
    for rec in plan(spec).records:
        res = rec.resource
        events = [
            normalize(e, cluster_id=res.cluster_id or None, instance_id=res.instance_id)
            for e in rec.events
        ]
        keys = partition_keys(events)
        assert keys is not None
        prefix = "resource={resource}/action={action}/dt={dt}/hour={hour}/".format(**keys)
        data = "".join(
            json.dumps(redact_event(e), ensure_ascii=False, separators=(",", ":")) + "\n"
            for e in events
        ).encode()
        by_prefix[prefix].append(data)
    objects = {}
    for prefix, datas in by_prefix.items():
        for i in range(0, len(datas), records_per_object):
            chunk = b"".join(datas[i : i + records_per_object])
            objects[f"{prefix}part-{i // records_per_object:05d}.gz"] = gzip.compress(chunk)
    return objects


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn()
    return label, time.perf_counter() - t0, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--events-per-record", type=int, default=20)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()

    print(f"generating an archive of {args.events:,} events …", flush=True)
    objects = make_archive(args.events, args.events_per_record)
    total_bytes = sum(len(v) for v in objects.values())
    hours = {k.split("/")[2] + "/" + k.split("/")[3] for k in objects}
    print(
        f"{len(objects)} objects, {total_bytes / 1e6:.1f} MB gzip, {len(hours)} hours, "
        f"{len({k.split('/')[1] for k in objects})} action sets"
    )
    rules = ROOT / "rules"

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for key, data in objects.items():
            p = base / "archive" / key
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        flat = base / "events.jsonl"
        with open(flat, "wb") as fh:
            for key in sorted(objects):
                fh.write(gzip.decompress(objects[key]))

        def eval_path() -> int:
            from engine.cli.events_input import read_events

            read = read_events([str(flat)])
            wired = build_engine(rules)
            return len(wired.engine.process(read.events).alerts)

        def local(workers: int) -> tuple[int, int]:
            wired = build_engine(rules)
            pack = bt.PackRun("rules", wired.engine)
            totals = bt.run_backtest(
                bt.list_local([str(base / "archive")]), [pack], workers=workers
            )
            return totals.events, len(pack.alerts)

        rows = [
            timed("eval path: one JSON-lines file (baseline)", eval_path),
            timed("backtest, local archive, 1 worker", lambda: local(1)),
            timed(f"backtest, local archive, {args.workers} workers", lambda: local(args.workers)),
        ]

        from bench._moto import moto_server

        with moto_server() as _url:
            import boto3

            s3 = boto3.client("s3")
            s3.create_bucket(Bucket="bench-archive")
            for key, data in objects.items():
                s3.put_object(Bucket="bench-archive", Key=f"a/{key}", Body=data)

            def remote(workers: int, pack_rules: Path) -> tuple[int, int, int, int]:
                wired = build_engine(pack_rules)
                pack = bt.PackRun("rules", wired.engine)
                listing = bt.list_s3(
                    s3, "s3://bench-archive/a/", bt.pack_actions([wired.ruleset]), None, None
                )
                totals = bt.run_backtest(listing.sources, [pack], workers=workers)
                return totals.events, len(pack.alerts), len(listing.sources), listing.pruned

            rows += [
                timed("backtest, S3 (moto), 1 worker", lambda: remote(1, rules)),
                timed(
                    f"backtest, S3 (moto), {args.workers} workers",
                    lambda: remote(args.workers, rules),
                ),
            ]
            ddl_only = base / "ddl-pack"
            ddl_only.mkdir()
            (ddl_only / "ddl.yaml").write_text(
                "id: any-ddl\ntitle: DDL\nseverity: high\nwhen: \"das.action == 'DDL'\"\n"
                "dedup: {key: dbUserName, window: 1h}\n"
            )
            pruning = {
                "shipped pack": remote(args.workers, rules),
                "a DDL-only rule": remote(args.workers, ddl_only),
            }

    base_s = rows[0][1]
    print(f"\n{'path':<46} {'events':>9} {'seconds':>8} {'events/s':>10} {'vs baseline':>11}")
    for label, seconds, result in rows:
        events = args.events if isinstance(result, int) else result[0]
        print(
            f"{label:<46} {events:>9,} {seconds:>8.2f} {events / seconds:>10,.0f} "
            f"{base_s / seconds:>10.2f}x"
        )
    print(f"\n{'pack':<18} {'objects read':>12} {'skipped':>8} {'share skipped':>14} {'events':>9}")
    for name, (events, _alerts, read, pruned) in pruning.items():
        share = pruned / (read + pruned) if read + pruned else 0.0
        print(f"{name:<18} {read:>12} {pruned:>8} {share:>13.0%} {events:>9,}")
    print(f"\nworkers={args.workers}, cpu count {os.cpu_count()}, python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
