"""The state-requests bench counts what it claims: no request for noise no rule matches, requests
for failed logins (the stateful login rules, settled per record), on the moto server."""

from __future__ import annotations

from bench.state_requests import SCENARIOS, measure


def test_baseline_costs_nothing_and_a_failed_login_flood_is_counted(aws: str) -> None:
    base = measure(SCENARIOS["plain SELECTs (baseline)"], 1, 20)
    flood = measure(SCENARIOS["failed logins, one user, one host"], 1, 20)
    assert base["requests"] <= 1  # the heartbeat's UpdateItem, once per batch
    assert flood["requests"] > 1 and "PutItem" not in flood["by_op"]  # settled per record
    assert sum(flood["by_caller"].values()) == flood["requests"]
    assert flood["alerts"] >= 1
