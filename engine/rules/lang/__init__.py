"""The rule language: what a rule file may say and how it is read.

Schema (keys, enums, field types), YAML with line numbers, the validation toolkit, the loader
that turns files into compiled ``Rule`` objects (``engine.rules.model``), ``lists.yaml``, the
inline test specs, and expression compilation. Everything here runs at load time, never per
event; the hot path lives in ``engine.rules.runtime`` and imports nothing from this room.
"""
