"""Mutes: validation and lifetimes shared by every way of writing one (Slack, the CLI).

A mute says "rule R (for key K, or for every key) must not alert until T". It is written by a
responder — from a Slack button through ``handlers/slack_actions.py`` or with ``dasalert mute``
— into the state table, and honoured by the engine's suppression (read once per batch). Both
writers go through :func:`make_mute`, so a mute is validated the same way wherever it is made.

``until`` is compared with the *event time* of the alert, like every window of the engine: a
replay of yesterday's capture is muted exactly as it was live, and a stream running late still
honours a mute for the events that happened while it held. The item itself lives
``TTL_MARGIN_S`` past ``until`` (the stream's retention and an hour), for the same reason.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from engine.pipeline.state import Mute, StateStore

# The rule id syntax of the rule language (engine/rules/lang/schema.py; a test keeps them equal).
RULE_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RULE_ID_MAX = 128
KEY_MAX = 4000  # dedup keys are short; a longer text is not a key an alert carried
WHO_MAX = 128
REASON_MAX = 500
MIN_DURATION_S = 60
MAX_DURATION_S = 90 * 86400  # a mute is a pause, not a tune: longer belongs in the rule pack
TTL_MARGIN_S = 25 * 3600
KINDS = ("mute", "false_positive")

_DURATION_RE = re.compile(r"^\s*(\d{1,7})\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


class MuteError(ValueError):
    """A mute that cannot be stored as asked; the message says what to change."""


@dataclass(frozen=True, slots=True)
class MuteRequest:
    """What a responder asked for, before validation."""

    rule_id: str
    key: str | None
    duration_s: int
    who: str
    reason: str
    kind: str = "mute"


def parse_duration(text: str) -> int:
    """``30m``, ``24h``, ``7d``, ``2w`` → seconds, within [1 minute, 90 days]."""
    m = _DURATION_RE.match(text or "")
    if not m:
        raise MuteError(f"duration {text!r}: write a number and a unit, e.g. 30m, 24h, 7d")
    seconds = int(m.group(1)) * _UNIT_S[m.group(2).lower()]
    check_duration(seconds)
    return seconds


def check_duration(seconds: int) -> None:
    if not MIN_DURATION_S <= seconds <= MAX_DURATION_S:
        raise MuteError(
            f"duration {seconds}s: a mute lasts from 1 minute to 90 days "
            "(longer is a tune in the rule pack: docs/tuning.md)"
        )


def canonical_key(text: str | None) -> str | None:
    """The key as alerts carry it (canonical JSON): ``alice`` → ``"alice"``, and a JSON text
    (``["alice","10.0.0.5"]``, ``"alice"``) is re-serialized canonically."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _clean(text: str) -> str:
    return _CONTROL.sub("", text or "").strip()


def make_mute(req: MuteRequest, now: float) -> Mute:
    """The validated mute of ``req`` starting at ``now``; :class:`MuteError` otherwise."""
    rule_id = (req.rule_id or "").strip()
    if not RULE_ID_RE.match(rule_id) or len(rule_id) > RULE_ID_MAX:
        raise MuteError(f"rule id {rule_id[:80]!r}: lower-case words joined by '-'")
    if req.key is not None and (not req.key or len(req.key) > KEY_MAX):
        raise MuteError(f"key: 1 to {KEY_MAX} characters (omit it to mute the whole rule)")
    check_duration(req.duration_s)
    who = _clean(req.who)
    if not who or len(who) > WHO_MAX:
        raise MuteError(f"who: 1 to {WHO_MAX} characters")
    reason = _clean(req.reason)
    if not reason:
        raise MuteError("a reason is required (the next responder reads it)")
    if len(reason) > REASON_MAX:
        raise MuteError(f"reason: at most {REASON_MAX} characters")
    if req.kind not in KINDS:
        raise MuteError(f"kind {req.kind!r}: one of {', '.join(KINDS)}")
    return Mute(rule_id, req.key, float(now + req.duration_s), who, reason, float(now), req.kind)


def store_mute(state: StateStore, mute: Mute) -> None:
    """Write ``mute`` with its lifetime (``until`` plus the margin for late events)."""
    state.put_mute(mute, expires_at=mute.until + TTL_MARGIN_S)


def active_mutes(state: StateStore, now: float | None = None) -> list[Mute]:
    """Mutes still in force at wall-clock ``now`` (what ``mute list`` shows), soonest end first."""
    at = time.time() if now is None else now
    return sorted((m for m in state.list_mutes() if m.until > at), key=lambda m: m.until)
