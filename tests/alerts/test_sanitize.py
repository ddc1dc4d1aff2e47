"""What leaves the function is encodable: lone surrogates replaced, NaN as null, depth bounded."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from engine.alerts import Alert
from engine.alerts.redact import MAX_NESTING, REPLACEMENT, TOO_DEEP, redact_event, sanitize


def test_lone_surrogates_become_the_replacement_character() -> None:
    assert sanitize("a\ud800b\udfffc") == f"a{REPLACEMENT}b{REPLACEMENT}c"
    assert sanitize("caf\u00e9 \U0001f600") == "caf\u00e9 \U0001f600"  # valid text is kept


def test_nan_and_infinities_become_null() -> None:
    assert sanitize([float("nan"), float("inf"), -float("inf"), 1.5]) == [None, None, None, 1.5]


def test_deep_nesting_is_cut_so_an_alert_can_always_be_serialised() -> None:
    deep: object = "x"
    for _ in range(2000):
        deep = {"a": [deep]}
    event = redact_event({"commandText": "SELECT 1", "engineNativeAuditFields": {"n": deep}})
    alert = Alert(id="i", rule_id="r", title="t", severity="low", event=event)
    text = json.dumps(alert.to_dict(), allow_nan=False)
    assert TOO_DEEP in text and text.count("[") <= MAX_NESTING


def test_redact_event_output_is_utf8_and_strict_json() -> None:
    event = {"dbUserName": "eve\ud800", "rowCount": float("nan"), "das": {"user": "eve\ud800"}}
    out = redact_event(event)
    json.dumps(out, ensure_ascii=False, allow_nan=False).encode()
    assert out["dbUserName"] == "eve" + REPLACEMENT and out["das"]["user"] == "eve" + REPLACEMENT


@given(
    st.recursive(
        st.none() | st.floats() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_sanitized_values_always_encode(value: object) -> None:
    json.dumps(sanitize(value), ensure_ascii=False, allow_nan=False).encode()
