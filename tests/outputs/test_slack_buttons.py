"""The responder buttons on Slack alerts: which messages get them and what they carry."""

from __future__ import annotations

import json

from engine.outputs.routing import OutputContext
from engine.outputs.slack import ChannelMap, SlackOutput
from engine.outputs.slack_blocks import render_group, render_one
from engine.outputs.slack_buttons import VALUE_MAX, Action, actions_block
from tests.outputs.factory import make_alert


def _actions(payload: dict) -> dict | None:
    found = [b for b in payload["blocks"] if b["type"] == "actions"]
    assert len(found) <= 1
    return found[0] if found else None


def test_no_buttons_unless_asked() -> None:
    assert _actions(render_one(make_alert())) is None
    assert _actions(render_group([make_alert(1), make_alert(2)])) is None


def test_one_alert_mutes_its_key() -> None:
    alert = make_alert(dedup_key='"alice"')
    block = _actions(render_one(alert, actions=True))
    assert block is not None and block == render_one(alert, actions=True)["blocks"][-1]
    assert [e["action_id"] for e in block["elements"]] == [a.action_id for a in Action]
    values = {json.loads(e["value"])["k"] for e in block["elements"]}
    assert values == {'"alice"'}
    assert json.loads(block["elements"][0]["value"]) == {
        "r": alert.rule_id,
        "k": '"alice"',
        "a": alert.id,
    }
    assert [e["text"]["text"] for e in block["elements"]][1:4] == ["Mute 1h", "Mute 24h", "Mute 7d"]


def test_a_group_with_several_keys_mutes_the_rule_and_says_so() -> None:
    alerts = [make_alert(1, dedup_key='"a"'), make_alert(2, dedup_key='"b"')]
    block = _actions(render_group(alerts, actions=True))
    assert block is not None
    assert {json.loads(e["value"])["k"] for e in block["elements"]} == {None}
    assert block["elements"][1]["text"]["text"] == "Mute rule 1h"
    assert render_group(alerts, actions=True)["blocks"][-1] == block


def test_pipeline_and_rule_error_alerts_get_no_buttons() -> None:
    for kind in ("pipeline", "rule_error", "test"):
        assert actions_block([make_alert(kind=kind)]) is None


def test_a_key_too_long_to_carry_leaves_acknowledge_only() -> None:
    block = actions_block([make_alert(dedup_key=json.dumps("x" * VALUE_MAX))])
    assert block is not None
    assert [e["action_id"] for e in block["elements"]] == [Action.ACK.action_id]
    assert all(len(e["value"]) <= VALUE_MAX for e in block["elements"])


def test_bot_token_mode_turns_buttons_on_webhook_mode_does_not() -> None:
    ctx = OutputContext()
    bot = SlackOutput.from_env(
        {"SLACK_BOT_TOKEN": "xoxb-0000000000-buttons", "SLACK_CHANNELS": "#sec"}, ctx
    )
    hook = SlackOutput.from_env({"SLACK_WEBHOOK_URL": "https://hooks.example/x/y/z"}, ctx)
    assert isinstance(bot.channels, ChannelMap) and bot.buttons is True
    assert hook.buttons is False


def test_region_and_here_come_from_the_environment(slack) -> None:
    """Through the local Slack server: the posted message says where and pings @here."""
    from engine.outputs.base import Status

    env = {
        "SLACK_WEBHOOK_URL": slack.webhook_url,
        "AWS_REGION": "eu-central-1",
        "SLACK_HERE_SEVERITY": "high",
        "SECURITYHUB_ENABLED": "true",
    }
    out = SlackOutput.from_env(env, OutputContext())
    report = out.send([make_alert(severity="critical")])
    assert [d.status for d in report.deliveries] == [Status.DELIVERED]
    (req,) = slack.requests
    blocks = req.json["blocks"]
    assert blocks[0]["text"]["text"] == "<!here> CRITICAL"
    assert "· eu-central-1" in json.dumps(blocks, ensure_ascii=False)
    assert "eu-central-1.console.aws.amazon.com/securityhub" in blocks[-1]["elements"][0]["text"]
    assert _actions(req.json) is None  # webhook mode: no buttons


def test_an_unknown_here_severity_is_a_configuration_error() -> None:
    import pytest

    from engine.pipeline.env import ConfigError

    with pytest.raises(ConfigError, match="SLACK_HERE_SEVERITY"):
        SlackOutput.from_env(
            {"SLACK_WEBHOOK_URL": "https://hooks.example/x", "SLACK_HERE_SEVERITY": "urgent"},
            OutputContext(),
        )
