"""The pack with a site's lists filled in, as docs/tuning.md tells a site to: what goes quiet, and
what no list can silence. Runs the shipped rules through `dasalert eval`, as a site would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from engine.cli import main
from engine.events import base_event

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"


@pytest.fixture()
def site_lists(tmp_path: Path) -> Path:
    """The shipped lists.yaml with a site's entries added."""
    data = yaml.safe_load((RULES / "lists.yaml").read_text(encoding="utf-8"))
    lists = data["lists"]
    lists["master_users"] = ["postgres", "admin"]
    lists["admins"] = ["postgres", "dba_alice"]
    lists["service_accounts"] = ["flyway", "etl_loader"]
    lists["monitoring_accounts"] = ["datadog"]
    lists["app_accounts"] = ["app_shop"]
    lists["approved_export_buckets"] = ["acme-db-backups-prod", "acme-exports"]
    path = tmp_path / "lists.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# a Tuesday at 10:00 UTC, in each engine's own logTime form: inside working hours
WORKING_HOURS = {
    "postgres": "2026-11-17 10:00:00.000000+00",
    "mysql": "2026-11-17 10:00:00.000000+00",
    "oracle": "2026-11-17 10:00:00.000000",
    "sqlserver": "2026-11-17 10:00:00.0000000+00",
}


def _event(engine: str, **fields: object) -> dict:
    event = base_event(engine)
    event["remoteHost"] = "10.0.3.7"  # the Oracle base event's documentation address is public
    event["logTime"] = WORKING_HOURS[engine]
    event.update(fields)
    return event


def _alerts(tmp_path: Path, lists: Path, capsys, events: list[dict]) -> list[str]:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    rc = main(["eval", "--rules", str(RULES), "--lists", str(lists), "--format", "json", str(path)])
    out, _ = capsys.readouterr()
    assert rc == 0
    return sorted(json.loads(line)["rule_id"] for line in out.splitlines() if line.strip())


EXPORTS = {
    "postgres": "SELECT * FROM aws_s3.query_export_to_s3('SELECT * FROM orders', "
    "aws_commons.create_s3_uri('{bucket}', 'orders.csv', 'us-east-1'))",
    "mysql": "SELECT * FROM orders INTO OUTFILE S3 's3-us-east-1://{bucket}/orders/'",
    "sqlserver": "exec msdb.dbo.rds_backup_database @source_db_name='sales', "
    "@s3_arn_to_backup_to='arn:aws:s3:::{bucket}/sales.bak', @overwrite_S3_backup_file=1",
    "oracle": "SELECT rdsadmin.rdsadmin_s3_tasks.upload_to_s3(p_bucket_name => '{bucket}', "
    "p_prefix => '', p_s3_prefix => 'dump/', p_directory_name => 'DATA_PUMP_DIR') FROM DUAL",
}
CLASSES = {
    "postgres": "FUNCTION",
    "mysql": "MAIN",
    "sqlserver": "STORED PROCEDURE",
    "oracle": "Standard",
}
COMMANDS = {"postgres": "SELECT", "mysql": "QUERY", "sqlserver": "EXECUTE", "oracle": "SELECT"}


def _export(engine: str, bucket: str, user: str = "backup") -> dict:
    return _event(
        engine,
        **{
            "class": CLASSES[engine],
            "command": COMMANDS[engine],
            "commandText": EXPORTS[engine].format(bucket=bucket),
            "dbUserName": user if engine != "oracle" else user.upper(),
        },
    )


@pytest.mark.parametrize("engine", sorted(EXPORTS))
def test_an_export_to_an_approved_bucket_is_quiet_and_any_other_is_critical(
    engine, tmp_path, site_lists, capsys
) -> None:
    assert _alerts(tmp_path, site_lists, capsys, [_export(engine, "acme-db-backups-prod")]) == []
    assert _alerts(tmp_path, site_lists, capsys, [_export(engine, "loot-203")]) == [
        "cloud-storage-export"
    ]


