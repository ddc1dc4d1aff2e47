"""Alert titles from rule templates: ``"DDL by {dbUserName} on {das.engine}"``.

A title is what a responder reads first, in Slack, SNS and Security Hub, so rendering must never
fail and never leak: a missing, null or empty field shows as ``?``; ``{{``/``}}`` are literal
braces; an unclosed ``{`` is kept as text; values are flattened to one line (controls become
spaces), characters that render as nothing are shown as ``⟨U+200B⟩`` marks, and values are
shortened. The caller passes the *redacted* event; each value also goes through ``redact_sql``
once more, so a template that names ``{commandText}`` cannot put a password in a
title even if a caller forgets. The result is plain text: escaping is each output's job.
"""

from __future__ import annotations

import json
from typing import Any

from engine.alerts.invisible import mark
from engine.alerts.redact import cap_text, redact_sql

MISSING = "?"
MAX_VALUE_CHARS = 100
MAX_TITLE_CHARS = 256  # Security Hub's Title limit; Slack and SNS subjects are shorter still
# A value is cut to this before it is redacted: only its first MAX_VALUE_CHARS are shown, and
# cutting before redaction is safe (a literal cut open is masked to the cut).
MAX_RENDER_CHARS = 4 * 1024
ELLIPSIS = "…"

# Parsed template: literal text (str) and field paths (tuple of segments), in order.
_Part = str | tuple[str, ...]
_templates: dict[str, tuple[_Part, ...]] = {}
_TEMPLATE_CACHE_MAX = 4096
_CONTROL = {code: " " for code in range(32)} | {0x7F: " "}


def render_title(template: str, event: dict[str, Any]) -> str:
    """Fill ``{field}`` / ``{a.b.c}`` placeholders from ``event``; never raises."""
    try:
        if not isinstance(template, str):
            template = "" if template is None else str(template)
        parts = _parse(template)
        out = []
        for part in parts:
            if type(part) is str:
                out.append(part)
            else:
                out.append(_format(_lookup(event, part)))  # type: ignore[arg-type]
        return _shorten(" ".join("".join(out).split()), MAX_TITLE_CHARS)
    except Exception:  # a title must never cost us the alert
        return _shorten(" ".join(str(template).split()), MAX_TITLE_CHARS) if template else MISSING


def _parse(template: str) -> tuple[_Part, ...]:
    cached = _templates.get(template)
    if cached is not None:
        return cached
    parts: list[_Part] = []
    text: list[str] = []
    i, n = 0, len(template)
    while i < n:
        char = template[i]
        if char == "{":
            if template.startswith("{", i + 1):
                text.append("{")
                i += 2
                continue
            close = template.find("}", i + 1)
            if close < 0:  # unclosed: keep the rest as written
                text.append(template[i:])
                break
            if text:
                parts.append("".join(text))
                text = []
            parts.append(tuple(template[i + 1 : close].strip().split(".")))
            i = close + 1
        elif char == "}":
            text.append("}")
            i += 2 if template.startswith("}", i + 1) else 1
        else:
            nxt = min(
                (p for p in (template.find("{", i), template.find("}", i)) if p >= 0), default=n
            )
            text.append(template[i:nxt])
            i = nxt
    if text:
        parts.append("".join(text))
    result = tuple(parts)
    if len(_templates) < _TEMPLATE_CACHE_MAX:
        _templates[template] = result
    return result


def _lookup(event: Any, path: tuple[str, ...]) -> Any:
    value = event
    for segment in path:
        if isinstance(value, dict):
            value = value.get(segment)
        elif isinstance(value, list | tuple) and segment.isdigit():
            index = int(segment)
            value = value[index] if index < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def _format(value: Any) -> str:
    if value is None:
        return MISSING
    if value is True or value is False:
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, dict | list | tuple):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        text = str(value)
    text = " ".join(redact_sql(cap_text(text, MAX_RENDER_CHARS)).translate(_CONTROL).split())
    # a character that renders as nothing is shown, not dropped: ``rdsadmin⟨U+200B⟩`` must not
    # read as AWS's own ``rdsadmin``
    text = mark(text)
    return _shorten(text, MAX_VALUE_CHARS) if text else MISSING


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS
