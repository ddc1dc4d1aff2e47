"""Redaction with adversarial SQL: every syntax of the four engines, escapes, comments,
several statements, odd spacing, unterminated literals; and what must stay untouched."""

from __future__ import annotations

import copy

import pytest

from engine.alerts.redact import MASK, PARAM_MASK, needs_redaction, redact_event, redact_sql
from engine.events import base_event, normalize

CASES = [
    # PostgreSQL
    (
        "ALTER ROLE app WITH PASSWORD 'it''s-secret' VALID UNTIL '2030-01-01'",
        "ALTER ROLE app WITH PASSWORD '***' VALID UNTIL '2030-01-01'",
    ),
    (
        "CREATE ROLE x LOGIN ENCRYPTED PASSWORD 'md5abc'",
        "CREATE ROLE x LOGIN ENCRYPTED PASSWORD '***'",
    ),
    (
        "alter user bob password 'SCRAM-SHA-256$4096:abc=$def=:ghi='",
        "alter user bob password '***'",
    ),
    (
        r"alter user bob password E'a\'b' valid until 'infinity'",
        "alter user bob password E'***' valid until 'infinity'",
    ),
    ("ALTER USER u PASSWORD $pw$sec'ret$pw$;", "ALTER USER u PASSWORD $pw$***$pw$;"),
    ("ALTER USER u PASSWORD $$x$$", "ALTER USER u PASSWORD $$***$$"),
    ("ALTER ROLE x PASSWORD='x'", "ALTER ROLE x PASSWORD='***'"),
    ("ALTER ROLE x PASSWORD ''", "ALTER ROLE x PASSWORD '***'"),  # even an empty one
    (
        "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'remote', password 'fdw-pw')",
        "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'remote', password '***')",
    ),
    (
        "/* /* nested */ don't */ ALTER ROLE r PASSWORD 'p'",
        "/* /* nested */ don't */ ALTER ROLE r PASSWORD '***'",
    ),
    # MySQL
    (r"CREATE USER 'u'@'%' IDENTIFIED BY 'p\'w' ;", "CREATE USER 'u'@'%' IDENTIFIED BY '***' ;"),
    (r"CREATE USER u IDENTIFIED BY 'ends-with\\'", "CREATE USER u IDENTIFIED BY '***'"),
    ('CREATE USER u IDENTIFIED BY "dq-pw"', 'CREATE USER u IDENTIFIED BY "***"'),
    (
        "ALTER USER u IDENTIFIED WITH mysql_native_password BY 'x1'",
        "ALTER USER u IDENTIFIED WITH mysql_native_password BY '***'",
    ),
    (
        "ALTER USER u IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$abc'",
        "ALTER USER u IDENTIFIED WITH 'caching_sha2_password' AS '***'",
    ),
    ("SET PASSWORD FOR 'u'@'%' = 'x2'", "SET PASSWORD FOR 'u'@'%' = '***'"),
    ("SET PASSWORD = PASSWORD('x3')", "SET PASSWORD = PASSWORD('***')"),
    ("set password for app = old_password('x4')", "set password for app = old_password('***')"),
    (
        "SET PASSWORD FOR app = 'x5' REPLACE 'cur' RETAIN CURRENT PASSWORD",
        "SET PASSWORD FOR app = '***' REPLACE '***' RETAIN CURRENT PASSWORD",
    ),
    (
        "ALTER USER u IDENTIFIED BY 'new' REPLACE 'old' RETAIN CURRENT PASSWORD",
        "ALTER USER u IDENTIFIED BY '***' REPLACE '***' RETAIN CURRENT PASSWORD",
    ),
    (
        "GRANT ALL ON *.* TO u IDENTIFIED BY PASSWORD '*hash'",
        "GRANT ALL ON *.* TO u IDENTIFIED BY PASSWORD '***'",
    ),
    ("CREATE USER u IDENTIFIED BY _utf8mb4'pw'", "CREATE USER u IDENTIFIED BY _utf8mb4'***'"),
    (
        "CREATE USER a IDENTIFIED BY 'p1', b IDENTIFIED BY 'p2'",
        "CREATE USER a IDENTIFIED BY '***', b IDENTIFIED BY '***'",
    ),
    (
        "CHANGE MASTER TO MASTER_HOST='h', MASTER_USER='r', MASTER_PASSWORD='rp'",
        "CHANGE MASTER TO MASTER_HOST='h', MASTER_USER='r', MASTER_PASSWORD='***'",
    ),
    (
        "CALL mysql.rds_set_external_master('h', 3306, 'repl', 'replpw', 'bin.1', 4, 0)",
        "CALL mysql.rds_set_external_master('***', 3306, '***', '***', '***', 4, 0)",
    ),
    ("# don't\nCREATE USER a IDENTIFIED BY 'x'", "# don't\nCREATE USER a IDENTIFIED BY '***'"),
    (
        "/*!80000 CREATE USER a IDENTIFIED BY 'x' */",
        "/*!80000 CREATE USER a IDENTIFIED BY '***' */",
    ),
    ("SET @password = 'x'", "SET @password = '***'"),
    # Oracle
    (
        "CREATE USER scott IDENTIFIED BY tiger DEFAULT TABLESPACE users",
        "CREATE USER scott IDENTIFIED BY *** DEFAULT TABLESPACE users",
    ),
    ("CREATE USER scott IDENTIFIED BY t#g$r_1;", "CREATE USER scott IDENTIFIED BY ***;"),
    ('ALTER USER scott IDENTIFIED BY "Ti ger!"', 'ALTER USER scott IDENTIFIED BY "***"'),
    (
        "ALTER USER scott IDENTIFIED BY newpw REPLACE oldpw;",
        "ALTER USER scott IDENTIFIED BY *** REPLACE ***;",
    ),
    (
        'ALTER USER scott IDENTIFIED BY "n p" REPLACE "o p"',
        'ALTER USER scott IDENTIFIED BY "***" REPLACE "***"',
    ),
    ("ALTER USER scott IDENTIFIED BY password", "ALTER USER scott IDENTIFIED BY ***"),
    ("ALTER USER scott IDENTIFIED BY random", "ALTER USER scott IDENTIFIED BY ***"),
    (
        "ALTER USER scott IDENTIFIED BY VALUES 'S:ABC;T:DEF'",
        "ALTER USER scott IDENTIFIED BY VALUES '***'",
    ),
    (
        "CREATE DATABASE LINK l CONNECT TO u IDENTIFIED BY pw USING 'tns'",
        "CREATE DATABASE LINK l CONNECT TO u IDENTIFIED BY *** USING 'tns'",
    ),
    (
        "BEGIN DBMS_CREDENTIAL.CREATE_CREDENTIAL('c', 'u', 'cpw'); END;",
        "BEGIN DBMS_CREDENTIAL.CREATE_CREDENTIAL('***', '***', '***'); END;",
    ),
    # SQL Server
    (
        "CREATE LOGIN eve WITH PASSWORD = N'p''w', CHECK_POLICY = OFF",
        "CREATE LOGIN eve WITH PASSWORD = N'***', CHECK_POLICY = OFF",
    ),
    (
        "ALTER LOGIN x WITH PASSWORD = 'n' OLD_PASSWORD = 'o'",
        "ALTER LOGIN x WITH PASSWORD = '***' OLD_PASSWORD = '***'",
    ),
    (
        "CREATE LOGIN x WITH PASSWORD = 0x0200A1B2C3 HASHED, SID = 0x01",
        "CREATE LOGIN x WITH PASSWORD = 0x*** HASHED, SID = 0x01",
    ),
    ("EXEC sp_addlogin 'u', 'pw'", "EXEC sp_addlogin '***', '***'"),
    ("EXEC sys.sp_password 'old', 'new', 'u'", "EXEC sys.sp_password '***', '***', '***'"),
    (
        "EXEC sp_addlinkedsrvlogin @rmtsrvname='s', @useself='FALSE', @rmtpassword='rp'",
        "EXEC sp_addlinkedsrvlogin @rmtsrvname='***', @useself='***', @rmtpassword='***'",
    ),
    (
        "CREATE CREDENTIAL c WITH IDENTITY = 'u', SECRET = 'k3y'",
        "CREATE CREDENTIAL c WITH IDENTITY = 'u', SECRET = '***'",
    ),
    (
        "CREATE MASTER KEY ENCRYPTION BY PASSWORD = 'mk'",
        "CREATE MASTER KEY ENCRYPTION BY PASSWORD = '***'",
    ),
    (
        "CREATE APPLICATION ROLE r WITH PASSWORD = 'ar', DEFAULT_SCHEMA = dbo",
        "CREATE APPLICATION ROLE r WITH PASSWORD = '***', DEFAULT_SCHEMA = dbo",
    ),
    # several statements, comments, spacing, case
    (
        "SELECT 1; CREATE USER a IDENTIFIED BY 'x'; ALTER USER b IDENTIFIED BY 'y'",
        "SELECT 1; CREATE USER a IDENTIFIED BY '***'; ALTER USER b IDENTIFIED BY '***'",
    ),
    (
        "CREATE USER a /* c */ IDENTIFIED /* d */ BY /* e */ 'x'",
        "CREATE USER a /* c */ IDENTIFIED /* d */ BY /* e */ '***'",
    ),
    ("-- don't\nCREATE USER a IDENTIFIED BY 'x'", "-- don't\nCREATE USER a IDENTIFIED BY '***'"),
    ("iDeNtIfIeD\n\tBy\n'x'", "iDeNtIfIeD\n\tBy\n'***'"),
    ("PaSsWoRd\r\n=\r\n'x'", "PaSsWoRd\r\n=\r\n'***'"),
    (
        "-- ALTER ROLE r PASSWORD 'in-a-comment'\nSELECT 1",
        "-- ALTER ROLE r PASSWORD '***'\nSELECT 1",
    ),
    # unterminated literals mask to the end
    ("ALTER ROLE x PASSWORD 'abc", "ALTER ROLE x PASSWORD '***"),
    ("CREATE USER u IDENTIFIED BY 'abc'' more text", "CREATE USER u IDENTIFIED BY '***"),
    ("ALTER USER u PASSWORD $q$never closed", "ALTER USER u PASSWORD $q$***"),
    # connection strings
    (
        "SELECT dblink_connect('host=h user=u password=s3cr3t dbname=d')",
        "SELECT dblink_connect('host=h user=u password=*** dbname=d')",
    ),
    (
        "SELECT * FROM dblink('postgresql://u:p4ss@h/db', 'select 1')",
        "SELECT * FROM dblink('postgresql://u:***@h/db', 'select 1')",
    ),
    (
        "SELECT * FROM OPENROWSET('SQLNCLI', 'Server=s;Uid=u;Pwd=odbc-pw;', 'SELECT 1')",
        "SELECT * FROM OPENROWSET('SQLNCLI', 'Server=s;Uid=u;Pwd=***;', 'SELECT 1')",
    ),
]


