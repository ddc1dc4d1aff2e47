"""Block Kit rendering for Slack: pure functions from alerts to a message payload.

Everything that comes from the database (user names, host names, SQL, titles rendered from event
fields) is *untrusted*: an attacker controls it. So every such string is cleaned (control and
bidi characters removed), escaped (``&``, ``<``, ``>`` — the only characters Slack decodes,
which is what stops ``<!channel>``, ``<@U123>`` and ``<https://evil|click>`` from becoming a
mention or a link), and, inside the SQL code block, backticks are replaced by a look-alike so the
text cannot close the block. mrkdwn text objects are ``verbatim`` so Slack does not auto-link or
auto-mention either. Lengths are cut *after* escaping, never in the middle of an entity, so
every block stays inside Slack's limits. With ``actions`` (bot-token mode) a message ends with
the responder buttons of ``engine.outputs.slack_buttons``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from engine.alerts import Alert
from engine.alerts.model import severity_rank
from engine.outputs.slack_buttons import actions_block

HEADER_MAX = 150  # header block plain_text
SECTION_MAX = 3000  # section text
FIELD_MAX = 2000  # each section field
FIELDS_MAX = 10  # fields per section
BLOCKS_MAX = 50  # blocks per message
CONTEXT_ELEMENTS_MAX = 10
TEXT_MAX = 3000  # fallback/notification text: Slack allows more, a notification needs less
VALUE_MAX = 300  # one field value: enough to identify, short enough to read
LIST_SECTIONS_MAX = 5  # sections of alert lines in an aggregated message

ELLIPSIS = "…"
BACKTICK_LOOKALIKE = "\u02cb"  # MODIFIER LETTER GRAVE ACCENT: looks like ` but closes nothing

# C0 (but \n), DEL, C1, zero-width and bidi controls ("Trojan Source"), BOM.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_NEWLINES = re.compile(r"\r\n?|\n")
_RUNBOOK_OK = re.compile(r"^https?://[^\s<>|]+$")

SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":large_blue_circle:",
    "info": ":white_circle:",
}


def clean(text: object, *, oneline: bool = False) -> str:
    """Text without control characters; tabs become spaces, newlines ``⏎`` when ``oneline``."""
    s = "" if text is None else str(text)
    s = _NEWLINES.sub("\n", s).replace("\t", " ")
    s = _CONTROL.sub("", s)
    if oneline:
        s = s.replace("\n", " ⏎ ")
    return s


def escape(text: object, *, oneline: bool = False) -> str:
    """Cleaned and escaped for any Slack text object (mrkdwn or plain_text)."""
    return (
        clean(text, oneline=oneline).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )


def escape_code(text: object) -> str:
    """Escaped for the inside of a ``` code block: no backtick can end the block."""
    return escape(text).replace("`", BACKTICK_LOOKALIKE)


