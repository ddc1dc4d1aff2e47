"""How the cost per event grows: with the rule pack, with events per record, with the batch.

    python bench/scaling.py                 # all three tables
    python bench/scaling.py --only rules    # rules | epr | memory
    python bench/scaling.py --json

1. **Rule pack size.** 10, 100 and 1,000 generated rules (and the shipped pack) on the same
   normalized events: ``RuleSet.evaluate`` and ``Engine.process`` per event. The generated rules
   are varied the way a real pack is: every action, named lists of users, regexes over the SQL,
   CIDR checks, row-count thresholds, dedup and threshold blocks, and a share (5%) of rules that
   pin no action (``in_list_ci(dbUserName, 'departed_…')``), which the action index cannot skip.
2. **Events per record.** 1, 10 and 100 events per record end to end (handler vs the published
   approach vs the floor, interleaved, KMS on moto): the per-record costs (a KMS call for the
   baseline, the Encryption SDK's signature check for both) are spread over more events.
3. **A 10,000-record batch.** In a fresh child process (the moto server stays in this one): the
   handler's whole-process peak RSS, which is what Lambda's memory setting has to hold.

Pinned to one core like ``bench/pipeline.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench import pipeline as pl  # noqa: E402
from bench import streamgen as sg  # noqa: E402

# --- a generated, realistic rule pack -------------------------------------------------------
SEVERITIES = ("low", "medium", "medium", "high", "critical")
GENERIC_KINDS = (
    "sql_technique",
    "bulk_read_any",
    "role_change",
    "login_outside",
    "failed_burst",
    "departed_users",
    "ddl_any",
    "sql_technique",
    "bulk_read_any",
    "role_change",
)
ASSET_KINDS = (
    ("sensitive_read", 26),
    ("sensitive_write", 16),
    ("bulk_read", 12),
    ("ddl_user", 12),
    ("failed_user", 10),
    ("user_database", 12),
    ("team_departed", 12),
)
TECHNIQUES = (
    r"(?i)\binto\s+(out|dump)file\b",
    r"(?i)\bcopy\b.+\bto\s+program\b",
    r"(?i)\bxp_cmdshell\b",
    r"(?i)\b(pg_read_file|pg_ls_dir|load_file)\s*\(",
    r"(?i)\butl_(http|file|tcp)\b",
    r"(?i)\bdbms_java\b",
)


def _q(text: str) -> str:
    """A JMESPath raw string literal."""
    return "'" + text.replace("'", "\\'") + "'"


def _object(rng: random.Random, i: int) -> str:
    """A ``das.object`` as the generator's engines report it, or (half the time) a table that
    the stream never touches, as most per-asset rules of a big pack are about other tables."""
    table = rng.choice(sg.TABLES)
    if rng.random() < 0.5:
        table = f"{table}_{i}"
    form = rng.randrange(4)
    return (f"public.{table}", table, table.upper(), table)[form]


def _rule(i: int, kind: str, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """One rule of ``kind`` (YAML text) and the named lists it needs."""
    user = rng.choice(sg.APP_USERS + sg.HUMAN_USERS)
    if rng.random() < 0.5:
        user = f"{user}_{i}"
    lists: dict[str, Any] = {}
    extra = ""
    if kind == "sql_technique":
        pattern = _q(TECHNIQUES[i % len(TECHNIQUES)])
        when = f"contains(['READ', 'WRITE', 'OTHER'], das.action) && matches(das.sql, {pattern})"
        title = "Dangerous SQL by {dbUserName}"
    elif kind == "bulk_read_any":
        when = f"das.action == 'READ' && das.rows > `{rng.randrange(50_000, 500_000)}`"
        title = "{das.rows} rows read from {das.object}"
        extra = 'dedup: {key: "[dbUserName, das.object]", window: 1h}\n'
    elif kind == "role_change":
        when = (
            "das.action == 'ROLE' && contains_any(lower(das.sql || ''), "
            "['grant all', 'superuser', 'sysadmin', 'grant dba'])"
        )
        title = "Powerful privilege granted by {dbUserName}"
    elif kind == "login_outside":
        lists[f"office_nets_{i}"] = ["10.0.0.0/14", "172.16.0.0/12"]
        when = (
            "contains(['CONNECT', 'LOGIN_FAILED'], das.action) "
            f"&& !cidr_match(das.sourceHost, 'office_nets_{i}')"
        )
        title = "Session from {das.sourceHost} for {dbUserName}"
        extra = 'dedup: {key: "[das.sourceHost]", window: 30m}\n'
    elif kind == "failed_burst":
        when = "das.action == 'LOGIN_FAILED'"
        title = "Failed logins from {das.sourceHost}"
        extra = 'threshold: {count: 5, window: 5m, group_by: "[das.sourceHost]"}\n'
    elif kind == "departed_users":
        lists[f"departed_{i}"] = ["bob_old", f"contractor_{i}", f"intern_{i}"]
        when = f"in_list_ci(dbUserName, 'departed_{i}')"
        title = "Activity by departed user {dbUserName}"
    elif kind == "ddl_any":
        lists[f"dba_{i}"] = ["rdsadmin", "flyway", "admin"]
        when = f"das.action == 'DDL' && !(das.aux) && !in_list_ci(dbUserName, 'dba_{i}')"
        title = "DDL by {dbUserName}"
    elif kind == "sensitive_read":
        # the applications and some people may read it: reads by the others alert
        lists[f"readers_{i}"] = [*sg.APP_USERS, *rng.sample(sg.HUMAN_USERS, 3), f"svc_{i}"]
        when = (
            f"das.action == 'READ' && das.object == {_q(_object(rng, i))} "
            f"&& !in_list_ci(dbUserName, 'readers_{i}')"
        )
        title = "Read of {das.object} by {dbUserName}"
        extra = 'dedup: {key: "[das.clusterId || das.instanceId, dbUserName]", window: 1h}\n'
    elif kind == "sensitive_write":
        verbs = rng.choice((["DELETE"], ["DELETE"], ["DELETE", "UPDATE"]))
        when = (
            f"das.object == {_q(_object(rng, i))} && das.action == 'WRITE' "
            f"&& contains({json.dumps(verbs)}, das.verb)"
        )
        title = "{das.verb} on {das.object} by {dbUserName}"
    elif kind == "bulk_read":
        when = (
            f"das.action == 'READ' && das.object == {_q(_object(rng, i))} "
            f"&& das.rows > `{rng.randrange(1_000, 100_000)}`"
        )
        title = "{das.rows} rows read from {das.object}"
    elif kind == "ddl_user":
        when = f"das.action == 'DDL' && dbUserName == {_q(user)}"
        title = "DDL by {dbUserName}: {das.verb}"
    elif kind == "failed_user":
        when = f"das.action == 'LOGIN_FAILED' && dbUserName == {_q(user)}"
        title = "Failed logins for {dbUserName}"
        extra = 'threshold: {count: 3, window: 5m, group_by: "[das.clusterId || das.instanceId]"}\n'
    elif kind == "user_database":
        # a person on a database, or (mostly) another team's account on it
        user = rng.choice(sg.HUMAN_USERS) if rng.random() < 0.3 else f"svc_{i}"
        db = rng.choice([*sorted(set(sg.DATABASES.values())), f"db_{i}"])
        when = f"dbUserName == {_q(user)} && das.database == {_q(db)}"
        title = "{dbUserName} on {das.database}"
        extra = 'dedup: {key: "[dbUserName]", window: 1d}\n'
    elif kind == "team_departed":
        lists[f"team_{i}_departed"] = [f"{user}_old", f"contractor_{i}"]
        when = f"in_list_ci(dbUserName, 'team_{i}_departed')"
        title = "Activity by departed user {dbUserName}"
    else:
        raise ValueError(kind)
    text = (
        f"id: gen-{i:04d}-{kind.replace('_', '-')}\n"
        f"title: {json.dumps(title)}\n"
        f"description: Generated {kind} rule {i} for the scaling bench.\n"
        f"severity: {rng.choice(SEVERITIES)}\n"
        f"tags: [bench.{kind}]\n"
        f"when: {json.dumps(when)}\n"
        f"{extra}"
    )
    return text, lists


def rule_kinds(n: int, generic: int, rng: random.Random) -> list[str]:
    """A pack grows by per-asset rules (a table, a user, a database each); the technique rules
    (SQL patterns, bulk reads, logins from outside, privilege changes) are a fixed core."""
    kinds = [GENERIC_KINDS[i % len(GENERIC_KINDS)] for i in range(min(generic, n))]
    names, weights = zip(*ASSET_KINDS, strict=True)
    kinds += rng.choices(names, weights=weights, k=n - len(kinds))
    return kinds


def write_rule_pack(n: int, directory: Path, *, generic: int = 10, seed: int = 7) -> Path:
    """``n`` generated rules (``generic`` of them technique rules), one file each, and their
    ``lists.yaml``."""
    import yaml

    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    lists: dict[str, Any] = {}
    for i, kind in enumerate(rule_kinds(n, generic, rng)):
        text, needed = _rule(i, kind, rng)
        (directory / f"gen-{i:04d}.yaml").write_text(text)
        lists.update(needed)
    (directory / "lists.yaml").write_text(
        yaml.safe_dump({"lists": lists, "params": {"large_read_rows": 100000}})
    )
    return directory


def load_ruleset(path: Path) -> tuple[Any, float]:
    from engine.rules import build_engine

    t0 = time.perf_counter()
    wired = build_engine(path)
    errors = wired.loaded.errors
    if errors:
        raise SystemExit(f"generated rules do not load: {errors[0]}")
    rs = wired.ruleset
    return rs, time.perf_counter() - t0


def normalized_events(n_events: int, seed: int = 3) -> list[dict[str, Any]]:
    from engine.events import normalize

    p = sg.plan(sg.StreamSpec(records=max(1, n_events // 50), events_per_record=50, seed=seed))
    return [
        normalize(e, cluster_id=r.resource.cluster_id, instance_id=r.resource.instance_id)
        for r in p.records
        for e in r.events
    ]


def same_matches(rs: Any, events: list[dict[str, Any]]) -> bool:
    """Does the rule set (index, compiled evaluation) find exactly what the plain interpreter
    finds running every rule on every event? Rules with ``unless`` are left out of the check."""
    from engine.rules.runtime.functions import make_options
    from engine.rules.runtime.ruleset import is_true

    options = make_options(rs.lists, rs.params)
    plain_rules = [r for r in rs.rules if not r.unless]
    for event in events:
        got = {m.rule.id for m in rs.evaluate(event) if not m.rule.unless}
        want = {r.id for r in plain_rules if is_true(r.when.compiled.search(event, options))}
        if got != want:
            return False
    return True


def rules_table(
    n_events: int, sizes: Sequence[int], repeat: int = 3, check_events: int = 2000
) -> list[dict[str, Any]]:
    from engine.pipeline.state import MemoryStateStore
    from engine.rules.runtime.engine import Engine

    events = normalized_events(n_events)
    batches = [events[i : i + 50] for i in range(0, len(events), 50)]
    rows = []
    packs: list[tuple[str, Path]] = [("shipped", pl.SHIPPED_RULES)]
    tmp = Path(tempfile.mkdtemp(prefix="dasalert-rules-"))
    packs += [(f"{n:,} generated", write_rule_pack(n, tmp / str(n))) for n in sizes]
    worst = max(sizes)
    packs.append(
        (
            f"{worst:,}, 10% technique",
            write_rule_pack(worst, tmp / f"{worst}-worst", generic=worst // 10),
        )
    )
    for name, path in packs:
        rs, load_s = load_ruleset(path)
        cand = sum(len(rs.candidates(e)) for e in events) / len(events)
        t_eval, matches = pl.timed(lambda rs=rs: sum(len(rs.evaluate(e)) for e in events), repeat)

        def engine_pass(rs: Any = rs) -> int:
            eng = Engine(rs, MemoryStateStore())
            return sum(len(eng.process(b).alerts) for b in batches)

        t_eng, alerts = pl.timed(engine_pass, repeat)
        rows.append(
            {
                "pack": name,
                "rules": len(rs),
                "candidates_per_event": cand,
                "load_s": load_s,
                "evaluate_us": t_eval / len(events) * 1e6,
                "evaluate_events_s": len(events) / t_eval,
                "engine_us": t_eng / len(events) * 1e6,
                "engine_events_s": len(events) / t_eng,
                "matches": matches,
                "alerts": alerts,
                "same_matches": same_matches(rs, events[:check_events]),
            }
        )
    base = next((r for r in rows if r["rules"] == min(sizes)), rows[0])
    for r in rows:
        r["x_at_10"] = r["evaluate_us"] / base["evaluate_us"]
        r["engine_x_at_10"] = r["engine_us"] / base["engine_us"]
    return rows


def epr_table(
    total_events: int, eprs: Sequence[int], rules: Path, records_per_key: int, repeat: int = 2
) -> list[dict[str, Any]]:
    rows = []
    with pl.moto_kms():
        counter = pl.KmsCounter().install()
        pl.configure_handler_env(rules)
        key_id = pl.create_kms_key()
        warm = pl.make_stream(sg.StreamSpec(records=8, events_per_record=10, seed=99), key_id, 100)
        pl.run_side_by_side(warm, rules, counter)
        for epr in eprs:
            spec = sg.StreamSpec(
                records=max(1, total_events // epr),
                events_per_record=epr,
                records_per_key=records_per_key,
                seed=11,
            )
            stream = pl.make_stream(spec, key_id, 100)
            res = pl.run_side_by_side(stream, rules, counter, repeat=repeat)
            ours, base, floor = res["ours"], res["baseline"], res["floor"]
            rows.append(
                {
                    "events_per_record": epr,
                    "records": ours.records,
                    "ours_events_s": ours.events_s,
                    "ours_us": ours.us_per_event,
                    "ours_kms": ours.kms_calls,
                    "base_events_s": base.events_s,
                    "base_us": base.us_per_event,
                    "base_kms": base.kms_calls,
                    "speedup": ours.events_s / base.events_s,
                    "floor_us": floor.us_per_event,
                    "x_floor": ours.us_per_event / floor.us_per_event,
                }
            )
    return rows


_CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, os.environ["DASALERT_BENCH_ROOT"])
from bench import pipeline as pl
pl.pin_one_core()
pl.configure_handler_env(pl.Path(os.environ["DASALERT_RULES"]))
def rss():
    # VmHWM: the peak RSS of this process image. ru_maxrss would also count the parent's pages
    # at fork/vfork time (Linux keeps that high-water mark across exec).
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
from handlers.kinesis import handler
rt = pl.fresh_runtime()
_ = rt.pipeline.decoder.keys.client  # the KMS client exists in a warm container
before = rss()
with open(sys.argv[1], "rb") as f:
    event = json.loads(f.read())
loaded = rss()
t0 = time.perf_counter()
with pl.quiet_stdout():
    resp = handler(event, pl.LambdaContext())
seconds = time.perf_counter() - t0
print(json.dumps({"rss_ready_mb": before, "rss_event_loaded_mb": loaded, "rss_peak_mb": rss(),
                  "seconds": seconds, "failures": len(resp["batchItemFailures"])}))
"""


