"""End to end: a generated encrypted stream through ``handlers.kinesis.handler``, against the
published approach on the same records, in the same process, with the floor next to both.

    python bench/pipeline.py                      # 1,000 records x 50 events, shipped rules
    python bench/pipeline.py --records 200 --events-per-record 10 --records-per-key 1
    python bench/pipeline.py --profile pyinstrument   # where our time goes (no timings)
    python bench/pipeline.py --json                   # figures for docs/performance.md

What is measured, and why this way:

* KMS is a moto server on 127.0.0.1, started in this process and reached over real HTTP by boto3
  (``AWS_ENDPOINT_URL``), so every KMS call costs a real round trip (a local one: real KMS is
  slower, so the figures *understate* what the data-key cache saves).
* Ours is the Lambda handler exactly as deployed (rules from ``DASALERT_RULES``, memory state,
  the KMS data-key cache), with outputs off: the runtime's router is removed after it is built,
  so alerts are evaluated, suppressed and built but not sent (sending is network time, not ours).
* The published approach (``bench/baseline.py``) runs the same rules on the same records.
* The floor is gunzip + ``json.loads`` of the same (pre-decrypted) payloads: what any Python
  consumer pays per event before doing anything useful.
* The process is pinned to one core (``os.sched_setaffinity``) when the OS allows it: a Lambda
  function below 1,769 MB has at most one vCPU's worth of time, and it makes runs comparable.
  The moto server's threads share that core: its time is part of what a KMS call costs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench import baseline  # noqa: E402
from bench import streamgen as sg  # noqa: E402

SHIPPED_RULES = ROOT / "rules"
OUTPUT_ENV = (
    "SNS_TOPIC_ARN",
    "SLACK_WEBHOOK_SECRET_ARN",
    "SLACK_WEBHOOK_URL",
    "SLACK_BOT_TOKEN_SECRET_ARN",
    "SECURITYHUB_ENABLED",
    "DASALERT_OUTPUTS",
    "DASALERT_STAGING_OUTPUTS",
    "DASALERT_OPS_OUTPUTS",
    "DASALERT_STATE_TABLE",
    "DASALERT_DLQ_URL",
    "DASALERT_RESOURCE_ID",
)


# --- environment -----------------------------------------------------------------------------
def pin_one_core() -> str:
    """Pin this process (and the threads it starts later) to one CPU; say what happened."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu} (os.sched_setaffinity)"
    except (AttributeError, OSError) as exc:
        return f"not pinned ({type(exc).__name__}): figures may use more than one core"


def machine() -> str:
    import platform

    cpus = os.cpu_count()
    return (
        f"{platform.python_implementation()} {platform.python_version()} on "
        f"{platform.machine()}, {cpus} CPUs, {platform.system()} {platform.release()}"
    )


@contextlib.contextmanager
def moto_kms() -> Iterator[str]:
    """A moto server on 127.0.0.1 in this process (D's ``bench/_moto.py``); boto3 finds it
    through ``AWS_ENDPOINT_URL``."""
    from bench._moto import moto_server

    with moto_server() as url:
        yield url


class KmsCounter:
    """Counts KMS Decrypt HTTP requests seen by every client of boto3's default session.

    Observes botocore's ``before-send`` event (nothing is patched or answered): clients created
    after ``install`` inherit the handler, which includes the one the handler's runtime builds.
    """

    def __init__(self) -> None:
        self.decrypt = 0
        self.other = 0

    def _seen(self, request: Any = None, **kwargs: Any) -> None:
        target = ""
        if request is not None:
            target = request.headers.get("X-Amz-Target", b"")
            target = target.decode() if isinstance(target, bytes) else str(target)
        if target.endswith(".Decrypt"):
            self.decrypt += 1
        else:
            self.other += 1

    def install(self) -> KmsCounter:
        import boto3

        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-send.kms", self._seen)
        return self

    def take(self) -> int:
        n, self.decrypt = self.decrypt, 0
        return n


class LambdaContext:
    """What the handler reads from a Lambda context (and powertools' logger)."""

    function_name = "dasalert-bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:dasalert-bench"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/dasalert-bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def configure_handler_env(rules: Path) -> None:
    """Rules from ``rules``; no output, state table, dead-letter queue or resource override."""
    for name in OUTPUT_ENV:
        os.environ.pop(name, None)
    os.environ["DASALERT_RULES"] = str(rules)
    os.environ["LOG_LEVEL"] = "WARNING"  # the per-batch INFO line is not what we measure
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "dasalert-bench")


