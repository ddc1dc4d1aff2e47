"""Hostile statement sizes: time and memory of one huge event through every text stage.

Each case runs in a fresh interpreter (so peak RSS is that case's alone) and takes one event
through what the function does with it: ``normalize`` → ``Engine.process`` with the shipped
rules (evaluation, suppression, redaction, title) → the SNS document, the Slack message and the
Security Hub finding. The first case is an ordinary 1 KiB statement: the baseline of the run.
A second table measures a rule regex that backtracks, with and without the time budget.

Run: ``python bench/hostile.py`` (``--mib 20`` sets the hostile size; about a minute).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "baseline 1 KiB DDL": ("postgres", "CREATE TABLE t (" + "c int, " * 140 + "d int)"),
    "password words in a literal": (
        "postgres",
        "ALTER TABLE t ADD c text DEFAULT '{fill}'",
    ),
    "grant grant … (backtracking bait)": ("mysql", "SELECT '{fill}'"),
    "line comments before DROP": ("mysql", "{fill}DROP TABLE audit_log"),
    "parentheses": ("postgres", "SELECT {fill}1"),
}
FILLS = {
    "password words in a literal": "password ",
    "grant grant … (backtracking bait)": "grant ",
    "line comments before DROP": "--x\n",
    "parentheses": "(",
}


def _child(case: str, mib: float) -> None:
    """Run one case in this (fresh) process and print a JSON line."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from engine.events import base_event, normalize
    from engine.outputs.asff import build_finding
    from engine.outputs.slack_blocks import render_group
    from engine.outputs.sns import MAX_BYTES, encode_message
    from engine.rules import build_engine

    wired = build_engine(ROOT / "rules")
    engine_name, template = CASES[case]
    fill = FILLS.get(case, "")
    size = int(mib * 2**20)
    text = template.replace("{fill}", fill * (size // max(len(fill), 1))) if fill else template
    raw = base_event(engine_name)
    raw.update(
        {
            "class": "DDL" if engine_name == "postgres" else "MAIN",
            "command": "QUERY" if engine_name == "mysql" else "ALTER TABLE",
            "commandText": text,
            "dbUserName": "mallory",
        }
    )
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    event = normalize(raw, cluster_id="cluster-BENCH", instance_id="db-BENCH")
    stages["normalize"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = wired.engine.process([event])
    stages["evaluate+alert"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    for alert in result.alerts:
        encode_message(alert, MAX_BYTES)
        build_finding(
            alert, account_id="123456789012", region="us-east-1", now=dt.datetime.now(dt.UTC)
        )
    if result.alerts:
        render_group(result.alerts)
    stages["render"] = time.perf_counter() - t2
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "case": case,
                "chars": len(text),
                "total_s": time.perf_counter() - t0,
                "stages": stages,
                "extra_rss_mib": (peak - base_rss) / 1024,
                "alerts": [a.rule_id for a in result.alerts],
                "rule_errors": result.rule_errors,
                "verb": event["das"]["verb"],
                "action": event["das"]["action"],
            }
        )
    )


def _regex_table() -> None:
    from engine.rules.runtime.functions import RegexBudgetExceeded, timed_search

    pattern = re.compile(r"(?i)grant\s+.*\s+to\s+.*public")
    print("\nrule regex (?i)grant\\s+.*\\s+to\\s+.*public on 'grant grant …':")
    print(f"{'size':>8}  {'re, no budget':>14}  {'with budget':>12}  outcome")
    for kib in (4, 16, 64):
        value = "grant " * (kib * 1024 // 6)
        t = time.perf_counter()
        pattern.search(value)
        plain = time.perf_counter() - t
        t = time.perf_counter()
        try:
            timed_search(pattern, value)
            outcome = "answered"
        except RegexBudgetExceeded:
            outcome = "rule error (budget)"
        budgeted = time.perf_counter() - t
        print(f"{kib:>6} KiB  {plain:>13.3f}s  {budgeted:>11.3f}s  {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=20.0, help="hostile statement size")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.mib)
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        print("pinned to one core (a Lambda function below 1,769 MB gets one vCPU)")
    print(f"one event per case, hostile cases {args.mib:g} MiB; the function has 1,024 MB")
    header = f"{'case':<36} {'chars':>10} {'total s':>8} {'extra RSS':>10}  stages / result"
    print(header)
    for case in CASES:
        mib = args.mib if case in FILLS else 0
        out = subprocess.run(
            [sys.executable, __file__, "--child", case, "--mib", str(mib)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        stages = " ".join(f"{k} {v:.2f}s" for k, v in r["stages"].items())
        print(
            f"{case:<36} {r['chars']:>10,} {r['total_s']:>8.2f} {r['extra_rss_mib']:>8.0f} MiB"
            f"  {stages}; verb {r['verb']}, action {r['action']}, alerts {r['alerts']}, "
            f"rule errors {r['rule_errors']}"
        )
    _regex_table()


if __name__ == "__main__":
    main()
