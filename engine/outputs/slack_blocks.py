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

import re
from collections.abc import Sequence
from typing import Any

from engine.alerts import Alert
from engine.alerts.facts import Facts, extract, finding_url, utc_text  # noqa: F401 (re-exported)
from engine.alerts.facts import epoch as _epoch
from engine.alerts.invisible import INVISIBLE, mark
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

# Controls (but \n; tabs become spaces first) and every character that renders as nothing:
# format characters (zero-width, bidi "Trojan Source", soft hyphen, tags), line and paragraph
# separators, Hangul fillers (engine.alerts.invisible).
_CONTROL = INVISIBLE
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
    """Text without control or invisible characters; tabs become spaces, newlines ``⏎`` when
    ``oneline``."""
    s = "" if text is None else str(text)
    if s.isascii() and s.isprintable():  # the usual case: nothing to remove, no line break
        return s
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


def slack_date(epoch: float, fallback: str | None = None) -> str:
    """Slack date formatting: each reader sees the time in their own zone; clients that cannot
    format it show ``fallback`` (UTC). Built from a number only, so nothing untrusted goes in."""
    text = fallback or utc_text(epoch)
    return f"<!date^{int(epoch)}^{{date_short_pretty}} {{time_secs}}|{escape(text, oneline=True)}>"


def _when(iso: object) -> str:
    """An event time for a field: Slack-formatted when it parses, else the escaped text."""
    epoch = _epoch(iso)
    return slack_date(epoch, str(iso)) if epoch is not None else _value(iso)


def _ident(text: object, limit: int = VALUE_MAX) -> str:
    """A name (user, host, database, session…): like :func:`_value`, but each character that
    renders as nothing is shown as ``⟨U+200B⟩`` — ``rdsadmin`` + zero-width space must not read
    as AWS's own ``rdsadmin``."""
    return _value(mark(str(text)) if text is not None else None, limit)


def _fields(f: Facts) -> list[dict[str, Any]]:
    """What a responder needs first: where, what, who, when (≤ 10 fields, Slack's limit)."""
    fields = [
        f"*Where*\n{_value(f.where)}",
        f"*Database*\n{_ident(f.database)}",
        f"*What*\n{_value(f.what)}",
        f"*Who*\n{_ident(f.user, 120)} @ {_ident(f.host, 120)}",
        f"*Client application*\n{_ident(f.client)}",
        f"*Session*\n{_ident(f.session)}",
    ]
    if f.spans_time:
        fields += [f"*First seen*\n{_when(f.first_seen)}", f"*Last seen*\n{_when(f.last_seen)}"]
    else:
        fields.append(f"*Event time*\n{_when(f.first_seen or f.last_seen)}")
    fields += [f"*Count*\n{_value(f.count)}", f"*Rule*\n{_value(f.rule_id)}"]
    return [_mrkdwn(x) for x in fields][:FIELDS_MAX]


def escalation_line(f: Facts) -> str | None:
    """``:arrow_double_up: *Escalated* (update 2): new verb: DROP TABLE · severity high →
    critical`` — the reasons as sent by the engine, escaped."""
    if f.escalation is None:
        return None
    reasons = " · ".join(_value(r, 200) for r in f.escalation.reasons) or "the alert grew"
    return f":arrow_double_up: *Escalated* (update {f.escalation.step}): {reasons}"


def _escalation(f: Facts) -> list[dict[str, Any]]:
    line = escalation_line(f)
    if line is None:
        return []
    return [{"type": "section", "text": _mrkdwn(fit(line, SECTION_MAX))}]


def _folded(f: Facts) -> list[dict[str, Any]]:
    """What the alert folded in: ``Verbs: CREATE TABLE, DROP TABLE +3 more`` per kind."""
    if f.folded is None:
        return []
    lines = ["*Folded into this alert*"]
    for label, values, more in f.folded.lines():
        shown = ", ".join(_ident(v, 120) for v in values)
        lines.append(f"{label}: {shown}" + (f" +{more} more" if more else ""))
    return [{"type": "section", "text": _mrkdwn(fit("\n".join(lines), SECTION_MAX))}]


def _code_section(label: str, text: object) -> dict[str, Any]:
    head, tail = f"*{label}*\n```\n", "\n```"
    body = fit(escape_code(text), SECTION_MAX - len(head) - len(tail))
    return {"type": "section", "text": _mrkdwn(head + body + tail)}


def _context(alert: Alert, alert_ids: Sequence[str], f: Facts | None = None) -> dict[str, Any]:
    """Rule, alert id, and the links: runbook, RDS console, Security Hub finding, Logs Insights
    (built by ``engine.alerts.facts`` from validated parts only)."""
    parts = [f"Rule `{fit(escape_code(alert.rule_id), 200)}`"]
    if len(alert_ids) == 1:
        parts.append(f"Alert `{fit(escape_code(alert_ids[0]), 200)}`")
    else:
        parts.append(f"{len(alert_ids)} alerts")
    if f is not None:  # one alert: its links (a shipped runbook's text is a section)
        parts += [f"<{escape(link.url)}|{escape(link.label)}>" for link in f.links]
        if f.runbook_path and not f.runbook_text:
            parts.append(f"Runbook: {_value(f.runbook_path, 500)}")
    elif alert.runbook and _RUNBOOK_OK.match(alert.runbook) and len(alert.runbook) < 2000:
        parts.append(f"<{escape(alert.runbook)}|Runbook>")
    elif alert.runbook:
        parts.append(f"Runbook: {_value(alert.runbook, 500)}")
    return {"type": "context", "elements": [_mrkdwn(fit(" · ".join(parts), SECTION_MAX))]}


def _details(f: Facts) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if f.description:  # why this matters: the rule author's words, escaped like the rest
        blocks.append({"type": "section", "text": _mrkdwn(fit(escape(f.description), 3000))})
    if f.runbook_text:  # a runbook shipped as a file: its first lines, quoted
        text = escape(f.runbook_text).replace("**", "*")  # Markdown bold → mrkdwn bold
        quoted = "\n".join("&gt; " + line for line in text.split("\n"))
        head = f"*Runbook* `{fit(escape_code(f.runbook_path), 200)}`\n"
        blocks.append({"type": "section", "text": _mrkdwn(fit(head + quoted, 3000))})
    if f.sql:
        blocks.append(_code_section("SQL (redacted)", f.sql))
    if f.error:
        blocks.append(_code_section("Error", f.error))
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
    f = extract(alert, region=region, finding_links=finding_links)
    emoji, sev = _severity_label(alert)
    title = escape(alert.title, oneline=True)
    blocks = [
        *_here(alert, here_from),
        _header(fit(f"{emoji} {sev} · {title}", HEADER_MAX)),
        *_escalation(f),
        {"type": "section", "fields": _fields(f)},
        *_folded(f),
        *_details(f),
        _context(alert, [alert.id], f),
    ]
    text = f"{sev}: {title}"
    if f.escalation is not None:
        text = f"{sev} (escalated): {title}"
    return {
        "text": fit(text, TEXT_MAX),
        "blocks": _with_actions(blocks, [alert], actions),
    }


def _line(alert: Alert) -> str:
    ev, das = alert.event, alert.das
    who = f"{_ident(ev.get('dbUserName'), 80)}@{_ident(ev.get('remoteHost'), 80)}"
    where = _value(das.get("clusterId") or das.get("instanceId"), 80)
    db = _ident(ev.get("databaseName"), 80)
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