def fit(escaped: str, limit: int) -> str:
    """Cut escaped text to ``limit`` characters (with ``…``) without splitting an entity."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(0, limit - len(ELLIPSIS))]
    amp = cut.rfind("&", max(0, len(cut) - 5))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def _value(text: object, limit: int = VALUE_MAX) -> str:
    """One untrusted value on one line; backticks too are replaced, so a value cannot open a
    code span that swallows the rest of the message."""
    s = fit(escape(text, oneline=True).replace("`", BACKTICK_LOOKALIKE), limit)
    return s if s.strip() else "—"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _severity_label(alert: Alert) -> tuple[str, str]:
    if alert.kind == "test":
        return ":test_tube:", "TEST"
    return SEVERITY_EMOJI.get(alert.severity, ":white_circle:"), _value(alert.severity).upper()


def _event_time(alert: Alert) -> str:
    first = alert.first_seen or alert.das.get("time")
    last = alert.last_seen
    if first and last and last != first:
        return f"{first} → {last}"
    return str(first or last or "")


def _epoch(iso: object) -> float | None:
    if not isinstance(iso, str) or not iso:
        return None
    try:
        stamp = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def slack_date(epoch: float, fallback: str | None = None) -> str:
    """Slack date formatting: each reader sees the time in their own zone; clients that cannot
    format it show ``fallback`` (UTC). Built from a number only, so nothing untrusted goes in."""
    text = fallback or dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} {{time_secs}}|{escape(text, oneline=True)}>"


def _when(iso: object) -> str:
    """An event time for a field: Slack-formatted when it parses, else the escaped text."""
    epoch = _epoch(iso)
    return slack_date(epoch, str(iso)) if epoch is not None else _value(iso)


def _what(alert: Alert) -> str:
    """Verb, object, rows and outcome: ``DROP TABLE public.loot · 0 rows · failed (42P01)``."""
    das = alert.das
    verb = das.get("verb") or das.get("action") or alert.event.get("command")
    parts = [" ".join(str(p) for p in (verb, das.get("object")) if p)]
    rows = das.get("rows")
    if isinstance(rows, int) and not isinstance(rows, bool):
        parts.append(f"{rows} row" + ("" if rows == 1 else "s"))
    failed = das.get("failed")
    if failed is True:
        code = das.get("errorCode")
        parts.append(f"failed ({code})" if code not in (None, "", 0, "0") else "failed")
    elif failed is False:
        parts.append("succeeded")
    return " · ".join(p for p in parts if p)


def _where(alert: Alert, region: str | None) -> str:
    das, ctx = alert.das, alert.context if isinstance(alert.context, dict) else {}
    account = ctx.get("aws_account_id") or ctx.get("account_id")
    region = ctx.get("region") or region
    place = "/".join(str(p) for p in (account, region) if p)
    parts = (das.get("engine"), das.get("clusterId") or das.get("instanceId"), place)
    return " · ".join(str(p) for p in parts if p)


def _fields(alert: Alert, region: str | None = None) -> list[dict[str, Any]]:
    """What a responder needs first: where, what, who, when (≤ 10 fields, Slack's limit)."""
    ev, das = alert.event, alert.das
    user = ev.get("dbUserName") or das.get("user")
    host = ev.get("remoteHost") or das.get("sourceHost")
    who = f"{_value(user, 120)} @ {_value(host, 120)}"
    first = alert.first_seen or das.get("time")
    last = alert.last_seen or first
    fields = [
        f"*Where*\n{_value(_where(alert, region))}",
        f"*Database*\n{_value(ev.get('databaseName') or das.get('database'))}",
        f"*What*\n{_value(_what(alert))}",
        f"*Who*\n{who}",
        f"*Client application*\n{_value(ev.get('clientApplication') or das.get('client'))}",
        f"*Session*\n{_value(ev.get('sessionId'))}",
    ]
    if first and last and _epoch(first) != _epoch(last):
        fields += [f"*First seen*\n{_when(first)}", f"*Last seen*\n{_when(last)}"]
    else:
        fields.append(f"*Event time*\n{_when(first or last)}")
    fields += [f"*Count*\n{_value(alert.count)}", f"*Rule*\n{_value(alert.rule_id)}"]
    return [_mrkdwn(f) for f in fields][:FIELDS_MAX]


def _code_section(label: str, text: object) -> dict[str, Any]:
    head, tail = f"*{label}*\n```\n", "\n```"
    body = fit(escape_code(text), SECTION_MAX - len(head) - len(tail))
    return {"type": "section", "text": _mrkdwn(head + body + tail)}


_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
_FINDING_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,512}$")


def finding_url(alert_id: str, region: str | None) -> str | None:
    """The Security Hub console, filtered to the finding of ``alert_id`` (its ``Id``); None when
    the region or the id is not one a URL can be built from safely."""
    if not region or not _REGION.match(region) or not _FINDING_ID.match(alert_id):
        return None
    search = "Id%3D%255Coperator%255C%253AEQUALS%255C%253A" + alert_id.replace(":", "%253A")
    return (
        f"https://{region}.console.aws.amazon.com/securityhub/home?region={region}"
        f"#/findings?search={search}"
    )


def _context(
    alert: Alert, alert_ids: Sequence[str], finding_region: str | None = None
) -> dict[str, Any]:
    parts = [f"Rule `{fit(escape_code(alert.rule_id), 200)}`"]
    if len(alert_ids) == 1:
        parts.append(f"Alert `{fit(escape_code(alert_ids[0]), 200)}`")
    else:
        parts.append(f"{len(alert_ids)} alerts")
    if alert.runbook and _RUNBOOK_OK.match(alert.runbook) and len(alert.runbook) < 2000:
        parts.append(f"<{escape(alert.runbook)}|Runbook>")
    elif alert.runbook:
        parts.append(f"Runbook: {_value(alert.runbook, 500)}")
    url = finding_url(alert_ids[0], finding_region) if len(alert_ids) == 1 else None
    if url is not None and alert.kind == "rule":
        parts.append(f"<{url}|Security Hub finding>")
    return {"type": "context", "elements": [_mrkdwn(" · ".join(parts))]}


def _details(alert: Alert) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if alert.description:  # why this matters: the rule author's words, escaped like the rest
        blocks.append({"type": "section", "text": _mrkdwn(fit(escape(alert.description), 3000))})
    sql = alert.event.get("commandText")
    if sql:
        blocks.append(_code_section("SQL (redacted)", sql))
    error = alert.context.get("error") if isinstance(alert.context, dict) else None
    if error:
        blocks.append(_code_section("Error", error))
    return blocks


def _with_actions(
    blocks: list[dict[str, Any]], alerts: Sequence[Alert], actions: bool
) -> list[dict[str, Any]]:
    """``blocks`` cut to Slack's limit, keeping room for the buttons (last) when wanted."""
    block = actions_block(alerts) if actions else None
    if block is None:
        return blocks[:BLOCKS_MAX]
    return [*blocks[: BLOCKS_MAX - 1], block]


def _here(alert: Alert, here_from: str | None) -> list[dict[str, Any]]:
    """``@here`` above the alert when its severity reaches ``here_from`` (None: never)."""
    if here_from is None or alert.kind == "test" or alert.severity_rank < severity_rank(here_from):
        return []
    return [{"type": "section", "text": _mrkdwn(f"<!here> {_value(alert.severity).upper()}")}]


