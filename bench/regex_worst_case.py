"""Worst-case cost of the pack's SQL regexes on hostile text, against one linear regex.

Why: a rule regex that backtracks is a denial-of-service lever. Anyone who can send SQL to the
database (an application user through an injection) controls ``commandText``, and a statement of
64 KiB built from a repeated token (``GRANT GRANT …``, ``/*/*/*…``, ``'GRANT 'GRANT …``) can make
a careless pattern quadratic or worse: every record of the batch waits for it. This bench runs
every regex of every rule over such texts and prints the slowest, next to the time a single
linear regex (``\\bxp_cmdshell\\b``) takes over the same text in the same run.

    python bench/regex_worst_case.py [--size 65536] [--top 10]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_REGEX_ARG = re.compile(
    r"(?:imatches|matches|regex_findall|regex_extract)\((?:das\.sql|commandText), "
    r"'((?:[^'\\]|\\.)*)'\)"
)
TOKENS = (
    "/*", "*/", "/*!", "'", "''", "\\'", " ", "\n", "(", "--", "a", "@", "=", ",", "NULL",
    "COPY ", "FROM ", " TO ", "UNION ", "SELECT ", "GRANT ", "'GRANT ", "ON ", "WITH ", "SET ",
    "CREATE ", "USER ", "DELETE ", "WHERE", "EXEC ", "INTO ", "OUTFILE ", "TRIGGER ",
    "PROCEDURE ", "LANGUAGE ", "s3://", "arn:aws:s3:::", "sp_configure ", "'xp_cmdshell'",
    "DBMS_SCHEDULER.CREATE_JOB(",
)  # fmt: skip


def rule_regexes(rules: Path) -> list[tuple[str, str]]:
    """(rule id, pattern) for each regex a rule applies to the SQL text."""
    out = []
    for path in sorted(rules.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or "id" not in doc:
            continue
        for match in _REGEX_ARG.finditer(str(doc.get("when") or "")):
            out.append((doc["id"], match.group(1).replace("\\'", "'")))
    return out


def hostile_texts(size: int, seed: int = 1) -> list[str]:
    texts = [token * (size // len(token)) for token in TOKENS]
    rng = random.Random(seed)
    for _ in range(5):
        texts.append("".join(rng.choice(TOKENS) for _ in range(size // 6)))
    return texts


def _seconds(regex: re.Pattern[str], text: str) -> float:
    start = time.perf_counter()
    regex.search(text)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=65536, help="characters per text")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    args = parser.parse_args(argv)
    texts = hostile_texts(args.size)
    baseline = re.compile(r"\bxp_cmdshell\b", re.IGNORECASE)
    base = max(_seconds(baseline, t) for t in texts)
    results = []
    for rule_id, pattern in rule_regexes(Path(args.rules)):
        regex = re.compile(pattern, re.IGNORECASE)
        worst, which = max((_seconds(regex, t), t[:16]) for t in texts)
        results.append((worst, rule_id, which))
    results.sort(reverse=True)
    print(f"{len(results)} rule regexes x {len(texts)} hostile texts of {args.size:,} characters")
    print(f"baseline (one linear regex), worst text: {base * 1000:.2f} ms")
    for worst, rule_id, which in results[: args.top]:
        print(f"  {worst * 1000:9.1f} ms  {worst / base:8.0f}x  {rule_id:40} {which!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
