"""The shipped rule pack: loads cleanly, every test passes, and every rule meets the pack's bar.

The bar (what a responder and a site need from each rule): ATT&CK technique tags, a
description, a runbook shipped beside it, references, the known false positives and the list
that handles them, and inline tests on each engine it covers — a positive and a near miss that
stays quiet on every engine it claims. Critical rules are what only an attacker or a disaster
does, so no allow list of people exempts them (a stolen master credential is the likeliest
attacker): only AWS's own accounts, through ``aws_internal_user(@)``.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from engine.rules.lang.loader import load_rules
from engine.rules.testing.runner import is_positive, run_tests

RULES = Path(__file__).resolve().parents[2] / "rules"
ENGINES = {"postgres", "mysql", "oracle", "sqlserver"}
# AWS's own accounts in any spelling: no allow list may hold them (aws_internal_user(@) does).
AWS_INTERNAL = {"rdsadmin", "rdsa", "rdssec", "rdsproxyadmin"}
# engines where the activity cannot show up: RDS for Oracle never reports a row count
NOT_RECORDED = {"large-read": {"oracle"}}
# The starter rules cover every engine; the rest of the pack covers the engines where the act
# exists (COPY ... PROGRAM is PostgreSQL's, xp_cmdshell SQL Server's).
ALL_ENGINE_RULES = {
    "ddl-by-non-admin",
    "failed-login",
    "brute-force-failed-logins",
    "large-read",
    "privilege-change-by-non-admin",
    "credential-store-read",
    "superuser-granted",
    "cloud-storage-export",
    "sqli-union-catalog",
    "sqli-time-based",
    "login-from-new-source",
    "dormant-account-login",
}
PEOPLE_LISTS = ("admins", "service_accounts", "monitoring_accounts", "app_accounts", "master_users")
_TECHNIQUE = re.compile(r"^attack\.t\d{4}(\.\d{3})?$")


@pytest.fixture(scope="module")
def loaded():
    return load_rules([RULES])


def test_the_pack_loads_without_errors_one_rule_per_file_named_by_id(loaded) -> None:
    assert loaded.errors == []
    files = {p.stem for p in RULES.glob("*.yaml")} - {"lists"}
    assert {r.id for r in loaded.rules} == files
    assert len(loaded.rules) >= 35


def test_every_rule_test_passes(loaded) -> None:
    report = run_tests(loaded.rules, loaded.lists, loaded.params, min_tests=True)
    assert report.ok, report.render(verbose=False)
    assert report.passed >= 250


@pytest.mark.parametrize("rule_id", sorted(ALL_ENGINE_RULES))
def test_positive_and_negative_tests_on_every_engine(loaded, rule_id: str) -> None:
    rule = next(r for r in loaded.rules if r.id == rule_id)
    positive = {t.engine for t in rule.tests if is_positive(t)}
    negative = {t.engine for t in rule.tests if not is_positive(t)}
    assert positive == ENGINES - NOT_RECORDED.get(rule_id, set())
    assert negative == ENGINES


def test_every_engine_a_rule_covers_has_a_positive_and_a_near_miss(loaded) -> None:
    for rule in loaded.rules:
        positive = {t.engine for t in rule.tests if is_positive(t)}
        negative = {t.engine for t in rule.tests if not is_positive(t)}
        assert positive, rule.id
        assert positive <= negative, (rule.id, positive - negative)


def test_every_rule_is_documented_for_responders(loaded) -> None:
    for rule in loaded.rules:
        assert any(_TECHNIQUE.match(tag) for tag in rule.tags), rule.id
        assert len(rule.description) > 100, rule.id
        assert rule.references, rule.id
        assert rule.runbook and (RULES / rule.runbook).is_file(), rule.id
        source = (RULES / f"{rule.id}.yaml").read_text(encoding="utf-8")
        assert "Known false positives" in source, rule.id


def test_rules_on_inferred_shapes_say_so(loaded) -> None:
    """A rule that only covers engines whose event shape nobody captured ships experimental."""
    for rule in loaded.rules:
        if rule.status == "experimental":
            assert "inferred" in rule.description, rule.id
        engines = {t.engine for t in rule.tests if is_positive(t)}
        if engines and engines <= {"oracle", "sqlserver"} and rule.id not in ALL_ENGINE_RULES:
            assert rule.status == "experimental", rule.id


def test_no_allow_list_of_people_exempts_a_critical_rule(loaded) -> None:
    critical = [r for r in loaded.rules if r.severity == "critical"]
    assert len(critical) >= 10
    for rule in critical:
        for name in PEOPLE_LISTS:
            assert f"'{name}'" not in rule.when.src, (rule.id, name)
        assert "!aws_internal_user(@)" in rule.when.src, rule.id


def test_lists_name_no_aws_account_and_ship_safe_defaults(loaded) -> None:
    for name in PEOPLE_LISTS:
        assert {str(v).lower() for v in loaded.lists[name]} & AWS_INTERNAL == set(), name
    nets = [ipaddress.ip_network(n) for n in loaded.lists["internal_nets"]]
    for address in (
        "10.1.2.3",
        "172.20.0.1",
        "192.168.1.1",
        "100.64.3.4",
        "127.0.0.1",
        "::1",
        "fd12::1",
    ):
        assert any(
            ipaddress.ip_address(address) in n
            for n in nets
            if n.version == ipaddress.ip_address(address).version
        ), address
    for address in ("8.8.8.8", "116.127.85.242", "2001:4860::8888"):
        assert not any(
            ipaddress.ip_address(address) in n
            for n in nets
            if n.version == ipaddress.ip_address(address).version
        ), address
    assert loaded.lists["approved_export_buckets"] == []
    assert loaded.params["large_read_rows"] == 100000


def test_every_rule_is_indexed_and_deduplicated(loaded) -> None:
    """No shipped rule runs on every event, and none can flood a responder."""
    for rule in loaded.rules:
        assert rule.actions, rule.id
        # a sequence fires once per completed sequence, a first-seen rule once per new value
        stateful = rule.threshold or rule.sequence or rule.first_seen
        assert rule.dedup is not None or stateful is not None, rule.id
