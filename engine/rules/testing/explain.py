"""Why a rule matched an event, or did not: each ``&&``/``||`` operand of ``when`` and ``unless``
with its value, and for suppressed rules the window, group and count that decided.

Used by ``dasalert test --explain`` and ``dasalert jp --rule``. Operands are evaluated one by one
with the production interpreter (the compiled closures are kept equal to it by a differential
test), so an explanation shows the values the engine saw. JMESPath stops an ``&&`` chain at the
first false operand; the explanation evaluates every operand anyway, because the author wants to
know *all* that would have to change.

The stateful part is written from what the engine decided (the alerts, their ``count``,
``first_seen``/``last_seen``, dedup key or threshold group) plus, per matching event, its group
and its place in the window, counted here in event time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from engine.rules.jpast import operands, unparse
from engine.rules.model import Expr, Rule
from engine.rules.runtime.interpreter import make_interpreter
from engine.rules.runtime.ruleset import event_date, is_true

_MAX_VALUE = 70


def show(value: Any, limit: int = _MAX_VALUE) -> str:
    """A value as compact JSON, cut to one readable line."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mark(value: Any) -> str:
    return "✓" if is_true(value) else "✗"


class Explainer:
    """Evaluates sub-expressions of one rule set's expressions on one event at a time."""

    def __init__(self, options: Any = None) -> None:
        if options is None:  # our functions, without lists or params
            from engine.rules.runtime.functions import make_options

            options = make_options()
        self._interp = make_interpreter(options)

    def value(self, node: Mapping[str, Any], event: Any) -> Any:
        try:
            return self._interp.visit(node, event)
        except Exception as exc:  # show a failing operand instead of failing the explanation
            return f"<error: {type(exc).__name__}: {exc}>"

    def _inputs(self, node: Mapping[str, Any], event: Any) -> str:
        """The values a comparison or call read from the event (``das.action = "READ"``)."""
        if node.get("type") == "not_expression":
            return self._inputs(node["children"][0], event)
        if node.get("type") not in ("comparator", "function_expression"):
            return ""
        shown = []
        for kid in node.get("children") or []:
            if kid.get("type") in ("literal", "expref", "current", "identity"):
                continue
            if kid.get("type") == "function_expression" and kid.get("value") == "param":
                continue
            shown.append(f"{unparse(kid)} = {show(self.value(kid, event))}")
        return f"   ({'; '.join(shown)})" if shown else ""

    def tree(self, node: Mapping[str, Any], event: Any, depth: int, op: str = "") -> list[str]:
        """One line per operand: ``&& das.action == 'DDL'  → true ✓ (das.action = "DDL")``."""
        pad = "  " * depth
        chain_op, parts = operands(node)
        value = self.value(node, event)
        lead = f"{op} " if op else ""
        if chain_op is None:
            if node.get("type") == "not_expression":
                inner_op, _ = operands(node["children"][0])
                if inner_op is not None:  # !(a && b): show the inside too
                    lines = [f"{pad}{lead}{unparse(node)}  → {show(value)} {_mark(value)}"]
                    return lines + self.tree(node["children"][0], event, depth + 1)
            text = unparse(node)
            return [f"{pad}{lead}{text}  → {show(value)} {_mark(value)}{self._inputs(node, event)}"]
        lines = []
        if op:  # a nested chain: its own result first, then its operands
            lines.append(f"{pad}{lead}( … {chain_op} … )  → {show(value)} {_mark(value)}")
            depth += 1
        for i, part in enumerate(parts):
            lines += self.tree(part, event, depth, op=chain_op if i else " " * len(chain_op))
        return lines

    def expression(self, label: str, expr: Expr, event: Any, depth: int = 2) -> list[str]:
        node = expr.compiled.parsed
        value = self.value(node, event)
        head = f"{'  ' * depth}{label} → {show(value)} {_mark(value)}"
        if operands(node)[0] is None and node.get("type") != "not_expression":
            return [head + self._inputs(node, event)]
        return [head, *self.tree(node, event, depth + 1)]

    def rule(self, rule: Rule, event: Mapping[str, Any]) -> tuple[bool, list[str]]:
        """(matched after ``unless``, lines) for one normalized event."""
        lines = self.expression("when", rule.when, event)
        matched = is_true(self.value(rule.when.compiled.parsed, event))
        if not rule.unless:
            return matched, lines
        day = event_date(event)
        for i, ex in enumerate(rule.unless):
            active = ex.active(day) if day is not None else ex.expires is None
            label = f"unless[{i}] ({ex.reason})"
            if ex.expires is not None:
                label += f" expires {ex.expires}" + ("" if active else ": EXPIRED, not applied")
            sub = self.expression(label, ex.when, event)
            lines += sub
            if matched and active and is_true(self.value(ex.when.compiled.parsed, event)):
                matched = False
                lines.append(f"      → exempted by unless[{i}]")
        return matched, lines


def _when(event: Mapping[str, Any]) -> str:
    das = event.get("das") if isinstance(event.get("das"), dict) else {}
    return str((das or {}).get("time") or event.get("logTime") or "no time")


def event_label(event: Mapping[str, Any]) -> str:
    das = event.get("das") if isinstance(event.get("das"), dict) else {}
    das = das or {}
    bits = [das.get("engine"), das.get("action"), das.get("verb"), event.get("dbUserName")]
    return ", ".join(str(b) for b in bits if b) + f" @ {_when(event)}"


