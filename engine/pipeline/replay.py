"""Replay: put a batch Lambda gave up on, or a dead letter, back through the pipeline — once.

What can be replayed, and where it comes from:

* **an on-failure object** — Lambda's invocation record for a batch that exhausted its retries.
  The S3 destination's object carries the whole batch in ``payload`` (the Kinesis event Lambda
  passed to the function, as JSON text or as an object); the SQS/SNS form carries only
  ``KinesisBatchInfo`` (shard and sequence range), and the records are then read back from the
  stream (``GetShardIterator AT_SEQUENCE_NUMBER``) while it still holds them (24 h by default);
* **a dead letter** of ``engine.pipeline.dlq``: an ``undecodable_record`` or
  ``unevaluated_record`` (its raw record goes through the pipeline again) or an
  ``undeliverable_alert`` (the alert goes to the output that refused it, nowhere else).

Sources (``read_source``): ``s3://bucket/key`` (or ``s3://bucket/prefix/`` for every object
under it), an SQS queue URL (each message is deleted only once everything in it was replayed),
or a local file holding one of those JSON documents, JSON lines of them, or the output of
``aws sqs receive-message``.

Idempotency is the pipeline's: records go through ``Pipeline.run`` exactly as a Lambda
redelivery does, so an alert whose sent marker is in the state table (``sent:<output>:<id>``)
is not sent again, and an alert that reached only some outputs is sent to the others. A
dead-lettered alert was marked as handled for its output when it was dead-lettered, so replay
keeps its own marker (``replayed:<output>:<id>:<count>``) in the same table. Replay needs the
same table as the stack for that reason (``DASALERT_STATE_TABLE``).

A record or alert that still fails *retryably* (an output still down) is reported and its
source kept (the SQS message is not deleted); one that fails for good is dead-lettered as the
Lambda would — except when it came from the dead-letter queue itself, where the original stays
and no second copy is written.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.alerts import Alert
from engine.das.records import RawRecord
from engine.das.sources import records_from_kinesis_event, resource_id_from_arn
from engine.events.timeparse import parse_log_time
from engine.outputs.base import Deadline, Status
from engine.pipeline.batch import HEARTBEAT_NS, PERMANENT, TRANSIENT, BatchResult, Pipeline
from engine.pipeline.delivery import SENT_TTL_S
from engine.pipeline.dlq import (
    RECORD_KINDS,
    UNDELIVERABLE_ALERT,
    DeadLetters,
    alert_from_dict,
)

log = logging.getLogger("dasalert.replay")

BATCH, RANGE, RECORD, ALERT = "batch", "range", "record", "alert"
REPLAY_MARK_TTL_S = 15 * 86400  # longer than an SQS message lives (14 days)
MAX_RANGE_RECORDS = 10_000  # a batch is at most 10,000 records (Lambda's Kinesis maximum)


class ReplayError(Exception):
    """A source that cannot be replayed; the message says why and what to do about it."""


@dataclass
class Item:
    """One replayable thing found in a source."""

    where: str
    kind: str  # BATCH | RANGE | RECORD | ALERT
    records: list[RawRecord] = field(default_factory=list)
    batch_info: dict[str, Any] | None = None  # RANGE: Lambda's KinesisBatchInfo
    alert: Alert | None = None  # ALERT
    output: str | None = None  # ALERT: the output that refused it
    function_arn: str | None = None  # BATCH/RANGE: the function that gave up on it
    failed_at: float | None = None  # BATCH/RANGE: when Lambda gave up (epoch seconds)


@dataclass
class Unit:
    """What is replayed, and acknowledged, as a whole: one object, message or file."""

    where: str
    items: list[Item]
    ack: Callable[[], None] | None = None  # e.g. delete the SQS message
    from_dead_letters: bool = False
    error: str | None = None  # why it cannot be replayed (it is kept)


# -- reading documents ----------------------------------------------------------------------


def items_from_document(doc: Any, where: str) -> list[Item]:
    """The replayable items of one JSON document; ``ReplayError`` when it is neither Lambda's
    on-failure record nor a dasalert dead letter."""
    if not isinstance(doc, dict):
        raise ReplayError(f"{where}: not an on-failure record or a dead letter (not an object)")
    if "KinesisBatchInfo" in doc or ("requestContext" in doc and "payload" in doc):
        return [_on_failure_item(doc, where)]
    if doc.get("dasalert") == 1 and doc.get("kind") in RECORD_KINDS:
        return [_record_item(doc, where)]
    if doc.get("dasalert") == 1 and doc.get("kind") == UNDELIVERABLE_ALERT:
        try:
            alert = alert_from_dict(doc.get("alert") or {})
        except (TypeError, ValueError) as exc:
            raise ReplayError(
                f"{where}: a dead-lettered alert that cannot be read: {exc}"
            ) from None
        output = doc.get("output")
        if not isinstance(output, str) or not output:
            raise ReplayError(f"{where}: the dead-lettered alert names no output")
        return [Item(where, ALERT, alert=alert, output=output)]
    if "DDBStreamBatchInfo" in doc or "KafkaBatchInfo" in doc:
        raise ReplayError(f"{where}: an on-failure record of another event source (not Kinesis)")
    raise ReplayError(
        f"{where}: not a Kinesis on-failure record (no KinesisBatchInfo) nor a dasalert "
        'dead letter (no "dasalert": 1 with a known kind)'
    )


def _on_failure_item(doc: dict[str, Any], where: str) -> Item:
    info = doc.get("KinesisBatchInfo")
    context = doc.get("requestContext")
    fn = context.get("functionArn") if isinstance(context, dict) else None
    fn = fn if isinstance(fn, str) else None
    at = parse_log_time(doc.get("timestamp"))[1]  # ISO 8601 with ``Z``; None if unreadable
    payload = doc.get("payload")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise ReplayError(
                f"{where}: the on-failure record's payload is not JSON: {exc}"
            ) from None
    if isinstance(payload, dict) and isinstance(payload.get("Records"), list):
        records = records_from_kinesis_event(payload, where=f"{where} ")
        if isinstance(info, dict) and info.get("streamArn"):
            # records as Lambda passed them carry their stream ARN; keep the batch's if not
            records = [r if r.stream_arn else _with_arn(r, str(info["streamArn"])) for r in records]
        kept = info if isinstance(info, dict) else None
        return Item(where, BATCH, records=records, batch_info=kept, function_arn=fn, failed_at=at)
    if payload is not None:
        raise ReplayError(f"{where}: the on-failure record's payload holds no Kinesis Records")
    if not isinstance(info, dict):
        raise ReplayError(f"{where}: the on-failure record has neither a payload nor a batch range")
    for key in ("shardId", "startSequenceNumber", "streamArn"):
        if not info.get(key):
            raise ReplayError(f"{where}: KinesisBatchInfo has no {key}")
    return Item(where, RANGE, batch_info=info, function_arn=fn, failed_at=at)


def _with_arn(rec: RawRecord, arn: str) -> RawRecord:
    return RawRecord(
        record_id=rec.record_id,
        data=rec.data,
        stream_arn=arn,
        resource_id=rec.resource_id,
        position=rec.position,
    )


def _record_item(doc: dict[str, Any], where: str) -> Item:
    data = doc.get("data")
    rid = str(doc.get("record_id") or where)
    if data is None:
        raise ReplayError(
            f"{where}: the dead letter of record {rid} was too large to carry its data; read it "
            "from the stream by its sequence number while the stream still holds it"
        )
    try:
        raw = base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError):
        raise ReplayError(f"{where}: the dead letter's data is not base64") from None
    arn = doc.get("stream_arn") if isinstance(doc.get("stream_arn"), str) else None
    rid_res = doc.get("resource_id") if isinstance(doc.get("resource_id"), str) else None
    rec = RawRecord(
        record_id=rid,
        data=raw,
        stream_arn=arn,
        resource_id=rid_res or resource_id_from_arn(arn),
        position=str(doc.get("position") or where),
    )
    return Item(where, RECORD, records=[rec])


def units_from_text(text: str, where: str) -> list[Unit]:
    """A file's (or object's) units: one JSON document, JSON lines of documents, or the output
    of ``aws sqs receive-message`` (``{"Messages": [{"Body": …}]}``)."""
    docs: list[tuple[Any, str]] = []
    with contextlib.suppress(ValueError):
        docs.append((json.loads(text), where))
    if not docs:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                docs.append((json.loads(line), f"{where}:{n}"))
            except ValueError as exc:
                raise ReplayError(f"{where}:{n}: not JSON: {exc}") from None
        if not docs:
            raise ReplayError(f"{where}: empty")
    units: list[Unit] = []
    for doc, here in docs:
        if isinstance(doc, dict) and isinstance(doc.get("Messages"), list):
            for i, msg in enumerate(doc["Messages"]):
                body = msg.get("Body") if isinstance(msg, dict) else None
                at = f"{here} Messages[{i}]"
                if not isinstance(body, str):
                    raise ReplayError(f"{at}: a message without a Body")
                units.append(_unit(_loads(body, at), at))
            continue
        units.append(_unit(doc, here))
    return units


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ReplayError(f"{where}: not JSON: {exc}") from None


def _unit(doc: Any, where: str, ack: Callable[[], None] | None = None) -> Unit:
    items = items_from_document(doc, where)
    dead = bool(items) and all(i.kind in (RECORD, ALERT) for i in items)
    return Unit(where, items, ack=ack, from_dead_letters=dead)


# -- sources --------------------------------------------------------------------------------


def is_queue_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))


def read_source(source: str, client: Callable[[str], Any]) -> Iterator[Unit]:
    """The units of one source; ``client(service)`` makes a boto3 client.

    Raises ``ReplayError`` for a source that cannot be read at all (no such object, bucket,
    queue or file; no credentials; access denied).
    """
    if source.startswith("s3://"):
        yield from _s3_units(source, client("s3"))
    elif is_queue_url(source):
        yield from _queue_units(source, client("sqs"))
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ReplayError(f"{source}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ReplayError(f"{source}: cannot read: {exc}") from None
        yield from units_from_text(text, source)


def aws_error(where: str, exc: Exception) -> ReplayError:
    """A boto3/botocore failure said plainly (never with a request body or a secret)."""
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return ReplayError(
            f"{where}: no AWS credentials (set AWS_PROFILE or the AWS_* variables, or run with a "
            "role that may read this source)"
        )
    if isinstance(exc, NoRegionError):
        return ReplayError(f"{where}: no AWS region (set AWS_REGION)")
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "")
        if code in ("NoSuchKey", "404", "NotFound"):
            return ReplayError(f"{where}: no such object")
        if code == "NoSuchBucket":
            return ReplayError(f"{where}: no such bucket")
        if code == "ResourceNotFoundException":
            return ReplayError(f"{where}: no such stream or shard (deleted, or another region)")
        if code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return ReplayError(f"{where}: no such queue")
        if code in ("AccessDenied", "AccessDeniedException", "403"):
            return ReplayError(f"{where}: access denied ({err.get('Message') or code})")
        return ReplayError(f"{where}: {code}: {err.get('Message') or ''}".rstrip(": "))
    return ReplayError(f"{where}: {type(exc).__name__}: {exc}")


def _s3_units(source: str, s3: Any) -> Iterator[Unit]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = source[len("s3://") :].partition("/")
    if not bucket:
        raise ReplayError(f"{source}: no bucket in the S3 URL (s3://BUCKET/KEY)")
    try:
        if key and not key.endswith("/"):
            keys = [key]
        else:  # a prefix: every object under it, oldest key first (keys embed the time)
            keys = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
                keys += [o["Key"] for o in page.get("Contents", [])]
            if not keys:
                raise ReplayError(f"{source}: no object under this prefix")
        for k in sorted(keys):
            where = f"s3://{bucket}/{k}"
            body = s3.get_object(Bucket=bucket, Key=k)["Body"].read()
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise ReplayError(f"{where}: not UTF-8 text") from None
            yield from units_from_text(text, where)
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(source, exc) from None


def _queue_units(url: str, sqs: Any, visibility_s: int = 300) -> Iterator[Unit]:
    """Every message visible now; each hidden for ``visibility_s`` while it is replayed and
    deleted only through its unit's ``ack``. A message that fails stays, visible again later."""
    from botocore.exceptions import BotoCoreError, ClientError

    seen: set[str] = set()
    while True:
        try:
            got = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=visibility_s,
            ).get("Messages", [])
        except (ClientError, BotoCoreError) as exc:
            raise aws_error(url, exc) from None
        fresh = [m for m in got if m["MessageId"] not in seen]
        if not fresh:
            return
        for msg in fresh:
            seen.add(msg["MessageId"])
            where = f"{url} message {msg['MessageId']}"

            def ack(handle: str = msg["ReceiptHandle"]) -> None:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)

            try:
                unit = _unit(_loads(msg["Body"], where), where, ack)
            except ReplayError as exc:  # one bad message must not stop the queue: it stays
                unit = Unit(where, [], error=str(exc))
            yield unit


