"""Events/s for ``engine.events.normalize`` on a realistic four-engine mix.

Prints our figure next to a naive baseline measured in the same run: a straightforward
normaliser that deep-copies the event, parses the time with ``strptime`` and finds the verb with
an uncached regex (what a first version would do). Run: ``python bench/normalize.py``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import time
from pathlib import Path

from engine.events import base_event, normalize

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "das" / "samples"
_VERB = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*([A-Za-z]+(?:\s+[A-Za-z]+)?)", re.S)


def naive(raw: dict, cluster_id: str, instance_id: str) -> dict:
    event = copy.deepcopy(raw)
    log_time = raw.get("logTime") or ""
    try:
        parsed = dt.datetime.strptime(log_time[:26], "%Y-%m-%d %H:%M:%S.%f")
        iso = parsed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        iso = None
    found = _VERB.match(raw.get("commandText") or "")
    event["das"] = {
        "clusterId": cluster_id or None,
        "instanceId": instance_id,
        "time": iso,
        "verb": found.group(1).upper() if found else None,
    }
    return event


def workload(n: int) -> list[dict]:
    shapes = []
    for engine in ("postgres", "mysql", "oracle", "sqlserver"):
        shapes.append(base_event(engine))
    if SAMPLES.is_dir():
        for path in sorted(SAMPLES.glob("*.json")):
            doc = json.loads(path.read_text())
            shapes += [
                e for e in doc.get("databaseActivityEventList", []) if e.get("type") != "heartbeat"
            ]
    events = []
    for i in range(n):
        event = dict(shapes[i % len(shapes)])
        if isinstance(event.get("commandText"), str):  # distinct literals, like real traffic
            event["commandText"] = event["commandText"].replace("28", str(i))
        events.append(event)
    return events


def measure(fn, events: list[dict], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for event in events:
            fn(event, "cluster-X", "db-Y")
        best = min(best, time.perf_counter() - start)
    return len(events) / best


def main() -> None:
    events = workload(50_000)
    ours = measure(lambda e, c, i: normalize(e, cluster_id=c, instance_id=i), events)
    base = measure(naive, events)
    print(f"normalize: {ours:,.0f} events/s (one core)")
    print(f"naive    : {base:,.0f} events/s (deepcopy + strptime + regex, fewer fields)")
    print(f"ratio    : {ours / base:.1f}x")


if __name__ == "__main__":
    main()
