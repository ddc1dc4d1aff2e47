"""Normalized activity events: raw DAS fields untouched plus one ``das`` namespace of derived,
engine-neutral fields (docs/events.md)."""

from engine.events.base_events import UnknownEngineError, base_event
from engine.events.engines import ENGINES, detect_engine
from engine.events.normalize import normalize

__all__ = ["ENGINES", "UnknownEngineError", "base_event", "detect_engine", "normalize"]
