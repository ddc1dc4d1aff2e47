"""``dasalert jp EXPR FILE…``: one JMESPath expression, with our functions, over sample events."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli.jp_input import SampleError, prepare, read_samples
from engine.rules.lang.expr import ExprError, caret, check_functions, compile_expr
from engine.rules.lang.loader import load_rules
from engine.rules.runtime.functions import make_options

NAME = "jp"
HELP = "evaluate one JMESPath expression (with dasalert functions) over sample events"
DESCRIPTION = (
    "Evaluate EXPR on each activity event in FILE (a JSON event, JSON lines, an array or a "
    "decrypted DatabaseActivityMonitoringRecord; `-` for stdin), after normalization, and print "
    "one JSON result per event. Lists and params come from --rules (default ./rules)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expr", metavar="EXPR", help="a JMESPath expression")
    parser.add_argument("files", metavar="FILE", nargs="+", help="sample events (- = stdin)")
    parser.add_argument("--rules", help="rules path for lists.yaml (default: ./rules if present)")
    parser.add_argument("--lists", help="lists.yaml to use")
    parser.add_argument("--raw", action="store_true", help="do not normalize (no `das` fields)")
    parser.add_argument("--pretty", action="store_true", help="indent each result")


def _lists(args: argparse.Namespace) -> tuple[dict, dict, list[str]]:
    rules = args.rules or ("rules" if Path("rules").is_dir() else None)
    if rules is None and args.lists is None:
        return {}, {}, []
    paths = [rules] if rules else []
    result = load_rules(paths, lists_path=args.lists)
    # only lists.yaml problems matter here (a broken rule must not stop debugging)
    lists_names = ("lists.yaml", "lists.yml")
    bad = [str(p) for p in result.errors if Path(p.file).name in lists_names]
    return result.lists, result.params, bad


def run(args: argparse.Namespace) -> int:
    err = sys.stderr
    try:
        expr = compile_expr(args.expr)
    except ExprError as exc:
        print(f"error: {exc}", file=err)
        print(caret(args.expr, exc.column), file=err)
        if exc.suggestion:
            print(f"hint: {exc.suggestion}", file=err)
        return 2
    lists, params, list_problems = _lists(args)
    for line in list_problems:
        print(line, file=err)
    static = check_functions(expr.compiled, lists, params)
    if static:
        for message, suggestion in static:
            print(f"error: {message}" + (f" — {suggestion}" if suggestion else ""), file=err)
        return 2
    options = make_options(lists, params)
    status = 0
    for name in args.files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
            samples = read_samples(text, "<stdin>" if name == "-" else name)
        except (OSError, UnicodeDecodeError, SampleError) as exc:
            print(f"error: {exc}", file=err)
            status = 1
            continue
        for sample in samples:
            try:
                event = prepare(sample, normalize=not args.raw)
                value = expr.compiled.search(event, options=options)
            except Exception as exc:  # show it for this event and go on with the others
                print(f"{sample.where}: error: {type(exc).__name__}: {exc}", file=err)
                status = 1
                continue
            indent = 2 if args.pretty else None
            print(json.dumps(value, indent=indent, default=str, ensure_ascii=False))
    return status
