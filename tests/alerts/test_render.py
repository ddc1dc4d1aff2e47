"""render_title: placeholders, dotted paths, missing → ?, escapes, truncation, never raises,
never a password."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.alerts.redact import redact_event
from engine.alerts.render import MAX_TITLE_CHARS, MAX_VALUE_CHARS, render_title
from engine.events import base_event, normalize

EVENT = {
    "dbUserName": "app",
    "databaseName": "",
    "rowCount": 120000,
    "paramList": ["a", "b"],
    "das": {"engine": "postgres", "failed": True, "rows": None, "verb": "CREATE TABLE"},
    "commandText": "ALTER ROLE app PASSWORD 'hunter2'",
}


@pytest.mark.parametrize(
    ("template", "title"),
    [
        ("DDL by {dbUserName} on {das.engine}", "DDL by app on postgres"),
        ("{das.verb} ({rowCount} rows)", "CREATE TABLE (120000 rows)"),
        ("failed={das.failed}", "failed=true"),
        ("{missing} / {das.rows} / {das.nope.deeper}", "? / ? / ?"),
        ("db {databaseName}", "db ?"),  # empty: nothing to show
        ("{{literal}} {{{dbUserName}}}", "{literal} {app}"),
        ("first param {paramList.0}, all {paramList}", 'first param a, all ["a","b"]'),
        ("{paramList.9}", "?"),
        ("{ dbUserName }", "app"),
        ("unclosed {dbUserName", "unclosed {dbUserName"),
        ("stray } brace", "stray } brace"),
        ("{}", "?"),
        ("", ""),
        ("no placeholders", "no placeholders"),
    ],
)
def test_render(template: str, title: str) -> None:
    assert render_title(template, EVENT) == title


def test_values_are_one_line_and_shortened() -> None:
    event = {"sql": "SELECT\r\n  *\tFROM\x00 t " + "x" * 500}
    title = render_title("q: {sql}", event)
    assert "\n" not in title and "\t" not in title and "\x00" not in title
    assert title.startswith("q: SELECT * FROM t xxx")
    assert len(title) == len("q: ") + MAX_VALUE_CHARS and title.endswith("…")


def test_title_is_capped() -> None:
    event = {"a": "y" * 90}
    title = render_title("{a} " * 10, event)
    assert len(title) == MAX_TITLE_CHARS and title.endswith("…")


def test_a_title_never_carries_a_password() -> None:
    raw = base_event("mysql")
    raw.update(commandText="CREATE USER eve IDENTIFIED BY 'S3cret!'", command="QUERY")
    event = normalize(raw)
    assert "S3cret" not in render_title("{commandText} / {das.sql}", redact_event(event))
    # even when a caller forgets to pass the redacted event
    assert "S3cret" not in render_title("{commandText} / {das.sql}", event)


@pytest.mark.parametrize("event", [None, [], "text", 42, {"das": None}, {"das": [1, 2]}])
def test_odd_events_render_question_marks(event: object) -> None:
    assert render_title("x {das.engine} y", event) == "x ? y"  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    template=st.text(alphabet=st.sampled_from("{}ab.c 0das"), max_size=40) | st.text(max_size=40),
    event=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(st.sampled_from(["a", "b", "das", "c", "0"]), c, max_size=3)
        ),
        max_leaves=10,
    ),
)
def test_never_raises(template: str, event: object) -> None:
    title = render_title(template, event)  # type: ignore[arg-type]
    assert isinstance(title, str) and len(title) <= MAX_TITLE_CHARS
