"""Dedup keys and threshold groups are built from the redacted event: a rule whose key names the
SQL text must not carry a password into the alert (its dedup key and context go to SNS, the
console and the dead-letter queue)."""

from __future__ import annotations

import json

from engine.alerts.redact import redact_event
from engine.pipeline.state import MemoryStateStore
from engine.rules.lang.expr import compile_expr
from engine.rules.model import Dedup, Threshold
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.ruleset import RuleSet
from tests.rules.runtime.test_engine import ev, rule

SECRET = "Key_s3cret_42"
SQL = f"ALTER ROLE app PASSWORD '{SECRET}'"


def _engine(*rules) -> Engine:
    return Engine(RuleSet(list(rules), {}, {}), MemoryStateStore())


def test_dedup_key_naming_the_sql_is_redacted() -> None:
    r = rule("r", "`true`", dedup=Dedup(compile_expr("[dbUserName, commandText]"), 3600))
    [alert] = _engine(r).process([ev("ROLE", commandText=SQL)]).alerts
    assert SECRET not in json.dumps(alert.to_dict())
    assert alert.dedup_key is not None and "PASSWORD '***'" in alert.dedup_key


def test_threshold_group_naming_the_sql_is_redacted() -> None:
    r = rule("t", "`true`", threshold=Threshold(2, 600, compile_expr("commandText")))
    events = [ev("ROLE", commandText=SQL, statementId=n) for n in (1, 2)]
    [alert] = _engine(r).process(events).alerts
    assert SECRET not in json.dumps(alert.to_dict(), default=str)


def test_a_secret_echoed_only_in_the_error_message_is_redacted_in_the_key() -> None:
    r = rule("r", "`true`", dedup=Dedup(compile_expr("errorMessage"), 3600))
    event = ev("ROLE", commandText=SQL, errorMessage=f"near '{SECRET}' at line 1")
    [alert] = _engine(r).process([event]).alerts
    assert SECRET not in json.dumps(alert.to_dict())


def test_keys_without_secrets_are_unchanged() -> None:
    r = rule("r", "`true`", dedup=Dedup(compile_expr("[dbUserName, commandText]"), 3600))
    event = ev("READ", commandText="SELECT 1")
    [alert] = _engine(r).process([event]).alerts
    assert alert.dedup_key == json.dumps(["app", "SELECT 1"], separators=(",", ":"))
    assert redact_event(event) == event | {"das": event["das"]}


def test_an_event_is_redacted_once_however_many_rules_it_reaches(monkeypatch) -> None:
    """A hostile event can match or break every rule; redacting 64 KiB costs ~0.4 s, once."""
    import engine.rules.runtime.engine as engine_module

    calls: list[int] = []
    real = engine_module.redact_event

    def counting(event, *, keep_params=False):
        calls.append(id(event))
        return real(event, keep_params=keep_params)

    monkeypatch.setattr(engine_module, "redact_event", counting)
    key = Dedup(compile_expr("[dbUserName, commandText]"), 3600)
    rules = [rule(f"r{n}", "`true`", dedup=key) for n in range(5)]
    alerts = _engine(*rules).process([ev("ROLE", commandText=SQL)]).alerts
    assert len(alerts) == 5 and len(calls) == 1