def memory_row(records: int, epr: int, rules: Path) -> dict[str, Any]:
    """Peak RSS of a fresh process handling one ``records``-record batch."""
    with pl.moto_kms(), tempfile.TemporaryDirectory() as tmp:
        pl.configure_handler_env(rules)
        key_id = pl.create_kms_key()
        spec = sg.StreamSpec(
            records=records, events_per_record=epr, seed=5, engines=(("postgres", 1.0),)
        )
        stream = pl.make_stream(spec, key_id, batch_size=records)
        assert len(stream.events) == 1
        path = Path(tmp) / "event.json"
        path.write_text(json.dumps(stream.events[0]))
        env = dict(os.environ, DASALERT_BENCH_ROOT=str(ROOT))
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"memory child failed:\n{out.stderr[-3000:]}")
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row.update(
            records=records,
            events_per_record=epr,
            events=stream.activity_events,
            event_mb=path.stat().st_size / 2**20,
        )
        return row


# --- report -----------------------------------------------------------------------------------
def print_rules(rows: list[dict[str, Any]]) -> None:
    print("Cost per event as the rule pack grows (RuleSet.evaluate / Engine.process, warm):\n")
    print(
        pl.table(
            [
                "rule pack",
                "rules",
                "rules run/event",
                "load + compile s",
                "evaluate µs/event",
                "evaluate events/s",
                "x cost at 10",
                "Engine µs/event",
                "Engine x at 10",
                "matches",
                "same as interpreter",
            ],
            [
                [
                    r["pack"],
                    r["rules"],
                    r["candidates_per_event"],
                    r["load_s"],
                    r["evaluate_us"],
                    r["evaluate_events_s"],
                    r["x_at_10"],
                    r["engine_us"],
                    r["engine_x_at_10"],
                    r["matches"],
                    "yes" if r["same_matches"] else "NO",
                ]
                for r in rows
            ],
        )
    )
    print()


