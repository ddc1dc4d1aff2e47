"""das.action / das.failed / das.errorCode per engine: failed logins in every reported shape,
MySQL MAIN QUERY categorised from its SQL, AUX rows, SQL Server's inverted exit code."""

from __future__ import annotations

import pytest

from engine.events import base_event, normalize


def das(engine: str, **fields) -> dict:
    raw = base_event(engine)
    raw.update(fields)
    return normalize(raw, cluster_id="cluster-X", instance_id="db-Y")["das"]


# --- failed logins -----------------------------------------------------------------------------

PG_FAILED_LOGINS = [
    pytest.param({"command": "AUTH FAILURE", "class": "MISC"}, None, id="auth-failure-command"),
    pytest.param({"command": "CONNECT", "exitCode": "28P01"}, "28P01", id="28P01"),
    pytest.param({"command": "CONNECT", "exitCode": "28000"}, "28000", id="28000"),
    pytest.param(
        {"command": "CONNECT", "errorMessage": 'password authentication failed for user "app"'},
        None,
        id="message-only",
    ),
    pytest.param(
        {"command": "MISC", "class": "MISC", "exitCode": "28P01"}, "28P01", id="sqlstate-any-cmd"
    ),
    pytest.param(
        {"command": "CONNECT", "errorMessage": 'no pg_hba.conf entry for host "1.2.3.4"'},
        None,
        id="pg_hba",
    ),
]


@pytest.mark.parametrize(("fields", "code"), PG_FAILED_LOGINS)
def test_postgres_failed_login_shapes(fields: dict, code: str | None) -> None:
    got = das("postgres", commandText=None, **fields)
    assert (got["action"], got["failed"], got["errorCode"]) == ("LOGIN_FAILED", True, code)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        pytest.param(
            {"command": "FAILED_CONNECT", "exitCode": "1045"}, "1045", id="failed-connect"
        ),
        pytest.param({"command": "CONNECT", "exitCode": "1045"}, "1045", id="connect-1045"),
        pytest.param({"command": "CONNECT", "exitCode": 1045}, "1045", id="errno-as-number"),
        pytest.param({"command": "FAILED_CONNECT", "exitCode": "0"}, None, id="command-only"),
    ],
)
def test_mysql_failed_login_shapes(fields: dict, code: str | None) -> None:
    got = das("mysql", commandText="", **fields)
    assert (got["action"], got["failed"], got["errorCode"]) == ("LOGIN_FAILED", True, code)


@pytest.mark.parametrize("exit_code", [1017, "1017", 28000, "ORA-01017"])
def test_oracle_logon_with_error_is_failed_login(exit_code: object) -> None:
    got = das("oracle", command="LOGON", commandText=None, exitCode=exit_code)
    assert (got["action"], got["failed"]) == ("LOGIN_FAILED", True)
    assert got["errorCode"] == str(exit_code)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"class": "LOGIN", "command": "LOGIN FAILED", "exitCode": 0}, id="sample"),
        pytest.param({"class": "LOGIN", "command": "LOGIN FAILED", "exitCode": 1}, id="cmd-wins"),
        pytest.param({"class": "LOGIN", "command": "LOGIN SUCCEEDED", "exitCode": 0}, id="exit0"),
        pytest.param({"class": "LOGIN", "command": "LOGIN FAILED", "exitCode": "0"}, id="str"),
    ],
)
def test_sqlserver_failed_login_shapes(fields: dict) -> None:
    got = das("sqlserver", commandText="Login failed for user 'app'.", **fields)
    assert (got["action"], got["failed"], got["verb"], got["sql"]) == (
        "LOGIN_FAILED",
        True,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("engine", "fields"),
    [
        ("postgres", {"command": "CONNECT", "class": "MISC", "commandText": None}),
        ("mysql", {"command": "CONNECT", "exitCode": "0", "commandText": ""}),
        ("oracle", {"command": "LOGON", "exitCode": 0, "commandText": None}),
        ("sqlserver", {"class": "LOGIN", "command": "LOGIN SUCCEEDED", "exitCode": 1}),
    ],
)
def test_successful_logins_are_connect(engine: str, fields: dict) -> None:
    got = das(engine, **fields)
    assert (got["action"], got["failed"], got["errorCode"]) == ("CONNECT", False, None)


@pytest.mark.parametrize(
    ("engine", "fields"),
    [
        ("postgres", {"command": "DISCONNECT", "class": "MISC", "commandText": None}),
        ("mysql", {"command": "DISCONNECT", "commandText": ""}),
        ("oracle", {"command": "LOGOFF", "commandText": None}),
        ("oracle", {"command": "LOGOFF BY CLEANUP", "commandText": None}),
        ("sqlserver", {"class": "LOGIN", "command": "LOGOUT", "commandText": ""}),
    ],
)
def test_disconnects(engine: str, fields: dict) -> None:
    assert das(engine, **fields)["action"] == "DISCONNECT"


# --- MySQL: MAIN QUERY categorised from SQL; AUX rows ------------------------------------------


