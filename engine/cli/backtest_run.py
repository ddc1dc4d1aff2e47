"""``dasalert backtest``: a rule pack over archived events, in event-time order, with a report.

The question a detection engineer asks before every deploy — "how often would this rule have
fired last week, and on what?" — answered with the production ``Engine`` (the same one the Lambda
and ``dasalert eval`` run) and the in-memory state store, so stateful rules count exactly as they
would have.

**Sources.** An ``s3://bucket/prefix/`` archive written by the Firehose handler
(``engine.pipeline.archive`` names its layout), or local files: archive objects (JSON lines,
gzip-compressed or not) and every input ``dasalert eval`` reads. Archive objects are streamed and
decompressed line by line, never held whole in memory.

**Only what can match is read.** The rule index knows which ``das.action`` values a pack can
match; partitions whose actions are all outside that set, or whose hour is outside
``--from``/``--to``, are never fetched. Reading the rest happens in parallel.

**Event-time order.** Partitioned objects are processed one hour at a time, events sorted by
``das.epoch`` within the hour; events past the hour (a record that ran into the next one) wait
for the next hour. Sources without partitions (local captures) are read together and sorted as
one block, so memory holds one hour of the selected partitions, or one local capture.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import gzip
import io
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from engine.alerts import Alert
from engine.pipeline.archive import Partition, parse_partition, wanted

GZIP_MAGIC = b"\x1f\x8b"
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class BacktestError(Exception):
    """A problem that stops the backtest, said for the person at the terminal (no traceback)."""


# -- time range ---------------------------------------------------------------------------------


def parse_time(text: str, flag: str, *, now: float | None = None) -> float:
    """``--from``/``--to`` as epoch seconds (UTC when no zone is written).

    Accepts an ISO date (``2026-11-20``), a date and time (``2026-11-20T09:00``, ``…Z``,
    ``…+02:00``) or a duration back from now (``7d``, ``12h``, ``30m``).
    """
    value = text.strip()
    m = _DURATION.match(value)
    if m:
        base = time.time() if now is None else now
        return base - int(m[1]) * _UNITS[m[2]]
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise BacktestError(
            f"{flag} {text!r}: write an ISO date (2026-11-20), a time (2026-11-20T09:00Z) "
            "or a duration back from now (7d, 12h)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def time_range(
    start: str | None, end: str | None, *, now: float | None = None
) -> tuple[float | None, float | None]:
    lo = parse_time(start, "--from", now=now) if start else None
    hi = parse_time(end, "--to", now=now) if end else None
    if lo is not None and hi is not None and lo >= hi:
        raise BacktestError(f"--from ({start}) must be before --to ({end})")
    return lo, hi


# -- sources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One object or file to read. ``archive``: JSON lines to stream (else an ``eval`` input)."""

    name: str
    partition: Partition | None
    open: Callable[[], IO[bytes]]
    archive: bool = True


@dataclass
class Listing:
    sources: list[Source] = field(default_factory=list)
    pruned: int = 0  # archive objects skipped by partition (actions or time)


def list_local(paths: Sequence[str]) -> list[Source]:
    """Files and the files under directories (hidden ones skipped), in name order."""
    found: list[Source] = []
    for raw in paths:
        path = Path(raw)
        if raw == "-":
            found.append(Source("-", None, lambda: sys.stdin.buffer, archive=False))
            continue
        if not path.exists():
            raise BacktestError(f"{raw}: no such file or directory")
        files = (
            sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.parts)
            )
            if path.is_dir()
            else [path]
        )
        for f in files:
            part = parse_partition(f.as_posix())
            # an archive object: laid out as one, compressed, or without a JSON-ish suffix
            archive = part is not None or f.suffix in (".gz", "")
            opener = lambda f=f: open(f, "rb")  # noqa: E731, SIM115 (closed by the reader)
            found.append(Source(str(f), part, opener, archive=archive))
    return found


def _s3_url(url: str) -> tuple[str, str]:
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise BacktestError(f"{url}: write s3://BUCKET/PREFIX/")
    return bucket, prefix


