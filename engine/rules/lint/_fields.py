"""Helpers shared by the checks that reason about event fields (not a check itself).

Which field paths an expression reads is the AST toolbox's business (``engine.rules.jpast``:
``field_path``, ``scoped``, ``event_paths``); this module knows which paths DAS events have.
"""

from __future__ import annotations

from engine.rules.lang import schema as S
from engine.rules.lang.expr import did_you_mean


def known_fields(das_fields: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    raw = frozenset(S.RAW_FIELD_TYPES) | frozenset(S.RAW_OBJECT_FIELDS) | {"das"}
    return raw, frozenset(S.DAS_FIELD_TYPES) | das_fields


def unknown_field(path: tuple[str, ...], das_fields: frozenset[str]) -> tuple[str, str] | None:
    """(message, suggestion) when ``path`` names no DAS event field; None when it does."""
    raw, das = known_fields(das_fields)
    head = path[0]
    if head not in raw:
        hint = did_you_mean(head, raw) or "see the field table in docs/rules.md"
        return f"`{head}` is not a DAS event field (it is always null)", hint
    if head == "das" and len(path) > 1 and path[1] not in das:
        hint = did_you_mean(path[1], das) or f"derived fields: {', '.join(sorted(das))}"
        return f"`das.{path[1]}` is not a derived field (it is always null)", hint
    return None


def field_types(path: tuple[str, ...]) -> dict[str, str] | None:
    """engine → JSON type of the field, when known."""
    if len(path) == 1 and path[0] in S.RAW_FIELD_TYPES:
        return S.RAW_FIELD_TYPES[path[0]]
    if len(path) == 2 and path[0] == "das" and path[1] in S.DAS_FIELD_TYPES:
        return dict.fromkeys(S.ENGINE_VALUES, S.DAS_FIELD_TYPES[path[1]])
    return None