@pytest.mark.parametrize(("sql", "expected"), CASES)
def test_adversarial_sql(sql: str, expected: str) -> None:
    assert redact_sql(sql) == expected
    assert redact_sql(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT password FROM users",
        "SELECT 'password'",
        "SELECT * FROM t WHERE password_changed_at > '2024-01-01'",
        "ALTER ROLE x PASSWORD NULL",
        "CREATE USER u IDENTIFIED BY RANDOM PASSWORD",
        "CREATE USER u IDENTIFIED EXTERNALLY",
        "ALTER USER u PASSWORD EXPIRE INTERVAL 90 DAY",
        "CREATE PROFILE p LIMIT PASSWORD_LIFE_TIME 90",
        "ALTER USER u IDENTIFIED WITH auth_socket",
        "select * from my_table;",
        "UPDATE `t` SET `contents` = '666' WHERE (`idx` = '2')",
        "",
    ],
)
def test_sql_without_secret_is_unchanged(sql: str) -> None:
    assert redact_sql(sql) == sql


@pytest.mark.parametrize("value", [None, 42, b"PASSWORD 'x'", ["a"]])
def test_non_text_passes_through(value: object) -> None:
    assert redact_sql(value) is value  # type: ignore[arg-type]


def test_needs_redaction_is_the_cheap_gate() -> None:
    assert not needs_redaction("SELECT * FROM orders WHERE id = 1")
    assert needs_redaction("alter role x PASSWORD 'y'")
    assert needs_redaction("x IDENTIFIED by y")


