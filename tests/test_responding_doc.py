"""docs/responding.md shows the messages the renderers produce today, not last month's."""

from __future__ import annotations

import json

from engine.outputs import slack_blocks as sb
from tests.support.responding_examples import DOC, blocks, examples


def test_every_example_of_the_guide_is_current() -> None:
    documented = blocks(DOC.read_text())
    fresh = examples()
    assert set(documented) == set(fresh), "an example marker is missing or unknown"
    for name, body in fresh.items():
        assert documented[name] == body, (
            f"docs/responding.md example {name!r} is stale: "
            "run `python -m tests.support.responding_examples`"
        )


def test_the_examples_are_valid_slack_payloads() -> None:
    fresh = examples()
    for name in ("slack-alert", "slack-escalation-reply"):
        payload = json.loads(fresh[name])
        assert payload["text"] and payload["blocks"]
        assert len(payload["blocks"]) <= sb.BLOCKS_MAX
    assert "Escalated" in fresh["slack-escalated-parent"]
    assert ":mute:" in json.loads(fresh["slack-mute-reply"])["text"]
