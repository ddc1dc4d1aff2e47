"""A realistic benign activity stream: what a well-run site sends all day, and must not page anyone.

Why a second generator beside ``streamgen``: ``streamgen`` shapes traffic for speed measurements
(and sprinkles in suspicious events so a rule pack has work to do); this one shapes it for
*quietness*. It is everything the detection pack's rules look at but that a site does on purpose —
AWS's internal users doing maintenance, monitoring agents polling the catalog, ORMs reading the
catalog at start-up, applications doing OLTP with bind parameters and ``SET ROLE`` for row-level
security, nightly backups to approved buckets by the backup account, migrations by approved
accounts, purge jobs with ``WHERE``, BI extracts by approved readers, DBAs at work, the odd typo
at login — on all four engines, built on ``engine.events.base_event`` so every field has the
engine's own shape.

:func:`site_lists` are the lists a site fills in as ``docs/tuning.md`` says; with them the shipped
pack must raise nothing at medium or above over :func:`benign_events` (``tests/bench`` keeps it
so). ``python bench/benign.py`` prints alerts per rule per 100,000 events, every severity.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.events import base_event, normalize

ENGINES: tuple[str, ...] = ("postgres", "mysql", "oracle", "sqlserver")
ENGINE_WEIGHTS: tuple[float, ...] = (0.40, 0.30, 0.15, 0.15)
START = datetime(2026, 11, 20, tzinfo=UTC)

APPROVED_BUCKETS = ("acme-db-backups-prod", "acme-analytics-exports")
# Per engine spelling: Oracle reports user names in upper case.
DBA = {
    "postgres": "dba_alice",
    "mysql": "dba_alice",
    "oracle": "DBA_ALICE",
    "sqlserver": "dba_alice",
}
MIGRATOR = {"postgres": "flyway", "mysql": "flyway", "oracle": "FLYWAY", "sqlserver": "flyway"}
BACKUP = {"postgres": "backup", "mysql": "backup", "oracle": "BACKUP", "sqlserver": "backup"}
ETL = {
    "postgres": "etl_loader",
    "mysql": "etl_loader",
    "oracle": "ETL_LOADER",
    "sqlserver": "etl_loader",
}
BI = {
    "postgres": "bi_reader",
    "mysql": "bi_reader",
    "oracle": "BI_READER",
    "sqlserver": "bi_reader",
}
MONITOR = {"postgres": "datadog", "mysql": "datadog", "oracle": "DBSNMP", "sqlserver": "datadog"}
APPS = {
    "postgres": ("app_shop", "app_billing"),
    "mysql": ("app_shop", "app_billing"),
    "oracle": ("APP_SHOP", "APP_BILLING"),
    "sqlserver": ("app_shop", "app_billing"),
}
AWS = {"postgres": "rdsadmin", "mysql": "rdsadmin", "oracle": "RDSADMIN", "sqlserver": "rdsadmin"}

APP_NETS = ("10.0.1.", "10.0.2.", "100.64.7.")  # VPC subnets and EKS pods (RFC 6598)
DBA_NET = "10.20.0."
BATCH_NET = "10.30.0."


def _spellings(names: Iterable[str]) -> list[str]:
    """Each spelling the engines report, once (Oracle's upper case beside the others)."""
    return sorted(set(names))


def site_lists() -> dict[str, list[str]]:
    """The allow lists a site fills in as docs/tuning.md describes (on top of the shipped ones)."""
    both = _spellings
    return {
        "master_users": ["postgres", "admin", "ADMIN"],
        "admins": both(DBA.values()),
        "service_accounts": both(
            [*MIGRATOR.values(), *BACKUP.values(), *ETL.values(), *BI.values()]
        ),
        "monitoring_accounts": both(MONITOR.values()),
        "app_accounts": both(name for names in APPS.values() for name in names),
        "approved_export_buckets": list(APPROVED_BUCKETS),
    }


# -- what each kind of actor runs, per engine: (class, command, SQL, rows) ----------------------

_Stmt = tuple[str, str, str, int | None]

_APP_READS: dict[str, tuple[_Stmt, ...]] = {
    "postgres": (
        ("READ", "SELECT", "SELECT id, total FROM orders WHERE customer_id = $1 LIMIT 50", 12),
        ("READ", "SELECT", "SELECT * FROM products WHERE sku = $1", 1),
        (
            "READ",
            "SELECT",
            "/* app=shop,route=/cart */ SELECT c.id, c.qty FROM cart c WHERE c.session_id = $1",
            3,
        ),
        (
            "READ",
            "SELECT",
            "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id "
            "WHERE c.email = $1 UNION ALL SELECT a.order_id FROM archived_orders a "
            "WHERE a.email = $1",
            4,
        ),
    ),
    "mysql": (
        ("MAIN", "QUERY", "SELECT id, total FROM orders WHERE customer_id = 4211 LIMIT 50", 12),
        ("MAIN", "QUERY", "SELECT * FROM products WHERE sku = 'AB-1299'", 1),
        ("MAIN", "QUERY", "select `id`, `qty` from `cart` where `session_id` = 'f2c9e1'", 3),
    ),
    "oracle": (
        (
            "Standard",
            "SELECT",
            "SELECT ORDER_ID, TOTAL FROM SHOP.ORDERS WHERE CUSTOMER_ID = :1",
            None,
        ),
        ("Standard", "SELECT", "SELECT * FROM SHOP.PRODUCTS WHERE SKU = :sku", None),
    ),
    "sqlserver": (
        ("TABLE", "SELECT", "SELECT TOP 50 id, total FROM dbo.Orders WHERE customer_id = @P1", 0),
        ("TABLE", "SELECT", "SELECT * FROM [dbo].[Products] WHERE sku = @sku", 0),
    ),
}
_APP_WRITES: dict[str, tuple[_Stmt, ...]] = {
    "postgres": (
        (
            "WRITE",
            "INSERT",
            "INSERT INTO orders (customer_id, total) VALUES ($1, $2) RETURNING id",
            1,
        ),
        ("WRITE", "UPDATE", "UPDATE cart SET qty = $1 WHERE id = $2", 1),
        ("WRITE", "DELETE", "DELETE FROM cart WHERE session_id = $1", 2),
    ),
    "mysql": (
        ("MAIN", "QUERY", "INSERT INTO orders (customer_id, total) VALUES (4211, 99.50)", 0),
        ("MAIN", "QUERY", "UPDATE `cart` SET `qty` = 2 WHERE (`id` = '77')", 0),
        ("MAIN", "QUERY", "DELETE FROM cart WHERE session_id = 'f2c9e1'", 0),
    ),
    "oracle": (
        (
            "Standard",
            "INSERT",
            "INSERT INTO SHOP.ORDERS (CUSTOMER_ID, TOTAL) VALUES (:1, :2)",
            None,
        ),
        ("Standard", "UPDATE", "UPDATE SHOP.CART SET QTY = :1 WHERE ID = :2", None),
    ),
    "sqlserver": (
        ("TABLE", "INSERT", "INSERT INTO dbo.Orders (customer_id, total) VALUES (@P1, @P2)", 1),
        ("TABLE", "UPDATE", "UPDATE dbo.Cart SET qty = @P1 WHERE id = @P2", 1),
    ),
}
# ORMs read the catalog when an application starts, and RLS applications switch role per request
_APP_STARTUP: dict[str, tuple[_Stmt, ...]] = {
    "postgres": (
        (
            "READ",
            "SELECT",
            "SELECT a.attname, t.typname FROM pg_catalog.pg_attribute a JOIN "
            "pg_catalog.pg_type t ON t.oid = a.atttypid WHERE a.attrelid = $1::regclass",
            12,
        ),
        (
            "READ",
            "SELECT",
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
            40,
        ),
        ("MISC", "SET", "SET ROLE tenant_42", None),
        ("MISC", "SET", "RESET ROLE", None),
    ),
    "mysql": (
        (
            "MAIN",
            "QUERY",
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE "
            "TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders'",
            9,
        ),
        ("MAIN", "QUERY", "SHOW FULL TABLES", 40),
        ("MAIN", "QUERY", "SET SESSION sql_mode = 'STRICT_TRANS_TABLES'", 0),
    ),
    "oracle": (
        (
            "Standard",
            "SELECT",
            "SELECT COLUMN_NAME FROM ALL_TAB_COLUMNS WHERE OWNER = 'SHOP' AND TABLE_NAME = :1",
            None,
        ),
    ),
    "sqlserver": (
        (
            "OBJECT",
            "SELECT",
            "SELECT c.name FROM sys.columns c WHERE c.object_id = OBJECT_ID(@P1)",
            0,
        ),
    ),
}
_MONITOR: dict[str, tuple[_Stmt, ...]] = {
    "postgres": (
        ("READ", "SELECT", "SELECT datname, numbackends, xact_commit FROM pg_stat_database", 4),
        ("READ", "SELECT", "SELECT pid, state, wait_event FROM pg_stat_activity", 30),
        ("READ", "SELECT", "SELECT rolname FROM pg_roles", 12),
    ),
    "mysql": (
        ("MAIN", "QUERY", "SHOW GLOBAL STATUS", 400),
        (
            "MAIN",
            "QUERY",
            "SELECT * FROM performance_schema.events_statements_summary_by_digest "
            "ORDER BY SUM_TIMER_WAIT DESC LIMIT 50",
            50,
        ),
        ("MAIN", "QUERY", "SELECT user, host FROM mysql.user", 8),
    ),
    "oracle": (
        ("Standard", "SELECT", "SELECT NAME, VALUE FROM V$SYSSTAT", None),
        ("Standard", "SELECT", "SELECT USERNAME, ACCOUNT_STATUS FROM DBA_USERS", None),
    ),
    "sqlserver": (
        ("OBJECT", "SELECT", "SELECT session_id, status FROM sys.dm_exec_sessions", 0),
        ("OBJECT", "SELECT", "SELECT @@VERSION", 0),
    ),
}
_AWS_MAINTENANCE: dict[str, tuple[_Stmt, ...]] = {
    "postgres": (
        ("READ", "SELECT", "select pg_catalog.pg_is_in_recovery()", 1),
        (
            "READ",
            "SELECT",
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = 'rdsadmin'",
            1,
        ),
        ("MISC", "VACUUM", "VACUUM ANALYZE pg_catalog.pg_class", None),
    ),
    "mysql": (
        ("MAIN", "QUERY", "show status like 'server_aurora_das_%'", 4),
        ("MAIN", "QUERY", "SELECT 1", 1),
        (
            "MAIN",
            "QUERY",
            "CREATE TABLE IF NOT EXISTS mysql.rds_heartbeat2 (id INT, value BIGINT)",
            0,
        ),
    ),
    "oracle": (
        ("Standard", "SELECT", "SELECT STATUS FROM V$INSTANCE", None),
        (
            "Standard",
            "EXECUTE",
            "BEGIN DBMS_AUDIT_MGMT.CLEAN_AUDIT_TRAIL(audit_trail_type => "
            "DBMS_AUDIT_MGMT.AUDIT_TRAIL_UNIFIED, use_last_arch_timestamp => TRUE); END;",
            None,
        ),
    ),
    "sqlserver": (
        ("OBJECT", "SELECT", "SELECT name, state_desc FROM sys.databases", 0),
        ("SERVER AUDIT", "AUDIT SESSION CHANGED", "", 0),
    ),
}
_BACKUP: dict[str, tuple[_Stmt, ...]] = {
    "postgres": (
        (
            "FUNCTION",
            "SELECT",
            "SELECT * FROM aws_s3.query_export_to_s3('SELECT * FROM orders "
            "WHERE created_at >= current_date - 1', "
            "aws_commons.create_s3_uri('acme-db-backups-prod', 'orders/daily.csv', 'eu-west-1'), "
            "options :='format csv')",
            1,
        ),
    ),
    "mysql": (
        (
            "MAIN",
            "QUERY",
            "SELECT * FROM orders WHERE created_at >= CURDATE() - INTERVAL 1 DAY "
            "INTO OUTFILE S3 's3-eu-west-1://acme-db-backups-prod/orders/daily' FORMAT CSV",
            0,
        ),
    ),
    "oracle": (
        (
            "Standard",
            "SELECT",
            "SELECT rdsadmin.rdsadmin_s3_tasks.upload_to_s3(p_bucket_name => "
            "'acme-db-backups-prod', p_prefix => 'expdp_', p_s3_prefix => 'oracle/', "
            "p_directory_name => 'DATA_PUMP_DIR') AS TASK_ID FROM DUAL",
            None,
        ),
    ),
    "sqlserver": (
        (
            "STORED PROCEDURE",
            "EXECUTE",
            "exec msdb.dbo.rds_backup_database @source_db_name='sales', "
            "@s3_arn_to_backup_to='arn:aws:s3:::acme-db-backups-prod/sqlserver/sales.bak', "
            "@overwrite_S3_backup_file=1, @type='FULL'",
            0,
        ),
        ("STORED PROCEDURE", "EXECUTE", "exec msdb.dbo.rds_task_status @db_name='sales'", 0),
    ),
}
_MIGRATION: dict[str, tuple[_Stmt, ...]] = {
    "postgres": (
        (
            "DDL",
            "CREATE TABLE",
            "CREATE TABLE IF NOT EXISTS invoices (id bigserial PRIMARY KEY, total numeric)",
            None,
        ),
        (
            "DDL",
            "CREATE INDEX",
            "CREATE INDEX CONCURRENTLY idx_orders_customer ON orders (customer_id)",
            None,
        ),
        (
            "DDL",
            "CREATE FUNCTION",
            "CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $$ "
            "BEGIN NEW.updated_at = now(); RETURN NEW; END $$ LANGUAGE plpgsql",
            None,
        ),
        ("ROLE", "GRANT", "GRANT SELECT, INSERT, UPDATE ON invoices TO app_shop", None),
        (
            "WRITE",
            "INSERT",
            "INSERT INTO flyway_schema_history (version, description) VALUES ($1, $2)",
            1,
        ),
    ),
    "mysql": (
        ("MAIN", "QUERY", "ALTER TABLE orders ADD COLUMN note VARCHAR(200) NULL", 0),
        ("MAIN", "QUERY", "CREATE TABLE invoices (id BIGINT PRIMARY KEY, total DECIMAL(10,2))", 0),
        ("MAIN", "QUERY", "GRANT SELECT, INSERT ON shop.invoices TO 'app_shop'@'10.0.%'", 0),
    ),
    "oracle": (
        ("Standard", "ALTER TABLE", "ALTER TABLE SHOP.ORDERS ADD (NOTE VARCHAR2(200))", None),
        ("Standard", "GRANT", "GRANT SELECT ON SHOP.INVOICES TO APP_SHOP", None),
    ),
    "sqlserver": (
        ("SCHEMA", "ALTER", "ALTER TABLE dbo.Orders ADD note nvarchar(200) NULL", 0),
        ("DATABASE ROLE", "ADD MEMBER", "ALTER ROLE db_datareader ADD MEMBER [app_shop]", 0),
    ),
}
_ETL: dict[str, tuple[_Stmt, ...]] = {
    "postgres": (
        ("WRITE", "TRUNCATE TABLE", "TRUNCATE TABLE staging.orders_load", None),
        (
            "WRITE",
            "DELETE",
            "DELETE FROM sessions WHERE expires_at < now() - interval '30 days'",
            1800,
        ),
        (
            "WRITE",
            "COPY",
            "COPY staging.orders_load (id, total) FROM STDIN WITH (FORMAT csv)",
            5000,
        ),
    ),
    "mysql": (
        (
            "MAIN",
            "QUERY",
            "DELETE FROM audit_events WHERE created_at < NOW() - INTERVAL 90 DAY LIMIT 10000",
            0,
        ),
        (
            "MAIN",
            "QUERY",
            "LOAD DATA LOCAL INFILE 'orders.csv' INTO TABLE staging_orders FIELDS "
            "TERMINATED BY ','",
            0,
        ),
    ),
    "oracle": (
        ("Standard", "DELETE", "DELETE FROM SHOP.SESSIONS WHERE EXPIRES_AT < SYSDATE - 30", None),
    ),
    "sqlserver": (
        (
            "TABLE",
            "DELETE",
            "DELETE FROM dbo.Sessions WHERE expires_at < DATEADD(day, -30, GETDATE())",
            1800,
        ),
        (
            "TABLE",
            "INSERT",
            "BULK INSERT dbo.StagingOrders FROM 'D:\\S3\\orders.csv' WITH (FIELDTERMINATOR = ',')",
            5000,
        ),
    ),
}
_BI: dict[str, tuple[_Stmt, ...]] = {
    "postgres": (("READ", "SELECT", "SELECT * FROM orders WHERE created_at >= $1", 512000),),
    "mysql": (("MAIN", "QUERY", "SELECT * FROM orders WHERE created_at >= '2026-11-01'", 250000),),
    "oracle": (("Standard", "SELECT", "SELECT * FROM SHOP.ORDERS WHERE CREATED_AT >= :1", None),),
    "sqlserver": (("TABLE", "SELECT", "SELECT * FROM dbo.Orders WHERE created_at >= @P1", 0),),
}
_DBA: dict[str, tuple[_Stmt, ...]] = {
    "postgres": (
        (
            "READ",
            "SELECT",
            "SELECT relname, n_dead_tup FROM pg_stat_user_tables ORDER BY 2 DESC",
            20,
        ),
        (
            "DDL",
            "ALTER TABLE",
            "ALTER TABLE orders SET (autovacuum_vacuum_scale_factor = 0.05)",
            None,
        ),
        ("ROLE", "GRANT", "GRANT SELECT ON orders TO reporting", None),
        ("MISC", "SET", "SET statement_timeout = '5min'", None),
    ),
    "mysql": (
        ("MAIN", "QUERY", "SHOW PROCESSLIST", 20),
        ("MAIN", "QUERY", "ALTER TABLE orders ENGINE = InnoDB", 0),
    ),
    "oracle": (
        (
            "Standard",
            "SELECT",
            "SELECT OWNER, SEGMENT_NAME, BYTES FROM DBA_SEGMENTS WHERE OWNER = 'SHOP'",
            None,
        ),
        (
            "Standard",
            "CREATE INDEX",
            "CREATE INDEX SHOP.IDX_ORDERS_DATE ON SHOP.ORDERS (CREATED_AT)",
            None,
        ),
    ),
    "sqlserver": (
        ("OBJECT", "SELECT", "SELECT name, recovery_model_desc FROM sys.databases", 0),
        ("SCHEMA", "CREATE", "CREATE INDEX ix_orders_date ON dbo.Orders (created_at)", 0),
    ),
}

# actor -> (share of events, statements per engine, user per engine, source address prefix)
_ACTORS: tuple[tuple[str, float], ...] = (
    ("app_read", 0.55),
    ("app_write", 0.20),
    ("app_startup", 0.04),
    ("session", 0.08),
    ("monitor", 0.05),
    ("aws", 0.04),
    ("dba", 0.015),
    ("migration", 0.01),
    ("etl", 0.01),
    ("bi", 0.004),
    ("backup", 0.002),
    ("typo_login", 0.001),
)
_STATEMENTS = {
    "app_read": _APP_READS,
    "app_write": _APP_WRITES,
    "app_startup": _APP_STARTUP,
    "monitor": _MONITOR,
    "aws": _AWS_MAINTENANCE,
    "dba": _DBA,
    "migration": _MIGRATION,
    "etl": _ETL,
    "bi": _BI,
    "backup": _BACKUP,
}


def _log_time(engine: str, when: datetime) -> str:
    text = when.strftime("%Y-%m-%d %H:%M:%S.%f")
    if engine == "oracle":
        return text  # no offset: UTC
    if engine == "sqlserver":
        return text + "0+00"  # seven fractional digits
    return text + "+00"


def _user(actor: str, engine: str, rng: random.Random) -> str:
    if actor in ("app_read", "app_write", "app_startup", "session", "typo_login"):
        return rng.choice(APPS[engine])
    table = {
        "monitor": MONITOR,
        "aws": AWS,
        "dba": DBA,
        "migration": MIGRATOR,
        "etl": ETL,
        "bi": BI,
        "backup": BACKUP,
    }[actor]
    return table[engine]


def _host(actor: str, engine: str, rng: random.Random) -> str:
    if actor == "aws":
        return {"sqlserver": "local machine", "mysql": "localhost"}.get(engine, "127.0.0.1")
    if actor == "dba":
        return DBA_NET + str(rng.randint(2, 60))
    if actor in ("migration", "etl", "bi", "backup", "monitor"):
        return BATCH_NET + str(rng.randint(2, 30))
    return rng.choice(APP_NETS) + str(rng.randint(2, 250))


def _session_event(engine: str, event: dict[str, Any], failed: bool, rng: random.Random) -> None:
    event["commandText"] = "" if engine == "mysql" else None
    event["rowCount"] = 0 if engine in ("mysql", "sqlserver") else None
    if engine == "postgres":
        event.update(
            {
                "class": "MISC",
                "command": "AUTH FAILURE" if failed else rng.choice(("CONNECT", "DISCONNECT")),
                "exitCode": "28P01" if failed else None,
            }
        )
    elif engine == "mysql":
        event.update(
            {
                "class": "MAIN",
                "command": "FAILED_CONNECT" if failed else rng.choice(("CONNECT", "DISCONNECT")),
                "exitCode": "1045" if failed else "0",
            }
        )
    elif engine == "oracle":
        event.update(
            {
                "command": "LOGON" if failed or rng.random() < 0.5 else "LOGOFF",
                "exitCode": 1017 if failed else 0,
            }
        )
    else:
        event.update(
            {
                "class": "LOGIN",
                "command": "LOGIN FAILED" if failed else rng.choice(("LOGIN SUCCEEDED", "LOGOUT")),
                "exitCode": 0 if failed else 1,
            }
        )


def benign_events(
    count: int = 100_000, seed: int = 7, start: datetime = START
) -> Iterator[dict[str, Any]]:
    """``count`` raw activity events over one day from ``start``, deterministic for a seed, in
    time order. Two days far apart (``start`` three weeks later) are how the login-history rules,
    which only learn on a first day, are shown quiet on a day they judge."""
    rng = random.Random(seed)
    actors = [name for name, _ in _ACTORS]
    weights = [share for _, share in _ACTORS]
    step = 86_400 / count
    for i in range(count):
        engine = rng.choices(ENGINES, ENGINE_WEIGHTS)[0]
        actor = rng.choices(actors, weights)[0]
        event = base_event(engine)
        when = start + timedelta(seconds=i * step + rng.random() * step)
        if actor == "dba" and not 7 <= when.hour < 20:
            actor = "monitor"  # DBAs change things in working hours; at night the agents poll
        event["logTime"] = _log_time(engine, when)
        event["startTime"] = event["endTime"] = None
        event["dbUserName"] = _user(actor, engine, rng)
        event["remoteHost"] = _host(actor, engine, rng)
        event["sessionId"] = (
            f"{rng.getrandbits(32):x}.{rng.getrandbits(16):x}"
            if engine == "postgres"
            else str(rng.randint(1000, 99999))
            if engine == "mysql"
            else rng.randint(1000, 99999)
        )
        if actor in ("session", "typo_login"):
            _session_event(engine, event, actor == "typo_login", rng)
        else:
            cls, command, sql, rows = rng.choice(_STATEMENTS[actor][engine])
            if engine == "oracle":
                event["command"] = command
            else:
                event["class"] = cls
                event["command"] = command
            event["commandText"] = sql
            event["rowCount"] = rows
        yield event


def alerts_per_rule(
    events: list[dict[str, Any]], rules: Path, lists: dict[str, list[str]] | None = None
) -> tuple[Counter[str], Counter[str]]:
    """(alerts per rule id, alerts per severity) of the pack over ``events``, with ``lists``
    merged over the pack's own lists.yaml."""
    import tempfile

    import yaml

    from engine.rules import build_engine

    data = yaml.safe_load((rules / "lists.yaml").read_text(encoding="utf-8"))
    data["lists"].update(lists or {})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lists.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        wired = build_engine(str(rules), lists_path=str(path))
    result = wired.engine.process(normalize(e) for e in events)
    by_rule: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    for alert in result.alerts:
        by_rule[f"{alert.severity:8} {alert.rule_id}"] += 1
        by_severity[alert.severity] += 1
    return by_rule, by_severity


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rules", default=str(Path(__file__).resolve().parents[1] / "rules"))
    parser.add_argument(
        "--shipped-lists",
        action="store_true",
        help="the lists as shipped (empty allow lists) instead of a site's",
    )
    args = parser.parse_args(argv)
    events = list(benign_events(args.events, args.seed))
    lists = None if args.shipped_lists else site_lists()
    by_rule, by_severity = alerts_per_rule(events, Path(args.rules), lists)
    scale = 100_000 / len(events)
    which = "shipped lists" if args.shipped_lists else "lists filled as docs/tuning.md says"
    print(f"benign stream: {len(events):,} events, seed {args.seed}, {which}")
    print("alerts per 100,000 events, per rule:")
    for key, n in sorted(by_rule.items()):
        print(f"  {n * scale:10.1f}  {key}")
    if not by_rule:
        print("  (none)")
    print(
        "per severity: "
        + ", ".join(
            f"{s} {by_severity[s] * scale:.1f}"
            for s in ("critical", "high", "medium", "low", "info")
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
