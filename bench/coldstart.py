"""Cold start: what a fresh Lambda container pays before its first record.

    python bench/coldstart.py              # shipped rules, 7 fresh interpreters
    python bench/coldstart.py --rules path/to/pack --runs 11

Each run is a new ``python`` process (nothing cached in memory; the OS file cache is warm, as it
is on a reused Lambda host) that times, with ``time.perf_counter`` inside the process:

* ``import``: ``import handlers.kinesis`` (the module Lambda loads: the engine, boto3,
  the Encryption SDK, powertools);
* ``rules``: building the runtime the first invocation builds — configuration, rule files read,
  validated and compiled, the indexed ``RuleSet``, the router;
* ``KMS client``: the boto3 KMS client, created lazily at the first record that misses the
  data-key cache (botocore loads the service model).

and the parent times the whole process, interpreter start-up included. The figures are the median
and the worst of the runs; the target is under 1 s for import + rules.

Two ways to ship the code are measured. ``source``: the dependencies come with their ``.pyc``
(pip compiles what it installs) but the project is plain source, as in a bundle built without
``compileall`` — Lambda's read-only file system means Python compiles the project's modules again
at every cold start. ``compiled``: every module has a cached ``.pyc`` (``python -m compileall``
at build time; here ``PYTHONPYCACHEPREFIX``, primed by one uncounted run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_RULES = ROOT / "rules"

_CHILD = r"""
import os, sys, time
t0 = time.perf_counter()
import handlers.kinesis
t1 = time.perf_counter()
from handlers import _runtime
rt = _runtime.runtime(_runtime.KINESIS)
t2 = time.perf_counter()
rt.pipeline.decoder.keys.client
t3 = time.perf_counter()
import json
print(json.dumps({"import": t1 - t0, "rules": t2 - t1, "kms_client": t3 - t2,
                  "rule_count": rt.rules}))
"""


def one_run(rules: Path, pycache: str | None = None) -> dict[str, float]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DASALERT_", "SLACK_", "SNS_", "SECURITYHUB_", "AWS_"))
    }
    env.update(
        DASALERT_RULES=str(rules),
        LOG_LEVEL="WARNING",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        PYTHONPATH=str(ROOT),
    )
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    total = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"cold-start child failed:\n{out.stderr[-3000:]}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["process"] = total
    return row


def measure(rules: Path, runs: int, pycache: str | None = None) -> dict[str, dict[str, float]]:
    if pycache is not None:
        one_run(rules, pycache)  # prime the cache: compile everything once, uncounted
    rows = [one_run(rules, pycache) for _ in range(runs)]
    keys = ("import", "rules", "kms_client", "process")
    out = {
        k: {"median": statistics.median(r[k] for r in rows), "max": max(r[k] for r in rows)}
        for k in keys
    }
    both = [r["import"] + r["rules"] for r in rows]
    out["import_and_rules"] = {"median": statistics.median(both), "max": max(both)}
    out["rule_count"] = {"median": rows[0]["rule_count"], "max": rows[0]["rule_count"]}
    return out


STEPS = (
    ("import", "import handlers.kinesis"),
    ("rules", "load + compile rules, build runtime"),
    ("import_and_rules", "**import + rules** (target < 1,000)"),
    ("kms_client", "boto3 KMS client (first cache miss)"),
    ("process", "whole process, interpreter start-up included"),
)
LABELS = {"source": "project as .py source", "compiled": "everything precompiled (.pyc)"}


def report(results: dict[str, dict[str, dict[str, float]]], rules: Path, runs: int) -> str:
    modes = list(results)
    first = results[modes[0]]
    lines = [
        f"Cold start ({runs} fresh interpreters per column, rules: {rules}, "
        f"{int(first['rule_count']['median'])} rules); ms, median (worst):",
        "",
        "| step | " + " | ".join(LABELS.get(m, m) for m in modes) + " |",
        "|---|" + "---:|" * len(modes),
    ]
    for key, label in STEPS:
        cells = [
            f"{results[m][key]['median'] * 1000:,.0f} ({results[m][key]['max'] * 1000:,.0f})"
            for m in modes
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return chr(10).join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import tempfile

    p = argparse.ArgumentParser(description=__doc__.split(chr(10) * 2)[0])
    p.add_argument("--rules", type=Path, default=SHIPPED_RULES)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # children inherit it
    rules = args.rules.resolve()
    with tempfile.TemporaryDirectory(prefix="dasalert-pyc-") as pycache:
        results = {
            "source": measure(rules, args.runs),
            "compiled": measure(rules, args.runs, pycache),
        }
    print(json.dumps(results, indent=2) if args.json else report(results, args.rules, args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
