"""What a responder needs from an alert, extracted once and rendered by every message format.

The Slack message (``engine.outputs.slack_blocks``) and the plain text of SNS e-mail
(``engine.alerts.plaintext``) show the same facts: where (engine, cluster or instance, account,
region), what (verb, object, rows, outcome, error code), who (user, source host, client
application, session), when (first and last event time), why it matters (the rule's
description and runbook), what was folded into the alert and how it escalated, and links to the
RDS console, the Security Hub finding and a CloudWatch Logs Insights query for the session.
Extracting them here keeps the two from drifting apart.

The values are *raw*: taken from the redacted event, never cleaned or escaped — that is each
renderer's job, because Slack and plain text escape differently. Links are built here only from
validated parts (a region, a DB identifier, a finding id, an IP address or a session id that
match strict patterns), and a link whose parts do not validate is left out: a missing link is
better than a broken or a hostile one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.alerts.model import Alert

FOLDED_KEYS = ("verbs", "objects", "users", "hosts")
FOLDED_LABELS = {"verbs": "Verbs", "objects": "Objects", "users": "Users", "hosts": "Hosts"}
FOLDED_SHOWN = 5  # values shown per kind (the producer caps at 5 too)
RUNBOOK_EXCERPT_LINES = 6
RUNBOOK_EXCERPT_CHARS = 700
LOGS_MARGIN_S = 300  # the Logs Insights window: first seen − 5 min … last seen + 5 min

_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")
_FINDING_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,512}$")
# An RDS DB identifier: a letter, then letters, digits and single hyphens, at most 63 characters.
_DB_NAME = re.compile(r"^[A-Za-z](?:-?[A-Za-z0-9])*$")
# A session id as the engines write it: "5ce5f7f0.474b" (PostgreSQL), a number (the others).
_SESSION = re.compile(r"^[A-Za-z0-9.:-]{1,64}$")
_URL = re.compile(r"^https?://[^\s<>|]+$")


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Folded:
    """Distinct values a dedup window folded into the alert (first-seen order, capped)."""

    values: dict[str, tuple[str, ...]]
    more: dict[str, int]

    def lines(self) -> list[tuple[str, tuple[str, ...], int]]:
        """(label, values, how many more) for each kind that has values."""
        return [
            (FOLDED_LABELS[k], self.values[k], self.more.get(k, 0))
            for k in FOLDED_KEYS
            if self.values.get(k)
        ]


@dataclass(frozen=True)
class Escalation:
    """The alert is an update of one already sent: why it was sent again."""

    step: int
    reasons: tuple[str, ...]
    previous_severity: str | None = None


@dataclass(frozen=True)
class Facts:
    alert_id: str
    kind: str
    severity: str
    title: str
    rule_id: str
    count: int
    engine: str | None = None
    resource_id: str | None = None  # cluster-… / db-… (the DAS resource id)
    resource_kind: str | None = None  # cluster | instance
    resource_name: str | None = None  # the DB identifier the console needs
    account: str | None = None
    region: str | None = None
    database: str | None = None
    verb: str | None = None
    object: str | None = None
    rows: int | None = None
    failed: bool | None = None
    error_code: str | None = None
    user: str | None = None
    host: str | None = None
    client: str | None = None
    session: str | None = None
    pid: int | None = None  # the server process (PostgreSQL logs it as ``[pid]``)
    first_seen: str | None = None  # ISO 8601 as the alert carries it
    last_seen: str | None = None
    first_epoch: float | None = None
    last_epoch: float | None = None
    description: str = ""
    runbook_url: str | None = None
    runbook_path: str | None = None  # a runbook that is not a URL (a file shipped with the pack)
    runbook_text: str | None = None  # that file's first lines, when the engine could read it
    sql: str | None = None
    error: str | None = None
    folded: Folded | None = None
    escalation: Escalation | None = None
    links: tuple[Link, ...] = field(default_factory=tuple)

    @property
    def what(self) -> str:
        """``DROP TABLE public.loot · 0 rows · failed (42P01)``."""
        parts = [" ".join(p for p in (self.verb, self.object) if p)]
        if self.rows is not None:
            parts.append(f"{self.rows} row" + ("" if self.rows == 1 else "s"))
        if self.failed is True:
            parts.append(f"failed ({self.error_code})" if self.error_code else "failed")
        elif self.failed is False:
            parts.append("succeeded")
        return " · ".join(p for p in parts if p)

    @property
    def resource(self) -> str | None:
        """``cluster-ABC… (orders-prod)``: the DAS id, with the DB identifier when known."""
        if self.resource_id and self.resource_name and self.resource_name != self.resource_id:
            return f"{self.resource_id} ({self.resource_name})"
        return self.resource_id or self.resource_name

    @property
    def place(self) -> str:
        """``123456789012/us-east-1``."""
        return "/".join(p for p in (self.account, self.region) if p)

    @property
    def where(self) -> str:
        """``postgres · cluster-ABC… (orders-prod) · 123456789012/us-east-1``."""
        return " · ".join(p for p in (self.engine, self.resource, self.place) if p)

    @property
    def spans_time(self) -> bool:
        """True when first and last seen differ (show both, else one event time)."""
        if self.first_epoch is not None and self.last_epoch is not None:
            return self.first_epoch != self.last_epoch
        return bool(self.first_seen and self.last_seen and self.first_seen != self.last_seen)


def _str(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)


def epoch(iso: object) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (naive = UTC), None when it does not parse."""
    if not isinstance(iso, str) or not iso:
        return None
    try:
        stamp = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def utc_text(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _folded(raw: Any) -> Folded | None:
    if not isinstance(raw, dict):
        return None
    values: dict[str, tuple[str, ...]] = {}
    more: dict[str, int] = {}
    raw_more = raw.get("more")
    if not isinstance(raw_more, dict):
        raw_more = {}
    for key in FOLDED_KEYS:
        items = raw.get(key)
        if not isinstance(items, list | tuple):
            continue
        shown = tuple(str(v) for v in items if v is not None and v != "")
        extra = raw_more.get(key, 0)
        extra = extra if isinstance(extra, int) and not isinstance(extra, bool) else 0
        extra += max(0, len(shown) - FOLDED_SHOWN)  # a producer that sent more than its cap
        values[key] = shown[:FOLDED_SHOWN]
        if extra > 0:
            more[key] = extra
    if not any(values.values()):
        return None
    return Folded(values, more)


def _escalation(raw: Any) -> Escalation | None:
    if not isinstance(raw, dict):
        return None
    step = raw.get("step")
    reasons = raw.get("reasons")
    if not isinstance(reasons, list | tuple):
        reasons = []
    return Escalation(
        step=step if isinstance(step, int) and not isinstance(step, bool) else 1,
        reasons=tuple(str(r) for r in reasons if r not in (None, "")),
        previous_severity=_str(raw.get("previous_severity")),
    )


def extract(alert: Alert, *, region: str | None = None, finding_links: bool = False) -> Facts:
    """The facts of one alert. ``region`` is the deployment's, used when the alert does not
    carry its own; ``finding_links``: Security Hub is on, so the finding can be linked."""
    ev, das = alert.event, alert.das
    ctx = alert.context if isinstance(alert.context, dict) else {}
    raw_res = ctx.get("resource")
    res: dict[str, Any] = raw_res if isinstance(raw_res, dict) else {}
    cluster, instance = _str(das.get("clusterId")), _str(das.get("instanceId"))
    kind = _str(res.get("kind")) or ("cluster" if cluster else "instance" if instance else None)
    account = _str(res.get("account")) or _str(ctx.get("aws_account_id") or ctx.get("account_id"))
    rows = das.get("rows")
    code = das.get("errorCode")
    first = alert.first_seen or _str(das.get("time"))
    last = alert.last_seen or first
    runbook = alert.runbook or None
    url_ok = bool(runbook and _URL.match(runbook) and len(runbook) < 2000)
    facts = Facts(
        alert_id=alert.id,
        kind=alert.kind,
        severity=alert.severity,
        title=alert.title,
        rule_id=alert.rule_id,
        count=alert.count,
        engine=_str(das.get("engine")),
        resource_id=_str(res.get("id")) or cluster or instance,
        resource_kind=kind,
        resource_name=_str(res.get("name")),
        account=account,
        region=_str(res.get("region")) or _str(ctx.get("region")) or region,
        database=_str(ev.get("databaseName") or das.get("database")),
        verb=_str(das.get("verb") or das.get("action") or ev.get("command")),
        object=_str(das.get("object")),
        rows=rows if isinstance(rows, int) and not isinstance(rows, bool) else None,
        failed=das.get("failed") if isinstance(das.get("failed"), bool) else None,
        error_code=None if code in (None, "", 0, "0") else str(code),
        user=_str(ev.get("dbUserName") or das.get("user")),
        host=_str(ev.get("remoteHost") or das.get("sourceHost")),
        client=_str(ev.get("clientApplication") or das.get("client")),
        session=_str(ev.get("sessionId")),
        pid=pid if isinstance(pid := ev.get("pid"), int) and not isinstance(pid, bool) else None,
        first_seen=first,
        last_seen=last,
        first_epoch=epoch(first),
        last_epoch=epoch(last),
        description=alert.description or "",
        runbook_url=runbook if url_ok else None,
        runbook_path=None if url_ok or not runbook else runbook,
        runbook_text=_runbook_text(url_ok, ctx),
        sql=_str(ev.get("commandText")),
        error=_str(ctx.get("error")),
        folded=_folded(ctx.get("folded")),
        escalation=_escalation(alert.escalation),  # None unless a well-formed step
    )
    return _with_links(facts, finding_links)


def _runbook_text(url_ok: bool, ctx: dict[str, Any]) -> str | None:
    excerpt = None if url_ok else ctx.get("runbook_excerpt")
    return excerpt if isinstance(excerpt, str) and excerpt else None


def _with_links(f: Facts, finding_links: bool) -> Facts:
    links: list[Link] = []
    if f.runbook_url:
        links.append(Link("Runbook", f.runbook_url))
    console = console_url(f.resource_kind, f.resource_name, f.region)
    if console:
        links.append(Link("RDS console", console))
    finding = finding_url(f.alert_id, f.region) if finding_links and f.kind == "rule" else None
    if finding:
        links.append(Link("Security Hub finding", finding))
    logs = logs_insights_url(f)
    if logs:
        links.append(Link("Logs Insights (session)", logs))
    return replace(f, links=tuple(links)) if links else f


# -- links ----------------------------------------------------------------------------------


def _region_ok(region: str | None) -> bool:
    return bool(region) and bool(_REGION.match(region or ""))


def console_url(kind: str | None, name: str | None, region: str | None) -> str | None:
    """The RDS console page of the cluster or instance; None without a valid DB identifier
    (the console needs the name, not the ``cluster-…`` resource id) or region."""
    if kind not in ("cluster", "instance") or not name or not _region_ok(region):
        return None
    if len(name) > 63 or not _DB_NAME.match(name):
        return None
    flag = "true" if kind == "cluster" else "false"
    return (
        f"https://{region}.console.aws.amazon.com/rds/home?region={region}"
        f"#database:id={name};is-cluster={flag}"
    )


def finding_url(alert_id: str, region: str | None) -> str | None:
    """The Security Hub console, filtered to the finding of ``alert_id`` (its ``Id``); None when
    the region or the id is not one a URL can be built from safely."""
    if not _region_ok(region) or not _FINDING_ID.match(alert_id):
        return None
    search = "Id%3D%255Coperator%255C%253AEQUALS%255C%253A" + alert_id.replace(":", "%253A")
    return (
        f"https://{region}.console.aws.amazon.com/securityhub/home?region={region}"
        f"#/findings?search={search}"
    )


def log_group(engine: str | None, kind: str | None, name: str | None) -> str | None:
    """The CloudWatch Logs group RDS exports the database's own log to, per engine.

    RDS names exported groups ``/aws/rds/cluster/<cluster>/<log>`` (Aurora) and
    ``/aws/rds/instance/<instance>/<log>`` (RDS). The log chosen is the one that names sessions
    and client hosts: ``postgresql`` (Aurora PostgreSQL), ``audit`` (Aurora MySQL, advanced
    auditing), ``audit`` (RDS for Oracle), ``error`` (RDS for SQL Server: logins, with the
    client address when login auditing is on). None when the database does not export it to
    CloudWatch Logs — the link then opens an empty result, which says as much.
    """
    if not name or len(name) > 63 or not _DB_NAME.match(name) or kind not in LOG_TYPES:
        return None
    log = LOG_TYPES[kind].get(engine or "")
    return f"/aws/rds/{kind}/{name}/{log}" if log else None


LOG_TYPES = {
    "cluster": {"postgres": "postgresql", "mysql": "audit"},
    "instance": {"postgres": "postgresql", "mysql": "audit", "oracle": "audit",
                 "sqlserver": "error"},
}  # fmt: skip


def logs_query(f: Facts) -> str | None:
    """A Logs Insights query for the alert's session, oldest first: lines naming its source host,
    and per engine what its log writes of the session — PostgreSQL's default line prefix
    (``%t:%r:%u@%d:[%p]:``) the client address and the backend's process id as ``[pid]`` (and
    the session id when the prefix has ``%c``), the MySQL audit log the connection id between
    commas, the others the session id. Only values that match strict patterns go in (an IP
    address, a session id, a number), so nothing from the event can change the query."""
    terms: list[str] = []
    if f.session and _SESSION.match(f.session):
        shown = f",{f.session}," if f.engine == "mysql" else f.session
        terms.append(f'@message like "{shown}"')
    if f.pid is not None and f.engine == "postgres":
        terms.append(f'@message like "[{f.pid}]"')
    if f.host:
        with contextlib.suppress(ValueError):  # not an address: not in the query
            terms.append(f'@message like "{ipaddress.ip_address(f.host)}"')
    if not terms:
        return None
    return (
        "fields @timestamp, @logStream, @message\n"
        f"| filter {' or '.join(terms)}\n"
        "| sort @timestamp asc\n"
        "| limit 500"
    )


def _jsurl_value(text: str) -> str:
    """A string as the console's query detail holds it: ``'`` then its URI encoding (UTF-8;
    everything but ASCII letters, digits and ``-._`` escaped) with ``%`` written ``*``. ``~``
    is escaped too: it separates the detail's parts."""
    quoted = urllib.parse.quote(text, safe="-.", errors="replace")
    return "'" + quoted.replace("~", "%7E").replace("%", "*")


def logs_insights_url(f: Facts) -> str | None:
    """The CloudWatch Logs Insights console with the session's query over first − 5 min …
    last + 5 min on the database's exported log group; None when a part is missing.

    The console reads its state from the fragment ``#logsV2:logs-insights?queryDetail=…``, in a
    format AWS does not document. What is known from working links (and what the tests check,
    by decoding): the detail is an object written ``~(key~value~key~value)``, a string value is
    ``'`` plus its URI encoding with ``%`` written ``*``, a list is ``~(~v1~v2)``; the whole
    ``?queryDetail=…`` is then URI-encoded twice over for ``~ ( ) '`` and once for ``? =``, with
    ``%`` written ``$``. If the console changes the format, the link opens Logs Insights without
    the query; it cannot point anywhere else (the host and path are fixed).
    """
    if not _region_ok(f.region) or f.first_epoch is None:
        return None
    group = log_group(f.engine, f.resource_kind, f.resource_name)
    query = logs_query(f)
    if group is None or query is None:
        return None
    last = f.last_epoch if f.last_epoch is not None else f.first_epoch
    start = _iso_ms(f.first_epoch - LOGS_MARGIN_S)
    end = _iso_ms(last + LOGS_MARGIN_S)
    detail = (
        f"~(end~{_jsurl_value(end)}~start~{_jsurl_value(start)}~timeType~'ABSOLUTE~tz~'Local"
        f"~editorString~{_jsurl_value(query)}~isLiveTail~false~source~(~{_jsurl_value(group)}))"
    )
    # escape(): ~ ( ) ' → %7E %28 %29 %27; then encodeURIComponent and % → $
    once = detail.replace("~", "%7E").replace("(", "%28").replace(")", "%29").replace("'", "%27")
    fragment = "?queryDetail=" + once
    twice = fragment.replace("%", "%25").replace("?", "%3F").replace("=", "%3D")
    return (
        f"https://{f.region}.console.aws.amazon.com/cloudwatch/home?region={f.region}"
        f"#logsV2:logs-insights{twice.replace('%', '$')}"
    )


def _iso_ms(seconds: float) -> str:
    when = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


# -- runbooks shipped with the pack ---------------------------------------------------------


@lru_cache(maxsize=512)
def runbook_excerpt(rule_file: str, runbook: str) -> str | None:
    """The first lines of a runbook shipped beside the rule (``runbooks/x.md``), for messages
    that cannot link a file: the heading skipped, at most a few lines and characters. None for
    a URL, a missing file or one that cannot be read (a runbook is help, never a failure)."""
    if not runbook or _URL.match(runbook) or not rule_file:
        return None
    try:
        path = Path(rule_file).parent / runbook
        with path.open(encoding="utf-8", errors="replace") as fh:
            text = fh.read(8 * RUNBOOK_EXCERPT_CHARS)
    except (OSError, ValueError):
        return None
    lines = [ln.rstrip() for ln in text.splitlines()]
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("#")):
        lines.pop(0)
    kept: list[str] = []
    size = 0
    for line in lines[:RUNBOOK_EXCERPT_LINES]:
        if size + len(line) > RUNBOOK_EXCERPT_CHARS:
            break
        kept.append(line)
        size += len(line) + 1
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept) or None
