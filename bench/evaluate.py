"""Events/s for rule evaluation: our Engine with the shipped rules vs a naive evaluator.

Run: ``python bench/evaluate.py`` (``--events N``, ``--seed S``). Prints, measured in the same
run on one core:

1. the shipped rules (``rules/``) over a realistic normalized four-engine event mix (about 70%
   reads, 20% writes, connects, some DDL, role changes and failed logins — ``bench/streamgen``):
   * ``RuleSet.evaluate`` alone (index + shared interpreter),
   * the whole ``Engine.process`` (evaluation + dedup/thresholds in a MemoryStateStore +
     redacted alerts) in Kinesis-sized batches of 500 events,
   * the naive evaluator: ``jmespath.search(rule.when, event, options)`` for every rule on every
     event (parse cache lookup + a new interpreter per call, no index),
   and the ratio;
2. generated rule packs of 10, 100 and 1000 rules (each pinned to one ``das.action`` like most
   real rules, a tenth action-agnostic), to show how the cost grows with the pack. With 1000
   rules the naive evaluator also overflows jmespath's 128-entry parse cache and re-parses every
   expression on every event — a real cost of that design, but it inflates that one ratio.

Both evaluators see the same events and must find the same matches (checked, not assumed).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jmespath  # noqa: E402

from bench.streamgen import StreamSpec, plan  # noqa: E402
from engine.events import normalize  # noqa: E402
from engine.pipeline.state import MemoryStateStore  # noqa: E402
from engine.rules import build_engine  # noqa: E402
from engine.rules.lang.expr import compile_expr  # noqa: E402
from engine.rules.model import Rule  # noqa: E402
from engine.rules.runtime.engine import Engine  # noqa: E402
from engine.rules.runtime.functions import make_options  # noqa: E402
from engine.rules.runtime.index import derive_actions  # noqa: E402
from engine.rules.runtime.ruleset import RuleSet, is_true  # noqa: E402

BATCH = 500
ACTIONS = ("READ", "WRITE", "DDL", "ROLE", "CONNECT", "DISCONNECT", "LOGIN_FAILED", "FUNCTION")


def make_events(n: int, seed: int) -> list[dict[str, Any]]:
    per_record = 50
    p = plan(StreamSpec(records=max(1, n // per_record), events_per_record=per_record, seed=seed))
    out = []
    for rec in p.records:
        res = rec.resource
        for raw in rec.events:
            out.append(normalize(raw, cluster_id=res.cluster_id, instance_id=res.instance_id))
    return out[:n]


def generated_pack(size: int) -> list[Rule]:
    """``size`` rules shaped like real ones: most pin an action, one in ten does not."""
    rules = []
    for i in range(size):
        action = ACTIONS[i % len(ACTIONS)]
        if i % 10 == 9:  # action-agnostic: runs on every event
            src = f"dbUserName == 'user{i}' || contains(lower(commandText || ''), 'x{i}_')"
        else:
            limit = i + 1_000_000
            src = f"das.action == '{action}' && (dbUserName == 'user{i}' || das.rows > `{limit}`)"
        when = compile_expr(src)
        rules.append(
            Rule(
                id=f"gen-{i}",
                title="generated {dbUserName}",
                severity="low",
                when=when,
                actions=derive_actions(when.compiled.parsed),
            )
        )
    return rules


def naive_matches(rules: Sequence[Rule], options: Any, events: Sequence[dict]) -> int:
    search = jmespath.search
    whens = [r.when.src for r in rules]
    n = 0
    for event in events:
        for src in whens:
            if is_true(search(src, event, options)):
                n += 1
    return n


def ours_matches(ruleset: RuleSet, events: Sequence[dict]) -> int:
    evaluate = ruleset.evaluate
    return sum(len(evaluate(e)) for e in events)


def engine_run(ruleset: RuleSet, events: Sequence[dict]) -> tuple[int, int]:
    """(new alerts, updates of an open window's alert) over Kinesis-sized batches."""
    engine = Engine(ruleset, MemoryStateStore())
    new = updates = 0
    for i in range(0, len(events), BATCH):
        for alert in engine.process(events[i : i + BATCH]).alerts:
            if alert.context.get("update"):
                updates += 1
            else:
                new += 1
    return new, updates


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """(best seconds of ``repeat`` runs, the function's result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} ev/s"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    events = make_events(args.events, args.seed)
    counts: dict[str, int] = {}
    for e in events:
        counts[e["das"]["action"]] = counts.get(e["das"]["action"], 0) + 1
    mix = ", ".join(
        f"{k} {v / len(events):.1%}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])
    )
    print(f"{len(events):,} normalized events (four engines): {mix}")

    wired = build_engine(ROOT / "rules")
    loaded = wired.loaded
    if loaded.errors:
        for p in loaded.errors:
            print(p)
        return 1
    ruleset = wired.ruleset
    options = make_options(loaded.lists, loaded.params)
    n = len(events)

    print(f"\nshipped rules ({len(loaded.rules)}), one core, best of 3:")
    t_ours, m_ours = timed(lambda: ours_matches(ruleset, events))
    t_eng, alerts = timed(lambda: engine_run(ruleset, events))
    t_naive, m_naive = timed(lambda: naive_matches(loaded.rules, options, events))
    print(f"  RuleSet.evaluate (index)   {rate(n, t_ours)}   {m_ours} matches")
    print(
        f"  Engine.process (+suppress) {rate(n, t_eng)}   {alerts[0]} alerts"
        f" (+{alerts[1]} count updates)"
    )
    print(f"  naive jmespath.search      {rate(n, t_naive)}   {m_naive} matches")
    ratio_eval, ratio_engine = t_naive / t_ours, t_naive / t_eng
    print(f"  ratio: evaluate {ratio_eval:.1f}x, engine {ratio_engine:.1f}x faster than naive")
    if m_ours != m_naive:
        print(f"  MISMATCH: ours {m_ours} vs naive {m_naive} matches")
        return 1

    print("\ngenerated packs (90% pinned to one das.action, 10% action-agnostic):")
    print(f"  {'rules':>5}  {'ours':>16}  {'naive':>16}  {'ratio':>6}  {'evaluated/event':>15}")
    sample = events[: min(n, 5000)]
    for size in (10, 100, 1000):
        pack = generated_pack(size)
        rs = RuleSet(pack, {}, {})
        opts = make_options({}, {})
        # naive at 1000 rules also thrashes jmespath's 128-entry parse cache: keep it short
        subset = sample if size < 1000 else sample[:300]
        t_o, m_o = timed(lambda rs=rs, subset=subset: ours_matches(rs, subset))
        t_n, m_n = timed(
            lambda pack=pack, opts=opts, subset=subset: naive_matches(pack, opts, subset), 1
        )
        per_event = sum(len(rs.candidates(e)) for e in subset) / len(subset)
        flag = "" if m_o == m_n else f"  MISMATCH {m_o} vs {m_n}"
        print(
            f"  {size:>5}  {rate(len(subset), t_o)}  {rate(len(subset), t_n)}  "
            f"{t_n / t_o:>5.1f}x  {per_event:>15.1f}{flag}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
