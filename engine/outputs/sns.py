"""The SNS output: a versioned JSON alert document per message, filterable attributes.

Subscribers (SQS queues, Lambda, HTTP) get ``{"schema": "dasalert.alert/1", …Alert.to_dict(),
"truncated": false}``; e-mail subscribers get the same facts as plain text
(:func:`engine.alerts.plaintext.render_text`): each message is published with
``MessageStructure=json``, ``default`` the JSON document and ``email`` the text. Subscription
filter policies select on the message attributes (``severity``, ``severity_rank`` as a Number,
``rule_id``, ``cluster``, ``kind``, ``alert_id``) without parsing the body.

**Updates.** An alert already sent that grew (``context["escalation"]``: a new verb, object,
user or host, a higher severity, the count passing 10/100/1,000) is published again as an
*update document*: the alert's fields with its new count and folded values, plus
``"update_of": <alert id>`` and ``"escalation": {step, reasons, previous_severity}``. Its
attribute ``kind`` is ``update`` (a filter on ``kind`` keeps or drops updates) and
``escalation_step`` says which; FIFO topics deduplicate it by alert id and step.

Messages go out with ``PublishBatch`` (10 entries, 256 KiB per request); a message that would
pass 256 KiB (the whole ``MessageStructure`` envelope, attributes and subject included) has its
event's longest strings cut (``truncated: true``) rather than being refused. FIFO topics
(``….fifo``) get a message group per rule (or cluster) and the alert id as the deduplication id,
so a redelivered Kinesis batch publishes each alert once.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.alerts import Alert
from engine.alerts.invisible import INVISIBLE
from engine.alerts.plaintext import render_text
from engine.alerts.redact import sanitize
from engine.outputs.base import Deadline, DeliveryReport, Output, Status, register
from engine.outputs.retry import Outcome, RetryPolicy

if TYPE_CHECKING:
    from engine.outputs.routing import OutputContext

SCHEMA = "dasalert.alert/1"
UPDATE_KIND = "update"  # the ``kind`` attribute of an update document
EMAIL_MAX = 32_768  # characters of the e-mail body (render_text caps far below this)
MAX_BYTES = 262_144  # per message (body + attributes) and per PublishBatch request
MAX_ENTRIES = 10
MIN_STRING = 256  # trimming never cuts a string below this many characters
TRUNCATED_MARK = "…[truncated]"
_FIFO_ID = re.compile(r"[^A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]")
_SUBJECT_BAD = re.compile(r"[^\x20-\x7e]")
# render_text already drops these; the e-mail body is cleaned again at the edge (tabs and
# newlines are layout and stay)
_CONTROL = INVISIBLE
log = logging.getLogger("dasalert.outputs.sns")


def _dumps(doc: Any) -> str:
    # sanitize: a lone surrogate cannot be UTF-8 encoded and NaN is not JSON; alerts are built
    # from sanitized events, this keeps any other caller's alert publishable too.
    return json.dumps(
        sanitize(doc), ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False
    )


def _cap(value: Any, limit: int) -> tuple[Any, bool]:
    """A copy of ``value`` with every string longer than ``limit`` cut; and whether any was."""
    if isinstance(value, str):
        if len(value) > limit:
            return value[:limit] + TRUNCATED_MARK, True
        return value, False
    if isinstance(value, dict):
        out, cut = {}, False
        for k, v in value.items():
            out[k], c = _cap(v, limit)
            cut |= c
        return out, cut
    if isinstance(value, list | tuple):
        items = [_cap(v, limit) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def escalation(alert: Alert) -> dict[str, Any] | None:
    """The alert's escalation (an update of an alert already sent), or None."""
    return alert.escalation


def document(alert: Alert) -> dict[str, Any]:
    doc = {"schema": SCHEMA, **alert.to_dict(), "truncated": False}
    esc = escalation(alert)
    if esc is not None:  # an update: what it updates and why, beside the new count and folded
        doc["update_of"] = alert.id
        doc["escalation"] = esc
    return doc