def test_the_shipped_default_approves_no_bucket(tmp_path, capsys) -> None:
    assert _alerts(
        tmp_path, RULES / "lists.yaml", capsys, [_export("mysql", "acme-db-backups-prod")]
    ) == ["cloud-storage-export"]


def test_an_approved_decoy_beside_the_real_bucket_does_not_help(tmp_path, site_lists, capsys):
    event = _export("mysql", "loot-203")
    event["commandText"] += " /* INTO OUTFILE S3 's3://acme-exports/x' */"
    assert _alerts(tmp_path, site_lists, capsys, [event]) == ["cloud-storage-export"]


def test_admins_are_exempt_from_ddl_but_never_from_what_only_an_attacker_does(
    tmp_path, site_lists, capsys
) -> None:
    ddl = _event(
        "postgres",
        **{
            "class": "DDL",
            "command": "CREATE TABLE",
            "commandText": "CREATE TABLE t (x int)",
            "dbUserName": "postgres",
        },
    )
    assert _alerts(tmp_path, site_lists, capsys, [ddl]) == []
    critical = [
        _event(
            "postgres",
            **{
                "class": "ROLE",
                "command": "GRANT",
                "dbUserName": "postgres",
                "commandText": "GRANT rds_superuser TO backdoor",
            },
        ),
        _event(
            "postgres",
            **{
                "class": "WRITE",
                "command": "COPY",
                "dbUserName": "dba_alice",
                "commandText": "COPY t FROM PROGRAM 'id'",
            },
        ),
        _event(
            "postgres",
            **{
                "class": "MISC",
                "command": "SET",
                "dbUserName": "postgres",
                "commandText": "SET pgaudit.log = 'none'",
            },
        ),
        _event(
            "postgres",
            **{
                "class": "DDL",
                "command": "DROP DATABASE",
                "dbUserName": "dba_alice",
                "commandText": "DROP DATABASE shop",
            },
        ),
    ]
    assert _alerts(tmp_path, site_lists, capsys, critical) == [
        "drop-database",
        "pg-copy-program",
        "postgres-audit-tampering",
        "superuser-granted",
    ]


def test_service_and_app_accounts_quiet_their_own_false_positives(tmp_path, site_lists, capsys):
    events = [
        _event(
            "postgres",
            **{
                "class": "WRITE",
                "command": "TRUNCATE TABLE",
                "dbUserName": "etl_loader",
                "commandText": "TRUNCATE TABLE orders",
            },
        ),
        _event(
            "postgres",
            **{
                "class": "MISC",
                "command": "SET",
                "dbUserName": "app_shop",
                "commandText": "SET ROLE tenant_42",
            },
        ),
        _event(
            "postgres",
            **{
                "class": "DDL",
                "command": "CREATE TABLE",
                "dbUserName": "flyway",
                "commandText": "CREATE TABLE flyway_schema_history (x int)",
            },
        ),
    ]
    assert _alerts(tmp_path, site_lists, capsys, events) == []
    # the same statements by an unlisted user alert
    for event in events:
        event["dbUserName"] = "mallory"
    assert _alerts(tmp_path, site_lists, capsys, events) == [
        "ddl-by-non-admin",
        "impersonation",
        "truncate-table",
    ]


def test_an_admin_change_at_night_is_still_worth_a_look(tmp_path, site_lists, capsys) -> None:
    grant = _event(
        "postgres",
        **{
            "class": "ROLE",
            "command": "GRANT",
            "dbUserName": "dba_alice",
            "commandText": "GRANT SELECT ON salaries TO reporting",
        },
    )
    assert _alerts(tmp_path, site_lists, capsys, [grant]) == []
    grant["logTime"] = "2026-11-17 02:30:00.000000+00"
    assert _alerts(tmp_path, site_lists, capsys, [grant]) == ["off-hours-privileged-change"]
