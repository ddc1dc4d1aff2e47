"""Characters that render as nothing never reach a responder unseen.

Free text loses them; a name keeps a visible mark where each one was, so a role named
``rdsadmin`` + zero-width space is never shown as AWS's own ``rdsadmin``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.alerts import invisible
from engine.alerts.render import render_title
from engine.outputs import asff
from engine.outputs import slack_blocks as sb
from tests.outputs.factory import make_alert

# One of each kind a campaign found surviving: soft hyphen, Arabic letter mark, Mongolian vowel
# separator, line and paragraph separators, the Hangul fillers, a tag character, zero-width
# space, word joiner, BOM and a bidi override.
HIDDEN = [
    "\u00ad",
    "\u061c",
    "\u180e",
    "\u2028",
    "\u2029",
    "\u115f",
    "\u1160",
    "\u3164",
    "\uffa0",
    "\U000e0041",
    "\U000e007f",
    "\u200b",
    "\u2060",
    "\ufeff",
    "\u202e",
]


@pytest.mark.parametrize("char", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_strip_and_mark(char: str) -> None:
    assert invisible.strip(f"rds{char}admin") == "rdsadmin"
    assert invisible.mark(f"rds{char}admin") == f"rds⟨U+{ord(char):04X}⟩admin"


def test_the_class_covers_every_format_and_separator_character_of_this_python() -> None:
    """Written as ranges for speed; checked here against the running Python's Unicode data."""
    missed = [
        f"U+{cp:04X}"
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) in invisible.CATEGORIES
        and cp not in (0x09, 0x0A)
        and not invisible.INVISIBLE.match(chr(cp))
    ]
    assert missed == []


def test_visible_text_is_untouched() -> None:
    text = "SELECT 'é', '中文', 'emoji 🙂', tab\tand\nnewline — ok"
    assert invisible.strip(text) == text


@pytest.mark.parametrize("char", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_slack_message_has_no_invisible_character(char: str) -> None:
    alert = make_alert(
        title=f"DDL by x{char}y",
        description=f"why{char}now",
        event_updates={"commandText": f"DROP{char} TABLE t", "clientApplication": f"p{char}q"},
    )
    payload = sb.render_one(alert)
    for text in _texts(payload):
        assert not invisible.INVISIBLE.search(text), text


def test_slack_shows_a_hidden_character_in_a_user_name() -> None:
    alert = make_alert(event_updates={"dbUserName": "rdsadmin\u200b"})
    fields = " ".join(f["text"] for f in sb.render_one(alert)["blocks"][1]["fields"])
    assert "rdsadmin⟨U+200B⟩" in fields
    assert "*Who*\nrdsadmin @" not in fields


def test_title_marks_a_hidden_character_in_a_value() -> None:
    event = {"dbUserName": "rds\u00adadmin"}
    assert render_title("DDL by non-admin {dbUserName}", event) == (
        "DDL by non-admin rds⟨U+00AD⟩admin"
    )


@pytest.mark.parametrize("char", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_asff_text_has_no_invisible_character(char: str) -> None:
    alert = make_alert(
        title=f"DDL by x{char}y",
        description=f"why{char}now",
        event_updates={"commandText": f"DROP{char} TABLE t", "clientApplication": f"p{char}q"},
    )
    finding = asff.build_finding(
        alert, region="us-east-1", account_id="123456789012", now=dt.datetime.now(dt.UTC)
    )
    texts = [finding["Title"], finding["Description"], *finding["ProductFields"].values()]
    for text in texts:
        assert not invisible.INVISIBLE.search(text), text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(HIDDEN), max_size=40))
def test_slack_values_never_keep_an_invisible_character(text: str) -> None:
    alert = make_alert(title=text, event_updates={"dbUserName": text, "commandText": text})
    assert not any(invisible.INVISIBLE.search(t) for t in _texts(sb.render_one(alert)))


def _texts(payload: dict) -> list[str]:
    out = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(f["text"] for f in block.get("fields", []))
        out.extend(e["text"] for e in block.get("elements", []) if "text" in e)
    assert json.dumps(payload)  # serializable
    return out


def test_group_message_marks_hidden_characters_in_names() -> None:
    alerts = [make_alert(i, event_updates={"dbUserName": "rdsadmin\u200b"}) for i in range(3)]
    lines = sb.render_group(alerts)["blocks"][2]["text"]["text"]
    assert lines.count("rdsadmin⟨U+200B⟩@") == 3


def test_asff_shows_a_hidden_character_in_a_user_name() -> None:
    alert = make_alert(event_updates={"dbUserName": "rdsadmin\u200b"})
    finding = asff.build_finding(
        alert, region="us-east-1", account_id="123456789012", now=dt.datetime.now(dt.UTC)
    )
    assert "user rdsadmin⟨U+200B⟩ from" in finding["Description"]
    assert finding["ProductFields"]["dasalert/User"] == "rdsadmin⟨U+200B⟩"
    assert asff.problems(finding) == []
