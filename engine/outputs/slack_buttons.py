"""The buttons on a Slack alert (bot-token mode): what each means and what it carries.

Shared by the renderer (``slack_blocks``) and the interaction handler
(``engine.pipeline.interactions``), so the two cannot disagree on an ``action_id``. A button's
``value`` carries the rule id, the alert's dedup/group key and its id (public identifiers, never a
secret); Slack caps it at 2,000 characters, so an alert whose key does not fit gets the
Acknowledge button only (a mute for it is one ``dasalert mute add`` away).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Any

from engine.alerts import Alert

ACTION_PREFIX = "dasalert_"
VALUE_MAX = 2000  # Slack's limit for a button value
MUTABLE_KINDS = frozenset({"rule"})  # pipeline alerts and rule errors are never muted


class Action(enum.Enum):
    """The buttons on an alert: ``action_id`` is ``dasalert_<value>``."""

    ACK = "ack"
    MUTE_1H = "mute_1h"
    MUTE_24H = "mute_24h"
    MUTE_7D = "mute_7d"
    FALSE_POSITIVE = "false_positive"

    @property
    def action_id(self) -> str:
        return ACTION_PREFIX + self.value

    @property
    def duration_s(self) -> int:
        return _DURATIONS[self]

    @property
    def label(self) -> str:
        return _LABELS[self]


_DURATIONS = {
    Action.ACK: 0,
    Action.MUTE_1H: 3600,
    Action.MUTE_24H: 86400,
    Action.MUTE_7D: 7 * 86400,
    Action.FALSE_POSITIVE: 7 * 86400,
}
_LABELS = {
    Action.ACK: "Acknowledge",
    Action.MUTE_1H: "Mute 1h",
    Action.MUTE_24H: "Mute 24h",
    Action.MUTE_7D: "Mute 7d",
    Action.FALSE_POSITIVE: "False positive",
}


def button_value(rule_id: str, key: str | None, alert_id: str | None) -> str:
    """What a button carries: compact JSON of rule id, key and alert id."""
    return json.dumps({"r": rule_id, "k": key, "a": alert_id}, separators=(",", ":"))


def _button(action: Action, value: str, text: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action.action_id,
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def actions_block(alerts: Sequence[Alert]) -> dict[str, Any] | None:
    """The buttons of one message (one rule's alerts), or None when nothing can be muted.

    One alert, or several sharing a key: the mutes are for that key. Several keys, or a rule
    without dedup or group key: for the whole rule, and the labels say so.
    """
    rule_alerts = [a for a in alerts if a.kind in MUTABLE_KINDS]
    if not rule_alerts:
        return None
    first = rule_alerts[0]
    keys = {a.dedup_key for a in rule_alerts}
    key = first.dedup_key if len(keys) == 1 else None
    whole_rule = key is None  # several keys, or a rule without one
    alert_id = first.id if len(rule_alerts) == 1 else None
    value = button_value(first.rule_id, key, alert_id)
    if len(value) > VALUE_MAX:  # a key too long to carry: acknowledge only
        ack = button_value(first.rule_id, None, alert_id)
        return {"type": "actions", "block_id": "dasalert_actions",
                "elements": [_button(Action.ACK, ack, "Acknowledge")]}  # fmt: skip
    prefix = "Mute rule " if whole_rule else "Mute "
    buttons = [
        _button(Action.ACK, value, "Acknowledge", "primary"),
        _button(Action.MUTE_1H, value, prefix + "1h"),
        _button(Action.MUTE_24H, value, prefix + "24h"),
        _button(Action.MUTE_7D, value, prefix + "7d"),
        _button(Action.FALSE_POSITIVE, value, "False positive", "danger"),
    ]
    return {"type": "actions", "block_id": "dasalert_actions", "elements": buttons}
