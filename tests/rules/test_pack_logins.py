"""The login-history rules of the shipped pack with a site's lists filled in, through
``dasalert eval`` over a capture that spans the learning period (as a site replays a month).

``login-from-new-source`` learns application accounts inside ``internal_nets`` per /16, so a
fleet scaling into a new subnet stays quiet; everything else per /24 (IPv6 /64). Master users
are high on both rules.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.cli import main
from engine.events import base_event
from tests.rules.test_pack_tuning import site_lists  # noqa: F401  (fixture)

RULES = Path(__file__).resolve().parents[2] / "rules"
START = datetime(2026, 10, 1, 10, tzinfo=UTC)


def _login(day: float, user: str, host: str) -> dict:
    event = base_event("postgres")
    when = START + timedelta(days=day)
    event.update(
        {
            "class": "MISC",
            "command": "CONNECT",
            "commandText": None,
            "dbUserName": user,
            "remoteHost": host,
            "logTime": when.strftime("%Y-%m-%d %H:%M:%S.%f+00"),
        }
    )
    return event


def _alerts(tmp_path: Path, lists: Path, capsys, events: list[dict]) -> list[dict]:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    rc = main(["eval", "--rules", str(RULES), "--lists", str(lists), "--format", "json", str(path)])
    out, _ = capsys.readouterr()
    assert rc == 0
    return [json.loads(line) for line in out.splitlines() if line.strip()]


HISTORY = [
    _login(0, "app_shop", "10.1.4.20"),
    _login(0, "dba_alice", "10.9.0.5"),
    _login(0, "postgres", "10.9.0.6"),
    _login(1, "reporting", "10.1.4.30"),
]


def test_an_app_fleet_in_a_new_subnet_of_its_vpc_is_quiet(tmp_path, site_lists, capsys):  # noqa: F811
    events = [*HISTORY, _login(20, "app_shop", "10.1.77.3")]  # same /16, new /24
    assert _alerts(tmp_path, site_lists, capsys, events) == []


def test_an_app_account_from_another_vpc_or_the_internet_is_new(tmp_path, site_lists, capsys):  # noqa: F811
    events = [*HISTORY, _login(20, "app_shop", "10.2.0.9"), _login(21, "app_shop", "203.0.113.5")]
    got = [
        (a["rule_id"], a["context"]["first_seen"]["value"][1])
        for a in _alerts(tmp_path, site_lists, capsys, events)
        if a["rule_id"] == "login-from-new-source"
    ]
    assert got == [
        ("login-from-new-source", "10.2.0.0/16"),
        ("login-from-new-source", "203.0.113.0/24"),
    ]


def test_a_person_in_a_new_subnet_is_new_and_the_master_user_is_high(
    tmp_path,
    site_lists,  # noqa: F811
    capsys,
):
    events = [*HISTORY, _login(20, "reporting", "10.1.77.3"), _login(20, "postgres", "10.9.8.1")]
    got = {
        a["context"]["first_seen"]["value"][0]: a["severity"]
        for a in _alerts(tmp_path, site_lists, capsys, events)
        if a["rule_id"] == "login-from-new-source"
    }
    assert got == {"reporting": "medium", "postgres": "high"}


def test_the_master_user_back_after_two_months_is_high(tmp_path, site_lists, capsys):  # noqa: F811
    events = [*HISTORY, _login(10, "dba_alice", "10.9.0.5"), _login(61, "postgres", "10.9.0.6")]
    got = [
        (a["severity"], a["context"]["first_seen"]["silent_days"])
        for a in _alerts(tmp_path, site_lists, capsys, events)
        if a["rule_id"] == "dormant-account-login"
    ]
    assert got == [("high", 61)]
