"""The shipped rule pack: loads cleanly, every test passes, every engine is covered."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.rules.lang.loader import load_rules
from engine.rules.testing.runner import is_positive, run_tests

RULES = Path(__file__).resolve().parents[2] / "rules"
ENGINES = {"postgres", "mysql", "oracle", "sqlserver"}
AWS_INTERNAL = {"rdsadmin", "RDSADMIN", "RDSSEC", "rdsproxyadmin"}
# engines where the activity cannot show up: RDS for Oracle never reports a row count
NOT_RECORDED = {"large-read": {"oracle"}}
EXPECTED = {
    "ddl-by-non-admin",
    "failed-login",
    "brute-force-failed-logins",
    "large-read",
    "privilege-change-by-non-admin",
}


@pytest.fixture(scope="module")
def loaded():
    return load_rules([RULES])


def test_the_pack_loads_without_errors(loaded) -> None:
    assert loaded.errors == []
    assert {r.id for r in loaded.rules} == EXPECTED


def test_every_starter_rule_test_passes(loaded) -> None:
    report = run_tests(loaded.rules, loaded.lists, loaded.params, min_tests=True)
    assert report.ok, report.render(verbose=False)
    assert report.passed >= 40


@pytest.mark.parametrize("rule_id", sorted(EXPECTED))
def test_positive_and_negative_tests_on_every_engine(loaded, rule_id: str) -> None:
    rule = next(r for r in loaded.rules if r.id == rule_id)
    positive = {t.engine for t in rule.tests if is_positive(t)}
    negative = {t.engine for t in rule.tests if not is_positive(t)}
    assert positive == ENGINES - NOT_RECORDED.get(rule_id, set())
    assert negative == ENGINES


def test_lists_keep_the_aws_internal_users(loaded) -> None:
    for name in ("aws_internal_users", "admins", "service_accounts"):
        assert set(loaded.lists[name]) >= AWS_INTERNAL, name
    assert loaded.params["large_read_rows"] == 100000


def test_every_rule_is_indexed_and_deduplicated(loaded) -> None:
    """No shipped rule runs on every event, and none can flood a responder."""
    for rule in loaded.rules:
        assert rule.actions, rule.id
        assert rule.dedup is not None or rule.threshold is not None, rule.id
