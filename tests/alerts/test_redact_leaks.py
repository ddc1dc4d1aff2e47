"""Credential shapes outside the classic ``PASSWORD '…'`` forms: typed variables, dynamic SQL built
by ``format``/concatenation, positional credential functions, ODBC braces, environment
variables, quoted option names, error prose. Each statement carries a secret that must not
survive ``redact_sql``, nor ``redact_event`` in any field (the secret may be repeated in the
engine's error message)."""

from __future__ import annotations

import pytest

from engine.alerts.redact import redact_event, redact_sql
from engine.events import base_event, normalize

AWS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# (id, engine, statement, secret)
LEAKS = [
    (
        "ms20",
        "sqlserver",
        "DECLARE @password NVARCHAR(128) = N'MsPw20_s3cr'; "
        "EXEC('CREATE LOGIN x WITH PASSWORD = ''' + @password + '''')",
        "MsPw20_s3cr",
    ),
    ("ms21", "sqlserver", "DECLARE @pwd sysname = 'MsPw21_s3cr'", "MsPw21_s3cr"),
    (
        "or15",
        "oracle",
        "DECLARE v_password VARCHAR2(30) := 'OrPw15_s3cr'; BEGIN "
        "EXECUTE IMMEDIATE 'ALTER USER app IDENTIFIED BY ' || v_password; END;",
        "OrPw15_s3cr",
    ),
    (
        "pg28",
        "postgres",
        "CREATE FUNCTION f() RETURNS void AS $fn$ DECLARE v_password text := 'PgPw28_s3cr'; "
        "BEGIN EXECUTE 'ALTER ROLE r PASSWORD ' || quote_literal(v_password); END $fn$ "
        "LANGUAGE plpgsql",
        "PgPw28_s3cr",
    ),
    (
        "my26",
        "mysql",
        "CREATE PROCEDURE p() BEGIN DECLARE v_password VARCHAR(64) DEFAULT 'MyPw26_s3cr'; "
        "SET @s = CONCAT('ALTER USER u IDENTIFIED BY ''', v_password, ''''); END",
        "MyPw26_s3cr",
    ),
    (
        "pg17",
        "postgres",
        "DO $body$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', 'c', 'PgPw17_s3cr'); "
        "END $body$",
        "PgPw17_s3cr",
    ),
    (
        "pg18",
        "postgres",
        "DO $$ BEGIN EXECUTE 'ALTER ROLE c PASSWORD ' || quote_literal('PgPw18_s3cr'); END $$",
        "PgPw18_s3cr",
    ),
    (
        "my24",
        "mysql",
        "SET @s = CONCAT('ALTER USER u IDENTIFIED BY ''', 'MyPw24_s3cr', '''')",
        "MyPw24_s3cr",
    ),
    (
        "my22",
        "mysql",
        "ALTER USER u IDENTIFIED BY RANDOM PASSWORD REPLACE 'MyPw22_cur'",
        "MyPw22_cur",
    ),
    ("my23", "mysql", "SET PASSWORD FOR 'u'@'%' TO RANDOM REPLACE 'MyPw23_cur'", "MyPw23_cur"),
    (
        "ms17",
        "sqlserver",
        "SELECT * FROM OPENROWSET('MSOLEDBSQL', "
        "'Server=h;UID=sa;PWD={MsPw17;with;semicolons};', 'select 1')",
        "with;semicolons",
    ),
    (
        "ms18",
        "sqlserver",
        "EXEC sp_addlinkedserver @server = N'L', @srvproduct = N'', @provider = N'MSOLEDBSQL', "
        "@provstr = N'Server=h;UID=sa;PWD={MsPw18 s3cr};'",
        "Pw18 s3cr",
    ),
    (
        "pg26",
        "postgres",
        "COPY t FROM PROGRAM 'PGPASSWORD=PgPw26_s3cr psql -h 10.0.0.9 -U u -c \"select 1\"'",
        "PgPw26_s3cr",
    ),
    (
        "pg25",
        "postgres",
        "CREATE USER MAPPING FOR app SERVER s OPTIONS (\"user\" 'remote', "
        "\"password\" 'PgPw25_s3cr')",
        "PgPw25_s3cr",
    ),
    ("pg29", "postgres", "SET app.password TO 'PgPw29_s3cr'", "PgPw29_s3cr"),
    (
        "pg30",
        "postgres",
        "SELECT set_config('app.password', 'PgPw30_s3cr', false)",
        "PgPw30_s3cr",
    ),
    (
        "my25",
        "mysql",
        "UPDATE mysql.user SET authentication_string = "
        "'*94BDCEBE19083CE2A1F959FD02F964C7AF4CF025' WHERE user = 'u'",
        "94BDCEBE19083CE2A1F959FD02F964C7AF4CF025",
    ),
    (
        "or14",
        "oracle",
        "BEGIN DBMS_CREDENTIAL.UPDATE_CREDENTIAL(credential_name => 'C', "
        "attribute => 'password', value => 'OrPw14_s3cr'); END;",
        "OrPw14_s3cr",
    ),
    (
        "pg27",
        "postgres",
        f"SELECT aws_commons.create_aws_credentials('AKIAIOSFODNN7EXAMPLE', '{AWS_KEY}', '')",
        AWS_KEY,
    ),
    (
        "or16",
        "oracle",
        "BEGIN UTL_HTTP.SET_AUTHENTICATION(r, 'svc', 'OrPw16_s3cr'); END;",
        "OrPw16_s3cr",
    ),
    (
        "aws-kv",
        "postgres",
        f"SELECT aws_s3.query_export_to_s3('select 1', 'b', "
        f"options := 'aws_secret_access_key={AWS_KEY}')",
        AWS_KEY,
    ),
    (
        "aws-bare",
        "postgres",
        f"SELECT 'AKIAIOSFODNN7EXAMPLE', '{AWS_KEY}'",
        AWS_KEY,
    ),
    (
        "odbc-conn",
        "sqlserver",
        "SELECT * FROM OPENDATASOURCE('MSOLEDBSQL', "
        "'Data Source=h;User ID=sa;Password={a}}b;c d};')",
        "a}}b;c d",
    ),
    (
        "conn-top-level",
        "postgres",
        "host=db.internal port=5432 user=app password=Conn_s3cr dbname=x",
        "Conn_s3cr",
    ),
    (
        "my29",
        "mysql",
        "SET @q = 'My29_s3cr'; CREATE USER u IDENTIFIED BY @q",
        "My29_s3cr",
    ),
    (
        "ms-var",
        "sqlserver",
        "DECLARE @q sysname = 'MsVar_s3cr'; CREATE LOGIN l WITH PASSWORD = @q",
        "MsVar_s3cr",
    ),
    (
        "plpgsql-assign",
        "postgres",
        "DO $$ DECLARE v_pwd text; BEGIN v_pwd := 'PgAssign_s3cr'; END $$",
        "PgAssign_s3cr",
    ),
]


