"""Every real activity event in ``real_events/`` normalizes as a user would expect, and the shipped
rules say about it what a responder would expect.

Nobody on this project wrote these events (``real_events/README.md``; each has a ``.src`` naming
its public source), so they check our reading of the format against the engines themselves.
Fields are written out per file: a change in what any of them normalizes to fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.events import normalize

HERE = Path(__file__).resolve().parent / "real_events"
RULES = Path(__file__).resolve().parents[2] / "rules"

FIELDS = (
    "engine",
    "action",
    "verb",
    "failed",
    "errorCode",
    "aux",
    "user",
    "database",
    "object",
    "sourceHost",
    "rows",
)
F, T, N = False, True, None
# file -> das values in FIELDS order, then the start of das.sql (None: no SQL)
EXPECTED: dict[str, tuple[tuple[object, ...], str | None]] = {
    # Aurora MySQL (AWS lab capture): quotes in commandText arrive backslash-escaped (\\\\')
    "aurora-labs-mysql-rdsadmin-show-status.repaired.json": (
        ("mysql", "MISC", "SHOW", F, N, F, "rdsadmin", "mysql", N, "localhost", 4),
        "show status like \\\\'server_aurora_das_",
    ),
    "aurora-labs-mysql-sysbench-select.json": (
        ("mysql", "READ", "SELECT", F, N, F, "masteruser", "mylab", "sbtest1", "172.31.0.211", 10),
        "SELECT SQL_NO_CACHE",
    ),
    # Aurora PostgreSQL (AWS lab capture): a write carries its row count
    "aurora-labs-pg-pgbench-insert.json": (
        (
            "postgres",
            "WRITE",
            "INSERT",
            F,
            N,
            F,
            "masteruser",
            "mylab",
            "public.pgbench_history",
            "10.0.0.204",
            1,
        ),
        "INSERT INTO pgbench_history",
    ),
    "aws-aurora-docs-2020-pg-connect-v1.0.json": (
        ("postgres", "CONNECT", N, F, N, F, "rdsadmin", "postgres", N, "172.31.3.195", N),
        None,
    ),
    "aws-aurora-docs-2020-pg-create-table-v1.0.json": (
        ("postgres", "DDL", "CREATE TABLE", F, N, F, "rdsadmin", "postgres", N, "172.31.3.195", N),
        "create table my_table",
    ),
    "aws-aurora-docs-2020-pg-select-v1.0.json": (
        (
            "postgres",
            "READ",
            "SELECT",
            F,
            N,
            F,
            "rdsadmin",
            "postgres",
            "public.my_table",
            "172.31.3.195",
            10,
        ),
        "select * from my_table",
    ),
    "aws-aurora-docs-pg-connect.inner.json": (
        ("postgres", "CONNECT", N, F, N, F, "rdsadmin", "postgres", N, "172.31.3.195", N),
        None,
    ),
    "aws-aurora-docs-pg-create-table.inner.json": (
        ("postgres", "DDL", "CREATE TABLE", F, N, F, "rdsadmin", "postgres", N, "172.31.3.195", N),
        "create table my_table",
    ),
    "aws-aurora-docs-pg-select.inner.json": (
        (
            "postgres",
            "READ",
            "SELECT",
            F,
            N,
            F,
            "rdsadmin",
            "postgres",
            "public.my_table",
            "172.31.3.195",
            10,
        ),
        "select * from my_table",
    ),
    # Aurora MySQL (AWS docs): MAIN rows carry the SQL, AUX rows one touched object each
    "aws-aurora-docs-2021-mysql-select-aux-with-cluster.json": (
        ("mysql", "READ", N, F, N, T, "master", "test", "test1", "localhost", 0),
        None,
    ),
    "aws-aurora-docs-mysql-connect-rdsadmin.json": (
        ("mysql", "CONNECT", N, F, N, F, "rdsadmin", N, N, "localhost", 0),
        None,
    ),
    "aws-aurora-docs-mysql-create-table-aux.json": (
        ("mysql", "DDL", N, F, N, T, "master", "test", "test1", "localhost", 0),
        None,
    ),
    "aws-aurora-docs-mysql-create-table-main.json": (
        ("mysql", "DDL", "CREATE TABLE", F, N, F, "master", "test", "test1", "localhost", 0),
        "CREATE TABLE test1",
    ),
    "aws-aurora-docs-mysql-select-aux.json": (
        ("mysql", "READ", N, F, N, T, "master", "test", "test1", "localhost", 0),
        None,
    ),
    "aws-aurora-docs-mysql-select-main.json": (
        ("mysql", "READ", "SELECT", F, N, F, "master", "test", "test1", "localhost", 2),
        "SELECT * FROM test1 WHERE",
    ),
    # RDS for Oracle (AWS docs): no row counts; remoteHost is a placeholder, not an address
    "aws-rds-docs-oracle-create-table.json": (
        ("oracle", "DDL", "CREATE TABLE", F, N, F, "TEST", "ORCL", "PERSONS", "123.456.789.0", N),
        "CREATE TABLE persons(",
    ),
    "aws-rds-docs-oracle-logon.repaired.json": (
        ("oracle", "CONNECT", N, F, N, F, "TEST", "ORCL", N, "123.456.789.012", N),
        None,
    ),
    "aws-rds-docs-oracle-select.json": (
        ("oracle", "READ", "SELECT", F, N, F, "TEST", "1234567890", "PERSONS", "123.456.789.0", N),
        "select count(*) from persons",
    ),
    # RDS for SQL Server (AWS docs): 1 = success; the only real failed login of any engine
    "aws-rds-docs-sqlserver-login-failed.repaired.json": (
        ("sqlserver", "LOGIN_FAILED", N, T, "18456", F, "test", N, N, "local machine", 0),
        None,
    ),
    "aws-rds-docs-sqlserver-select.json": (
        ("sqlserver", "READ", "SELECT", F, N, F, "test", "testDB", "TestTable", "local machine", 0),
        "select * from [testDB].[dbo].",
    ),
    # SQL Server CREATE TABLE is audited with class SCHEMA: objectName is the schema ("dbo");
    # class SCHEMA, objectName "dbo": the table comes from the SQL, qualified with its schema
    "aws-rds-docs-sqlserver-create-table.json": (
        (
            "sqlserver",
            "DDL",
            "CREATE TABLE",
            F,
            N,
            F,
            "test",
            "testDB",
            "dbo.TestTable2",
            "local machine",
            0,
        ),
        "Create table [testDB].[dbo].[TestTable2]",
    ),
    # Aurora MySQL 2.11.2 (public consumer): no \' escaping; the master user from the internet
    "node-lambda-aurora-mysql-2.11.2-update.json": (
        (
            "mysql",
            "WRITE",
            "UPDATE",
            F,
            N,
            F,
            "admin",
            "tb_my_database",
            "my_table",
            "116.127.85.242",
            0,
        ),
        "UPDATE `tb_my_database`.`my_table`",
    ),
}
# published as invalid JSON; the .repaired.json beside each is the smallest fix
NOT_JSON = (
    "aurora-labs-mysql-rdsadmin-show-status.json",
    "aws-rds-docs-oracle-logon.json",
    "aws-rds-docs-sqlserver-login-failed.json",
)
# the documentation's outer record with the decrypted record nested as an object
OUTER = (
    "aws-aurora-docs-pg-connect.json",
    "aws-aurora-docs-pg-create-table.json",
    "aws-aurora-docs-pg-select.json",
)
# what the shipped rules (default lists) raise for each file; every other file raises nothing
ALERTS = {
    # with default lists the master user is not an admin: every DDL of it alerts
    "aws-aurora-docs-mysql-create-table-main.json": ["ddl-by-non-admin"],
    # …and at 00:22 and 21:44 UTC these two are outside the shipped working hours (UTC)
    "aws-rds-docs-oracle-create-table.json": ["ddl-by-non-admin", "off-hours-privileged-change"],
    "aws-rds-docs-sqlserver-create-table.json": [
        "ddl-by-non-admin",
        "off-hours-privileged-change",
    ],
    "aws-rds-docs-sqlserver-login-failed.repaired.json": ["failed-login"],
    "node-lambda-aurora-mysql-2.11.2-update.json": ["session-from-public-ip"],
}


def _events(path: Path) -> tuple[list[dict], dict]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if "databaseActivityEventList" in doc:
        return [e for e in doc["databaseActivityEventList"] if e.get("type") != "heartbeat"], doc
    return [doc], {}


def test_every_file_is_accounted_for_and_has_its_source_beside_it() -> None:
    files = {p.name for p in HERE.glob("*.json")}
    assert files == set(EXPECTED) | set(NOT_JSON) | set(OUTER)
    for name in files:
        assert (HERE / name.replace(".json", ".src")).is_file(), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_normalized_fields(name: str) -> None:
    events, envelope = _events(HERE / name)
    assert len(events) == 1
    das = normalize(
        events[0],
        cluster_id=envelope.get("clusterId") or None,
        instance_id=envelope.get("instanceId") or None,
    )["das"]
    values, sql = EXPECTED[name]
    assert dict(zip(FIELDS, (das[f] for f in FIELDS), strict=True)) == dict(
        zip(FIELDS, values, strict=True)
    )
    if sql is None:
        assert das["sql"] is None
    else:
        assert das["sql"].startswith(sql)
    assert das["time"] is not None and das["time"].endswith("Z")


@pytest.mark.parametrize("name", NOT_JSON)
def test_the_published_text_is_not_json_and_the_repair_is(name: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads((HERE / name).read_text(encoding="utf-8"))
    assert name.replace(".json", ".repaired.json") in EXPECTED


@pytest.mark.parametrize("name", OUTER)
def test_the_documentation_outer_record_nests_exactly_the_inner_record(name: str) -> None:
    outer = json.loads((HERE / name).read_text(encoding="utf-8"))
    inner = json.loads((HERE / name.replace(".json", ".inner.json")).read_text(encoding="utf-8"))
    assert outer["type"] == "DatabaseActivityMonitoringRecords"
    assert outer["databaseActivityEvents"] == inner


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_shipped_rules_alert_as_a_responder_expects(name: str, capsys) -> None:
    rc = main(["eval", "--rules", str(RULES), "--format", "json", str(HERE / name)])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert sorted(json.loads(line)["rule_id"] for line in out.splitlines() if line.strip()) == (
        ALERTS.get(name, [])
    )


def test_sqlserver_schema_class_ddl_names_the_created_object() -> None:
    """AWS's sample audits CREATE TABLE as ALTER of schema dbo; das names the table."""
    events, _ = _events(HERE / "aws-rds-docs-sqlserver-create-table.json")
    assert events[0]["objectName"] == "dbo"
    das = normalize(events[0])["das"]
    assert (das["object"], das["schema"]) == ("dbo.TestTable2", "dbo")