def s3_error(exc: Exception, where: str) -> BacktestError:
    """botocore's failures in words a user can act on."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    if isinstance(exc, NoCredentialsError):
        return BacktestError(
            f"{where}: no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, NoRegionError):
        return BacktestError(f"{where}: no AWS region: set AWS_REGION")
    if isinstance(exc, EndpointConnectionError):
        return BacktestError(f"{where}: cannot reach S3 ({exc})")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            return BacktestError(f"{where}: the bucket does not exist")
        if code in ("AccessDenied", "403", "AllAccessDisabled"):
            return BacktestError(f"{where}: access denied (s3:ListBucket and s3:GetObject needed)")
        return BacktestError(f"{where}: S3 said {code or 'an error'}: {exc}")
    return BacktestError(f"{where}: {exc}")


def list_s3(
    client: Any,
    url: str,
    actions: frozenset[str] | None,
    start: float | None,
    end: float | None,
) -> Listing:
    """The objects under ``url`` that the pack and the range need; the rest counted as pruned.

    Listing is by ``action=`` prefix where the layout allows it: the ``resource=`` and
    ``action=`` levels are listed with a delimiter and an unwanted action set is never listed
    further, so pruning saves the listing as well as the downloads.
    """
    bucket, prefix = _s3_url(url)
    listing = Listing()
    try:
        for key, size in _list_pruned(client, bucket, prefix, actions, listing):
            part = parse_partition(key)
            if part is not None and not wanted(part, actions, start, end):
                listing.pruned += 1
                continue
            if size == 0 or key.endswith("/"):
                continue
            listing.sources.append(
                Source(f"s3://{bucket}/{key}", part, _s3_opener(client, bucket, key))
            )
    except Exception as exc:
        if isinstance(exc, BacktestError):
            raise
        raise s3_error(exc, url) from exc
    return listing


def _s3_opener(client: Any, bucket: str, key: str) -> Callable[[], IO[bytes]]:
    def opener() -> IO[bytes]:
        body: IO[bytes] = client.get_object(Bucket=bucket, Key=key)["Body"]
        return body

    return opener


def _list_pruned(
    client: Any, bucket: str, prefix: str, actions: frozenset[str] | None, listing: Listing
) -> Iterator[tuple[str, int]]:
    paginator = client.get_paginator("list_objects_v2")

    def pages(pfx: str, delimiter: str | None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": pfx}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        yield from paginator.paginate(**kwargs)

    def objects(pfx: str) -> Iterator[tuple[str, int]]:
        for page in pages(pfx, None):
            for obj in page.get("Contents", []):
                yield obj["Key"], int(obj.get("Size", 0))

    # Walk resource=… / action=… levels with a delimiter when the prefix sits above them.
    def walk(pfx: str) -> Iterator[tuple[str, int]]:
        subs: list[str] = []
        direct: list[tuple[str, int]] = []
        for page in pages(pfx, "/"):
            subs.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
            direct.extend((o["Key"], int(o.get("Size", 0))) for o in page.get("Contents", []))
        yield from direct
        for sub in subs:
            leaf = sub[len(pfx) :].rstrip("/")
            if leaf.startswith("action="):
                acts = frozenset(leaf[len("action=") :].split("."))
                if actions is not None and "NONE" not in acts and not (acts & actions):
                    listing.pruned += sum(1 for _ in objects(sub))  # counted, not fetched
                    continue
                yield from objects(sub)
            elif leaf.startswith("resource="):
                yield from walk(sub)
            else:
                yield from walk(sub) if "=" not in leaf else objects(sub)

    if prefix and not prefix.endswith("/") and "=" in prefix.rsplit("/", 1)[-1]:
        yield from objects(prefix)
    else:
        yield from walk(prefix)


# -- reading ------------------------------------------------------------------------------------


class _Prefixed(io.RawIOBase):
    """A byte stream with its first bytes already read (to sniff gzip) put back in front."""

    def __init__(self, head: bytes, body: Any) -> None:
        self._head = head
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = len(buffer)
        if self._head:
            chunk, self._head = self._head[:n], self._head[n:]
        else:
            chunk = self._body.read(n) or b""
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        try:
            self._body.close()
        finally:
            super().close()


def open_lines(raw: IO[bytes]) -> TextIO:
    """Text lines of a (possibly gzip-compressed) byte stream, decompressed as they are read."""
    head = raw.read(2) or b""
    stream: IO[bytes] = io.BufferedReader(_Prefixed(head, raw), 1 << 16)
    if head == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict")


@dataclass
class ReadOutcome:
    source: Source
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    not_archive: str | None = None  # why the object was skipped whole


def read_archive_object(source: Source) -> ReadOutcome:
    """Normalized events of one archive object (JSON lines), streamed.

    An object whose first line is not an activity event is not an archive object: it is skipped
    whole and named (``not_archive``) rather than half-read. A bad line later in a good object
    is a problem of that line; the rest is kept.
    """
    from engine.events import normalize

    out = ReadOutcome(source)
    try:
        with open_lines(source.open()) as lines:
            for n, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                where = f"{source.name}:{n}"
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError as exc:
                    if not out.events:
                        out.not_archive = f"line {n} is not JSON ({exc.msg})"
                        return out
                    out.problems.append(f"{where}: not JSON: {exc.msg}")
                    continue
                if not (isinstance(doc, dict) and ("das" in doc or "logTime" in doc)):
                    if not out.events:
                        out.not_archive = f"line {n} is not an activity event"
                        return out
                    out.problems.append(f"{where}: not an activity event")
                    continue
                if doc.get("type") == "heartbeat":
                    continue
                out.events.append(normalize(doc))
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        if not out.events:
            out.not_archive = f"cannot read: {exc}"
        else:
            out.problems.append(f"{source.name}: cut short: {exc}")
    except Exception as exc:  # botocore errors while streaming
        out.problems.append(f"{source.name}: {s3_error(exc, source.name)}")
    return out


def read_eval_input(source: Source, keys: Callable[[], Any] | None) -> ReadOutcome:
    """A local file in any shape ``dasalert eval`` reads (pretty JSON, arrays, encrypted)."""
    from engine.cli.events_input import read_events

    read = read_events([source.name], keys=keys)
    return ReadOutcome(source, read.events, read.problems)


# -- the run ------------------------------------------------------------------------------------


@dataclass
class PackRun:
    """One rule pack's engine and everything it produced (alerts by id: the latest version)."""

    name: str
    engine: Any
    alerts: dict[str, Alert] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    matched: int = 0

    def feed(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        result = self.engine.process(events)
        self.matched += result.matched
        for alert in result.alerts:
            self.alerts[alert.id] = alert  # a grown alert comes back with the same id
        self.errors.update(result.errors)


@dataclass
class Totals:
    objects: int = 0
    pruned: int = 0
    not_archive: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    events: int = 0
    out_of_range: int = 0
    first: float | None = None
    last: float | None = None


class Progress:
    """Objects, events, events/s and ETA on stderr: a live line on a terminal, plain lines in CI."""

    def __init__(self, total: int, stream: TextIO, *, live: bool | None = None) -> None:
        self.total = total
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.start = time.monotonic()
        self.shown = 0.0
        self.step = max(1, total // 10)

    def update(self, done: int, events: int, *, final: bool = False) -> None:
        now = time.monotonic()
        elapsed = max(now - self.start, 1e-9)
        rate = events / elapsed
        eta = (self.total - done) * elapsed / done if done else 0.0
        line = f"backtest: {done}/{self.total} objects, {events:,} events, {rate:,.0f} events/s" + (
            "" if final else f", ETA {eta:,.0f} s"
        )
        if self.live:
            if final or now - self.shown >= 0.2:
                self.stream.write("\r\x1b[K" + line + ("\n" if final else ""))
                self.stream.flush()
                self.shown = now
        elif final or (done % self.step == 0 and done < self.total):
            self.stream.write(line + "\n")
            self.stream.flush()


def _epoch(event: dict[str, Any]) -> float | None:
    das = event.get("das")
    e = das.get("epoch") if isinstance(das, dict) else None
    return float(e) if isinstance(e, int | float) and not isinstance(e, bool) else None


def chunks(sources: list[Source]) -> list[tuple[float | None, list[Source]]]:
    """Sources grouped for event-time processing: one group per partition hour, in order.

    Unpartitioned sources cannot be placed in time before they are read, so when there are any,
    everything forms one group (sorted as a whole after reading).
    """
    if any(s.partition is None for s in sources):
        return [(None, sources)] if sources else []
    by_hour: dict[float, list[Source]] = defaultdict(list)
    for s in sources:
        assert s.partition is not None
        by_hour[s.partition.start].append(s)
    return [(start, by_hour[start]) for start in sorted(by_hour)]


def run_backtest(
    sources: list[Source],
    packs: list[PackRun],
    *,
    start: float | None = None,
    end: float | None = None,
    keys: Callable[[], Any] | None = None,
    workers: int = 8,
    progress: Progress | None = None,
    totals: Totals | None = None,
) -> Totals:
    """Read every source, feed each pack in event-time order, and count what happened."""
    totals = totals or Totals()
    totals.objects = len(sources)
    done = 0
    carry: list[tuple[float, int, dict[str, Any]]] = []
    seq = 0

    def read(source: Source) -> ReadOutcome:
        return read_archive_object(source) if source.archive else read_eval_input(source, keys)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for hour, group in chunks(sources):
            block: list[tuple[float, int, dict[str, Any]]] = carry
            carry = []
            for outcome in pool.map(read, group):
                done += 1
                if outcome.not_archive:
                    totals.not_archive.append(f"{outcome.source.name}: {outcome.not_archive}")
                totals.problems.extend(outcome.problems)
                for ev in outcome.events:
                    epoch = _epoch(ev)
                    ranged = start is not None or end is not None
                    # an event without time cannot be placed in a range: out of it, counted
                    if (epoch is None and ranged) or (
                        epoch is not None
                        and (
                            (start is not None and epoch < start)
                            or (end is not None and epoch >= end)
                        )
                    ):
                        totals.out_of_range += 1
                        continue
                    seq += 1
                    block.append((epoch if epoch is not None else float("-inf"), seq, ev))
                if progress is not None:
                    progress.update(done, totals.events + len(block))
            block.sort(key=lambda item: (item[0], item[1]))
            if hour is not None:
                limit = hour + 3600
                carry = [item for item in block if item[0] >= limit]
                block = [item for item in block if item[0] < limit]
            _feed(block, packs, totals)
        _feed(sorted(carry, key=lambda item: (item[0], item[1])), packs, totals)
    if progress is not None:
        progress.update(done, totals.events, final=True)
    return totals


def _feed(
    block: list[tuple[float, int, dict[str, Any]]], packs: list[PackRun], totals: Totals
) -> None:
    if not block:
        return
    events = [ev for _, _, ev in block]
    totals.events += len(events)
    timed = [e for e, _, _ in block if e != float("-inf")]
    if timed:
        totals.first = min(timed) if totals.first is None else min(totals.first, timed[0])
        totals.last = max(timed) if totals.last is None else max(totals.last, timed[-1])
    for pack in packs:
        pack.feed(events)


# -- the report ---------------------------------------------------------------------------------


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass(frozen=True)
class RuleReport:
    rule_id: str
    alerts: int
    per_day: list[tuple[str, int]]
    top_keys: list[tuple[str, int]]
    examples: list[Alert]
    errors: int


def rule_reports(pack: PackRun, *, top: int = 3, examples: int = 3) -> list[RuleReport]:
    from engine.outputs.console import alert_order

    by_rule: dict[str, list[Alert]] = defaultdict(list)
    for alert in alert_order(list(pack.alerts.values())):
        by_rule[alert.rule_id].append(alert)
    errors_by_rule: Counter[str] = Counter()
    for line, n in pack.errors.items():
        errors_by_rule[line.split(":", 1)[0]] += n
    reports = []
    for rule_id in sorted(set(by_rule) | set(errors_by_rule)):
        alerts = by_rule.get(rule_id, [])
        days = Counter((a.first_seen or "")[:10] or "undated" for a in alerts)
        keys = Counter(
            str(a.context.get("group") or a.dedup_key or "(one alert per event)") for a in alerts
        )
        reports.append(
            RuleReport(
                rule_id,
                len(alerts),
                sorted(days.items()),
                keys.most_common(top),
                alerts[:examples],
                errors_by_rule.get(rule_id, 0),
            )
        )
    return sorted(reports, key=lambda r: (-r.alerts, r.rule_id))


def summary(pack: PackRun, totals: Totals) -> dict[str, Any]:
    return {
        "rules": pack.name,
        "objects": totals.objects,
        "objects_pruned": totals.pruned,
        "objects_not_archive": len(totals.not_archive),
        "input_problems": len(totals.problems),
        "events": totals.events,
        "events_out_of_range": totals.out_of_range,
        "first_event": _iso(totals.first),
        "last_event": _iso(totals.last),
        "alerts": len(pack.alerts),
        "alerts_by_rule": dict(Counter(a.rule_id for a in pack.alerts.values()).most_common()),
        "rule_errors": sum(pack.errors.values()),
    }


def write_text_report(pack: PackRun, totals: Totals, out: TextIO, *, examples: int = 3) -> None:
    from engine.outputs.console import _clean

    out.write(
        f"{totals.events:,} events from {totals.objects} objects "
        f"({totals.pruned} skipped by partition), {_iso(totals.first)} → {_iso(totals.last)}\n"
    )
    reports = rule_reports(pack, examples=examples)
    if not reports:
        out.write("no alerts\n")
    for r in reports:
        out.write(f"\n{r.rule_id}: {r.alerts} alert{'s' * (r.alerts != 1)}")
        out.write(f", {r.errors} rule errors\n" if r.errors else "\n")
        if r.per_day:
            days = ", ".join(f"{day} {n}" for day, n in r.per_day[-7:])
            more = f" (+{len(r.per_day) - 7} earlier days)" if len(r.per_day) > 7 else ""
            out.write(f"  per day: {days}{more}\n")
        for key, n in r.top_keys:
            out.write(f"  top key: {_clean(key)} ({n})\n")
        for a in r.examples:
            seen = (a.first_seen or "-")[:19].replace("T", " ")
            out.write(f"  {seen}  ×{a.count}  {_clean(a.title)}\n")


@dataclass(frozen=True)
class Change:
    kind: str  # "added" | "removed" | "changed"
    alert: Alert
    before: int | None = None  # the baseline's count, for "changed"


def compare(candidate: PackRun, baseline: PackRun) -> list[Change]:
    """What the candidate pack raises that the baseline does not, and the reverse.

    Alert ids are derived from the rule id and the dedup key and window, not from the rule's
    text, so the same incident seen by an edited rule keeps its id: an id in one run only is an
    alert the change adds or removes; an id in both with another count changed.
    """
    from engine.outputs.console import alert_order

    changes: list[Change] = []
    for alert in alert_order(list(candidate.alerts.values())):
        old = baseline.alerts.get(alert.id)
        if old is None:
            changes.append(Change("added", alert))
        elif old.count != alert.count or old.severity != alert.severity:
            changes.append(Change("changed", alert, old.count))
    for alert in alert_order(list(baseline.alerts.values())):
        if alert.id not in candidate.alerts:
            changes.append(Change("removed", alert))
    return changes


def write_compare(changes: list[Change], out: TextIO) -> None:
    from engine.outputs.console import _clean

    marks = {"added": "+", "removed": "-", "changed": "~"}
    for c in changes:
        a = c.alert
        seen = (a.first_seen or "-")[:19].replace("T", " ")
        extra = f" (count {c.before} → {a.count})" if c.kind == "changed" else f" ×{a.count}"
        out.write(f"{marks[c.kind]} {c.kind:<8} {a.rule_id}  {seen}{extra}  {_clean(a.title)}\n")
    n = Counter(c.kind for c in changes)
    out.write(
        f"compare: {n['added']} added, {n['removed']} removed, {n['changed']} changed\n"
        if changes
        else "compare: no difference\n"
    )


def dump_alert(alert: Alert) -> str:
    """One alert exactly as ``dasalert eval --format json`` prints it."""
    return json.dumps(alert.to_dict(), ensure_ascii=False, default=str)


def pack_actions(packs: Iterable[Any]) -> frozenset[str] | None:
    """The ``das.action`` values any rule of the packs can match (``None``: any action)."""
    actions: set[str] = set()
    for ruleset in packs:
        for rule in ruleset.rules:
            if rule.actions is None:
                return None
            actions |= rule.actions
    return frozenset(actions)


def env_workers() -> int:
    try:
        return max(1, int(os.environ.get("DASALERT_BACKTEST_WORKERS", "8")))
    except ValueError:
        return 8
