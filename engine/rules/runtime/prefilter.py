"""SQL literal prefilters: skip a signature rule's regex when its keywords are not in the SQL.

Most signature rules end in ``imatches(das.sql, '…pg_read_file…|…lo_export…')`` and run on every
read and write (their actions are the common ones), so their regexes run on almost every event
and the pack's cost grows with every signature added. But such a regex can only match text that
contains one of a few literals (``pg_read_file``, ``lo_export``): checking ``literal in sql`` is a
plain substring search, tens of nanoseconds, where the regex with its look-behinds and lazy
repeats costs microseconds.

``required_literals`` reads a rule's ``when``: when its top-level ``&&`` chain holds a conjunct
``matches``/``imatches``/``contains``/``contains_any`` on ``das.sql`` (or ``commandText``) with
literal arguments, it returns the literals one of which any matching SQL must contain. The
rule's compiled predicate is then wrapped by ``guarded``: no literal in the text (case-folded
once per event), no evaluation — the conjunct would have been false, so the ``&&`` chain is.

Soundness, which the property tests check against the plain evaluation:

* ``&&`` takes the most selective operand's literals, ``||`` the union of all its operands'
  (nothing when one operand needs nothing), and a ``!`` stops the search (a negated conjunct
  is not needed for a match);
* literals are extracted from the regex's parse tree conservatively: a run of literal
  characters, a branch (every alternative must yield literals, their union is required), a
  group or a repeat of at least once; anything else yields nothing and the rule is not
  prefiltered;
* both sides are lower-cased, which only widens what passes (a case-sensitive ``matches`` is
  checked case-insensitively here, then exactly by the regex);
* non-ASCII text or a non-ASCII literal turns the prefilter off for that event or rule: Unicode
  case folding has equivalences (``ſ`` ~ ``s``, ``K`` ~ ``k``) that ``str.lower`` does not copy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from engine.rules.jpast import field_path, literal_list, literal_str

try:  # CPython's regex parser: private, stable across 3.11–3.13; without it, no prefilter
    import re._constants as _c  # type: ignore[import-not-found]
    import re._parser as _parser  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - another Python
    _parser = None

Fn = Callable[[Any], Any]
SQL_PATHS = frozenset({("das", "sql"), ("commandText",)})
_REGEX_FUNCS = frozenset({"matches", "imatches"})
_SUBSTRING_FUNCS = frozenset({"contains", "contains_any"})
# Words nearly every statement holds: a literal set that needs one of them filters little.
COMMON_WORDS = frozenset(
    [
        "select",
        "from",
        "where",
        "insert",
        "update",
        "delete",
        "create",
        "table",
        "into",
        "values",
        "set",
        "and",
        "or",
        "not",
        "null",
        "on",
        "as",
        "join",
        "order",
        "by",
        "group",
        "with",
        "alter",
        "drop",
        "begin",
        "end",
        "exec",
        "execute",
        "call",
    ]
)


def _cost(literal: str) -> float:
    """How often a literal is expected in ordinary SQL (lower is more selective)."""
    low = literal.lower()
    if len(low) == 1 and low.isalnum():
        return float("inf")  # a letter or digit is in every statement
    if low in COMMON_WORDS:
        return 10.0
    if len(low) == 1:
        return 5.0  # punctuation such as ' or ; : rarer than words, but common
    if len(low) == 2:
        return 4.0
    return 1.0 / len(low)


def selectivity(literals: frozenset[str]) -> tuple[float, int]:
    """Rank of a literal set: its least selective member first, then its size."""
    return (max(map(_cost, literals)), len(literals))


def _better(candidate: frozenset[str] | None, best: frozenset[str] | None) -> bool:
    if not candidate or selectivity(candidate)[0] == float("inf"):
        return False
    return best is None or selectivity(candidate) < selectivity(best)


def _literal_sets(items: Any) -> frozenset[str] | None:
    """Literals one of which every match of this parsed sequence contains (``None``: unknown)."""
    if _parser is None:
        return None
    best: frozenset[str] | None = None

    def consider(candidate: frozenset[str] | None) -> None:
        nonlocal best
        if _better(candidate, best):
            best = candidate

    run: list[str] = []
    for op, arg in items:
        if op is _c.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            consider(frozenset({"".join(run)}))
            run = []
        if op is _c.SUBPATTERN:
            consider(_literal_sets(arg[-1]))
        elif op is getattr(_c, "ATOMIC_GROUP", object()):
            consider(_literal_sets(arg))
        elif op is _c.BRANCH:
            union: set[str] = set()
            for alternative in arg[1]:
                sub = _literal_sets(alternative)
                if sub is None:
                    union = set()
                    break
                union |= sub
            consider(frozenset(union) if union else None)
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) or op is getattr(_c, "POSSESSIVE_REPEAT", None):
            low, _high, sub_items = arg
            if low >= 1:
                consider(_literal_sets(sub_items))
    if run:
        consider(frozenset({"".join(run)}))
    return best


def regex_literals(pattern: str) -> frozenset[str] | None:
    """Lower-cased literals one of which any text the pattern matches must contain."""
    if _parser is None:
        return None
    try:
        parsed = _parser.parse(pattern)
    except Exception:  # the loader already reported a bad pattern; no prefilter
        return None
    found = _literal_sets(list(parsed))
    if found is None or not all(s.isascii() for s in found):
        return None
    return frozenset(s.lower() for s in found)


def _sql_arg(node: Any) -> Any:
    """``das.sql``, ``commandText`` or ``lower(das.sql)``: the SQL text, in any case."""
    if isinstance(node, Mapping) and node.get("type") == "function_expression":
        if node.get("value") in ("lower", "upper") and len(node.get("children", [])) == 1:
            return _sql_arg(node["children"][0])
        return None
    path = field_path(node) if isinstance(node, Mapping) else None
    return path if path is not None and tuple(path) in SQL_PATHS else None


def conjunct_literals(node: Mapping[str, Any], lists: Mapping[str, Any]) -> frozenset[str] | None:
    """The literals one conjunct needs in the SQL, or ``None`` when it is not such a conjunct."""
    if node.get("type") != "function_expression":
        return None
    name, args = node.get("value"), node.get("children", [])
    if len(args) != 2 or _sql_arg(args[0]) is None:
        return None
    if name in _REGEX_FUNCS:
        pattern = literal_str(args[1])
        return regex_literals(pattern) if pattern is not None else None
    if name in _SUBSTRING_FUNCS:
        needles: list[Any] | None
        text = literal_str(args[1])
        if name == "contains_any" and text is not None:
            named = lists.get(text)
            needles = list(named) if isinstance(named, list | tuple | frozenset | set) else [text]
        elif text is not None:
            needles = [text]
        else:
            needles = literal_list(args[1])
        if not needles or not all(isinstance(n, str) and n and n.isascii() for n in needles):
            return None
        return frozenset(n.lower() for n in needles)
    return None


def required_literals(
    when_ast: Mapping[str, Any], lists: Mapping[str, Any] | None = None
) -> frozenset[str] | None:
    """Literals one of which the SQL must hold for ``when`` to be true (``None``: unknown).

    ``a && b``: the most selective of what ``a`` and ``b`` need (both must hold). ``a || b``:
    the union of what each needs, and nothing when one alternative needs nothing. Any other
    node is a conjunct: a SQL function with literal arguments, or nothing.
    """
    kind = when_ast.get("type")
    kids = when_ast.get("children", [])
    if kind == "and_expression":
        best: frozenset[str] | None = None
        for child in kids:
            found = required_literals(child, lists)
            if _better(found, best):
                best = found
        return best
    if kind == "or_expression":
        union: set[str] = set()
        for child in kids:
            found = required_literals(child, lists)
            if not found:
                return None
            union |= found
        return frozenset(union)
    found = conjunct_literals(when_ast, lists or {})
    return found if _better(found, None) else None


class SqlText:
    """The event's SQL, lower-cased once per event however many rules ask."""

    __slots__ = ("_event", "_text")

    def __init__(self) -> None:
        self._event: Any = None
        self._text: str | None = None

    def of(self, event: Any) -> str | None:
        """The lower-cased SQL; ``""`` when there is none; ``None``: non-ASCII, do not filter."""
        if event is self._event:
            return self._text
        text: Any = None
        das = event.get("das") if type(event) is dict else None
        if type(das) is dict:
            text = das.get("sql")
        if text is None and type(event) is dict:
            text = event.get("commandText")
        if not isinstance(text, str):
            low: str | None = ""
        elif text.isascii():
            low = text.lower()
        else:
            low = None
        self._event, self._text = event, low
        return low