def _epoch(event: Mapping[str, Any]) -> float | None:
    das = event.get("das")
    value = das.get("epoch") if isinstance(das, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _window(epoch: float | None, window_s: int) -> str:
    if epoch is None:
        return "no event time: this batch only"
    start = int(epoch // window_s * window_s)
    fmt = "%Y-%m-%d %H:%M:%SZ"
    a = dt.datetime.fromtimestamp(start, dt.UTC).strftime(fmt)
    b = dt.datetime.fromtimestamp(start + window_s, dt.UTC).strftime(fmt)
    return f"[{a}, {b})"


def explain_events(
    rule: Rule,
    events: Sequence[Mapping[str, Any]],
    options: Any = None,
    search: Any = None,
) -> list[str]:
    """Per event: the ``when``/``unless`` operands, and the dedup window or threshold count."""
    ex = Explainer(options)

    def key_of(expr: Expr | None, event: Mapping[str, Any]) -> str:
        if expr is None:
            return "(none: one per rule)"
        value = search(expr, event) if search is not None else ex.value(expr.compiled.parsed, event)
        return show(value)

    lines: list[str] = []
    seen: dict[str, list[Any]] = {}
    for i, event in enumerate(events, 1):
        lines.append(f"  event {i}: {event_label(event)}")
        matched, sub = ex.rule(rule, event)
        lines += sub
        if not matched:
            lines.append("    = no match")
            continue
        epoch = _epoch(event)
        th = rule.threshold
        seq = getattr(rule, "sequence", None)
        first_seen = getattr(rule, "first_seen", None)
        if seq is not None:
            key = key_of(seq.by, event)
            steps = []
            for n, step in enumerate(seq.steps, 1):
                if is_true(ex.value(step.when.compiled.parsed, event)):
                    done = seen.setdefault(f"{key}#{n}", [])
                    done.append(epoch or 0.0)
                    label = f'"{step.name}"' if step.name else f"{n}"
                    steps.append(f"step {label} (min {step.min}): {len(done)} so far")
            lines.append(
                f"    = match: sequence by {key} within {_duration(seq.within_s)}: "
                + ("; ".join(steps) or "no step")
            )
        elif first_seen is not None:
            lines.append(
                f"    = match: first seen? key {key_of(first_seen.key, event)}"
                + (f" in scope {key_of(first_seen.scope, event)}" if first_seen.scope else "")
                + f" (learning {_duration(first_seen.learn_s)}, remembered "
                f"{_duration(first_seen.remember_s)})"
            )
        elif th is not None and getattr(th, "distinct", None) is not None:
            group = key_of(th.group_by, event)
            value = key_of(th.distinct, event)
            values = seen.setdefault(group, [])
            values.append(epoch or 0.0)
            distinct = seen.setdefault(f"{group}#values", [])
            if value not in distinct:
                distinct.append(value)
            lines.append(
                f"    = match: distinct count group {group}: value {value}, {len(distinct)} "
                f"distinct of {th.count} needed within {_duration(th.window_s)}"
            )
        elif th is not None:
            group = key_of(th.group_by, event)
            times = seen.setdefault(group, [])
            if epoch is not None:
                times.append(epoch)
                n = sum(1 for t in times if epoch - th.window_s < t <= epoch)
                state = "reached" if n >= th.count else "not yet"
                lines.append(
                    f"    = match: threshold group {group}: {n} of {th.count} within "
                    f"{_duration(th.window_s)} ({state})"
                )
            else:
                lines.append(f"    = match: threshold group {group}: no event time, not counted")
        elif rule.dedup is not None:
            key = key_of(rule.dedup.key, event)
            lines.append(
                f"    = match: dedup key {key}, window {_duration(rule.dedup.window_s)} "
                f"{_window(epoch, rule.dedup.window_s)}"
            )
        else:
            lines.append("    = match: its own alert (no dedup, no threshold)")
        for n, esc in enumerate(getattr(rule, "escalate", ()) or ()):
            value = ex.value(esc.when.compiled.parsed, event)
            lines.append(
                f"      escalate[{n}] to {esc.severity}: {unparse(esc.when.compiled.parsed)}"
                f"  → {show(value)} {_mark(value)}"
            )
    return lines


def explain_alerts(alerts: Sequence[Mapping[str, Any]]) -> list[str]:
    """What the engine decided: one line per alert, with its time span, count and group."""
    if not alerts:
        return ["  alerts: none"]
    lines = ["  alerts:"]
    for a in alerts:
        ctx = a.get("context") or {}
        span = f"{a.get('first_seen') or '-'} … {a.get('last_seen') or '-'}"
        extra = ""
        if "threshold" in ctx:
            extra = (
                f", threshold {ctx.get('threshold')} in {_duration(int(ctx.get('window_s') or 0))}"
                f" reached for group {ctx.get('group')}"
            )
        elif a.get("dedup_key") is not None:
            extra = f", dedup key {a.get('dedup_key')}"
        others = {k: v for k, v in ctx.items() if k not in ("threshold", "window_s", "group")}
        if others:
            extra += f", context {show(others, 400)}"
        lines.append(
            f"    [{a.get('severity')}] {a.get('kind')} {show(a.get('title'))} "
            f"count={a.get('count')} {span}{extra}"
        )
    return lines
