"""Identity changes are ROLE actions on every engine, and audit-specification verbs keep their
full kind (``DROP DATABASE AUDIT SPECIFICATION`` must never read as ``DROP DATABASE``)."""

from __future__ import annotations

import pytest

from engine.events import base_event, normalize
from engine.events.sqlverb import extract_verb, verb_action


def _das(engine: str, **fields: object) -> dict:
    event = base_event(engine)
    event.update(fields)
    return normalize(event)["das"]


@pytest.mark.parametrize(
    ("sql", "verb", "action"),
    [
        (
            "ALTER SERVER AUDIT SPECIFICATION [RDS_DAS_SERVER_AUDIT_SPEC] WITH (STATE=OFF)",
            "ALTER SERVER AUDIT SPECIFICATION",
            "DDL",
        ),
        (
            "DROP DATABASE AUDIT SPECIFICATION [RDS_DAS_DB_x]",
            "DROP DATABASE AUDIT SPECIFICATION",
            "DDL",
        ),
        (
            "CREATE DATABASE AUDIT SPECIFICATION s FOR SERVER AUDIT [RDS_DAS_AUDIT]",
            "CREATE DATABASE AUDIT SPECIFICATION",
            "DDL",
        ),
        ("ALTER SERVER AUDIT RDS_DAS_AUDIT WITH (STATE = OFF)", "ALTER SERVER AUDIT", "DDL"),
        ("DROP DATABASE shop", "DROP DATABASE", "DDL"),
        ("SET ROLE rds_superuser", "SET ROLE", "ROLE"),
        ("set session authorization 'postgres'", "SET SESSION AUTHORIZATION", "ROLE"),
        ("SET SESSION sql_mode = 'ANSI'", "SET", "MISC"),
        ("EXECUTE AS LOGIN = 'sa'", "EXECUTE AS", "ROLE"),
        ("exec as user = N'dbo'", "EXEC AS", "ROLE"),
        ("EXECUTE sp_who2", "EXECUTE", "FUNCTION"),
        ("EXEC dbo.usp_orders 1", "EXEC", "FUNCTION"),
        ("SET DEFAULT ROLE ALL TO 'app'@'%'", "SET DEFAULT ROLE", "ROLE"),
    ],
)
def test_verbs(sql: str, verb: str, action: str) -> None:
    assert extract_verb(sql) == verb
    assert verb_action(verb) == action


def test_a_long_prefix_does_not_change_the_verb_through_the_cache() -> None:
    head = "DROP DATABASE AUDIT SPECIFICATION "
    assert extract_verb(head + "x" * 100) == "DROP DATABASE AUDIT SPECIFICATION"
    assert extract_verb("DROP DATABASE " + "y" * 100) == "DROP DATABASE"


@pytest.mark.parametrize(
    ("engine", "fields"),
    [
        ("postgres", {"class": "MISC", "command": "SET", "commandText": "SET ROLE admin"}),
        (
            "postgres",
            {
                "class": "MISC",
                "command": "SET",
                "commandText": "SET SESSION AUTHORIZATION postgres",
            },
        ),
        ("mysql", {"class": "MAIN", "command": "QUERY", "commandText": "SET ROLE 'dba'"}),
        ("oracle", {"command": "SET ROLE", "commandText": "SET ROLE DBA"}),
        (
            "sqlserver",
            {"class": "LOGIN", "command": "IMPERSONATE", "commandText": "EXECUTE AS LOGIN = 'sa'"},
        ),
        (
            "sqlserver",
            {
                "class": "DATABASE",
                "command": "BATCH COMPLETED",
                "commandText": "EXECUTE AS USER = 'dbo'; SELECT 1",
            },
        ),
    ],
)
def test_identity_changes_are_role_actions_on_every_engine(engine: str, fields: dict) -> None:
    assert _das(engine, **fields)["action"] == "ROLE"


def test_an_ordinary_set_stays_misc_on_postgres() -> None:
    das = _das(
        "postgres",
        **{"class": "MISC", "command": "SET", "commandText": "SET search_path = app, public"},
    )
    assert das["action"] == "MISC"