# --- events ---------------------------------------------------------------------------------------


def _event(engine: str, **fields) -> dict:
    raw = base_event(engine)
    raw.update(fields)
    return normalize(raw, cluster_id="cluster-X", instance_id="db-Y")


def test_redact_event_masks_sql_fields_and_keeps_the_rest() -> None:
    event = _event(
        "postgres",
        **{"class": "ROLE"},
        command="ALTER ROLE",
        commandText="ALTER ROLE app PASSWORD 'hunter2'",
        errorMessage="syntax error at or near \"PASSWORD 'hunter2'\"",
        paramList=["alice@example.com", "42"],
    )
    original = copy.deepcopy(event)

    out = redact_event(event)

    assert out["commandText"] == "ALTER ROLE app PASSWORD '***'"
    assert out["das"]["sql"] == "ALTER ROLE app PASSWORD '***'"
    assert "hunter2" not in repr(out)
    assert out["paramList"] == [PARAM_MASK, PARAM_MASK]  # count kept, values gone
    assert out["dbUserName"] == "app" and out["das"]["action"] == "ROLE"
    assert {
        k: v for k, v in out.items() if k not in ("commandText", "errorMessage", "das", "paramList")
    } == {
        k: v
        for k, v in original.items()
        if k not in ("commandText", "errorMessage", "das", "paramList")
    }
    assert event == original  # the input is not touched