def fetch_range(kinesis: Any, info: Mapping[str, Any], where: str) -> list[RawRecord]:
    """The records of a batch range, read back from the stream (AT_SEQUENCE_NUMBER up to the
    end sequence number). ``ReplayError`` when the stream no longer holds the range's start."""
    from botocore.exceptions import BotoCoreError, ClientError

    arn = str(info["streamArn"])
    name = arn.rsplit("/", 1)[-1]
    start = str(info["startSequenceNumber"])
    end = int(str(info.get("endSequenceNumber") or start))
    wanted = int(info.get("batchSize") or MAX_RANGE_RECORDS)
    out: list[RawRecord] = []
    try:
        it = kinesis.get_shard_iterator(
            StreamName=name,
            ShardId=str(info["shardId"]),
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=start,
        )["ShardIterator"]
        empty = 0
        while it and len(out) < min(wanted, MAX_RANGE_RECORDS):
            resp = kinesis.get_records(ShardIterator=it, Limit=1000)
            records = resp.get("Records", [])
            for r in records:
                seq = str(r["SequenceNumber"])
                if int(seq) > end:
                    return _checked(out, start, where)
                out.append(RawRecord(record_id=seq, data=r["Data"], stream_arn=arn, position=seq))
            if not records:
                empty += 1
                if empty >= 3 or not resp.get("MillisBehindLatest"):
                    break
            it = resp.get("NextShardIterator")
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(f"{where} ({name} {info['shardId']})", exc) from None
    return _checked(out, start, where)


