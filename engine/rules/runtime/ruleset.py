"""The compiled rule set: which rules match one normalized event.

Evaluation is the hot path (a busy cluster sends thousands of events a second), so everything
that can be done once is done here, at construction:

* one JMESPath interpreter (``engine.rules.lang.expr.SafeInterpreter``) bound to our functions
  (``make_options(lists, params)``) is reused for every expression, instead of the new
  interpreter per call that ``ParsedResult.search`` builds;
* an index on ``das.action``: each action maps to the tuple of rules that can match it (rules
  whose ``Rule.actions`` contain it, plus the rules that can match any action), so a read event
  never runs the failed-login rules;
* within each action, a second level on the field a rule pins (``engine.rules.runtime.guards``):
  ``dbUserName == 'mallory'``, ``das.object == 'payroll'``, ``in_list_ci(dbUserName, 'x')``
  become table lookups, so a pack of a thousand such rules runs only the few whose value the
  event has;
* signature rules (a ``when`` that needs one of a few literals in the SQL) sit in a third
  table, by literal: one scan of the statement per event (``prefilter.SqlScan``) says which
  literals it holds, and only their rules run;
* each ``when`` and ``unless`` AST is compiled once into Python closures
  (``engine.rules.runtime.compiled``) that compute exactly what the interpreter would, faster;
  within an action's bucket the rule's top-level tests of that action are settled first
  (``compiled.pin_action``).

``tests/rules/runtime/test_fast_paths.py`` holds the whole shipped pack to a plain evaluation
(every rule interpreted on every event) over generated, captured and streamed events.

A rule that raises is isolated: the exception becomes a ``RuleError`` next to the matches and the
other rules still run. Truthiness is JMESPath's, not Python's: ``null``, ``false``, ``''``, ``[]``
and ``{}`` are false; everything else — including the number ``0`` — is true. So
``when: rowCount`` matches a row count of 0; write ``rowCount > `0``` when that is meant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.rules.jpast import ACTION_PATH, read_path
from engine.rules.jpast import is_truthy as is_true
from engine.rules.model import Expr, Rule
from engine.rules.runtime.compiled import Fn, compile_node, pin_action
from engine.rules.runtime.guards import Guard, best_guard, derive_guards
from engine.rules.runtime.interpreter import SafeInterpreter
from engine.rules.runtime.prefilter import SqlScan, SqlText, guarded, required_literals

UTC = dt.UTC


@dataclass(frozen=True, slots=True)
class Match:
    """A rule whose ``when`` held (and no active ``unless``) on ``event``."""

    rule: Rule
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RuleError:
    """A rule that raised while evaluating ``event``; ``error`` is ``Type: message``."""

    rule: Rule
    event: dict[str, Any]
    error: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    matches: list[Match]
    errors: list[RuleError]


def event_date(event: Mapping[str, Any]) -> dt.date | None:
    """The UTC date of the event (from ``das.epoch``), or None when the event has no time."""
    das = event.get("das")
    epoch = das.get("epoch") if isinstance(das, Mapping) else None
    if not isinstance(epoch, int | float) or isinstance(epoch, bool):
        return None
    try:
        return dt.datetime.fromtimestamp(epoch, UTC).date()
    except (OverflowError, OSError, ValueError):
        return None


def _options(lists: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    # Imported here so that this module (and the pytest plugin importing it) loads even where
    # the functions module is broken; the error then surfaces when a rule set is built.
    from engine.rules.runtime.functions import make_options

    return make_options(dict(lists), dict(params))


class RuleSet:
    """Rules compiled once, indexed by ``das.action``; ``evaluate`` is pure in the event."""

    def __init__(
        self,
        rules: Iterable[Rule],
        lists: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        options: Any = None,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.lists = dict(lists or {})
        self.params = dict(params or {})
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {', '.join(dupes)}")
        self._options = options if options is not None else _options(self.lists, self.params)
        # The rule language's interpreter: jmespath's, except that ordering a number against a
        # string gives null (no match) instead of raising. Shared by every rule: built once.
        self._interpreter = SafeInterpreter(self._options)
        # rule id -> the SQL literals that rule needs (None: not prefiltered), for tests and lint
        self.prefiltered: dict[str, frozenset[str] | None] = {}
        self._any: tuple[Rule, ...] = tuple(r for r in self.rules if r.actions is None)
        actions = {a for r in self.rules if r.actions is not None for a in r.actions}
        # Keep the authors' order inside each bucket so that results are stable.
        self._by_action: dict[Any, tuple[Rule, ...]] = {
            a: tuple(r for r in self.rules if r.actions is None or a in r.actions) for a in actions
        }
        # (rule, compiled when, ((exemption, compiled when), …)): what the hot loop walks.
        # Signature rules skip their regex when the SQL holds none of their literals: a rule
        # in a guard table checks its own (``guarded``), the others are looked up from one
        # scan of the SQL per event (``SqlScan``, in ``_Bucket.entries``).
        guards = self._guards()
        sql_text = SqlText()
        compiled: dict[str, _Entry] = {}
        sql_rules: dict[str, frozenset[str]] = {}
        for r in self.rules:
            when = compile_node(r.when.compiled.parsed, self._interpreter)
            literals = required_literals(r.when.compiled.parsed, self.lists)
            self.prefiltered[r.id] = literals
            if literals and r.id in guards:
                when = guarded(when, literals, sql_text)
            elif literals:
                sql_rules[r.id] = literals
            unless = tuple(
                (x, compile_node(x.when.compiled.parsed, self._interpreter)) for x in r.unless
            )
            compiled[r.id] = (r, when, unless)
        scan = SqlScan({lit for lits in sql_rules.values() for lit in lits})
        self._any_compiled = _Bucket.of(
            [compiled[r.id] for r in self._any], guards, sql_rules, scan
        )
        self._by_action_compiled: dict[Any, _Bucket] = {
            a: _Bucket.of([compiled[r.id] for r in bucket], guards, sql_rules, scan)
            for a, bucket in self._by_action.items()
        }

        # The same buckets for an action that is a plain string (every real event), with each
        # rule's top-level tests of that action settled (``compiled.pin_action``): a read runs
        # `contains(['READ', 'WRITE'], das.action)` in no rule. Other action values (a string
        # subclass, say) keep the buckets above.
        def pinned(entry: _Entry, action: str) -> _Entry:
            rule = entry[0]
            ast = pin_action(rule.when.compiled.parsed, action)
            if ast is rule.when.compiled.parsed:
                return entry
            when = compile_node(ast, self._interpreter)
            literals = self.prefiltered[rule.id]
            if literals and rule.id in guards:
                when = guarded(when, literals, sql_text)
            return (rule, when, entry[2])

        self._pinned: dict[str, _Bucket] = {
            a: _Bucket.of([pinned(compiled[r.id], a) for r in bucket], guards, sql_rules, scan)
            for a, bucket in self._by_action.items()
            if type(a) is str
        }

    def _guards(self) -> dict[str, Guard]:
        """Each rule's most selective guard besides ``das.action`` (the first index level)."""
        fns = getattr(self._options, "custom_functions", None)
        lists: dict[str, frozenset[Any]] = dict(getattr(fns, "lists", None) or {})
        lists_ci = {
            name: frozenset(v.casefold() for v in values if isinstance(v, str))
            for name, values in lists.items()
        }
        out: dict[str, Guard] = {}
        for r in self.rules:
            guard = best_guard(
                derive_guards(r.when.compiled.parsed, lists, lists_ci), frozenset({ACTION_PATH})
            )
            if guard is not None:
                out[r.id] = guard
        return out

    def __len__(self) -> int:
        return len(self.rules)

    def by_id(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def candidates(self, event: Mapping[str, Any]) -> tuple[Rule, ...]:
        """The rules the index lets through for this event (all others cannot match it)."""
        return tuple(entry[0] for entry in self._bucket(event).entries(event))

    def compiled_candidates(self, event: Mapping[str, Any]) -> Sequence[_Entry]:
        """(rule, compiled when, compiled unless entries) the index lets through: for profiling
        (``bench/evaluate.py --per-rule``), not a second way to evaluate."""
        return self._bucket(event).entries(event)

    def _bucket(self, event: Mapping[str, Any]) -> _Bucket:
        das = event.get("das") if type(event) is dict else None
        action = das.get("action") if type(das) is dict else read_path(event, ACTION_PATH)
        if type(action) is str:
            return self._pinned.get(action, self._any_compiled)
        try:
            return self._by_action_compiled.get(action, self._any_compiled)
        except TypeError:  # an unhashable action: only action-agnostic rules can match
            return self._any_compiled

    def search(self, expr: Expr, event: Any) -> Any:
        """Evaluate one compiled expression with our functions (shared interpreter)."""
        return self._interpreter.visit(expr.compiled.parsed, event)

    def evaluate(self, event: dict[str, Any]) -> list[Match]:
        """The rules matching ``event``; rule errors are dropped (use ``evaluate_all``)."""
        return self.evaluate_all(event).matches

    def evaluate_all(self, event: dict[str, Any]) -> Evaluation:
        matches: list[Match] = []
        errors: list[RuleError] = []
        for rule, when, unless in self._bucket(event).entries(event):
            try:
                result = when(event)
                # ``jpast.is_falsy(result)``, inlined: this line runs for every candidate rule
                # and a call costs more than the test (tests/rules/test_jpast.py holds the two
                # together through ``RuleSet.evaluate``)
                if (
                    result is None
                    or result is False
                    or result == ""
                    or result == []
                    or result == {}
                ):
                    continue
                if unless and self._exempted(unless, event):
                    continue
            except Exception as exc:  # one broken rule must never stop the others
                errors.append(RuleError(rule, event, f"{type(exc).__name__}: {exc}"))
                continue
            matches.append(Match(rule, event))
        return Evaluation(matches, errors)

    def _exempted(self, unless: tuple[tuple[Any, Fn], ...], event: dict[str, Any]) -> bool:
        """True when an active ``unless`` entry holds.

        Expiry is judged on the *event's* date, so a replay of last year's capture is evaluated
        as it would have been then. A dated exemption never applies to an event without a time:
        when in doubt, alert.
        """
        day: dt.date | None = None
        day_known = False
        for exemption, holds in unless:
            if exemption.expires is not None:
                if not day_known:
                    day, day_known = event_date(event), True
                if day is None or not exemption.active(day):
                    continue
            if is_true(holds(event)):
                return True
        return False


_Entry = tuple[Rule, Fn, tuple[tuple[Any, Fn], ...]]
_Placed = tuple[tuple[int, _Entry], ...]  # entries with their position in the bucket
MERGED_CACHE_MAX = 4096  # literal sets remembered per bucket (cleared when full)


class _Bucket:
    """The rules of one action: those always run, tables of guarded ones by field value, and
    the signature rules by the SQL literal they need.

    ``entries`` keeps the authors' order, so results do not depend on the index.
    """

    __slots__ = ("_merged", "groups", "plain", "plain_entries", "scan", "sql", "sql_all")

    def __init__(
        self,
        plain: _Placed,
        groups: tuple[tuple[tuple[str, ...], bool, dict[Any, _Placed]], ...],
        sql: dict[str, _Placed] | None = None,
        scan: SqlScan | None = None,
    ) -> None:
        self.plain = plain
        self.plain_entries = tuple(entry for _, entry in plain)  # the common, table-less case
        self.groups = groups
        self.sql = sql or {}  # literal -> the signature rules that need it
        every = {pos: placed for ps in self.sql.values() for placed in ps for pos in (placed[0],)}
        self.sql_all: _Placed = tuple(every[pos] for pos in sorted(every))
        self.scan = scan
        # present literals (None: all) -> (placed, entries) of plain + signature rules
        self._merged: dict[frozenset[str] | None, tuple[_Placed, tuple[_Entry, ...]]] = {}

    @classmethod
    def of(
        cls,
        entries: list[_Entry],
        guards: Mapping[str, Guard],
        sql_rules: Mapping[str, frozenset[str]] | None = None,
        scan: SqlScan | None = None,
    ) -> _Bucket:
        plain: list[tuple[int, _Entry]] = []
        tables: dict[tuple[tuple[str, ...], bool], dict[Any, list[tuple[int, _Entry]]]] = {}
        sql: dict[str, list[tuple[int, _Entry]]] = {}
        for pos, entry in enumerate(entries):
            guard = guards.get(entry[0].id)
            if guard is None:
                literals = (sql_rules or {}).get(entry[0].id)
                if literals and scan is not None:
                    for literal in literals:
                        sql.setdefault(literal, []).append((pos, entry))
                else:
                    plain.append((pos, entry))
                continue
            table = tables.setdefault((guard.path, guard.casefold), {})
            for value in guard.values:
                table.setdefault(value, []).append((pos, entry))
        groups = tuple(
            (path, fold, {v: tuple(lst) for v, lst in table.items()})
            for (path, fold), table in tables.items()
        )
        return cls(tuple(plain), groups, {k: tuple(v) for k, v in sql.items()}, scan)

    def _with_sql(self, present: frozenset[str] | None) -> tuple[_Placed, tuple[_Entry, ...]]:
        """The plain rules and the signature rules one of whose literals is present."""
        if present is None:
            hits = self.sql_all
        else:
            by_pos = {p[0]: p for lit in present for p in self.sql.get(lit, ())}
            hits = tuple(by_pos.values())
        placed = tuple(sorted((*self.plain, *hits), key=lambda item: item[0]))
        merged = (placed, tuple(entry for _, entry in placed))
        if len(self._merged) >= MERGED_CACHE_MAX:
            self._merged.clear()
        self._merged[present] = merged
        return merged

    def entries(self, event: Mapping[str, Any]) -> list[_Entry] | tuple[_Entry, ...]:
        if self.sql_all:
            assert self.scan is not None
            present = self.scan.present(event)
            merged = self._merged.get(present)
            if merged is None:
                merged = self._with_sql(present)
            base, base_entries = merged
        else:
            base, base_entries = self.plain, self.plain_entries
        if not self.groups:
            return base_entries
        found: list[tuple[int, _Entry]] | None = None
        for path, fold, table in self.groups:
            value = read_path(event, path)
            if fold:
                if type(value) is not str:
                    continue
                value = value.casefold()
            try:
                rules = table.get(value)
            except TypeError:  # a list or object: equal to no scalar literal
                continue
            if rules:
                if found is None:
                    found = list(base)
                found.extend(rules)
        if found is None:  # the common case: no table holds the event's value
            return base_entries
        found.sort(key=lambda item: item[0])
        return [entry for _, entry in found]