def print_epr(rows: list[dict[str, Any]]) -> None:
    print("End to end as events per record vary (handler vs published approach vs floor):\n")
    print(
        pl.table(
            [
                "events/record",
                "records",
                "ours events/s",
                "ours µs/event",
                "ours KMS calls",
                "published events/s",
                "published KMS calls",
                "speed-up",
                "floor µs/event",
                "ours x floor",
            ],
            [
                [
                    r["events_per_record"],
                    r["records"],
                    r["ours_events_s"],
                    r["ours_us"],
                    r["ours_kms"],
                    r["base_events_s"],
                    r["base_kms"],
                    f"{r['speedup']:.1f}x",
                    r["floor_us"],
                    f"{r['x_floor']:.1f}x",
                ]
                for r in rows
            ],
        )
    )
    print()


def print_memory(row: dict[str, Any]) -> None:
    print(
        f"One batch of {row['records']:,} records x {row['events_per_record']} events "
        f"({row['events']:,} events, Lambda event JSON {row['event_mb']:.1f} MiB) in a fresh "
        f"process: max RSS {row['rss_ready_mb']:.0f} MiB after imports and rule load, "
        f"{row['rss_event_loaded_mb']:.0f} MiB with the event parsed, "
        f"{row['rss_peak_mb']:.0f} MiB peak after the handler ({row['seconds']:.1f} s, "
        f"{row['failures']} failed records); target: within 512 MB.\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=("rules", "epr", "memory"), action="append")
    p.add_argument("--events", type=int, default=20_000, help="events for the rule-pack table")
    p.add_argument("--e2e-events", type=int, default=5_000, help="events per row, epr table")
    p.add_argument("--records-per-key", type=int, default=100)
    p.add_argument("--memory-records", type=int, default=10_000)
    p.add_argument("--memory-events-per-record", type=int, default=10)
    p.add_argument("--rules", type=Path, default=pl.SHIPPED_RULES)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    only = set(args.only or ("rules", "epr", "memory"))
    pinning = pl.pin_one_core()
    out: dict[str, Any] = {"machine": pl.machine(), "pinning": pinning}
    if not args.json:
        print(f"dasalert scaling bench — {out['machine']}; {pinning}\n")
    if "rules" in only:
        out["rules"] = rules_table(args.events, (10, 100, 1000))
        if not args.json:
            print_rules(out["rules"])
    if "epr" in only:
        out["epr"] = epr_table(args.e2e_events, (1, 10, 100), args.rules, args.records_per_key)
        if not args.json:
            print_epr(out["epr"])
    if "memory" in only:
        out["memory"] = memory_row(args.memory_records, args.memory_events_per_record, args.rules)
        if not args.json:
            print_memory(out["memory"])
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