def _checked(out: list[RawRecord], start: str, where: str) -> list[RawRecord]:
    if not out or out[0].record_id != start:
        raise ReplayError(
            f"{where}: the stream no longer holds the batch (sequence {start}): it is past the "
            "stream's retention. Batches kept whole by the S3 on-failure destination do not "
            "have this limit"
        )
    return out


# -- replaying ------------------------------------------------------------------------------


@dataclass
class Summary:
    """What a replay did, added up over its sources."""

    units: int = 0
    units_failed: int = 0
    records: int = 0
    events: int = 0
    alerts: int = 0
    sent: int = 0
    already_sent: int = 0
    failed: int = 0  # deliveries that failed (an output still down, or refusing)
    records_failed: int = 0
    dead_lettered: int = 0

    def add(self, other: Summary) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def line(self) -> str:
        return (
            f"{self.records} records, {self.events} events, {self.alerts} alerts: "
            f"{self.sent} sent, {self.already_sent} already sent, {self.failed} failed"
            + (f"; {self.records_failed} records failed" if self.records_failed else "")
            + (f"; {self.dead_lettered} dead-lettered" if self.dead_lettered else "")
        )


class HeldDeadLetters(DeadLetters):
    """The pipeline's dead letters during a replay: forwarded to the stack's queue, except while
    a unit from that queue is replayed (``hold``): its original stays, no second copy."""

    def __init__(self, inner: DeadLetters) -> None:
        self.inner = inner
        self.hold = False
        self.held: list[dict[str, Any]] = []

    def send(self, doc: dict[str, Any]) -> None:
        if self.hold:
            self.held.append(doc)
            return
        self.inner.send(doc)


