"""``dasalert jp EXPR FILE…``: one JMESPath expression, with our functions, over sample events."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.cli.jp_input import SampleError, prepare, read_samples
from engine.rules.lang.expr import ExprError, caret, check_functions, compile_expr
from engine.rules.lang.loader import load_rules
from engine.rules.runtime.functions import make_options

NAME = "jp"
HELP = "evaluate one JMESPath expression (with dasalert functions) over sample events"
DESCRIPTION = (
    "Evaluate EXPR on each activity event in FILE (a JSON event, JSON lines, an array or a "
    "decrypted DatabaseActivityMonitoringRecord; `-` for stdin), after normalization, and print "
    "one JSON result per event. Lists and params come from --rules (default ./rules). With "
    "--rule ID there is no EXPR: every positional argument is a FILE, and each event gets the "
    "rule's explanation (each &&/|| operand of when and unless with its value, and whether it "
    "matches)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "args",
        metavar="EXPR FILE",
        nargs="+",
        help="a JMESPath expression, then sample event files (- = stdin); with --rule: files only",
    )
    parser.add_argument(
        "--rule",
        metavar="ID",
        help="explain this rule (from --rules) on each event instead of evaluating EXPR",
    )
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
    if args.rule:
        args.files = list(args.args)
        return _explain_rule(args)
    if len(args.args) < 2:
        print(
            "error: give an expression and at least one FILE (or --rule ID FILE…)", file=sys.stderr
        )
        return 2
    args.expr, args.files = args.args[0], list(args.args[1:])
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
    for sample, event in _events(args, err):
        if event is None:
            status = 1
            continue
        try:
            value = expr.compiled.search(event, options=options)
        except Exception as exc:  # show it for this event and go on with the others
            print(f"{sample.where}: error: {type(exc).__name__}: {exc}", file=err)
            status = 1
            continue
        indent = 2 if args.pretty else None
        print(json.dumps(value, indent=indent, default=str, ensure_ascii=False))
    return status


def _events(args: argparse.Namespace, err: Any) -> Iterator[tuple[Any, dict[str, Any] | None]]:
    """(sample, normalized event) per event of every file; (None, None) for a file that fails."""
    for name in args.files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
            samples = read_samples(text, "<stdin>" if name == "-" else name)
        except (OSError, UnicodeDecodeError, SampleError) as exc:
            print(f"error: {exc}", file=err)
            yield None, None
            continue
        for sample in samples:
            try:
                yield sample, prepare(sample, normalize=not args.raw)
            except Exception as exc:  # show it for this event and go on with the others
                print(f"{sample.where}: error: {type(exc).__name__}: {exc}", file=err)
                yield sample, None


def _explain_rule(args: argparse.Namespace) -> int:
    """``--rule ID``: the rule's explanation on each event, then how many it matched."""
    from engine.rules.lang.expr import did_you_mean
    from engine.rules.testing.explain import Explainer, event_label

    err = sys.stderr
    rules_path = args.rules or "rules"
    loaded = load_rules([rules_path], lists_path=args.lists)
    by_id = {r.id: r for r in loaded.rules}
    rule = by_id.get(args.rule)
    if rule is None:
        broken = [p for p in loaded.errors if p.rule_id == args.rule]
        for p in broken:
            print(p, file=err)
        hint = "" if broken else f" — {did_you_mean(args.rule, by_id) or 'see dasalert lint'}"
        print(f"error: no loadable rule `{args.rule}` under {rules_path}{hint}", file=err)
        return 2
    explainer = Explainer(make_options(loaded.lists, loaded.params))
    status = matched = total = 0
    print(f"{rule.id} ({rule.file}:{rule.line})")
    for sample, event in _events(args, err):
        if event is None:
            status = 1
            continue
        total += 1
        hit, lines = explainer.rule(rule, event)
        matched += hit
        print(f"{sample.where}: {event_label(event)}: {'MATCH' if hit else 'no match'}")
        print("\n".join(lines))
    print(f"{matched} of {total} events match `when` (and no active `unless`)")
    if rule.dedup or rule.threshold:
        print("dedup and thresholds then group them: `dasalert eval` shows the alerts")
    return status
