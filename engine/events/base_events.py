"""A realistic raw activity event per engine, for rule tests that give only the fields they test.

Each base is an AWS documentation sample (``tests/events/aws_samples/``) turned into a plain,
successful, ordinary statement (a small ``SELECT`` by an application user from a private
address), so a partial test event changes exactly what it names and nothing else looks
suspicious. Oracle and SQL Server bases keep the sample's envelope-level facts (field types,
``logTime`` form, ``engineNativeAuditFields``) but describe a SELECT instead of a LOGON / DDL.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.events.engines import ENGINES, engine_from_name

_BASES: dict[str, dict[str, Any]] = {
    "postgres": {
        "type": "record",
        "class": "READ",
        "clientApplication": "psql",
        "command": "SELECT",
        "commandText": "select * from my_table;",
        "databaseName": "postgres",
        "dbProtocol": "Postgres 3.0",
        "dbUserName": "app",
        "errorMessage": None,
        "exitCode": None,
        "logTime": "2019-05-24 00:39:49.940668+00",
        "netProtocol": "TCP",
        "objectName": "public.my_table",
        "objectType": "TABLE",
        "paramList": [],
        "pid": 32356,
        "remoteHost": "172.31.3.195",
        "remotePort": "34534",
        "rowCount": 10,
        "serverHost": "172.31.3.192",
        "serverType": "PostgreSQL",
        "serverVersion": "2.3.1",
        "serviceName": "Amazon Aurora PostgreSQL-Compatible edition",
        "sessionId": "5ce73c6f.7e64",
        "startTime": "2019-05-24 00:39:49.920564+00",
        "statementId": 6,
        "substatementId": 1,
    },
    "mysql": {
        "type": "record",
        "class": "MAIN",
        "clientApplication": None,
        "command": "QUERY",
        "commandText": "SELECT * FROM test1 WHERE id < 28",
        "databaseName": "test",
        "dbProtocol": "MySQL",
        "dbUserName": "app",
        "endTime": "2020-05-22 18:29:57.986467+00",
        "errorMessage": "",
        "exitCode": "0",
        "logTime": "2020-05-22 18:29:57.986467+00",
        "netProtocol": "TCP",
        "objectName": "test1",
        "objectType": "TABLE",
        "paramList": None,
        "pid": 2830,
        "remoteHost": "10.0.1.25",
        "remotePort": "11054",
        "rowCount": 2,
        "serverHost": "master",
        "serverType": "MySQL",
        "serverVersion": "MySQL 5.7.12",
        "serviceName": "Amazon Aurora MySQL",
        "sessionId": "726571",
        "startTime": "2020-05-22 18:29:57.986364+00",
        "statementId": 65469218,
        "substatementId": 1,
        "transactionId": "0",
    },
    "oracle": {
        "class": "Standard",
        "clientApplication": "JDBC Thin Client",
        "command": "SELECT",
        "commandText": "SELECT * FROM HR.EMPLOYEES WHERE EMPLOYEE_ID = 100",
        "databaseName": "ORCL",
        "dbProtocol": "oracle",
        "dbUserName": "APP",
        "dbid": "0123456789",
        "endTime": None,
        "engineNativeAuditFields": {
            "UNIFIED_AUDIT_POLICIES": "TEST_POL_EVERYTHING",
            "OS_USERNAME": "jdoe",
            "USERHOST": "client.example.com",
            "TERMINAL": "unknown",
        },
        "errorMessage": None,
        "exitCode": 0,
        "logTime": "2021-01-15 00:15:36.233787",
        "netProtocol": "tcp",
        "objectName": "EMPLOYEES",
        "objectType": "HR",
        "paramList": [],
        "pid": 17904,
        "remoteHost": "198.51.100.12",
        "remotePort": "25440",
        "rowCount": None,
        "serverHost": "10.0.0.5",
        "serverType": "oracle",
        "serverVersion": "19.0.0.0.ru-2020-01.rur-2020-01.r1.EE.3",
        "serviceName": "oracle-ee",
        "sessionId": 987654321,
        "startTime": None,
        "statementId": 2,
        "substatementId": None,
        "transactionId": "0000000000000000",
    },
    "sqlserver": {
        "type": "record",
        "class": "TABLE",
        "clientApplication": "Microsoft SQL Server Management Studio - Query",
        "command": "SELECT",
        "commandText": "SELECT TOP 10 * FROM [testDB].[dbo].[TestTable2]",
        "databaseName": "testDB",
        "dbProtocol": "SQLSERVER",
        "dbUserName": "app",
        "endTime": None,
        "engineNativeAuditFields": {},
        "errorMessage": None,
        "exitCode": 1,
        "logTime": "2022-10-06 21:44:38.4120677+00",
        "netProtocol": None,
        "objectName": "TestTable2",
        "objectType": "TABLE",
        "paramList": None,
        "pid": None,
        "remoteHost": "10.0.2.40",
        "remotePort": None,
        "rowCount": 10,
        "serverHost": "172.31.30.159",
        "serverType": "SQLSERVER",
        "serverVersion": "15.00.4073.23.v1.R1",
        "serviceName": "sqlserver-ee",
        "sessionId": 84,
        "startTime": None,
        "statementId": "0x5178d33d56e95e419558b9607158a5bd",
        "substatementId": 1,
        "transactionId": "4561864",
    },
}


class UnknownEngineError(ValueError):
    """The name is none of ENGINES (nor a spelling we recognise, e.g. ``PostgreSQL``)."""


def base_event(engine: str) -> dict[str, Any]:
    """A fresh deep copy of the base raw event for ``engine`` (mutate it freely)."""
    name = engine_from_name(engine)
    if name is None:
        raise UnknownEngineError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    return copy.deepcopy(_BASES[name])