def render_one(
    alert: Alert,
    *,
    actions: bool = False,
    region: str | None = None,
    here_from: str | None = None,
    finding_links: bool = False,
) -> dict[str, Any]:
    """The message for a single alert: (@here,) header, fields, description, SQL, context (and
    the buttons). ``region`` is the deployment's, shown when the alert does not carry one."""
    emoji, sev = _severity_label(alert)
    title = escape(alert.title, oneline=True)
    blocks = [
        *_here(alert, here_from),
        _header(fit(f"{emoji} {sev} · {title}", HEADER_MAX)),
        {"type": "section", "fields": _fields(alert, region)},
        *_details(alert),
        _context(alert, [alert.id], region if finding_links else None),
    ]
    return {
        "text": fit(f"{sev}: {title}", TEXT_MAX),
        "blocks": _with_actions(blocks, [alert], actions),
    }


def _line(alert: Alert) -> str:
    ev, das = alert.event, alert.das
    who = f"{_value(ev.get('dbUserName'), 80)}@{_value(ev.get('remoteHost'), 80)}"
    where = _value(das.get("clusterId") or das.get("instanceId"), 80)
    db = _value(ev.get("databaseName"), 80)
    times = f" ×{alert.count}" if alert.count > 1 else ""
    when = _value(_event_time(alert), 80)
    return f"• {when} · {who} · {where}/{db}{times} — {_value(alert.title, 200)}"


def render_group(
    alerts: Sequence[Alert],
    *,
    actions: bool = False,
    region: str | None = None,
    here_from: str | None = None,
    finding_links: bool = False,
) -> dict[str, Any]:
    """One message for many alerts of one rule, instead of one message per alert.

    Slack accepts about one message per second per channel; a burst of 40 alerts from one rule
    would take 40 s and bury the channel. One message lists them (as many lines as the limits
    allow, then "and N more") so a responder sees the burst as one incident.
    """
    if len(alerts) == 1:
        return render_one(
            alerts[0],
            actions=actions,
            region=region,
            here_from=here_from,
            finding_links=finding_links,
        )
    top = max(alerts, key=lambda a: a.severity_rank)
    emoji, sev = _severity_label(top)
    # ``rule_title`` is the unrendered template ("DDL by {dbUserName}"): show the rendered title
    # when the alerts share one, else the rule id — never raw placeholders.
    titles = {a.title for a in alerts}
    name = escape(top.title if len(titles) == 1 else top.rule_id, oneline=True)
    n = len(alerts)
    total = sum(a.count for a in alerts)
    clusters = sorted(
        {str(a.das.get("clusterId") or a.das.get("instanceId") or "") for a in alerts}
    )
    firsts = [a.first_seen or a.das.get("time") for a in alerts]
    lasts = [a.last_seen or a.first_seen or a.das.get("time") for a in alerts]
    firsts_s = sorted(str(t) for t in firsts if t)
    lasts_s = sorted(str(t) for t in lasts if t)
    window = f"{firsts_s[0]} → {lasts_s[-1]}" if firsts_s and lasts_s else ""
    fields = [
        _mrkdwn(f"*Rule*\n{_value(top.rule_id)}"),
        _mrkdwn(f"*Alerts / events*\n{n} / {total}"),
        _mrkdwn(f"*Cluster*\n{_value(', '.join(c for c in clusters if c))}"),
        _mrkdwn(f"*Event time*\n{_value(window)}"),
    ]
    blocks: list[dict[str, Any]] = [
        *_here(top, here_from),
        _header(fit(f"{emoji} {sev} · {n} alerts · {name}", HEADER_MAX)),
        {"type": "section", "fields": fields},
    ]
    sections: list[str] = []
    current = ""
    shown = 0
    for alert in alerts:
        line = _line(alert)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= SECTION_MAX - 100:
            current = candidate
            shown += 1
            continue
        if len(sections) + 1 >= LIST_SECTIONS_MAX:
            break
        sections.append(current)
        current = line
        shown += 1
    if current:
        sections.append(current)
    if shown < n:
        sections[-1] += f"\n…and {n - shown} more alerts of this rule (see SNS / Security Hub)"
    blocks.extend({"type": "section", "text": _mrkdwn(s)} for s in sections)
    sql = top.event.get("commandText") or next(
        (a.event.get("commandText") for a in alerts if a.event.get("commandText")), None
    )
    if sql:
        blocks.append(_code_section("Example SQL (redacted)", sql))
    blocks.append(_context(top, [a.id for a in alerts]))
    text = fit(f"{sev}: {n} alerts · {name}", TEXT_MAX)
    return {"text": text, "blocks": _with_actions(blocks, alerts, actions)}


def group_by_rule(alerts: Sequence[Alert]) -> list[list[Alert]]:
    """Alerts of one rule together, in first-seen order (one Slack message per group)."""
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.rule_id, []).append(alert)
    return list(groups.values())
