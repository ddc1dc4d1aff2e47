"""The alert as plain text: the body of SNS e-mail, with the same facts as the Slack message.

An e-mail client shows text as written, so there is nothing to escape, but the text is still
untrusted: every value is one line (a newline in a user name cannot fake a field), characters
that render as nothing are dropped from free text and shown as ``⟨U+200B⟩`` in names (a user
``rdsadmin`` + zero-width space never reads as ``rdsadmin``), and every part is cut to a size
(the SQL to :data:`SQL_MAX` characters). Times are UTC and say so: a mail has no reader's zone.
"""

from __future__ import annotations

import re

from engine.alerts.facts import Facts, extract, utc_text
from engine.alerts.invisible import INVISIBLE, mark
from engine.alerts.model import Alert

VALUE_MAX = 300
SQL_MAX = 4000
TEXT_MAX = 3000
ELLIPSIS = "…"

_NEWLINES = re.compile(r"\r\n?|\n")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def value(text: object, limit: int = VALUE_MAX) -> str:
    """Free text on one line, without invisible characters; ``—`` when empty."""
    s = "" if text is None else str(text)
    if not (s.isascii() and s.isprintable()):  # else nothing to remove, no line break
        s = INVISIBLE.sub("", _NEWLINES.sub(" ⏎ ", s.replace("\t", " ")))
    s = _cut(s, limit)
    return s if s.strip() else "—"


def ident(text: object, limit: int = VALUE_MAX) -> str:
    """A name (user, host, database…) on one line, each invisible character shown as a mark."""
    if text is None or text == "":
        return "—"
    s = str(text)
    if not (s.isascii() and s.isprintable()):
        s = mark(_NEWLINES.sub(" ⏎ ", s))
    return _cut(s, limit)


def block(text: object, limit: int = TEXT_MAX, indent: str = "  ") -> str:
    """Multi-line free text, indented, without invisible characters, cut to ``limit``."""
    s = _NEWLINES.sub("\n", "" if text is None else str(text)).replace("\t", " ").strip("\n")
    s = _cut(INVISIBLE.sub("", s), limit)
    return "\n".join(indent + line if line.strip() else "" for line in s.split("\n"))


def _when(iso: str | None, seconds: float | None) -> str:
    return utc_text(seconds) if seconds is not None else value(iso)


def folded_text(values: tuple[str, ...], more: int) -> str:
    """``DROP TABLE, CREATE TABLE +3 more`` (values as names: marks, one line each)."""
    shown = ", ".join(ident(v, 120) for v in values)
    return f"{shown} +{more} more" if more else shown


def escalation_text(f: Facts) -> str | None:
    """``Escalated (update 2): new verb: DROP TABLE; severity high → critical``."""
    if f.escalation is None:
        return None
    reasons = "; ".join(value(r, 200) for r in f.escalation.reasons) or "the alert grew"
    return f"Escalated (update {f.escalation.step}): {reasons}"


def render_text(alert: Alert, *, region: str | None = None, finding_links: bool = False) -> str:
    """The whole alert as plain text (the SNS ``email`` body)."""
    return render_facts(extract(alert, region=region, finding_links=finding_links))


def render_facts(f: Facts) -> str:
    sev = "TEST" if f.kind == "test" else value(f.severity, 20).upper()
    lines = [f"[{sev}] {value(f.title, 256)}"]
    escalated = escalation_text(f)
    if escalated:
        lines.append(escalated)
    lines.append("")
    rows = [
        ("Where", value(f.where)),
        ("Database", ident(f.database)),
        ("What", value(f.what)),
        ("Who", f"{ident(f.user, 120)} @ {ident(f.host, 120)}"),
        ("Client", ident(f.client)),
        ("Session", ident(f.session)),
    ]
    if f.spans_time:
        rows += [
            ("First seen", _when(f.first_seen, f.first_epoch)),
            ("Last seen", _when(f.last_seen, f.last_epoch)),
        ]
    else:
        rows.append(("Event time", _when(f.first_seen or f.last_seen, f.first_epoch)))
    rows += [("Count", str(f.count)), ("Rule", value(f.rule_id))]
    if f.escalation is not None and f.escalation.previous_severity:
        rows.append(("Was", value(f.escalation.previous_severity, 20)))
    width = max(len(label) for label, _ in rows) + 1
    lines += [f"{(label + ':').ljust(width)} {text}" for label, text in rows]
    if f.folded is not None:
        lines += ["", "Folded into this alert:"]
        lines += [f"  {label}: {folded_text(vals, more)}" for label, vals, more in f.folded.lines()]
    if f.description:
        lines += ["", "Why it matters:", block(f.description)]
    if f.runbook_path:
        lines += ["", f"Runbook: {value(f.runbook_path, 500)}"]
        if f.runbook_text:
            lines.append(block(f.runbook_text, 1000))
    if f.sql:
        lines += ["", "SQL (redacted):", block(f.sql, SQL_MAX)]
    if f.error:
        lines += ["", "Error:", block(f.error, 1000)]
    if f.links:
        lines.append("")
        lines += [f"{link.label}: {link.url}" for link in f.links]
    lines += ["", f"Alert id: {value(f.alert_id, 200)}"]
    return "\n".join(lines) + "\n"
