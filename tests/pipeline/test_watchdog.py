"""The watchdog's decision: who is silent, and one alert id per silence episode."""

from __future__ import annotations

from engine.pipeline.watchdog import Silence, find_silent, silence_alert

NOW = 1_800_000_000.0


def test_find_silent_resources_and_expected_ones_never_seen() -> None:
    seen = {"cluster-A": NOW - 30, "cluster-B": NOW - 601, "db-C": NOW - 10_000}
    silent = find_silent(seen, ["cluster-A", "db-D"], NOW, 600)
    assert silent == [
        Silence("cluster-B", NOW - 601, 601),
        Silence("db-C", NOW - 10_000, 10_000),
        Silence("db-D", None, None),
    ]


def test_one_alert_id_per_episode_and_a_daily_reminder() -> None:
    s = Silence("cluster-B", NOW - 900, 900)
    a1 = silence_alert(s, NOW, 600)
    a2 = silence_alert(Silence("cluster-B", NOW - 900, 1200), NOW + 300, 600)
    assert a1.id == a2.id  # same last heartbeat: same episode
    assert a1.kind == "pipeline" and a1.severity == "high"
    assert a1.title == (
        "Activity stream of cluster-B silent for 15 min (no heartbeat since 2027-01-15T07:45:00Z)"
    )
    later = silence_alert(Silence("cluster-B", NOW - 900, 90_000), NOW + 86_400, 600)
    assert later.id != a1.id  # a reminder the next day
    resumed = silence_alert(Silence("cluster-B", NOW + 50, 900), NOW + 950, 600)
    assert resumed.id != a1.id  # it beat again, then went silent again: a new episode
