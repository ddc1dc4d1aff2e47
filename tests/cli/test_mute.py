"""``dasalert mute`` against the state table on the moto server."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from engine.cli import main
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from engine.rules.lang.expr import compile_expr
from engine.rules.model import Dedup
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.ruleset import RuleSet
from tests.rules.runtime.test_engine import ev, rule

TABLE = "dasalert-state"


@pytest.fixture
def table(aws: str, monkeypatch: pytest.MonkeyPatch) -> str:
    create_table(boto3.client("dynamodb"), TABLE)
    monkeypatch.setenv("DASALERT_STATE_TABLE", TABLE)
    return TABLE


def store() -> DynamoDBStateStore:
    return DynamoDBStateStore(TABLE, boto3.client("dynamodb"))


def test_add_list_remove(table: str, capsys) -> None:
    assert main(["mute", "add", "ddl-change", "--key", "alice", "--for", "24h",
                 "--reason", "migration", "--who", "cli:ops"]) == 0  # fmt: skip
    assert 'muted ddl-change (key "alice") until' in capsys.readouterr().out
    assert main(["mute", "add", "spray", "--for", "1h", "--reason", "pen test"]) == 0
    capsys.readouterr()
    assert main(["mute", "list", "--format", "json"]) == 0
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["rule"], d["key"]) for d in docs] == [("spray", None), ("ddl-change", '"alice"')]
    assert docs[1]["who"] == "cli:ops" and docs[0]["who"].startswith("cli:")
    assert abs(docs[1]["until_epoch"] - (time.time() + 86400)) < 600
    assert main(["mute", "list"]) == 0
    text = capsys.readouterr().out
    assert "spray  *  until" in text and 'ddl-change  "alice"  until' in text
    assert main(["mute", "remove", "ddl-change", "--key", '"alice"']) == 0  # JSON form too
    assert main(["mute", "remove", "ddl-change", "--key", "alice"]) == 1  # gone
    assert [m.rule_id for m in store().list_mutes()] == ["spray"]


def test_a_cli_mute_is_honoured_by_the_engine(table: str) -> None:
    assert main(["mute", "add", "r", "--key", "alice", "--for", "2h", "--reason", "x"]) == 0
    r = rule("r", "`true`", dedup=Dedup(compile_expr("dbUserName"), 600))
    now = time.time()
    res = Engine(RuleSet([r], {}, {}), store()).process(
        [ev(epoch=now, dbUserName="alice"), ev(epoch=now, dbUserName="bob")]
    )
    assert [a.dedup_key for a in res.alerts] == ['"bob"'] and res.muted == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["mute", "add", "Bad_Rule", "--for", "1h", "--reason", "x"],
        ["mute", "add", "r", "--for", "forever", "--reason", "x"],
        ["mute", "add", "r", "--for", "365d", "--reason", "x"],
        ["mute", "add", "r", "--for", "1h", "--reason", "   "],
    ],
)
def test_invalid_requests_store_nothing(table: str, argv: list[str], capsys) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("dasalert mute: ")
    assert store().list_mutes() == []


def test_no_table_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("DASALERT_STATE_TABLE", raising=False)
    assert main(["mute", "list"]) == 2
    assert "DASALERT_STATE_TABLE" in capsys.readouterr().err


def test_a_missing_table_fails_without_a_traceback(aws: str, capsys) -> None:
    assert main(["mute", "list", "--table", "no-such-table"]) == 1
    assert "ResourceNotFoundException" in capsys.readouterr().err