def encode_message(alert: Alert, budget: int) -> str:
    """The JSON document within ``budget`` UTF-8 bytes, trimming the event if it must."""
    doc = document(alert)
    text = _dumps(doc)
    if len(text.encode()) <= budget:
        return text
    doc["truncated"] = True
    limit = max(MIN_STRING, budget // 2)
    while limit >= MIN_STRING:
        doc["event"], _ = _cap(alert.event, limit)
        text = _dumps(doc)
        if len(text.encode()) <= budget:
            return text
        limit //= 2
    # the event is too big even with short strings (thousands of fields): keep what routes it
    doc["event"] = {"das": alert.das, "omitted": "event too large for SNS"}
    text = _dumps(doc)
    if len(text.encode()) <= budget:
        return text
    capped, _ = _cap(doc, MIN_STRING)
    return _dumps(capped)


def email_text(alert: Alert, region: str | None = None, finding_links: bool = False) -> str:
    """The plain-text body for e-mail subscribers; a renderer bug costs the layout, not the
    alert (a short text with what routes it)."""
    try:
        text = render_text(alert, region=region, finding_links=finding_links)
    except Exception as exc:
        log.error("plain-text rendering failed for %s: %s", alert.id, type(exc).__name__)
        text = f"[{alert.severity.upper()}] {alert.title}\nRule: {alert.rule_id}\nAlert: {alert.id}"
    text = _CONTROL.sub("", text)
    return text if len(text) <= EMAIL_MAX else text[: EMAIL_MAX - 1] + "…"


def encode_envelope(alert: Alert, budget: int, email: str) -> str:
    """The ``MessageStructure=json`` message within ``budget`` UTF-8 bytes: ``default`` the
    JSON document (trimmed as :func:`encode_message` does), ``email`` the plain text. The
    document is escaped once more inside the envelope, so its budget shrinks until the whole
    fits; an e-mail body that alone would not leave room is cut first."""
    fixed = len(_dumps({"default": "", "email": email}).encode())
    if fixed > budget // 2:
        email = email[: budget // 8] + "…"  # at most 4 bytes a character: half the budget
        fixed = len(_dumps({"default": "", "email": email}).encode())
    inner = budget - fixed
    for _ in range(12):
        envelope = _dumps({"default": encode_message(alert, inner), "email": email})
        over = len(envelope.encode()) - budget
        if over <= 0:
            return envelope
        inner -= over + 64
    raise ValueError("the alert does not fit in an SNS message")


def attributes(alert: Alert) -> dict[str, dict[str, str]]:
    """Message attributes for subscription filter policies (SNS refuses empty values)."""
    das = alert.das
    esc = escalation(alert)
    values = {
        "severity": ("String", alert.severity),
        "severity_rank": ("Number", str(alert.severity_rank)),
        "rule_id": ("String", alert.rule_id),
        "cluster": ("String", str(das.get("clusterId") or das.get("instanceId") or "")),
        "kind": ("String", UPDATE_KIND if esc else alert.kind),
        "alert_id": ("String", alert.id),
    }
    if esc is not None:
        values["escalation_step"] = ("Number", str(esc["step"]))
    return {name: {"DataType": t, "StringValue": v[:1024]} for name, (t, v) in values.items() if v}


def _attributes_bytes(attrs: Mapping[str, Mapping[str, str]]) -> int:
    return sum(
        len(n.encode()) + len(a["DataType"].encode()) + len(a["StringValue"].encode())
        for n, a in attrs.items()
    )


def _subject(alert: Alert) -> str:
    label = "TEST" if alert.kind == "test" else alert.severity.upper()
    esc = escalation(alert)
    if esc is not None:
        label += f" update {esc['step']}"
    text = _SUBJECT_BAD.sub(" ", f"[dasalert {label}] {alert.title}")
    return " ".join(text.split())[:100] or "dasalert alert"


def _fifo_id(value: str) -> str:
    return (_FIFO_ID.sub("_", value) or "none")[:128]


@dataclass(frozen=True)
class _Entry:
    key: int  # position in the send() call: the same alert id may come twice
    alert: Alert
    request: dict[str, Any]
    size: int


def _pack(entries: Sequence[_Entry]) -> list[list[_Entry]]:
    """Batches of at most 10 entries and 256 KiB in total, in order."""
    batches: list[list[_Entry]] = []
    current: list[_Entry] = []
    total = 0
    for e in entries:
        if current and (len(current) >= MAX_ENTRIES or total + e.size > MAX_BYTES):
            batches.append(current)
            current, total = [], 0
        current.append(e)
        total += e.size
    if current:
        batches.append(current)
    return batches


@register("sns", enabled_by=("SNS_TOPIC_ARN",), min_severity="info")
class SnsOutput(Output):
    """Publishes alerts to one topic with ``PublishBatch``."""

    def __init__(
        self,
        client: Any,
        topic_arn: str,
        *,
        group_by: str = "rule",
        policy: RetryPolicy | None = None,
        finding_links: bool = False,
    ) -> None:
        self.client = client
        self.topic_arn = topic_arn
        parts = topic_arn.split(":")
        self.region = parts[3] if len(parts) == 6 and parts[3] else None  # for console links
        self.finding_links = finding_links  # Security Hub is on: the e-mail links the finding
        self.fifo = topic_arn.endswith(".fifo")
        self.group_by = group_by
        self.policy = policy or RetryPolicy()

    @classmethod
    def from_env(cls, env: Mapping[str, str], ctx: OutputContext) -> SnsOutput:
        from engine.pipeline.env import ConfigError, env_bool, env_str

        arn = env_str(env, "SNS_TOPIC_ARN")
        if not arn:
            raise ConfigError("SNS_TOPIC_ARN", "the sns output is enabled but no topic is set")
        parts = arn.split(":")
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns":
            raise ConfigError("SNS_TOPIC_ARN", f"not an SNS topic ARN: {arn!r}")
        group_by = (env_str(env, "SNS_FIFO_GROUP_BY") or "rule").lower()
        if group_by not in {"rule", "cluster"}:
            raise ConfigError("SNS_FIFO_GROUP_BY", f"use rule or cluster, got {group_by!r}")
        return cls(
            ctx.client("sns"),
            arn,
            group_by=group_by,
            policy=RetryPolicy(sleeper=ctx.sleeper),
            finding_links=env_bool(env, "SECURITYHUB_ENABLED"),
        )

    def _entry(self, key: int, alert: Alert) -> _Entry:
        attrs = attributes(alert)
        subject = _subject(alert)
        overhead = _attributes_bytes(attrs) + len(subject.encode())
        email = email_text(alert, self.region, self.finding_links)
        message = encode_envelope(alert, MAX_BYTES - overhead, email)
        req: dict[str, Any] = {
            "Id": f"m{key}",
            "Message": message,
            "MessageStructure": "json",
            "Subject": subject,
            "MessageAttributes": attrs,
        }
        if self.fifo:
            group = alert.rule_id
            if self.group_by == "cluster":
                group = str(alert.das.get("clusterId") or alert.das.get("instanceId") or group)
            req["MessageGroupId"] = _fifo_id(group)
            esc = escalation(alert)
            dedup = f"{alert.id}:{esc['step']}" if esc else alert.id  # each update once
            req["MessageDeduplicationId"] = _fifo_id(dedup)
        return _Entry(key, alert, req, len(message.encode()) + overhead)

    def _publish(self, entries: Sequence[_Entry]) -> dict[int, Outcome]:
        out: dict[int, Outcome] = {}
        for batch in _pack(entries):
            by_id = {e.request["Id"]: e for e in batch}
            try:
                resp = self.client.publish_batch(
                    TopicArn=self.topic_arn, PublishBatchRequestEntries=[e.request for e in batch]
                )
            except Exception as exc:
                outcome = Outcome.of_aws_error(exc, "SNS")
                out.update({e.key: outcome for e in batch})
                continue
            for ok in resp.get("Successful", []):
                if ok.get("Id") in by_id:
                    out[by_id[ok["Id"]].key] = Outcome.delivered()
            for bad in resp.get("Failed", []):
                e = by_id.get(bad.get("Id"))
                if e is None:
                    continue
                reason = f"SNS {bad.get('Code', '')}: {str(bad.get('Message', ''))[:200]}"
                out[e.key] = (
                    Outcome.permanent(reason)
                    if bad.get("SenderFault")
                    else Outcome.retryable(reason)
                )
        return out

    def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
        report = DeliveryReport(self.name)
        entries: list[_Entry] = []
        for i, alert in enumerate(alerts):
            try:
                entries.append(self._entry(i, alert))
            except Exception as exc:  # one alert SNS cannot carry fails alone, permanently
                report.add(alert.id, Status.PERMANENT, f"unencodable: {type(exc).__name__}")
        results = self.policy.call_batch(entries, lambda e: e.key, self._publish, deadline)
        for e in entries:
            r = results[e.key]
            report.add(e.alert.id, r.status, r.reason)
        return report
