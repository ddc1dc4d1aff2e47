"""A failed-login flood through the real pipeline (shipped pack, DynamoDB on the moto server)
costs a bounded number of DynamoDB requests per record, counted at botocore's ``before-send``
hook (one per HTTP attempt), not one or more per event."""

from __future__ import annotations

from bench.state_requests import SCENARIOS, measure

FLOOD = SCENARIOS["failed logins, one user, one host"]
RECORDS = 10
# rules of the shipped pack that count a failed login from one host with idempotency markers
# (dedup windows and thresholds): each writes one marker per event, 25 to a BatchWriteItem
MARKING_RULES = 4
PER_RECORD = 25  # everything else a record of failed logins costs, whatever its size


def marker_writes(events: int) -> int:
    return MARKING_RULES * -(-events // 25)


def test_a_failed_login_flood_costs_a_bound_per_record_not_per_event(aws: str) -> None:
    big = measure(FLOOD, RECORDS, 100)
    assert big["alerts"] >= 1
    # no conditional write per event: the per-event path sent 4,000 PutItem for this flood
    assert "PutItem" not in big["by_op"]
    assert big["requests"] <= RECORDS * (PER_RECORD + marker_writes(100))
    # five times the events per record: only the marker writes grow
    small = measure(FLOOD, RECORDS, 20)
    growth = big["requests"] - small["requests"]
    assert growth <= RECORDS * (marker_writes(100) - marker_writes(20))
    assert big["per_event"] < 0.5  # was 4.19 with per-event state
