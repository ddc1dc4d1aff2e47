"""Normalized activity events: raw DAS fields untouched plus one ``das`` namespace of derived,
engine-neutral fields (docs/events.md)."""

from engine.events.base_events import UnknownEngineError, base_event
from engine.events.derive import ACTIONS
from engine.events.engines import ENGINES, detect_engine
from engine.events.normalize import DAS_FIELDS, normalize

__all__ = [
    "ACTIONS",
    "DAS_FIELDS",
    "ENGINES",
    "UnknownEngineError",
    "base_event",
    "detect_engine",
    "normalize",
]