@pytest.mark.parametrize(
    ("sql", "action", "verb"),
    [
        ("GRANT SELECT ON db.* TO 'app'@'%'", "ROLE", "GRANT"),
        ("REVOKE ALL ON *.* FROM app", "ROLE", "REVOKE"),
        ("CREATE USER 'eve'@'%' IDENTIFIED BY 'x'", "ROLE", "CREATE USER"),
        ("ALTER USER app IDENTIFIED BY 'x'", "ROLE", "ALTER USER"),
        ("DROP USER eve", "ROLE", "DROP USER"),
        ("RENAME USER a TO b", "ROLE", "RENAME USER"),
        ("SET PASSWORD FOR app = 'x'", "ROLE", "SET PASSWORD"),
        ("set default role all to app", "ROLE", "SET DEFAULT ROLE"),
        ("CREATE ROLE auditor", "ROLE", "CREATE ROLE"),
        ("CREATE TABLE t (id int)", "DDL", "CREATE TABLE"),
        ("create temporary table t (id int)", "DDL", "CREATE TABLE"),
        ("ALTER TABLE t ADD c int", "DDL", "ALTER TABLE"),
        ("DROP TABLE IF EXISTS t", "DDL", "DROP TABLE"),
        ("RENAME TABLE a TO b", "DDL", "RENAME TABLE"),
        ("CREATE DEFINER=`root`@`%` PROCEDURE p() BEGIN END", "DDL", "CREATE PROCEDURE"),
        (
            "/*!50003 CREATE*/ /*!50017 DEFINER=`u`@`%`*/ /*!50003 TRIGGER t",
            "DDL",
            "CREATE TRIGGER",
        ),
        ("SELECT * FROM t", "READ", "SELECT"),
        ("(SELECT 1) UNION (SELECT 2)", "READ", "SELECT"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "READ", "WITH"),
        ("INSERT INTO t VALUES (1)", "WRITE", "INSERT"),
        ("UPDATE t SET a = 1", "WRITE", "UPDATE"),
        ("DELETE FROM t", "WRITE", "DELETE"),
        ("REPLACE INTO t VALUES (1)", "WRITE", "REPLACE"),
        ("TRUNCATE TABLE t", "WRITE", "TRUNCATE TABLE"),
        ("LOAD DATA INFILE 'x' INTO TABLE t", "WRITE", "LOAD DATA"),
        ("CALL p()", "FUNCTION", "CALL"),
        ("SET autocommit=1", "MISC", "SET"),
        ("SHOW TABLES", "MISC", "SHOW"),
        ("# hello\nGRANT ALL ON *.* TO x", "ROLE", "GRANT"),
        ("", "MISC", None),
        ("   ", "MISC", None),
        ("42", "MISC", None),
    ],
)
def test_mysql_main_query_action_from_sql(sql: str, action: str, verb: str | None) -> None:
    got = das("mysql", **{"class": "MAIN", "command": "QUERY", "commandText": sql})
    assert (got["action"], got["verb"], got["aux"]) == (action, verb, False)


@pytest.mark.parametrize(
    ("command", "action"),
    [
        ("READ", "READ"),
        ("WRITE", "WRITE"),
        ("CREATE", "DDL"),
        ("DROP", "DDL"),
        ("ALTER", "DDL"),
        ("RENAME", "DDL"),
        ("SOMETHING_NEW", "MISC"),
    ],
)
def test_mysql_aux_rows(command: str, action: str) -> None:
    got = das(
        "mysql", **{"class": "AUX", "command": command, "commandText": "test1", "exitCode": ""}
    )
    assert (got["action"], got["aux"], got["sql"], got["verb"], got["failed"]) == (
        action,
        True,
        None,  # AUX commandText is the object name, not SQL
        None,
        False,  # AUX rows carry exitCode ""
    )


def test_mysql_query_errno_is_failed_not_login() -> None:
    got = das("mysql", command="QUERY", commandText="SELEC 1", exitCode="1064")
    assert (got["action"], got["failed"], got["errorCode"]) == ("MISC", True, "1064")


# --- PostgreSQL classes, Oracle actions, SQL Server commands -----------------------------------


@pytest.mark.parametrize(
    ("cls", "command", "sql", "action"),
    [
        ("DDL", "CREATE TABLE", "create table t (i int)", "DDL"),
        ("ROLE", "ALTER ROLE", "alter role app password 'x'", "ROLE"),
        ("ROLE", "GRANT", "grant select on t to app", "ROLE"),
        ("READ", "SELECT", "select 1", "READ"),
        ("WRITE", "INSERT", "insert into t values (1)", "WRITE"),
        ("FUNCTION", "DO", "do $$ begin end $$", "FUNCTION"),
        ("MISC", "SET", "set search_path = x", "MISC"),
        ("MISC_SET", "SET", "set time zone 'UTC'", "MISC"),
        # identity changes are ROLE although pgaudit files them under MISC
        ("MISC_SET", "SET", "set role x", "ROLE"),
        ("MISC", "SET", "SET SESSION AUTHORIZATION postgres", "ROLE"),
        ("MISC", "SET", "SET SESSION statement_timeout = 0", "MISC"),
        ("ALL", "CREATE ROLE", "create role eve", "ROLE"),  # unknown class: command tag decides
        ("", "SELECT", "select 1", "READ"),
        (None, "???", "drop table t", "DDL"),  # then the SQL
    ],
)
def test_postgres_class_and_fallbacks(cls, command, sql, action) -> None:
    assert das("postgres", **{"class": cls, "command": command, "commandText": sql})["action"] == (
        action
    )


