"""SQL Server audits DDL on a schema's objects as a permission check on the *schema*.

AWS's own sample (``real_events/aws-rds-docs-sqlserver-create-table.json``) is ``CREATE TABLE
[testDB].[dbo].[TestTable2]`` recorded as ``class SCHEMA``, ``command ALTER``, ``objectName
dbo``. These events are that sample with the statement changed, so they keep every other field
SQL Server writes; ``das.object`` must name the table (schema-qualified) and ``das.schema`` the
schema, or titles and dedup keys say "dbo" for every table created.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.events import normalize
from engine.events.sqlverb import extract_verb, tsql_ddl_object

SAMPLE = (
    Path(__file__).resolve().parent / "real_events" / "aws-rds-docs-sqlserver-create-table.json"
)


def _event(sql: str | None, *, cls: str = "SCHEMA", command: str = "ALTER", obj: str = "dbo"):
    raw = copy.deepcopy(
        json.loads(SAMPLE.read_text(encoding="utf-8"))["databaseActivityEventList"][0]
    )
    raw.update({"commandText": sql, "class": cls, "command": command, "objectName": obj})
    return normalize(raw)["das"]


@pytest.mark.parametrize(
    ("sql", "obj", "expected"),
    [
        # the sample itself, and the forms SSMS and scripts write
        (
            "Create table [testDB].[dbo].[TestTable2](\r\ntextA varchar(6000))",
            "dbo",
            "dbo.TestTable2",
        ),
        ("CREATE TABLE dbo.payroll (id int)", "dbo", "dbo.payroll"),
        ("create table payroll (id int)", "dbo", "dbo.payroll"),  # unqualified: AWS's schema
        ("CREATE TABLE sales.orders (id int)", "sales", "sales.orders"),
        ('CREATE TABLE "sales"."order lines" (id int)', "sales", "sales.order lines"),
        ("CREATE TABLE [sales].[we]]ird] (id int)", "sales", "sales.we]ird"),
        ("/* setup */ CREATE -- c\n TABLE [hr].[salaries] (id int)", "hr", "hr.salaries"),
        ("USE [testDB];\nCREATE VIEW dbo.v_users AS SELECT 1 AS a", "dbo", "dbo.v_users"),
        ("CREATE OR ALTER PROCEDURE dbo.usp_backdoor AS SELECT 1", "dbo", "dbo.usp_backdoor"),
        ("CREATE TRIGGER dbo.trg_audit ON dbo.t AFTER INSERT AS SELECT 1", "dbo", "dbo.trg_audit"),
        ("CREATE INDEX ix_t ON dbo.customers (email)", "dbo", "dbo.customers"),
        ("CREATE SYNONYM dbo.s FOR otherdb.dbo.t", "dbo", "dbo.s"),
        # moving an object into another schema: the object, where it now lives
        ("ALTER SCHEMA archive TRANSFER dbo.audit_log", "archive", "archive.audit_log"),
        (
            "alter schema [archive] transfer OBJECT::[dbo].[audit_log]",
            "archive",
            "archive.audit_log",
        ),
        ("ALTER SCHEMA archive TRANSFER TYPE::dbo.ssn", "archive", "archive.ssn"),
    ],
)
def test_schema_class_ddl_names_the_object(sql: str, obj: str, expected: str) -> None:
    das = _event(sql, obj=obj)
    assert das["action"] == "DDL"
    assert das["object"] == expected
    assert das["schema"] == expected.split(".", 1)[0]


@pytest.mark.parametrize("command", ["CREATE", "ALTER", "DROP"])
def test_drop_table_in_schema_class_names_the_table(command: str) -> None:
    das = _event("DROP TABLE IF EXISTS dbo.audit_log", command=command)
    assert (das["verb"], das["object"], das["schema"]) == ("DROP TABLE", "dbo.audit_log", "dbo")


@pytest.mark.parametrize(
    ("sql", "command"),
    [
        ("CREATE SCHEMA staging AUTHORIZATION dbo", "CREATE"),  # DDL on the schema itself
        ("ALTER SCHEMA staging", "ALTER"),
        ("DROP SCHEMA staging", "DROP"),
        ("EXEC sp_executesql N'CREATE TABLE dbo.t (a int)'", "ALTER"),  # not readable: AWS's
        (None, "ALTER"),
    ],
)
def test_schema_itself_or_unreadable_text_keeps_what_aws_sent(sql: str | None, command: str):
    das = _event(sql, command=command, obj="staging")
    assert das["object"] == "staging"


def test_other_classes_keep_the_object_aws_sent() -> None:
    """class TABLE (a SELECT, a DROP of a table) already names the table; schema_name the schema."""
    das = _event("DROP TABLE dbo.t", cls="TABLE", command="DROP", obj="t")
    assert das["object"] == "t"


def test_create_or_alter_is_the_kind_not_alter() -> None:
    assert extract_verb("CREATE OR ALTER PROCEDURE dbo.p AS SELECT 1") == "CREATE PROCEDURE"
    assert extract_verb("create or alter view v as select 1") == "CREATE VIEW"
    assert extract_verb("CREATE OR REPLACE FUNCTION f() RETURNS int") == "CREATE FUNCTION"


@given(st.text(max_size=200))
def test_reading_the_object_never_raises(sql: str) -> None:
    found = tsql_ddl_object(sql)
    assert found is None or (found[1] and found[2].split()[0] in ("CREATE", "ALTER", "DROP"))


@given(st.text(alphabet="CREATE TABLE[]\".:;()dbo t-/*\n'N", max_size=80))
def test_reading_ddl_shaped_text_never_raises(sql: str) -> None:
    tsql_ddl_object(sql)