def test_params_dropped_by_default_kept_on_request() -> None:
    event = _event("postgres", commandText="select * from t where email = $1", paramList=["a@b.c"])
    assert redact_event(event)["paramList"] == [PARAM_MASK]
    assert redact_event(event, keep_params=True)["paramList"] == ["a@b.c"]
    empty = _event("postgres", paramList=[])
    assert redact_event(empty)["paramList"] == []
    assert redact_event(_event("mysql"))["paramList"] is None


def test_keep_params_still_drops_binds_of_a_password_statement() -> None:
    event = _event("postgres", commandText="ALTER ROLE app PASSWORD $1", paramList=["pw"])
    assert redact_event(event, keep_params=True)["paramList"] == [PARAM_MASK]


def test_engine_native_fields_redacted_and_binds_dropped() -> None:
    event = _event(
        "oracle",
        commandText=None,
        engineNativeAuditFields={
            "SQL_TEXT": "ALTER USER SCOTT IDENTIFIED BY tiger",
            "SQL_BINDS": " #1(5):secret",
            "OS_USERNAME": "jdoe",
            "N": 3,
        },
    )
    native = redact_event(event)["engineNativeAuditFields"]
    assert native == {
        "SQL_TEXT": "ALTER USER SCOTT IDENTIFIED BY ***",
        "SQL_BINDS": PARAM_MASK,
        "OS_USERNAME": "jdoe",
        "N": 3,
    }


def test_unknown_string_fields_are_redacted_too() -> None:
    event = {"commandText": "SELECT 1", "someNewAwsField": "CREATE LOGIN a WITH PASSWORD = 'p'"}
    assert redact_event(event)["someNewAwsField"] == "CREATE LOGIN a WITH PASSWORD = '***'"


def test_redact_event_without_secrets_keeps_values() -> None:
    event = _event("mysql")
    out = redact_event(event)
    assert out == event and out is not event
    assert out["das"] is event["das"]  # nothing to change: not copied


def test_mask_constant() -> None:
    assert MASK == "***"


@pytest.mark.parametrize(
    ("sql", "secret"),
    [
        ("ALTER ROLE x PASSWORD '" + "s" * 100_000, "s" * 10),
        ("/*" * 5_000 + " ALTER ROLE x PASSWORD 'pw-in-nest'", "pw-in-nest"),
        ("SET PASSWORD = PASSWORD('pw-call') " + "PASSWORD(" * 2_000, "pw-call"),
        ("EXEC sp_addlogin 'u', 'pw-proc' " + "sp_addlogin 'a' " * 2_000, "pw-proc"),
        ("IDENTIFIED/**/BY/**/pwbare/**/" * 1_000, "pwbare"),
        ("password '" + "\\" * 50_001, "\\" * 10),
    ],
)
def test_adversarial_sizes_still_masked(sql: str, secret: str) -> None:
    """Large hostile inputs (the work stays linear: see the bounds in redact.py)."""
    assert secret not in redact_sql(sql)


def test_password_keyword_then_comment_then_literal() -> None:
    assert (
        redact_sql("ALTER ROLE r PASSWORD -- why\n 'x'") == "ALTER ROLE r PASSWORD -- why\n '***'"
    )