@pytest.mark.parametrize(
    ("sql", "secret"), [(sql, secret) for _, _, sql, secret in LEAKS], ids=[c[0] for c in LEAKS]
)
def test_secret_shape_is_masked(sql: str, secret: str) -> None:
    out = redact_sql(sql)
    assert secret not in out, out
    assert "***" in out


# The whole value, where the case above checks the part that used to leak.
WHOLE = {"ms17": "MsPw17;with;semicolons", "ms18": "MsPw18 s3cr"}


@pytest.mark.parametrize(
    ("engine", "sql", "secret"),
    [(engine, sql, WHOLE.get(id_, secret)) for id_, engine, sql, secret in LEAKS],
    ids=[c[0] for c in LEAKS],
)
def test_secret_shape_is_masked_in_every_field_of_the_event(
    engine: str, sql: str, secret: str
) -> None:
    raw = base_event(engine)
    raw.update(commandText=sql, errorMessage=f"syntax error near {secret!r} at line 1")
    out = redact_event(normalize(raw))
    assert secret not in repr(out), out
    assert out["errorMessage"].startswith("syntax error near")


def test_error_prose_quoting_a_masked_secret_is_masked_too() -> None:
    """MySQL quotes a fragment of the statement without its keyword; the fragment is masked
    because the same secret was masked in ``commandText``."""
    raw = base_event("mysql")
    raw.update(
        commandText="CREATE USER u IDENTIFIED BY 'MyPw27_s3cr' PASSWORD EXPIRE NEVR",
        errorMessage="You have an error in your SQL syntax; check the manual that corresponds "
        "to your MySQL server version for the right syntax to use near "
        "'IDENTIFIED BY 'MyPw27_s3cr' PASSWORD EXPIRE NEVR' at line 1",
    )
    out = redact_event(normalize(raw))
    assert "MyPw27_s3cr" not in repr(out)
    assert out["errorMessage"].startswith("You have an error in your SQL syntax")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT format('%s has %L', name, 'x') FROM t",
        "SELECT set_config('search_path', 'app, public', false)",
        "DECLARE @count INT = 42",
        "SELECT 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef' AS sha1",
        "CREATE TABLE users (id int, password_hash text NOT NULL)",
        "SELECT * FROM t WHERE region = 'Asia/Tokyo'",
    ],
)
def test_lookalikes_without_secret_are_unchanged(sql: str) -> None:
    assert redact_sql(sql) == sql