def test_postgres_error_sqlstates() -> None:
    assert das("postgres", exitCode="42501")["failed"] is True  # insufficient privilege
    assert das("postgres", exitCode="42501")["errorCode"] == "42501"
    assert das("postgres", exitCode="01000")["failed"] is False  # a warning is not a failure
    assert das("postgres", exitCode=None, errorMessage=None)["failed"] is False
    assert das("postgres", errorMessage="permission denied for table t")["failed"] is True


@pytest.mark.parametrize(
    ("command", "sql", "action", "verb"),
    [
        ("CREATE TABLE", "CREATE TABLE HR.T (ID NUMBER)", "DDL", "CREATE TABLE"),
        ("CREATE USER", "CREATE USER EVE IDENTIFIED BY pw", "ROLE", "CREATE USER"),
        ("ALTER USER", None, "ROLE", "ALTER USER"),  # no SQL: the action name is the verb
        ("GRANT", "GRANT DBA TO EVE", "ROLE", "GRANT"),
        ("SYSTEM GRANT", None, "ROLE", "SYSTEM GRANT"),
        ("SELECT", None, "READ", "SELECT"),
        ("TRUNCATE TABLE", None, "WRITE", "TRUNCATE TABLE"),
        ("EXECUTE", "BEGIN P; END;", "FUNCTION", "BEGIN"),
        ("ALTER SESSION", None, "MISC", "ALTER SESSION"),
    ],
)
def test_oracle_actions(command, sql, action, verb) -> None:
    got = das("oracle", command=command, commandText=sql)
    assert (got["action"], got["verb"], got["failed"]) == (action, verb, False)


@pytest.mark.parametrize(
    ("cls", "command", "sql", "action"),
    [
        ("TABLE", "SELECT", "SELECT * FROM t", "READ"),
        ("TABLE", "INSERT", "INSERT INTO t VALUES (1)", "WRITE"),
        ("SCHEMA", "ALTER", "Create table t (a int)", "DDL"),
        ("DATABASE", "CREATE", "CREATE DATABASE d", "DDL"),
        ("LOGIN", "CREATE", "CREATE LOGIN eve WITH PASSWORD = 'x'", "ROLE"),
        ("SQL LOGIN", "ALTER", "ALTER LOGIN eve ENABLE", "ROLE"),
        ("SERVER ROLE", "ADD MEMBER", "ALTER SERVER ROLE sysadmin ADD MEMBER eve", "ROLE"),
        ("DATABASE", "ALTER", "ALTER USER eve WITH DEFAULT_SCHEMA = dbo", "ROLE"),
        ("OBJECT", "GRANT", "GRANT SELECT ON t TO eve", "ROLE"),
        ("OBJECT", "EXECUTE", "EXEC dbo.p", "FUNCTION"),
        ("OBJECT", "EXECUTE", "EXEC sp_addsrvrolemember 'eve', 'sysadmin'", "ROLE"),
        ("DATABASE", "BATCH COMPLETED", "exec master..sp_addrolemember 'db_owner', 'eve'", "ROLE"),
        ("DATABASE", "BATCH COMPLETED", "DELETE FROM t", "WRITE"),
        ("DATABASE ROLE", "SOMETHING NEW", None, "ROLE"),  # role and permission classes
        ("SERVER_ROLE", "ADD MEMBER", "ALTER SERVER ROLE sysadmin ADD MEMBER [eve]", "ROLE"),
    ],
)
def test_sqlserver_actions(cls, command, sql, action) -> None:
    got = das("sqlserver", **{"class": cls, "command": command, "commandText": sql, "exitCode": 1})
    assert (got["action"], got["failed"]) == (action, False)


def test_sqlserver_exit_code_zero_is_failure() -> None:
    got = das("sqlserver", command="SELECT", exitCode=0)
    assert (got["action"], got["failed"]) == ("READ", True)
    assert das("sqlserver", command="SELECT", exitCode=None)["failed"] is False


def test_unknown_engine_still_gets_an_action() -> None:
    got = normalize({"command": "LOGIN FAILED", "dbUserName": "x"})["das"]
    assert (got["engine"], got["action"], got["failed"]) == ("sqlserver", "LOGIN_FAILED", True)
    got = normalize({"command": "QUERY", "commandText": "DROP TABLE t"})["das"]
    assert (got["engine"], got["action"], got["verb"]) == (None, "DDL", "DROP TABLE")
