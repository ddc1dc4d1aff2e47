"""Redaction works on a bounded prefix of any text: hostile length costs nothing extra, and the
cut never uncovers a secret."""

from __future__ import annotations

from engine.alerts.redact import CUT_MARKER, MAX_TEXT_CHARS, cap_text, redact_event, redact_sql
from engine.events import base_event, normalize


def test_long_text_is_cut_with_a_marker_that_says_how_much() -> None:
    text = "SELECT " + "x" * (MAX_TEXT_CHARS * 3)
    out = redact_sql(text)
    assert len(out) < MAX_TEXT_CHARS + 64
    assert out.endswith(f"{CUT_MARKER}{len(text) - MAX_TEXT_CHARS} characters]")


def test_short_text_is_not_touched() -> None:
    assert cap_text("SELECT 1") == "SELECT 1"
    assert redact_sql("SELECT 1") == "SELECT 1"


def test_a_literal_cut_open_is_masked_to_the_cut() -> None:
    pad = "SELECT 1; " + " " * (MAX_TEXT_CHARS - 40)
    text = pad + "ALTER ROLE r PASSWORD 'Cut_s3cret_value_that_is_long'"
    assert len(pad) < MAX_TEXT_CHARS < len(text)
    out = redact_sql(text)
    assert "Cut_s3cret" not in out
    assert "PASSWORD '***" in out


def test_an_unquoted_password_cut_short_is_masked() -> None:
    pad = " " * (MAX_TEXT_CHARS - 30)
    out = redact_sql(pad + "ALTER ROLE r PASSWORD hunter2hunter2hunter2")
    assert "hunter" not in out


def test_every_string_field_of_an_event_is_cut() -> None:
    raw = base_event("postgres")
    raw.update(commandText="x" * (MAX_TEXT_CHARS + 10), errorMessage="y" * (MAX_TEXT_CHARS * 2))
    out = redact_event(normalize(raw))
    assert len(out["commandText"]) < MAX_TEXT_CHARS + 64
    assert len(out["errorMessage"]) < MAX_TEXT_CHARS + 64
    assert len(out["das"]["sql"]) < MAX_TEXT_CHARS + 64


def test_a_title_reads_only_the_start_of_a_huge_value() -> None:
    from engine.alerts.render import MAX_VALUE_CHARS, render_title

    huge = "ALTER ROLE r PASSWORD 'Title_s3cret' " + "z" * (MAX_TEXT_CHARS * 4)
    title = render_title("{commandText}", {"commandText": huge})
    assert "Title_s3cret" not in title
    assert len(title) <= MAX_VALUE_CHARS
