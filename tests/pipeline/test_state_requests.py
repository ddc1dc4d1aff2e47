"""A failed-login flood through the real pipeline (shipped pack, DynamoDB on the moto server)
costs a bounded number of DynamoDB requests per batch, counted at botocore's ``before-send`` hook
(one per HTTP attempt): the records of a batch are settled in one engine call, so how the events
are spread over records does not matter, and the only requests that grow with the events are
the batched idempotency markers (one ``BatchGetItem`` per 100 and one ``BatchWriteItem`` per 25
matches of each rule that keeps them)."""

from __future__ import annotations

from bench.state_requests import SCENARIOS, measure

FLOOD = SCENARIOS["failed logins, one user, one host"]
# rules of the shipped pack that count a failed login from one host with idempotency markers
# (dedup windows and thresholds)
MARKING_RULES = 4
PER_CALL = 50  # everything else one engine call over a flood from one host costs, whatever its size
SPAN_BUCKETS = 5


def marker_requests(events: int) -> int:
    return MARKING_RULES * (-(-events // 25) + -(-events // 100))


def test_a_flood_costs_the_same_requests_however_its_events_are_spread_over_records(
    aws: str,
) -> None:
    ten = measure(FLOOD, 10, 100)
    assert ten["alerts"] >= 1
    # one call per batch: 1 record of 1,000 events, 10 of 100 and 50 of 20 cost the same
    assert measure(FLOOD, 1, 1000)["requests"] == ten["requests"]
    assert measure(FLOOD, 50, 20)["requests"] == ten["requests"]


def test_a_failed_login_flood_costs_a_bound_per_batch_not_per_event(aws: str) -> None:
    big = measure(FLOOD, 10, 100)
    # no conditional write per event: the per-event path sent 4,000 PutItem for this flood
    assert "PutItem" not in big["by_op"]
    assert big["requests"] <= PER_CALL + marker_requests(1000)
    # five times the events: the marker requests grow, and a threshold's counter updates by the
    # few more sub-buckets five times the time span covers (events are 50 ms apart)
    small = measure(FLOOD, 10, 20)
    growth = big["requests"] - small["requests"]
    assert growth <= marker_requests(1000) - marker_requests(200) + SPAN_BUCKETS
    assert big["per_event"] < 0.3  # was 4.19 with per-event state, 0.37 with a call per record


ROTATING = SCENARIOS["failed logins, rotating users and IPv6 hosts"]


def test_a_flood_of_new_incidents_costs_one_request_per_new_window_or_group(aws: str) -> None:
    """Every failed login from a new user and address opens two dedup windows and a threshold
    group (an atomic counter update each: DynamoDB cannot batch them) and a distinct-count group
    (a read); everything else — markers, the windows' folded values, the sent markers of the
    alerts — goes out in batched writes, not per window or per alert."""
    events = 50
    m = measure(ROTATING, 2, events // 2)
    assert m["alerts"] == 2 * events + 1  # two windows per event, and the per-cluster count
    assert m["by_op"]["UpdateItem"] <= 3 * events + 5
    assert m["by_op"]["Query"] <= events + 15
    assert m["requests"] <= PER_CALL + 4 * events + events
    assert measure(ROTATING, 1, events)["requests"] == m["requests"]  # one call per batch
