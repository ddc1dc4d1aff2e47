"""Cost of the stateful rule types, next to single-event rules, in one run.

Run: ``python bench/stateful.py`` (``--events N``, ``--seed S``, ``--no-dynamodb``). Prints:

1. ``Engine.process`` cost per event (µs, one core, best of 3, Kinesis-sized batches of 500
   events, in-memory state) for packs of 30 single-event rules (the baseline: signatures that
   rarely match, like most of a real pack), 10 sequence, 10 first-seen and 10 distinct-count
   rules, and all 60 together, over the realistic four-engine event mix of ``bench/streamgen``
   (the same events for every pack). The stateful rules are a worst case: each tracks *every*
   event of its action (every READ, every WRITE…), where real ones track failed logins;
2. with DynamoDB on a local moto server (real HTTP): the calls per batch of 100 events that the
   30 stateful rules make, by operation — the store is called per batch, not per event.

The rules are generated through the loader (the same validation and compilation as a rule file).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.evaluate import make_events  # noqa: E402
from engine.pipeline.state import MemoryStateStore, StateStore  # noqa: E402
from engine.rules.lang.loader import load_rule_text  # noqa: E402
from engine.rules.model import Rule  # noqa: E402
from engine.rules.runtime.engine import Engine  # noqa: E402
from engine.rules.runtime.ruleset import RuleSet  # noqa: E402

BATCH = 500
ACTIONS = ("READ", "WRITE", "DDL", "ROLE", "CONNECT", "LOGIN_FAILED", "FUNCTION", "DISCONNECT")
KEYS = ("das.user", "das.object", "das.database", "remoteHost", "das.verb")


def _rule(text: str) -> Rule:
    rule, problems, _ = load_rule_text(text, "bench.yaml")
    if rule is None:
        raise SystemExit("\n".join(str(p) for p in problems))
    return rule


def single_rules(n: int = 30) -> list[Rule]:
    out = []
    for i in range(n):
        action = ACTIONS[i % len(ACTIONS)]
        out.append(
            _rule(
                f"id: single-{i}\ntitle: t\nseverity: low\nwhen: \"das.action == '{action}'"
                f" && contains_any(das.sql, ['xp_{i}', 'pg_{i}'])\"\n"
            )
        )
    return out


def sequence_rules(n: int = 10) -> list[Rule]:
    out = []
    for i in range(n):
        first, last = ACTIONS[i % len(ACTIONS)], ACTIONS[(i + 1) % len(ACTIONS)]
        out.append(
            _rule(
                f"id: seq-{i}\ntitle: t\nseverity: low\nsequence:\n"
                f'  by: "[das.clusterId || das.instanceId, {KEYS[i % len(KEYS)]}]"\n'
                f"  within: 10m\n  steps:\n"
                f"    - when: \"das.action == '{first}'\"\n      min: {1 + i % 3}\n"
                f"    - when: \"das.action == '{last}'\"\n"
            )
        )
    return out


def first_seen_rules(n: int = 10) -> list[Rule]:
    out = []
    for i in range(n):
        action = ACTIONS[i % len(ACTIONS)]
        out.append(
            _rule(
                f"id: fs-{i}\ntitle: t\nseverity: low\nwhen: \"das.action == '{action}'\"\n"
                f'first_seen:\n  key: "[das.user, {KEYS[i % len(KEYS)]}]"\n'
                f'  scope: "das.clusterId || das.instanceId"\n  learn: 1h\n  remember: 30d\n'
            )
        )
    return out


def distinct_rules(n: int = 10) -> list[Rule]:
    out = []
    for i in range(n):
        action = ACTIONS[i % len(ACTIONS)]
        out.append(
            _rule(
                f"id: dc-{i}\ntitle: t\nseverity: low\nwhen: \"das.action == '{action}'\"\n"
                f"threshold: {{count: 5, distinct: {KEYS[i % len(KEYS)]}, window: 10m, "
                f'group_by: "[das.clusterId || das.instanceId, remoteHost]"}}\n'
            )
        )
    return out


def per_event_us(rules: Sequence[Rule], events: Sequence[dict[str, Any]]) -> tuple[float, int]:
    best, alerts = float("inf"), 0
    for _ in range(3):
        engine = Engine(RuleSet(rules), MemoryStateStore())
        started = time.perf_counter()
        alerts = 0
        for i in range(0, len(events), BATCH):
            alerts += len(engine.process(events[i : i + BATCH]).alerts)
        best = min(best, time.perf_counter() - started)
    return best / len(events) * 1e6, alerts


def dynamodb_calls(rules: Sequence[Rule], events: Sequence[dict[str, Any]], batch: int) -> None:
    import boto3

    from bench._moto import moto_server
    from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table

    with moto_server():
        client = boto3.client("dynamodb")
        create_table(client, "bench-state")
        calls: Counter[str] = Counter()
        client.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: calls.update([model.name])
        )
        store: StateStore = DynamoDBStateStore("bench-state", client)
        engine = Engine(RuleSet(rules), store)
        batches = matched = alerts = 0
        for i in range(0, len(events), batch):
            res = engine.process(events[i : i + batch])
            batches += 1
            matched += res.matched
            alerts += len(res.alerts)
        total = sum(calls.values())
        print(
            f"\nDynamoDB (moto server), {len(rules)} stateful rules, {batches} batches of {batch} "
            f"events, {matched} matches, {alerts} alerts:"
        )
        print(f"  {total / batches:8.1f} calls per batch ({total / max(matched, 1):.3f} per match)")
        for op, n in calls.most_common():
            print(f"  {n / batches:8.1f} {op}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-dynamodb", action="store_true")
    args = parser.parse_args(argv)
    events = make_events(args.events, args.seed)
    packs = {
        "30 single-event (baseline)": single_rules(),
        "10 sequence": sequence_rules(),
        "10 first-seen": first_seen_rules(),
        "10 distinct-count": distinct_rules(),
    }
    packs["all 60"] = [r for rules in packs.values() for r in rules]
    print(f"{len(events):,} events, Engine.process in batches of {BATCH}, memory state, best of 3:")
    base = None
    for name, rules in packs.items():
        us, alerts = per_event_us(rules, events)
        base = base or us
        print(f"  {name:28} {us:7.2f} µs/event  {us / base:5.2f}x  {alerts:6} alerts")
    if not args.no_dynamodb:
        stateful = packs["10 sequence"] + packs["10 first-seen"] + packs["10 distinct-count"]
        dynamodb_calls(stateful, events[: min(len(events), 2000)], 100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
