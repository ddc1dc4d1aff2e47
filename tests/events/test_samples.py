"""Every AWS sample event normalizes to the das.* values written out here, field by field.

``aws_samples/`` holds verbatim copies of the activity samples published in the AWS
documentation, so the tests run wherever the repository is checked out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.events import normalize

SAMPLES = Path(__file__).resolve().parent / "aws_samples"

PG_CLUSTER = "cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ"
PG_INSTANCE = "db-FZJTMYKCXQBUUZ6VLU7NW3ITCM"
SQLSERVER_INSTANCE = "db-4JCWQLUZVFYP7DIWP6JVQ77O3Q"

# (sample file, index among its activity events) -> expected das
EXPECTED: dict[tuple[str, int], dict] = {
    ("aurora-postgresql-connect.json", 0): {
        "engine": "postgres",
        "clusterId": PG_CLUSTER,
        "instanceId": PG_INSTANCE,
        "time": "2019-10-30T00:39:49.990579Z",
        "epoch": 1572395989.990579,
        "action": "CONNECT",
        "verb": None,
        "failed": False,
        "errorCode": None,
        "aux": False,
        "user": "rdsadmin",
        "database": "postgres",
        "object": None,
        "sourceHost": "172.31.3.195",
        "client": "psql",
        "rows": None,
        "sql": None,
        "statementKey": f"{PG_INSTANCE}/5ce5f7f0.474b/1",
        "hour": 0,
        "weekday": 3,
        "schema": None,
    },
    ("aurora-postgresql-create-table.json", 0): {
        "engine": "postgres",
        "clusterId": PG_CLUSTER,
        "instanceId": PG_INSTANCE,
        "time": "2019-05-24T00:36:54.494235Z",
        "epoch": 1558658214.494235,
        "action": "DDL",
        "verb": "CREATE TABLE",
        "failed": False,
        "errorCode": None,
        "aux": False,
        "user": "rdsadmin",
        "database": "postgres",
        "object": None,
        "sourceHost": "172.31.3.195",
        "client": "psql",
        "rows": None,
        "sql": "create table my_table (id serial primary key, name varchar(32));",
        "statementKey": f"{PG_INSTANCE}/5ce73c6f.7e64/2",
        "hour": 0,
        "weekday": 5,
        "schema": None,
    },
    ("aurora-postgresql-select.json", 0): {
        "engine": "postgres",
        "clusterId": PG_CLUSTER,
        "instanceId": PG_INSTANCE,
        "time": "2019-05-24T00:39:49.940668Z",
        "epoch": 1558658389.940668,
        "action": "READ",
        "verb": "SELECT",
        "failed": False,
        "errorCode": None,
        "aux": False,
        "user": "rdsadmin",
        "database": "postgres",
        "object": "public.my_table",
        "sourceHost": "172.31.3.195",
        "client": "psql",
        "rows": 10,
        "sql": "select * from my_table;",
        "statementKey": f"{PG_INSTANCE}/5ce73c6f.7e64/6",
        "hour": 0,
        "weekday": 5,
        "schema": "public",
    },
    ("aurora-postgresql-firehose-output.json", 0): {
        "engine": "postgres",
        "clusterId": "cluster-KG0000000000000000000000AA",
        "instanceId": "db-AB00000000000000000000000A",
        "time": "2020-04-07T11:03:23.575463Z",
        "epoch": 1586257403.575463,
        "action": "READ",
        "verb": "SELECT",
        "failed": False,
        "errorCode": None,
        "aux": False,
        "user": "awsuser",
        "database": "mydb",
        "object": "pg_catalog.pg_class",
        "sourceHost": "3.112.53.130",
        "client": "psql",
        "rows": 1,
        "sql": "select count(*) from pg_class;",
        "statementKey": "db-AB00000000000000000000000A/5e8c5d92.66e2/7",
        "hour": 11,
        "weekday": 2,
        "schema": "pg_catalog",
    },
    ("aurora-mysql-connect.json", 0): {
        "engine": "mysql",
        "clusterId": "cluster-some_id",
        "instanceId": "db-some_id",
        "time": "2020-05-22T18:07:13.267214Z",
        "epoch": 1590170833.267214,
        "action": "CONNECT",
        "verb": None,
        "failed": False,
        "errorCode": None,
        "aux": False,
        "user": "rdsadmin",
        "database": None,
        "object": None,
        "sourceHost": "localhost",
        "client": None,
        "rows": 0,
        "sql": None,
        "statementKey": "db-some_id/725121/0",
        "hour": 18,
        "weekday": 5,
        "schema": None,
    },
    ("aurora-mysql-create-table.json", 0): {
        "engine": "mysql",
        "clusterId": "cluster-some_id",
        "instanceId": "db-some_id",
        "time": "2020-05-22T18:07:12.250221Z",
        "epoch": 1590170832.250221,
        "action": "DDL",
        "verb": "CREATE TABLE",
        "failed": False,
        "errorCode": None,
        "aux": False,
        "user": "master",
        "database": "test",
        "object": "test1",
        "sourceHost": "localhost",
        "client": None,
        "rows": 0,
        "sql": "CREATE TABLE test1 (id INT)",
        "statementKey": "db-some_id/725118/65459278",
        "hour": 18,
        "weekday": 5,
        "schema": "test",
    },
    ("aurora-mysql-create-table.json", 1): {  # the AUX row of the same statement
        "engine": "mysql",
        "clusterId": "cluster-some_id",
        "instanceId": "db-some_id",
        "time": "2020-05-22T18:07:12.247182Z",
        "epoch": 1590170832.247182,
        "action": "DDL",
        "verb": None,
        "failed": False,
        "errorCode": None,
        "aux": True,
        "user": "master",
        "database": "test",
        "object": "test1",
        "sourceHost": "localhost",
        "client": None,
        "rows": 0,
        "sql": None,
        "statementKey": "db-some_id/725118/65459278",
        "hour": 18,
        "weekday": 5,
        "schema": "test",
    },
    ("aurora-mysql-select.json", 0): {
        "engine": "mysql",
        "clusterId": "cluster-some_id",
        "instanceId": "db-some_id",
        "time": "2020-05-22T18:29:57.986467Z",
        "epoch": 1590172197.986467,
        "action": "READ",
        "verb": "SELECT",
        "failed": False,
        "errorCode": None,
        "aux": False,
        "user": "master",
        "database": "test",
        "object": "test1",
        "sourceHost": "localhost",
        "client": None,
        "rows": 2,
        "sql": "SELECT * FROM test1 WHERE id < 28",
        "statementKey": "db-some_id/726571/65469218",
        "hour": 18,
        "weekday": 5,
        "schema": "test",
    },
    ("aurora-mysql-update-captured.json", 0): {
        "engine": "mysql",
        "clusterId": "cluster-B6K6E4422P5KM33ZF7GCJOA44A",
        "instanceId": "db-some_id",
        "time": "2023-07-23T08:14:58.089874Z",
        "epoch": 1690100098.089874,
        "action": "WRITE",
        "verb": "UPDATE",
        "failed": False,
        "errorCode": None,
        "aux": False,
        "user": "admin",
        "database": "tb_my_database",
        "object": "my_table",
        "sourceHost": "116.127.85.242",
        "client": None,
        "rows": 0,
        "sql": "UPDATE `tb_my_database`.`my_table` SET `contents` = '666' WHERE (`idx` = '2')",
        "statementKey": "db-some_id/1003/17903",
        "hour": 8,
        "weekday": 7,
        "schema": "tb_my_database",
    },
    ("rds-oracle-logon.json", 0): {
        "engine": "oracle",
        "clusterId": None,  # "" in the envelope: RDS has no cluster
        "instanceId": "db-7AVLVCHCUTSHSLFPSBM7TOQZX4",
        "time": "2021-01-15T00:15:36.233787Z",  # no offset in logTime: UTC
        "epoch": 1610669736.233787,
        "action": "CONNECT",
        "verb": None,
        "failed": False,
        "errorCode": None,
        "aux": False,
        "user": "TEST",
        "database": "ORCL",
        "object": None,
        "sourceHost": "198.51.100.12",
        "client": "JDBC Thin Client",
        "rows": None,
        "sql": None,
        "statementKey": "db-7AVLVCHCUTSHSLFPSBM7TOQZX4/987654321/1",
        "hour": 0,
        "weekday": 5,
        "schema": None,
    },
    ("rds-sqlserver-create-table.json", 0): {
        "engine": "sqlserver",
        "clusterId": None,
        "instanceId": SQLSERVER_INSTANCE,
        "time": "2022-10-06T21:44:38.412067Z",  # 7 fractional digits, truncated to 6
        "epoch": 1665092678.412067,
        "action": "DDL",  # command ALTER, class SCHEMA; the text says CREATE TABLE
        "verb": "CREATE TABLE",
        "failed": False,  # exitCode 1 = success on SQL Server
        "errorCode": None,
        "aux": False,
        "user": "test",
        "database": "testDB",
        "object": "dbo.TestTable2",  # objectName is the schema; the table is in the SQL
        "sourceHost": "local machine",
        "client": "Microsoft SQL Server Management Studio - Query",
        "rows": 0,
        "sql": "Create table [testDB].[dbo].[TestTable2](\r\ntextA varchar(6000),\r\n"
        "    textB varchar(6000)\r\n)",
        "statementKey": f"{SQLSERVER_INSTANCE}/84/0x5178d33d56e95e419558b9607158a5bd",
        "hour": 21,
        "weekday": 4,
        "schema": "dbo",
    },
    ("rds-sqlserver-failed-login.json", 0): {
        "engine": "sqlserver",
        "clusterId": None,
        "instanceId": SQLSERVER_INSTANCE,
        "time": "2022-10-06T21:34:42.711307Z",
        "epoch": 1665092082.711307,
        "action": "LOGIN_FAILED",
        "verb": None,  # commandText is the failure message, not SQL
        "failed": True,  # exitCode 0 = failure on SQL Server
        "errorCode": "18456",  # <error>0x00004818</error> in additional_information
        "aux": False,
        "user": "test",
        "database": None,
        "object": None,
        "sourceHost": "local machine",
        "client": "Microsoft SQL Server Management Studio",
        "rows": 0,
        "sql": None,
        "statementKey": f"{SQLSERVER_INSTANCE}/0/0x1eb0d1808d34a94b9d3dcf5432750f02",
        "hour": 21,
        "weekday": 4,
        "schema": None,
    },
}


def _activity(name: str) -> tuple[dict, list[dict]]:
    doc = json.loads((SAMPLES / name).read_text())
    events = [e for e in doc["databaseActivityEventList"] if e.get("type") != "heartbeat"]
    return doc, events


def test_every_sample_with_events_is_covered() -> None:
    covered = {name for name, _ in EXPECTED}
    with_events = {
        p.name for p in SAMPLES.glob("*.json") if "databaseActivityEventList" in p.read_text()
    }
    assert with_events == covered
    for name in with_events:
        _, events = _activity(name)
        assert {i for n, i in EXPECTED if n == name} == set(range(len(events)))


@pytest.mark.parametrize(("name", "index"), sorted(EXPECTED))
def test_sample_normalizes_to_expected_das(name: str, index: int) -> None:
    doc, events = _activity(name)
    raw = events[index]
    before = json.dumps(raw, sort_keys=True)

    event = normalize(raw, cluster_id=doc["clusterId"], instance_id=doc["instanceId"])

    assert event["das"] == EXPECTED[(name, index)]
    assert {k: v for k, v in event.items() if k != "das"} == raw  # raw fields untouched
    assert json.dumps(raw, sort_keys=True) == before  # input not mutated
    assert event is not raw


@pytest.mark.parametrize(("name", "index"), sorted(EXPECTED))
def test_engine_detected_without_server_names(name: str, index: int) -> None:
    """The shape fallback recognises every sample when serverType & co. are stripped."""
    _, events = _activity(name)
    raw = {
        k: v
        for k, v in events[index].items()
        if k not in ("serverType", "serviceName", "dbProtocol")
    }
    assert normalize(raw)["das"]["engine"] == EXPECTED[(name, index)]["engine"]