def guarded(when: Fn, literals: frozenset[str], sql: SqlText) -> Fn:
    """``when``, skipped (``None``: no match) when the SQL holds none of ``literals``.

    Both SQL fields are searched (``das.sql`` else ``commandText``); when ``das.sql`` is null
    but the rule reads ``commandText`` the check falls back to the raw field, so the prefilter
    never hides text the conjunct could see.
    """
    needles = tuple(sorted(literals, key=len, reverse=True))
    # substring tests beat a regex alternation up to about a dozen needles (measured)
    find = re.compile("|".join(map(re.escape, needles))).search if len(needles) > 12 else None

    def check(event: Any) -> Any:
        low = sql.of(event)
        if low is None:
            return when(event)  # non-ASCII: evaluate exactly
        if find is not None:
            if find(low) is not None:
                return when(event)
        else:
            for needle in needles:
                if needle in low:
                    return when(event)
        if type(event) is dict and type(event.get("das")) is dict:
            raw = event.get("commandText")
            das_sql = event["das"].get("sql")
            if isinstance(raw, str) and raw is not das_sql and raw != das_sql:
                return when(event)  # the two fields differ: let the rule decide
        return None

    return check


# -- one scan of the SQL for every rule ------------------------------------------------------
#
# ``guarded`` costs a call and a loop of substring tests per rule per event: with twenty-odd
# signature rules on every read that was the largest share of the pack's cost. ``SqlScan``
# answers "which of all the rules' literals does this SQL hold" once per event, and the rule
# set then runs only the rules one of whose literals is present.
#
# Literals made of word characters (a-z, 0-9, ``_``, ``$``) can only occur inside one maximal
# run of such characters. The SQL is cut into those runs with two C calls (``bytes.translate``
# mapping every other byte to a space, then ``split``), and each distinct run is looked up in a
# cache of "literals this run contains" — a stream repeats its table names, keywords and
# columns endlessly, so the cache answers nearly every run. Digits are all mapped to ``0``
# (in the runs and in the literals alike), so numbers in the SQL do not fill the cache with
# one entry per value; that only widens what passes (``spare4`` is searched as ``spare0``).
# The few literals with other characters (``'``, ``@@version``, ``pgaudit.``) are searched in
# the lower-cased text directly.

