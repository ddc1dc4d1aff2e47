"""das.verb extraction (comments, modifiers, the prefix cache) and logTime parsing."""

from __future__ import annotations

import pytest

from engine.events.sqlverb import _PREFIX, extract_verb, verb_action
from engine.events.timeparse import parse_log_time


@pytest.mark.parametrize(
    ("sql", "verb"),
    [
        ("select 1", "SELECT"),
        ("  \n\tSELECT*FROM t", "SELECT"),
        ("-- leading comment\nCREATE TABLE t (i int)", "CREATE TABLE"),
        ("/* block */ALTER ROLE app WITH LOGIN", "ALTER ROLE"),
        ("/* multi\nline */ -- and line\n  /**/ drop index i", "DROP INDEX"),
        ("/* unterminated comment", None),
        ("CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE VIEW"),
        ("CREATE UNIQUE INDEX i ON t (a)", "CREATE INDEX"),
        ("create global temporary table t (a int)", "CREATE TABLE"),
        ("CREATE MATERIALIZED VIEW mv AS SELECT 1", "CREATE MATERIALIZED VIEW"),
        ("CREATE OR REPLACE PACKAGE BODY p AS", "CREATE PACKAGE BODY"),
        ("CREATE PUBLIC DATABASE LINK l CONNECT TO", "CREATE DATABASE LINK"),
        ("CREATE DATABASE d", "CREATE DATABASE"),
        ("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO r", "ALTER DEFAULT PRIVILEGES"),
        ("CREATE USER MAPPING FOR app SERVER s", "CREATE USER MAPPING"),
        ("ALTER SERVER ROLE sysadmin ADD MEMBER eve", "ALTER SERVER ROLE"),
        ("CREATE ALGORITHM=MERGE DEFINER=`a`@`%` SQL SECURITY INVOKER VIEW v", "CREATE VIEW"),
        ("GRANT ALL ON t TO u", "GRANT"),
        ("SET PASSWORD = 'x'", "SET PASSWORD"),
        ("SET search_path TO x", "SET"),
        ("TRUNCATE t", "TRUNCATE"),
        ("TRUNCATE TABLE t", "TRUNCATE TABLE"),
        ("((select 1))", "SELECT"),
        ("CREATE", "CREATE"),
        ("CREATE (", "CREATE"),
        ("", None),
        ("   ", None),
        ("123abc", None),
        (";", None),
        ("'literal'", None),
    ],
)
def test_extract_verb(sql: str, verb: str | None) -> None:
    assert extract_verb(sql) == verb


def test_hash_comments_only_in_mysql_mode() -> None:
    sql = "# note\nDROP TABLE t"
    assert extract_verb(sql, mysql=True) == "DROP TABLE"
    assert extract_verb(sql) is None  # '#' starts no statement elsewhere


def test_mysql_executable_comment_is_read_as_sql() -> None:
    assert extract_verb("/*!40101 SET NAMES utf8 */", mysql=True) == "SET"
    assert extract_verb("/*!40101 SET NAMES utf8 */") is None  # a plain comment elsewhere


def test_cache_never_returns_a_verb_decided_past_the_prefix() -> None:
    """Two texts with the same first _PREFIX characters but different verbs."""
    pad = "/*" + "x" * (_PREFIX) + "*/ "
    assert extract_verb(pad + "SELECT 1") == "SELECT"
    assert extract_verb(pad + "DROP TABLE t") == "DROP TABLE"
    head = "CREATE" + " " * (_PREFIX - 6)
    assert extract_verb(head + "TABLE t") == "CREATE TABLE"
    assert extract_verb(head + "USER u") == "CREATE USER"
    # and a cached short statement still answers correctly for longer text with its prefix
    assert extract_verb("SELECT a FROM t") == "SELECT"
    assert extract_verb("SELECT a FROM t WHERE x = 1") == "SELECT"


@pytest.mark.parametrize(
    ("verb", "action"),
    [
        ("CREATE LOGIN", "ROLE"),
        ("ALTER APPLICATION ROLE", "ROLE"),
        ("CREATE GROUP", "ROLE"),
        ("CREATE SCHEMA", "DDL"),
        ("COMMENT", "DDL"),
        ("ALTER SYSTEM", "DDL"),
        ("EXEC", "FUNCTION"),
        ("DECLARE", "FUNCTION"),
        ("COPY", "WRITE"),
        ("MERGE", "WRITE"),
        ("BEGIN", "MISC"),
        ("VACUUM", "MISC"),
        ("", "MISC"),
        (None, "MISC"),
        (42, "MISC"),
    ],
)
def test_verb_action(verb: object, action: str) -> None:
    assert verb_action(verb) == action


@pytest.mark.parametrize(
    ("value", "iso", "epoch"),
    [
        # Aurora PostgreSQL: +00 offset
        ("2019-10-30 00:39:49.990579+00", "2019-10-30T00:39:49.990579Z", 1572395989.990579),
        # Aurora MySQL: the same form
        ("2020-05-22 18:07:13.267214+00", "2020-05-22T18:07:13.267214Z", 1590170833.267214),
        # RDS for Oracle: no offset, UTC
        ("2021-01-15 00:15:36.233787", "2021-01-15T00:15:36.233787Z", 1610669736.233787),
        # RDS for SQL Server: 7 fractional digits (the 7th is below a microsecond)
        ("2022-10-06 21:44:38.4120677+00", "2022-10-06T21:44:38.412067Z", 1665092678.412067),
        # hand-written test events
        ("2024-03-01T12:00:00Z", "2024-03-01T12:00:00.000000Z", 1709294400.0),
        ("2024-03-01 14:00:00+02:00", "2024-03-01T12:00:00.000000Z", 1709294400.0),
        ("2024-03-01", "2024-03-01T00:00:00.000000Z", 1709251200.0),
    ],
)
def test_parse_log_time_forms(value: str, iso: str, epoch: float) -> None:
    got_iso, got_epoch = parse_log_time(value)
    assert got_iso == iso
    assert got_epoch == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "yesterday",
        "2024-13-01 00:00:00",
        1700000000,
        17.5,
        True,
        [],
        {},
        "0001-01-01 00:00:00+05",
    ],
)
def test_unparsable_time_is_none(value: object) -> None:
    assert parse_log_time(value) == (None, None)
