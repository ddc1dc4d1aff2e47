"""``engine.events`` owns the das vocabulary (field names, actions) that lint checks against."""

from __future__ import annotations

from engine.events import ACTIONS, DAS_FIELDS, ENGINES, base_event, normalize
from engine.rules.lang import schema


def test_normalize_writes_exactly_the_exported_das_fields_and_actions():
    for engine in ENGINES:
        for command in ("CONNECT", "SELECT", "LOGIN FAILED", "whatever"):
            raw = {**base_event(engine), "command": command}
            das = normalize(raw)["das"]
            assert tuple(das) == DAS_FIELDS
            assert das["action"] in ACTIONS


def test_the_rule_schema_uses_the_events_vocabulary_with_a_type_for_every_field():
    assert schema.DAS_ACTIONS is ACTIONS
    assert schema.ENGINE_VALUES is ENGINES
    assert tuple(schema.DAS_FIELD_TYPES) == DAS_FIELDS
    assert set(schema._DAS_TYPES) == set(DAS_FIELDS)  # no type left for a field that is gone
