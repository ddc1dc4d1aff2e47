"""Block Kit for escalation updates: the thread reply (bot token), the follow-up (webhook) and the
new parent posted when the original message is unknown.

An escalation is an alert already posted whose dedup window grew in a way a responder must see
(``alert.escalation``: a new verb, object, user or host, a higher severity, the count passing
10/100/1,000). The parent message itself is re-rendered by :func:`slack_blocks.render_one` and
updated in place (``chat.update``); what this module renders says *what changed*:

* :func:`render_reply` — the reply in the parent's thread, or, with ``webhook=True``, the follow-up
  message an incoming webhook posts to the channel (it cannot thread, so it names the alert and
  repeats its title). ``held`` are the reasons of earlier steps that the webhook rate limit folded
  into this one.
* :func:`render_orphan` — when the parent's ``ts`` is unknown (posted before this feature, its
  record expired, or the message was deleted), the whole alert as a new message that says it is
  an update of one sent before.

Everything from the database is untrusted: every string goes through ``slack_blocks.escape`` (and
``fit``), exactly as the alert message does, so an escalation reason such as ``new user: <!here>``
cannot mention, link or break out of its text object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.alerts import Alert
from engine.alerts.facts import extract
from engine.alerts.invisible import mark
from engine.outputs.slack_blocks import (
    BLOCKS_MAX,
    HEADER_MAX,
    SECTION_MAX,
    SEVERITY_EMOJI,
    TEXT_MAX,
    _ident,
    escape,
    escape_code,
    fit,
)
from engine.outputs.slack_blocks import _value as _one

REASON_MAX = 300  # one reason line
REASONS_SHOWN = 20  # reasons listed; the rest are counted


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def reasons_of(alert: Alert, held: Sequence[str] = ()) -> list[str]:
    """The reasons to show: the earlier steps' held ones first, then this step's."""
    esc = alert.escalation or {}
    raw = esc.get("reasons")
    now = [str(r) for r in raw if r not in (None, "")] if isinstance(raw, list) else []
    return [*held, *now] or ["the alert grew"]


def _reasons_section(reasons: Sequence[str]) -> dict[str, Any]:
    lines = [f"• {_one(r, REASON_MAX)}" for r in reasons[:REASONS_SHOWN]]
    if len(reasons) > REASONS_SHOWN:
        lines.append(f"…and {len(reasons) - REASONS_SHOWN} more")
    return {"type": "section", "text": _mrkdwn(fit("*What changed*\n" + "\n".join(lines), 3000))}


def _folded_line(alert: Alert) -> str | None:
    """The folded values as the alert's own message shows them (read by ``facts``, names marked
    where a character renders as nothing)."""
    folded = extract(alert).folded
    if folded is None:
        return None
    parts = []
    for label, values, more in folded.lines():
        shown = ", ".join(_ident(v, 120) for v in values)
        parts.append(f"{label}: {shown}" + (f" +{more} more" if more else ""))
    return "\n".join(parts) if parts else None


def _step(alert: Alert) -> int:
    esc = alert.escalation
    return int(esc["step"]) if esc is not None else 0


def _severity_change(alert: Alert) -> str:
    esc = alert.escalation or {}
    prev = esc.get("previous_severity")
    sev = _one(alert.severity, 20).upper()
    if isinstance(prev, str) and prev and prev != alert.severity:
        return f"{_one(prev, 20).upper()} → {sev}"
    return sev


def render_reply(
    alert: Alert, *, held: Sequence[str] = (), webhook: bool = False
) -> dict[str, Any]:
    """What an escalation step says: the thread reply (bot) or the follow-up (``webhook``)."""
    emoji = SEVERITY_EMOJI.get(alert.severity, ":white_circle:")
    reasons = reasons_of(alert, held)
    title = escape(alert.title, oneline=True)
    head = f":arrow_double_up: Escalation {_step(alert)} · {_severity_change(alert)}"
    blocks: list[dict[str, Any]] = []
    if webhook:  # no thread: the message must say which alert it updates
        blocks.append(
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": fit(f"{emoji} {head} · {title}", HEADER_MAX),
                    "emoji": True,
                },
            }
        )
    else:
        blocks.append({"type": "section", "text": _mrkdwn(fit(f"{emoji} *{head}*", 3000))})
    blocks.append(_reasons_section(reasons))
    fields = [
        f"*Count*\n{_one(alert.count, 40)}",
        f"*Severity*\n{_severity_change(alert)}",
        f"*Latest*\n{_one(_latest(alert), 300)}",
        f"*Last seen*\n{_one(alert.last_seen or alert.first_seen, 60)}",
    ]
    blocks.append({"type": "section", "fields": [_mrkdwn(f) for f in fields]})
    folded = _folded_line(alert)
    if folded:
        blocks.append({"type": "section", "text": _mrkdwn(fit(folded, SECTION_MAX))})
    rule_id = fit(escape_code(alert.rule_id), 200)
    aid = fit(escape_code(alert.id), 200)
    blocks.append({"type": "context", "elements": [_mrkdwn(f"Rule `{rule_id}` · Alert `{aid}`")]})
    text = f"{_severity_change(alert)} escalation of {title}: " + "; ".join(
        escape(r, oneline=True) for r in reasons
    )
    return {"text": fit(text, TEXT_MAX), "blocks": blocks[:BLOCKS_MAX]}


def _latest(alert: Alert) -> str:
    """The event the alert now shows: ``DROP TABLE public.audit_log by app @ 10.0.0.9``."""
    das, ev = alert.das, alert.event
    verb = das.get("verb") or das.get("action")
    what = " ".join(str(p) for p in (verb, das.get("object")) if p)
    user = ev.get("dbUserName") or das.get("user")
    host = ev.get("remoteHost") or das.get("sourceHost")
    who = " @ ".join(mark(str(p)) for p in (user, host) if p)  # rdsadmin+U+200B is not rdsadmin
    return " by ".join(p for p in (what, who) if p)


def render_orphan(alert: Alert, parent: dict[str, Any]) -> dict[str, Any]:
    """The alert's full message (``parent``, from ``render_one``) as a new post that says it is
    an update: the original message is not known here, so nothing can be threaded or edited."""
    reasons = reasons_of(alert)
    note = (
        f":arrow_double_up: *Update {_step(alert)} of an alert posted earlier* (its message "
        "could not be found to reply to): " + " · ".join(_one(r, 200) for r in reasons)
    )
    note_block = {"type": "section", "text": _mrkdwn(fit(note, SECTION_MAX))}
    blocks = list(parent.get("blocks") or [])
    at = 1 if blocks and blocks[0].get("type") == "header" else 0
    if blocks and blocks[0].get("type") == "section" and len(blocks) > 1:
        at = 2 if blocks[1].get("type") == "header" else 1  # after the @here line and header
    blocks.insert(at, note_block)
    if len(blocks) > BLOCKS_MAX:  # keep the last block (the buttons or the context line)
        blocks = [*blocks[: BLOCKS_MAX - 1], blocks[-1]]
    text = fit(f"Update: {parent.get('text') or escape(alert.title, oneline=True)}", TEXT_MAX)
    return {"text": text, "blocks": blocks}