class ReplayState:
    """The pipeline's state store during a replay, except that heartbeats are not recorded: a
    replayed record says nothing about whether its database is alive *now*, and must not quiet
    the watchdog of a stream that went silent. Everything else goes to the real store."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def record_max(
        self, namespace: str, name: str, value: float, *, expires_at: float | None = None
    ) -> None:
        if namespace == HEARTBEAT_NS:
            return
        self.inner.record_max(namespace, name, value, expires_at=expires_at)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Replayer:
    """Replays units through ``pipeline`` (built as the Lambda builds it); ``dry_run`` evaluates
    and reports without sending (the pipeline must then have no router)."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        dry_run: bool = False,
        kinesis: Callable[[], Any] | None = None,
        say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.time,
        deadline: Callable[[], Deadline] = Deadline,
    ) -> None:
        self.pipeline = pipeline
        # Unbounded by default: at a terminal there is time to wait out a Retry-After.
        self.deadline = deadline
        self.dry_run = dry_run
        self.kinesis = kinesis
        self.say = say
        self.clock = clock
        self.dead_letters = HeldDeadLetters(pipeline.dead_letters)
        pipeline.dead_letters = self.dead_letters
        pipeline.state = ReplayState(pipeline.state)  # type: ignore[assignment]

    def replay(self, unit: Unit) -> Summary:
        """Replay one unit; acknowledge it (delete the message) only when nothing failed."""
        total = Summary(units=1)
        if unit.error is not None:
            self.say(unit.error)
            total.units_failed += 1
            return total
        ok = True
        self.dead_letters.hold = unit.from_dead_letters
        self.dead_letters.held.clear()
        for item in unit.items:
            try:
                s, item_ok = self._item(item)
            except ReplayError as exc:
                self.say(f"{item.where}: {exc}" if item.where not in str(exc) else str(exc))
                s, item_ok = Summary(), False
            except Exception as exc:  # the state table or an output down: keep the source
                self.say(f"{item.where}: {aws_error('replay', exc)}")
                s, item_ok = Summary(), False
            total.add(s)
            ok = ok and item_ok
        if self.dead_letters.held:
            ok = False  # still failing for good: the original dead letter stays
        self.dead_letters.hold = False
        if not unit.items:
            ok = False
        if ok and unit.ack is not None and not self.dry_run:
            unit.ack()
        if not ok:
            total.units_failed += 1
        status = "" if ok else " (kept: not everything was replayed)"
        self.say(f"{unit.where}: {total.line()}{status}")
        return total

    def _item(self, item: Item) -> tuple[Summary, bool]:
        if item.kind == ALERT:
            assert item.alert is not None and item.output is not None
            return self._alert(item.alert, item.output)
        records = item.records
        # the account of the alerts' resource ARNs, as the handler takes it from its context
        use_arn = getattr(self.pipeline.resources, "use_function_arn", None)
        if item.function_arn and use_arn is not None:
            use_arn(item.function_arn)
        if item.failed_at is not None and self.clock() - item.failed_at > SENT_TTL_S:
            days = (self.clock() - item.failed_at) / 86400
            self.say(
                f"  note: this batch failed {days:.1f} days ago, longer than the sent markers "
                f"live ({SENT_TTL_S // 86400:g} days): alerts the function delivered before it "
                "gave up may be sent again"
            )
        if item.kind == RANGE:
            if self.kinesis is None:
                raise ReplayError(f"{item.where}: a batch range, and no stream to read it from")
            assert item.batch_info is not None
            records = fetch_range(self.kinesis(), item.batch_info, item.where)
        return self._records(records)

    def _records(self, records: Sequence[RawRecord]) -> tuple[Summary, bool]:
        result = self.pipeline.run(records, self.deadline())
        s = _summarize(result)
        for o in result.outcomes:
            if o.status in (TRANSIENT, PERMANENT):
                kind = "will need another replay" if o.status == TRANSIENT else "dead-lettered"
                self.say(f"  record {o.record_id}: {o.reason} ({kind})")
        if self.dry_run:
            for a in result.alerts:
                self.say(f"  would alert: [{a.severity}] {a.title} ({a.rule_id}, id {a.id})")
        # A record failing for good is dead-lettered (as the Lambda does) and the batch is done;
        # unless it came from the dead-letter queue: then its message is the copy, and stays.
        bad = (TRANSIENT, PERMANENT) if self.dead_letters.hold else (TRANSIENT,)
        ok = not any(o.status in bad for o in result.outcomes)
        return s, ok

    def _alert(self, alert: Alert, output: str) -> tuple[Summary, bool]:
        s = Summary(alerts=1)
        if self.dry_run:
            self.say(f"  would send to {output}: [{alert.severity}] {alert.title} (id {alert.id})")
            return s, True
        router = self.pipeline.router
        out = router.outputs.get(output) if router is not None else None
        if out is None:
            raise ReplayError(
                f"the output {output!r} is not configured here: set the same output settings "
                "as the stack (SNS_TOPIC_ARN, SLACK_*, SECURITYHUB_ENABLED)"
            )
        state = self.pipeline.state
        step = (alert.context.get("escalation") or {}).get("step", 0)
        key = f"replayed:{output}:{alert.id}:{alert.count}:{step}"
        if state.get_counts([key]).get(key):
            s.already_sent += 1
            return s, True
        report = out.send([alert], self.deadline())
        statuses = [d for d in report.deliveries if d.alert_id == alert.id]
        if statuses and all(d.status is Status.DELIVERED for d in statuses):
            state.incr(key, 1, expires_at=self.clock() + REPLAY_MARK_TTL_S)
            s.sent += 1
            return s, True
        reason = "; ".join(d.reason or d.status.value for d in statuses) or "not reported"
        self.say(f"  alert {alert.id} not delivered to {output}: {reason}")
        s.failed += 1
        return s, False


def _summarize(result: BatchResult) -> Summary:
    delivered = sum(1 for d in result.deliveries if d.status is Status.DELIVERED)
    return Summary(
        records=len(result.outcomes),
        events=result.events,
        alerts=len(result.alerts),
        sent=delivered,
        already_sent=result.skipped_already_sent,
        failed=len(result.deliveries) - delivered,
        records_failed=sum(1 for o in result.outcomes if o.status in (TRANSIENT, PERMANENT)),
        dead_lettered=sum(result.dead_letters.values()),
    )
