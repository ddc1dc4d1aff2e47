"""End to end: a generated encrypted stream through ``handlers.kinesis.handler``, against the
published approach on the same records, in the same process, with the floor next to both.

    python bench/pipeline.py                      # 50, 10 and 1 events per record, shipped rules
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
* Ours runs once per message reader (``engine/das/message.py``): ``native`` (the default,
  GCM-authenticated, signature not verified), ``native+verify`` (the ECDSA footer verified
  natively) and ``esdk`` (the AWS Encryption SDK, signature included), each with its own
  runtime, data-key cache and state, interleaved batch by batch with the other sides.
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
from dataclasses import asdict, dataclass, field
from functools import partial
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


# The message readers measured: name -> (DASALERT_MESSAGE_READER, DASALERT_VERIFY_SIGNATURE).
READERS: dict[str, tuple[str, bool]] = {
    "native": ("native", False),
    "native+verify": ("native", True),
    "esdk": ("esdk", False),
}


def fresh_runtime(reader: str = "native") -> Any:
    """Build the Kinesis runtime as the first invocation would, then switch outputs off.

    The runtime becomes the one ``handlers.kinesis.handler`` uses (``use_runtime`` switches
    between several, one per reader). Its decoder reads messages with ``reader``.
    """
    from engine.das.message import MessageReader
    from handlers import _runtime

    _runtime.reset()
    rt = _runtime.runtime(_runtime.KINESIS)
    rt.pipeline.router = None  # evaluate, suppress and build alerts; send nothing
    # Alerts are still enriched with their database's facts, but from the names map only: a warm
    # container has its RDS answers cached, and an RDS call to the local moto server (which knows
    # none of the generated databases) would measure network time, not ours.
    if rt.pipeline.resources is not None:
        rt.pipeline.resources._rds_factory = None
    # A warm container already has its KMS client (the runtime's keys are a KmsKeyProvider).
    _ = rt.pipeline.decoder.keys.client  # type: ignore[attr-defined]
    mode, verify = READERS[reader]
    rt.pipeline.decoder.messages = MessageReader(mode, verify_signature=verify)
    return rt


def use_runtime(rt: Any) -> None:
    """Make ``rt`` the runtime the Kinesis handler finds (a warm container's singleton)."""
    from handlers import _runtime

    _runtime._cache[_runtime.KINESIS] = rt


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
    readers: Sequence[str] = tuple(READERS),
) -> dict[str, Timing]:
    """Ours once per reader, the published approach and the floor, interleaved batch by batch;
    best of ``repeat`` passes for each.

    Interleaving means all sides see the same machine: a slow second on a shared host slows
    one batch of each, not one side of the comparison. Each pass of ours starts from a freshly
    built runtime per reader (rules compiled, KMS client created, untimed): empty data-key
    cache, empty state, as a container that has just been handed these records.
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
        rts = {r: fresh_runtime(r) for r in readers}
        stats0 = {r: rt.pipeline.decoder.keys.stats.kms_calls for r, rt in rts.items()}
        t_ours = dict.fromkeys(readers, 0.0)
        kms_ours = dict.fromkeys(readers, 0)
        t_base = t_floor = 0.0
        kms_base = 0
        base = baseline.BaselineResult()
        failures: list[Any] = []
        counter.take()
        gc.collect()
        for event, gz in zip(stream.events, payloads, strict=True):
            for r, rt in rts.items():
                use_runtime(rt)
                with quiet_stdout():
                    t0 = clock()
                    resp = handler(event, ctx)
                    t_ours[r] += clock() - t0
                failures.extend(resp["batchItemFailures"])
                kms_ours[r] += counter.take()
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
            r: Timing(
                f"dasalert, {r} reader",
                t_ours[r],
                n_rec,
                n_ev,
                kms_calls=kms_ours[r],
                extra={
                    "provider_kms_calls": rts[r].pipeline.decoder.keys.stats.kms_calls - stats0[r],
                    "reader_stats": asdict(rts[r].pipeline.decoder.messages.stats),
                },
            )
            for r in readers
        }
        this["floor"] = Timing("floor: gunzip + json.loads", t_floor, n_rec, n_ev)
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


def _decode_all(decoder: Any, raw: list[Any]) -> list[Any]:
    return [decoder.decode(r) for r in raw]


def _open_all(messages: Any, opened: list[tuple[bytes, bytes]]) -> int:
    return sum(len(messages.decrypt(m, k)) for m, k in opened)


def run_stages(stream: Stream, rules: Path, repeat: int = 3) -> list[Timing]:
    """Our cost split by stage, each on the whole stream with warm caches (best of ``repeat``)."""
    from engine.das.sources import records_from_kinesis_event
    from engine.events import normalize
    from engine.pipeline.state import MemoryStateStore
    from engine.rules.lang.loader import load_rules
    from engine.rules.runtime.engine import Engine
    from engine.rules.runtime.ruleset import RuleSet

    raw = [r for ev in stream.events for r in records_from_kinesis_event(ev)]
    n_rec, n_ev = len(raw), stream.activity_events
    out: list[Timing] = []
    decoded: list[Any] = []
    for reader in READERS:
        decoder = fresh_runtime(reader).pipeline.decoder
        for r in raw:  # warm the data-key and cipher / materials caches
            decoder.decode(r)
        t, decoded_r = timed(partial(_decode_all, decoder, raw), repeat)
        out.append(Timing(f"decode, {reader} reader (warm keys)", t, n_rec, n_ev))
        decoded = decoded or decoded_r
    # The message reader alone (no envelope, key cache, gunzip or JSON): what the reader costs.
    from engine.das.envelope import parse_envelope

    decoder = fresh_runtime("native").pipeline.decoder
    opened = []
    for r in raw:
        env = parse_envelope(r.data)
        opened.append(
            (env.ciphertext, decoder.keys.plaintext_key(env.key_blob, decoder.resource_id(r)))
        )
    for reader in READERS:
        messages = fresh_runtime(reader).pipeline.decoder.messages
        t, _ = timed(partial(_open_all, messages, opened), repeat)
        out.append(Timing(f"open message only, {reader} reader", t, n_rec, n_ev))

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


# Targets of the message-reader work: end to end vs the published approach per events/record,
# decode of one record with warm keys (native reader), and the multiple of the floor at 50.
TARGET_SPEEDUP = {50: 6.0, 10: 12.0, 1: 20.0}
TARGET_DECODE_US = 40.0
TARGET_FLOOR_X = 3.0


def report(args: argparse.Namespace, info: dict[str, Any], runs: dict[int, dict[str, Any]]) -> str:
    lines = [
        f"dasalert end-to-end bench — {info['machine']}; {info['pinning']}",
        f"rules: {info['rules']} ({info['rule_count']}); a new data key every "
        f"{args.records_per_key} records per stream, batches of {args.batch_size}; best of "
        f"{args.repeat} passes, all sides interleaved batch by batch",
    ]
    summary = []
    for epr, results in runs.items():
        si = results["info"]
        base: Timing | None = results.get("baseline")
        floor: Timing = results["floor"]
        lines += [
            "",
            f"## {epr} events per record: {si['records']:,} records, {si['events']:,} activity "
            f"events ({si['engines']}), {si['payload_mb']:.1f} MB of record data",
            "",
        ]
        rows = []
        for key in [*READERS, "baseline", "floor"]:
            t: Timing | None = results.get(key)
            if t is None:
                continue
            rows.append(
                [
                    t.name,
                    t.events_s,
                    t.us_per_event,
                    t.seconds / t.records * 1e6,
                    base.us_per_event / t.us_per_event if base else None,
                    t.us_per_event / floor.us_per_event,
                    t.kms_calls,
                ]
            )
        lines.append(
            table(
                ["", "events/s", "µs/event", "µs/record", "x published", "x floor", "KMS calls"],
                rows,
            )
        )
        stages: list[Timing] = results.get("stages") or []
        decode_us = {}
        if stages:
            lines += ["", "each stage alone (warm caches, best of 3):", ""]
            f = floor.us_per_event
            srows = []
            for st in stages:
                srows.append(
                    [st.name, st.us_per_event, st.seconds / st.records * 1e6, st.us_per_event / f]
                )
                for r in READERS:
                    if st.name.startswith(f"decode, {r} reader"):
                        decode_us[r] = st.seconds / st.records * 1e6
                    if st.name == f"open message only, {r} reader":
                        decode_us[f"open {r}"] = st.seconds / st.records * 1e6
            srows.append([floor.name, f, floor.seconds / floor.records * 1e6, 1.0])
            lines.append(table(["stage", "µs/event", "µs/record", "x floor"], srows))
        summary.append(
            [
                epr,
                *[
                    base.us_per_event / results[r].us_per_event if base and r in results else None
                    for r in READERS
                ],
                TARGET_SPEEDUP.get(epr),
                (results["native"].us_per_event / floor.us_per_event)
                if "native" in results
                else None,
                decode_us.get("native"),
                decode_us.get("open native"),
            ]
        )
    lines += [
        "",
        "## summary (ratios from the same run)",
        "",
        table(
            [
                "events/record",
                *[f"{r} x published" for r in READERS],
                "target",
                "native x floor",
                "native decode µs/record",
                "native open µs/record",
            ],
            summary,
        ),
        "",
        f"targets: speed-up over the published approach as listed; native decode of one record "
        f"(warm key) ≤ {TARGET_DECODE_US:.0f} µs; end to end ≤ {TARGET_FLOOR_X:.0f}x the floor "
        "at 50 events/record",
    ]
    mem = runs[next(iter(runs))].get("memory")
    if mem:
        lines += [
            "",
            f"memory ({next(iter(runs))} events/record, native reader): tracemalloc peak "
            f"{mem[0]:.1f} MiB while the handler ran the stream once; process max RSS "
            f"{mem[1]:.0f} MiB (includes moto, the generated streams and the baseline)",
        ]
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--records",
        type=int,
        default=None,
        help="records per size (default: 1,000; 2,000 at 1 event per record)",
    )
    p.add_argument(
        "--events-per-record",
        default="50,10,1",
        help="comma-separated sizes, each measured in this run (default: 50,10,1)",
    )
    p.add_argument("--records-per-key", type=int, default=100, help="data-key rotation")
    p.add_argument("--batch-size", type=int, default=100, help="records per Lambda invocation")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rules", type=Path, default=SHIPPED_RULES)
    p.add_argument("--repeat", type=int, default=3, help="passes; the best of each side counts")
    p.add_argument(
        "--readers",
        default=",".join(READERS),
        help=f"comma-separated message readers to measure (default: all of {', '.join(READERS)})",
    )
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--no-stages", action="store_true")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument(
        "--profile",
        choices=("pyinstrument", "cprofile"),
        help="profile our handler (native reader, first size) instead of timing it",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    args.sizes = [int(x) for x in str(args.events_per_record).split(",") if x.strip()]
    args.reader_list = [r.strip() for r in args.readers.split(",") if r.strip()]
    unknown = set(args.reader_list) - set(READERS)
    if unknown or not args.reader_list:
        p.error(f"unknown reader(s) {sorted(unknown)}; choose from {', '.join(READERS)}")
    return args


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
    runs: dict[int, dict[str, Any]] = {}
    with moto_kms():
        counter = KmsCounter().install()
        configure_handler_env(args.rules)
        key_id = create_kms_key()
        rt = fresh_runtime()
        info = {
            "machine": machine(),
            "pinning": pinning,
            "rules": _shown(args.rules),
            "rule_count": f"{rt.rules} rules",
        }
        for epr in args.sizes:
            records = args.records or (2000 if epr == 1 else 1000)
            spec = sg.StreamSpec(
                records=records,
                events_per_record=epr,
                records_per_key=args.records_per_key,
                seed=args.seed,
            )
            stream = make_stream(spec, key_id, args.batch_size)
            warm = make_stream(
                sg.StreamSpec(records=20, events_per_record=epr, seed=spec.seed + 99),
                key_id,
                args.batch_size,
            )
            if args.profile:
                run_side_by_side(warm, args.rules, counter, with_baseline=False, readers=["native"])
                print(profile(stream, args.profile))
                return 0
            # imports and first-call costs of every side, not part of the figures
            run_side_by_side(
                warm,
                args.rules,
                counter,
                with_baseline=not args.no_baseline,
                readers=args.reader_list,
            )
            results: dict[str, Any] = run_side_by_side(
                stream,
                args.rules,
                counter,
                with_baseline=not args.no_baseline,
                repeat=args.repeat,
                readers=args.reader_list,
            )
            results["info"] = {
                "records": len(stream.encoded),
                "events": stream.activity_events,
                "engines": ", ".join(
                    f"{k} {v:,}" for k, v in sg.mix(stream.plan)["engines"].items()
                ),
                "payload_mb": stream.payload_bytes / 1e6,
            }
            if not args.no_stages:
                results["stages"] = run_stages(stream, args.rules)
            if not args.no_memory and not runs:
                results["memory"] = peak_memory_one_pass(stream)
            runs[epr] = results
    if args.json:
        print(json.dumps(to_json(args, info, runs), indent=2))
    else:
        print(report(args, info, runs))
    return 0


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def to_json(
    args: argparse.Namespace, info: dict[str, Any], runs: dict[int, dict[str, Any]]
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
            "us_per_record": x.seconds / x.records * 1e6 if x.records else None,
            "kms_calls": x.kms_calls,
            "matches": x.matches,
            "alerts": x.alerts,
            **x.extra,
        }

    out: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "info": info}
    for epr, results in runs.items():
        size: dict[str, Any] = {}
        for k, v in results.items():
            if isinstance(v, Timing):
                size[k] = t(v)
            elif isinstance(v, list):
                size[k] = [t(x) for x in v]
            else:
                size[k] = v
        out[f"events_per_record_{epr}"] = size
    return out


if __name__ == "__main__":
    raise SystemExit(main())
