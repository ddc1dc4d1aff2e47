"""Running the inline ``tests:`` of rules through the production ``Engine``.

There is no second evaluator here: each test builds a ``RuleSet`` holding the rule under test
alone (so a test proves that rule, whatever the rest of the pack does) with the pack's lists and
params, a fresh ``MemoryStateStore``, and calls ``Engine.process`` exactly as the Lambda does.

Test events are partial: each is deep-merged over ``engine.events.base_event(engine)`` (the
test's ``engine``, PostgreSQL by default) and normalized by ``engine.events.normalize``, as the
pipeline normalizes decoded events. In a test with several events, an event that gives no
``logTime`` of its own is placed one second after the previous one, so an ordered list is
ordered in time and two otherwise equal events stay two events (idempotency would otherwise count
them once, as it counts a redelivered event once). ``at: +30s`` (the test schema) places an
event that many seconds after the base event's ``logTime`` instead.

Expectations (``expect:``):

* ``match`` — true when the test produces at least one alert of kind ``rule`` (for a threshold
  rule: when the threshold is reached), false when it produces none;
* ``alerts`` — the exact number of alerts, or a list with one mapping of alert fields per
  expected alert, in order (``alerts: [{dedup_key: '"a"'}, {dedup_key: '"b"'}]``);
* any other key is a field of the (first) alert, compared to ``Alert.to_dict()``: ``title``,
  ``severity``, ``dedup_key``, ``count`` (events folded into the alert), ``kind``, ... Dotted
  keys reach inside: ``event.commandText`` is the *redacted* SQL, ``event.das.engine``.

A test also fails when the rule raised (a rule error) on any of its events.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.rules.model import Problem, Rule, RuleTest

DEFAULT_ENGINE = "postgres"
OFFSET_KEY = "at"  # the test schema: seconds after the base event's logTime, e.g. `at: +30s`
_MISSING = object()


@dataclass
class TestOutcome:
    """The result of one inline test of one rule."""

    rule_id: str
    name: str
    file: str
    line: int | None
    passed: bool
    failures: list[str] = field(default_factory=list)  # "- expected / + actual" lines
    alerts: list[dict[str, Any]] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)  # --explain: why it (did not) match

    __test__ = False  # not a pytest test class

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class TestReport:
    outcomes: list[TestOutcome] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # load problems (errors + warnings)
    coverage: list[str] = field(default_factory=list)  # --min-tests failures, one per rule
    seconds: float = 0.0
    # lint warnings per rule id: shown next to a failure (a misspelt field often explains it)
    warnings: dict[str, list[Problem]] = field(default_factory=dict)

    __test__ = False

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(not o.passed for o in self.outcomes)

    @property
    def load_errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.load_errors and not self.coverage

    def summary(self) -> str:
        parts = [f"{self.passed} passed"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.coverage:
            parts.append(f"{len(self.coverage)} rules under-tested")
        if self.load_errors:
            parts.append(f"{len(self.load_errors)} load errors")
        return ", ".join(parts) + f" in {self.seconds:.2f}s"

    def render(self, *, verbose: bool = True) -> str:
        """A pytest-like report: one line per test, details of failures, a summary line."""
        lines: list[str] = []
        for problem in self.problems:
            lines.append(str(problem))
        current = None
        for o in self.outcomes:
            if o.passed and not verbose and not o.explanation:
                continue
            if o.file != current:
                current = o.file
                lines.append(o.file)
            lines.append(f"  {o.rule_id} :: {o.name} {'PASS' if o.passed else 'FAIL'}")
            lines.extend("  " + line for line in o.explanation)
        failures = [o for o in self.outcomes if not o.passed]
        if failures:
            lines.append("")
            lines.append("=" * 30 + " FAILURES " + "=" * 30)
            for o in failures:
                lines.append(f"_____ {o.rule_id} :: {o.name} ({o.where}) _____")
                lines.extend(o.failures)
                if o.alerts:
                    lines.append("  alerts produced:")
                    for a in o.alerts:
                        lines.append(
                            f"    [{a.get('severity')}] {a.get('kind')} {a.get('title')!r}"
                            f" count={a.get('count')} dedup_key={a.get('dedup_key')!r}"
                            f" first_seen={a.get('first_seen')} last_seen={a.get('last_seen')}"
                        )
                else:
                    lines.append("  alerts produced: none")
                warned = self.warnings.get(o.rule_id) or []
                if warned:
                    lines.append("  lint warnings for this rule (one may explain the failure):")
                    lines.extend(f"    {p}" for p in warned)
        if self.coverage:
            lines.append("")
            lines.append("=" * 30 + " MIN TESTS " + "=" * 29)
            lines.extend(self.coverage)
        tested = {o.rule_id for o in self.outcomes}
        n_warned = sum(len(ws) for rid, ws in self.warnings.items() if rid in tested)
        if n_warned:  # a test can pass for the wrong reason (a misspelt field in its event)
            lines.append("")
            lines.append(
                f"note: {n_warned} lint warning{'s' * (n_warned != 1)} on the tested rules — "
                "`dasalert lint` lists them"
            )
        lines.append("")
        lines.append("=" * 20 + f" {self.summary()} " + "=" * 20)
        return "\n".join(lines)


# -- building test events ---------------------------------------------------------------------


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base`` (a copy): nested dicts merge, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _shift_log_time(text: Any, seconds: int) -> Any:
    """``logTime`` moved by ``seconds``, in the same form (with or without ``+00``)."""
    if not isinstance(text, str) or not seconds:
        return text
    s = text.strip()
    has_offset = s.endswith(("+00", "+00:00", "Z"))
    core = s.removesuffix("Z").removesuffix("+00:00").removesuffix("+00")
    if "." in core:  # SQL Server has 7 fractional digits: keep microseconds
        head, frac = core.split(".", 1)
        core = f"{head}.{frac[:6]:0<6}"
    try:
        stamp = dt.datetime.fromisoformat(core) + dt.timedelta(seconds=seconds)
    except ValueError:
        return text
    return stamp.strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00" if has_offset else "")


def build_events(test: RuleTest) -> list[dict[str, Any]]:
    """The normalized events of a test, in order."""
    from engine.events import base_event, normalize

    engine = test.engine or DEFAULT_ENGINE
    base = base_event(engine)
    events = []
    for i, partial in enumerate(test.events):
        partial = dict(partial)
        at = partial.pop(OFFSET_KEY, None)
        raw = deep_merge(base, partial)
        if "logTime" not in partial:
            offset = _offset_s(at)
            if offset is None and len(test.events) > 1:
                offset = i
            raw["logTime"] = _shift_log_time(base.get("logTime"), offset or 0)
        events.append(normalize(raw))  # ids from the event itself: `clusterId`, `instanceId`
    return events


def _offset_s(at: Any) -> int | None:
    """``at:`` as seconds: ``+30s`` / ``5m`` (rule durations) or a plain number of seconds."""
    if at is None:
        return None
    if isinstance(at, int | float) and not isinstance(at, bool):
        return int(at)
    from engine.rules.lang.schema import parse_duration

    return parse_duration(at)


# -- checking expectations --------------------------------------------------------------------


def _lookup(doc: Any, dotted: str) -> Any:
    if isinstance(doc, Mapping) and dotted in doc:
        return doc[dotted]
    for part in dotted.split("."):
        if isinstance(doc, Mapping) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return _MISSING
    return doc


def _fmt(value: Any) -> str:
    return "<missing>" if value is _MISSING else repr(value)


def check(expect: Mapping[str, Any], alerts: Sequence[dict[str, Any]]) -> list[str]:
    """Diff lines for every expectation that does not hold (empty when the test passes)."""
    out: list[str] = []
    rule_alerts = [a for a in alerts if a.get("kind") == "rule"]

    def diff(name: str, want: Any, got: Any) -> None:
        out.append(f"  {name}:")
        out.append(f"  - expected {_fmt(want)}")
        out.append(f"  + actual   {_fmt(got)}")

    if "match" in expect and bool(expect["match"]) != bool(rule_alerts):
        diff("match", bool(expect["match"]), bool(rule_alerts))
    wanted = expect.get("alerts")
    if isinstance(wanted, list):  # one mapping of alert fields per expected alert, in order
        if len(wanted) != len(alerts):
            diff("alerts", len(wanted), len(alerts))
        for i, (want_fields, alert) in enumerate(zip(wanted, alerts, strict=False)):
            for key, want in (want_fields or {}).items():
                got = _lookup(alert, key)
                if got != want:
                    diff(f"alerts[{i}].{key}", want, got)
    elif wanted is not None and wanted != len(alerts):
        diff("alerts", wanted, len(alerts))
    fields = {k: v for k, v in expect.items() if k not in ("match", "alerts")}
    if fields:
        if not alerts:
            out.append(f"  no alert to compare {', '.join(sorted(fields))} with")
        else:
            for key, want in fields.items():
                got = _lookup(alerts[0], key)
                if got != want:
                    diff(key, want, got)
    return out


# -- running ----------------------------------------------------------------------------------


def run_test(
    rule: Rule,
    test: RuleTest,
    lists: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    options: Any = None,
    explain: bool = False,
) -> TestOutcome:
    """One test, through exactly the production ``Engine`` (rule alone, fresh state).

    ``explain`` adds, per event, each ``&&``/``||`` operand of ``when``/``unless`` with its value
    and the window, group and count that decided (``engine.rules.testing.explain``).
    """
    from engine.pipeline.state import MemoryStateStore
    from engine.rules.runtime.engine import Engine
    from engine.rules.runtime.ruleset import RuleSet

    outcome = TestOutcome(rule.id, test.name, rule.file, test.line or rule.line, passed=False)
    try:
        events = build_events(test)
        engine = Engine(RuleSet([rule], lists, params, options=options), MemoryStateStore())
        result = engine.process(events)
    except Exception as exc:  # a broken base event or normalizer: report, never crash the run
        outcome.failures.append(
            f"  error building or running the test: {type(exc).__name__}: {exc}"
        )
        return outcome
    outcome.alerts = [a.to_dict() for a in result.alerts]
    if explain:
        from engine.rules.runtime.functions import make_options
        from engine.rules.testing.explain import explain_alerts, explain_events

        opts = options if options is not None else make_options(lists, params)
        outcome.explanation = explain_events(
            rule, events, opts, engine.ruleset.search
        ) + explain_alerts(outcome.alerts)
    outcome.failures = check(test.expect, outcome.alerts)
    if result.rule_errors:
        outcome.failures.extend(f"  rule error: {e}" for e in result.errors)
    outcome.passed = not outcome.failures
    return outcome


def is_positive(test: RuleTest) -> bool:
    expect = test.expect
    if "match" in expect:
        return bool(expect["match"])
    return bool(expect.get("alerts", 1))


def coverage_problem(rule: Rule) -> str | None:
    """Why ``rule`` fails ``--min-tests`` (it needs a positive and a negative test), or None."""
    positive = any(is_positive(t) for t in rule.tests)
    negative = any(not is_positive(t) for t in rule.tests)
    missing = [w for w, ok in (("positive", positive), ("negative", negative)) if not ok]
    if not missing:
        return None
    where = f"{rule.file}:{rule.line}" if rule.line else rule.file
    hints = {"positive": "expect: {match: true}", "negative": "expect: {match: false}"}
    add = " and ".join(f"a test with `{hints[m]}`" for m in missing)
    return f"{where}: [{rule.id}] no {' and no '.join(missing)} test — add {add}"


def selected(keyword: str | None, rule: Rule, test: RuleTest) -> bool:
    """``-k TEXT``: the rule id or the test name contains TEXT (ignoring case), as pytest's -k
    matches the parts of a test's id."""
    if not keyword:
        return True
    k = keyword.casefold()
    return k in rule.id.casefold() or k in test.name.casefold()


def run_tests(
    rules: Iterable[Rule],
    lists: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    problems: Iterable[Problem] = (),
    min_tests: bool = False,
    keyword: str | None = None,
    explain: bool = False,
    warnings: Iterable[Problem] = (),
) -> TestReport:
    """Every inline test of every rule; ``report.ok`` is the exit status of ``dasalert test``."""
    from engine.rules.runtime.functions import make_options

    started = time.perf_counter()
    report = TestReport(problems=list(problems))
    for w in warnings:
        report.warnings.setdefault(w.rule_id or "", []).append(w)
    options = make_options(dict(lists or {}), dict(params or {}))  # shared: built once
    for rule in rules:
        tests = [t for t in rule.tests if selected(keyword, rule, t)]
        if keyword and not tests:
            continue
        for test in tests:
            report.outcomes.append(
                run_test(rule, test, lists, params, options=options, explain=explain)
            )
        if min_tests:
            problem = coverage_problem(rule)
            if problem:
                report.coverage.append(problem)
    report.seconds = time.perf_counter() - started
    return report