_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_$")
# ASCII text -> lower case, digits -> 0, non-word bytes -> space (bytes.translate table)
_FOLD = bytes(
    (b + 32 if 65 <= b <= 90 else 48 if 48 <= b <= 57 else b if b in _WORD_BYTES else 32)
    for b in range(256)
)
RUN_CACHE_MAX = 65536  # distinct runs remembered per scan (cleared when full)
RUN_CACHE_MAX_LEN = 64  # longer runs are searched each time, never kept
_NONE: frozenset[str] = frozenset()


def is_word_literal(literal: str) -> bool:
    """Whether ``literal`` consists of word characters only (found within one run)."""
    return bool(literal) and literal.isascii() and all(ord(c) in _WORD_BYTES for c in literal)


class SqlScan:
    """The literals (of a fixed set) present in an event's SQL, found in one pass.

    ``present(event)`` returns a superset of the literals that occur in the lower-cased SQL
    (``das.sql``, else ``commandText``) — never fewer, so a rule whose literals are all absent
    cannot match — or ``None`` when the event must be evaluated without the filter: non-ASCII
    SQL (Unicode case folding is not copied here), or ``das.sql`` and ``commandText`` holding
    different text or something other than text.
    """

    __slots__ = ("_hot", "_known", "_max", "_other", "_runs", "_words")

    def __init__(
        self, literals: frozenset[str] | set[str], *, cache_max: int = RUN_CACHE_MAX
    ) -> None:
        self._max = cache_max
        words = sorted(lit for lit in literals if is_word_literal(lit))
        # folded literal -> the literals it stands for (``spare4`` and ``spare5`` both fold
        # to ``spare0``)
        folded: dict[bytes, set[str]] = {}
        for lit in words:
            folded.setdefault(lit.encode("ascii").translate(_FOLD), set()).add(lit)
        self._words = tuple((k, frozenset(v)) for k, v in folded.items())
        self._other = tuple(sorted(lit for lit in literals if not is_word_literal(lit)))
        self._runs: dict[bytes, frozenset[str]] = {}  # run -> word literals it contains
        self._known: set[bytes] = set()  # the cache's keys, as a set for C-level set algebra
        self._hot: set[bytes] = set()  # cached runs that contain at least one literal

    def _run_literals(self, run: bytes) -> frozenset[str]:
        found: set[str] = set()
        for lit, names in self._words:
            if lit in run:
                found |= names
        return frozenset(found) if found else _NONE

    def _learn(self, runs: set[bytes]) -> set[str]:
        """Literals of runs not cached yet (caching the short ones)."""
        found: set[str] = set()
        for run in runs - self._known:
            lits = self._run_literals(run)
            found |= lits
            if len(run) > RUN_CACHE_MAX_LEN:
                continue
            if len(self._runs) >= self._max:
                self._runs.clear()
                self._known.clear()
                self._hot.clear()
            self._runs[run] = lits
            self._known.add(run)
            if lits:
                self._hot.add(run)
        return found

    def text(self, event: Any) -> str | None:
        """The SQL to scan (``""`` for none), or ``None``: evaluate without the filter.

        A rule's SQL conjunct reads ``das.sql`` or ``commandText``. When ``das.sql`` is null
        only ``commandText`` can hold a literal, so that is the text; when both are set they
        must be the same text, or the filter stands aside. Anything but a plain dict event and
        plain strings (a list ``contains`` could search, a mapping type the compiled paths
        would read) also stands aside: rare, and then evaluated exactly.
        """
        if type(event) is not dict:
            return None
        raw = event.get("commandText")
        das = event.get("das")
        if das is None:
            sql = None
        elif type(das) is dict:
            sql = das.get("sql")
        else:
            return None
        if sql is None:
            sql = raw
        elif raw is not None and raw is not sql and raw != sql:
            return None
        if sql is None:
            return ""
        if type(sql) is not str or (raw is not None and type(raw) is not str):
            return None
        return sql if sql.isascii() else None

    def present(self, event: Any) -> frozenset[str] | None:
        # ``text``, inlined for the common shape (a dict event whose das.sql is the text, or
        # null): this runs once per event
        das = event.get("das") if type(event) is dict else None
        sql = das.get("sql") if type(das) is dict else None
        raw = event.get("commandText") if type(das) is dict else None
        if sql is None or type(sql) is not str or (raw is not None and raw is not sql):
            sql = self.text(event)
            if not sql:
                return None if sql is None else _NONE
        elif not sql.isascii():
            return None
        runs = set(sql.encode("ascii").translate(_FOLD).split())
        found: set[str] | None = None
        for run in runs & self._hot:
            lits = self._runs.get(run)
            if lits is None:  # cleared meanwhile (another thread filled the cache): search
                lits = self._run_literals(run)
            if found is None:
                found = set(lits)
            else:
                found |= lits
        if not runs <= self._known:  # after the lookups: learning may clear the cache
            learned = self._learn(runs)
            found = learned if found is None else found | learned
        if self._other:
            low = sql.lower()
            for lit in self._other:
                if lit in low:
                    if found is None:
                        found = set()
                    found.add(lit)
        return frozenset(found) if found else _NONE