def fresh_runtime() -> Any:
    """Build the Kinesis runtime as the first invocation would, then switch outputs off."""
    from handlers import _runtime

    _runtime.reset()
    rt = _runtime.runtime(_runtime.KINESIS)
    rt.pipeline.router = None  # evaluate, suppress and build alerts; send nothing
    _ = rt.pipeline.decoder.keys.client  # a warm container already has its KMS client
    return rt


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """powertools prints the EMF metrics blob per invocation: not part of what we compare."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


# --- measuring -------------------------------------------------------------------------------
@dataclass
class Timing:
    name: str
    seconds: float
    records: int
    events: int
    kms_calls: int | None = None
    matches: int | None = None
    alerts: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def records_s(self) -> float:
        return self.records / self.seconds if self.seconds else float("inf")

    @property
    def events_s(self) -> float:
        return self.events / self.seconds if self.seconds else float("inf")

    @property
    def us_per_event(self) -> float:
        return self.seconds / self.events * 1e6 if self.events else float("nan")


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best of ``repeat`` wall-clock runs (GC collected before each, left on during)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Stream:
    """A generated, encrypted stream and everything derived from it once, untimed."""

    plan: sg.Plan
    encoded: list[sg.EncodedRecord]
    events: list[dict[str, Any]]  # Lambda Kinesis events (batches)
    activity_events: int
    payload_bytes: int


def make_stream(spec: sg.StreamSpec, kms_key_id: str, batch_size: int) -> Stream:
    from engine.das.keys import KmsKeyProvider

    p = sg.plan(spec)
    encoded = sg.encode(p, KmsKeyProvider(key_id=kms_key_id))
    return Stream(
        p,
        encoded,
        sg.kinesis_events(encoded, batch_size),
        p.event_count,
        sg.payload_size(encoded),
    )


def create_kms_key() -> str:
    import boto3

    return boto3.client("kms").create_key(Description="dasalert bench")["KeyMetadata"]["KeyId"]


def rule_sources(rules: Path) -> tuple[list[str], Any]:
    """The ``when`` texts of the pack and the JMESPath options with our functions."""
    from engine.rules.lang.loader import load_rules
    from engine.rules.runtime.functions import make_options

    loaded = load_rules([rules])
    return [r.when.src for r in loaded.rules], make_options(loaded.lists, loaded.params)


def run_side_by_side(
    stream: Stream,
    rules: Path,
    counter: KmsCounter,
    *,
    with_baseline: bool = True,
    repeat: int = 1,
) -> dict[str, Timing]:
    """Ours, the published approach and the floor, interleaved batch by batch; best of
    ``repeat`` passes for each.

    Interleaving means all three see the same machine: a slow second on a shared host slows
    one batch of each, not one side of the comparison. Each pass of ours starts from a freshly
    built runtime (rules compiled, KMS client created, untimed): empty data-key cache, empty
    state, as a container that has just been handed these records.
    """
    import boto3

    from handlers.kinesis import handler

    whens, options = rule_sources(rules)
    kms = boto3.client("kms")
    payloads = [baseline.gzip_payloads([ev], kms) for ev in stream.events]  # untimed
    ctx = LambdaContext()
    n_rec, n_ev = len(stream.encoded), stream.activity_events
    best: dict[str, Timing] = {}
    clock = time.perf_counter
    for _ in range(max(1, repeat)):
        rt = fresh_runtime()
        stats0 = rt.pipeline.decoder.keys.stats.kms_calls
        t_ours = t_base = t_floor = 0.0
        kms_ours = kms_base = 0
        base = baseline.BaselineResult()
        failures: list[Any] = []
        counter.take()
        gc.collect()
        for event, gz in zip(stream.events, payloads, strict=True):
            with quiet_stdout():
                t0 = clock()
                resp = handler(event, ctx)
                t_ours += clock() - t0
            failures.extend(resp["batchItemFailures"])
            kms_ours += counter.take()
            if with_baseline:
                t0 = clock()
                baseline.handler(event, kms, whens, options, base)
                t_base += clock() - t0
                kms_base += counter.take()
            t0 = clock()
            baseline.floor(gz)
            t_floor += clock() - t0
        if failures:
            raise SystemExit(f"the handler reported {len(failures)} failed records")
        this = {
            "ours": Timing(
                "dasalert (handlers.kinesis.handler)",
                t_ours,
                n_rec,
                n_ev,
                kms_calls=kms_ours,
                extra={"provider_kms_calls": rt.pipeline.decoder.keys.stats.kms_calls - stats0},
            ),
            "floor": Timing("floor: gunzip + json.loads", t_floor, n_rec, n_ev),
        }
        if with_baseline:
            assert base.events == n_ev, (base.events, n_ev)
            this["baseline"] = Timing(
                "published approach (bench/baseline.py)",
                t_base,
                base.records,
                base.events,
                kms_calls=kms_base,
                matches=base.matches,
            )
        for k, v in this.items():
            if k not in best or v.seconds < best[k].seconds:
                best[k] = v
    return best


def run_stages(stream: Stream, rules: Path, repeat: int = 3) -> list[Timing]:
    """Our cost split by stage, each on the whole stream with warm caches (best of ``repeat``)."""
    from engine.das.sources import records_from_kinesis_event
    from engine.events import normalize
    from engine.pipeline.state import MemoryStateStore
    from engine.rules.lang.loader import load_rules
    from engine.rules.runtime.engine import Engine
    from engine.rules.runtime.ruleset import RuleSet

    rt = fresh_runtime()
    decoder = rt.pipeline.decoder
    raw = [r for ev in stream.events for r in records_from_kinesis_event(ev)]
    for r in raw:  # warm the data-key and materials caches
        decoder.decode(r)
    n_rec, n_ev = len(raw), stream.activity_events
    out: list[Timing] = []

    t, decoded = timed(lambda: [decoder.decode(r) for r in raw], repeat)
    out.append(Timing("decode (warm keys: ESDK + gunzip + JSON)", t, n_rec, n_ev))

    def norm() -> list[list[dict[str, Any]]]:
        return [
            [normalize(e, cluster_id=d.cluster_id, instance_id=d.instance_id) for e in d.events]
            for d in decoded
        ]

    t, normalized = timed(norm, repeat)
    out.append(Timing("normalize", t, n_rec, n_ev))

    loaded = load_rules([rules])
    ruleset = RuleSet(loaded.rules, loaded.lists, loaded.params)
    flat = [e for batch in normalized for e in batch]
    t, matched = timed(lambda: sum(len(ruleset.evaluate(e)) for e in flat), repeat)
    out.append(Timing(f"RuleSet.evaluate ({len(ruleset)} rules)", t, n_rec, n_ev, matches=matched))

    def engine_pass() -> int:
        engine = Engine(ruleset, MemoryStateStore())
        return sum(len(engine.process(batch).alerts) for batch in normalized)

    t, alerts = timed(engine_pass, repeat)
    out.append(Timing("Engine.process (evaluate, suppress, alerts)", t, n_rec, n_ev, alerts=alerts))
    return out


def peak_memory_one_pass(stream: Stream) -> tuple[float, float]:
    """(tracemalloc peak MiB while the handler runs the stream once, process max RSS MiB)."""
    from handlers.kinesis import handler

    fresh_runtime()
    ctx = LambdaContext()
    gc.collect()
    tracemalloc.start()
    try:
        with quiet_stdout():
            for event in stream.events:
                handler(event, ctx)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20, maxrss_mb()


# --- reporting -------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table (readable in a terminal, pasteable in the docs)."""
    cells = [[str(c) for c in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        lines.append("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "–"
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "–" if value is None else str(value)


def report(args: argparse.Namespace, info: dict[str, Any], results: dict[str, Any]) -> str:
    ours: Timing = results["ours"]
    base: Timing | None = results.get("baseline")
    floor: Timing = results["floor"]
    lines = [
        f"dasalert end-to-end bench — {info['machine']}; {info['pinning']}",
        f"stream: {info['records']:,} records x {args.events_per_record} events "
        f"({info['events']:,} activity events, {info['engines']}), "
        f"a new data key every {args.records_per_key} records per stream, "
        f"batches of {args.batch_size}, {info['payload_mb']:.1f} MB of record data; "
        f"rules: {info['rules']} ({info['rule_count']}); "
        f"best of {args.repeat} passes, the three sides interleaved batch by batch",
        "",
    ]
    rows = []
    for t in [ours, base, floor]:
        if t is None:
            continue
        rows.append(
            [
                t.name,
                t.records_s,
                t.events_s,
                t.us_per_event,
                t.kms_calls,
            ]
        )
    lines.append(table(["", "records/s", "events/s", "µs/event", "KMS calls"], rows))
    lines.append("")
    if base is not None:
        lines.append(
            f"speed-up over the published approach: {ours.events_s / base.events_s:.1f}x "
            f"(target ≥ 5x at 50 events/record); baseline rule matches: {base.matches:,}"
        )
    lines.append(
        f"our cost as a multiple of the floor: {ours.us_per_event / floor.us_per_event:.1f}x "
        "end to end (target ≤ 3x)"
    )
    stages: list[Timing] = results.get("stages") or []
    if stages:
        lines += ["", "where our time goes (each stage alone, warm caches, best of 3):", ""]
        f = floor.us_per_event
        srows = [[s.name, s.events_s, s.us_per_event, s.us_per_event / f] for s in stages]
        srows.append([floor.name, floor.events_s, floor.us_per_event, 1.0])
        lines.append(table(["stage", "events/s", "µs/event", "x floor"], srows))
        post = sum(s.us_per_event for s in stages[1:2]) + stages[-1].us_per_event
        lines.append("")
        lines.append(
            f"after decryption (gunzip + JSON + normalize + Engine): "
            f"{(floor.us_per_event + post) / floor.us_per_event:.1f}x the floor"
        )
    mem = results.get("memory")
    if mem:
        lines += [
            "",
            f"memory: tracemalloc peak {mem[0]:.1f} MiB while the handler ran the stream once; "
            f"process max RSS {mem[1]:.0f} MiB (includes moto, the generated stream and the "
            "baseline)",
        ]
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=1000)
    p.add_argument("--events-per-record", type=int, default=50)
    p.add_argument("--records-per-key", type=int, default=100, help="data-key rotation")
    p.add_argument("--batch-size", type=int, default=100, help="records per Lambda invocation")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rules", type=Path, default=SHIPPED_RULES)
    p.add_argument("--repeat", type=int, default=3, help="passes; the best of each side counts")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--no-stages", action="store_true")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument(
        "--profile",
        choices=("pyinstrument", "cprofile"),
        help="profile our handler on the stream instead of timing it",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    return p.parse_args(argv)


def profile(stream: Stream, how: str) -> str:
    from handlers.kinesis import handler

    fresh_runtime()
    ctx = LambdaContext()

    def go() -> None:
        with quiet_stdout():
            for event in stream.events:
                handler(event, ctx)

    if how == "pyinstrument":
        from pyinstrument import Profiler

        prof = Profiler(interval=0.0005)
        prof.start()
        go()
        prof.stop()
        return prof.output_text(unicode=True, color=False, show_all=False)
    import cProfile
    import pstats

    pr = cProfile.Profile()
    pr.enable()
    go()
    pr.disable()
    buf = io.StringIO()
    pstats.Stats(pr, stream=buf).sort_stats("tottime").print_stats(30)
    return buf.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    pinning = pin_one_core()
    spec = sg.StreamSpec(
        records=args.records,
        events_per_record=args.events_per_record,
        records_per_key=args.records_per_key,
        seed=args.seed,
    )
    with moto_kms():
        counter = KmsCounter().install()
        configure_handler_env(args.rules)
        key_id = create_kms_key()
        stream = make_stream(spec, key_id, args.batch_size)
        warm = make_stream(
            sg.StreamSpec(
                records=20, events_per_record=spec.events_per_record, seed=spec.seed + 99
            ),
            key_id,
            args.batch_size,
        )
        rt = fresh_runtime()
        info = {
            "machine": machine(),
            "pinning": pinning,
            "records": len(stream.encoded),
            "events": stream.activity_events,
            "engines": ", ".join(f"{k} {v:,}" for k, v in sg.mix(stream.plan)["engines"].items()),
            "payload_mb": stream.payload_bytes / 1e6,
            "rules": _shown(args.rules),
            "rule_count": f"{rt.rules} rules",
        }
        if args.profile:
            run_side_by_side(warm, args.rules, counter, with_baseline=False)
            print(profile(stream, args.profile))
            return 0
        # imports and first-call costs of all three, not part of the figures
        run_side_by_side(warm, args.rules, counter, with_baseline=not args.no_baseline)
        results: dict[str, Any] = run_side_by_side(
            stream, args.rules, counter, with_baseline=not args.no_baseline, repeat=args.repeat
        )
        if not args.no_stages:
            results["stages"] = run_stages(stream, args.rules)
        if not args.no_memory:
            results["memory"] = peak_memory_one_pass(stream)
    if args.json:
        print(json.dumps(to_json(args, info, results), indent=2))
    else:
        print(report(args, info, results))
    return 0


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def to_json(
    args: argparse.Namespace, info: dict[str, Any], results: dict[str, Any]
) -> dict[str, Any]:
    def t(x: Timing) -> dict[str, Any]:
        return {
            "name": x.name,
            "seconds": x.seconds,
            "records": x.records,
            "events": x.events,
            "records_s": x.records_s,
            "events_s": x.events_s,
            "us_per_event": x.us_per_event,
            "kms_calls": x.kms_calls,
            "matches": x.matches,
            "alerts": x.alerts,
            **x.extra,
        }

    out: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "info": info}
    for k, v in results.items():
        if isinstance(v, Timing):
            out[k] = t(v)
        elif isinstance(v, list):
            out[k] = [t(x) for x in v]
        else:
            out[k] = v
    return out


if __name__ == "__main__":
    raise SystemExit(main())
