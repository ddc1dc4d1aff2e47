"""Compiling rule expressions once, safely, and checking them before any event arrives.

Two jobs, both done at load time so evaluation stays a plain tree walk:

* ``SafeInterpreter`` (used by the RuleSet and by ``SafeParsed.search``) makes an ordering
  comparison between a number and a string (``exitCode < `5``` when MySQL sends ``"0"``)
  yield null — no match — instead of the ``TypeError`` jmespath 1.x raises. ``==`` across
  types is already false in jmespath. ``compile_expr`` parses once into a ``SafeParsed``.
* ``check_functions`` walks the AST for what jmespath would only discover per event: unknown
  functions, wrong arity, unknown list or param names, bad regexes and CIDRs.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jmespath import exceptions as jexc
from jmespath.parser import Parser

from engine.rules.jpast import literal_list, literal_str, original_ast, walk
from engine.rules.model import Expr
from engine.rules.runtime import helpers
from engine.rules.runtime.functions import (
    CUSTOM_FUNCTIONS,
    LITERAL_ARGS,
    MAX_ARGS,
    DasFunctions,
    compile_regex,
    parse_network,
)
from engine.rules.runtime.interpreter import SafeParsed


@dataclass(frozen=True)
class ExprError(Exception):
    """A syntax error: where (0-based column in the expression), what, and what to write."""

    column: int | None
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        col = f" at column {self.column}" if self.column is not None else ""
        return f"JMESPath syntax error{col}: {self.message}"


_parser = Parser()


def compile_expr(src: str) -> Expr:
    """Parse once; raise ``ExprError`` (never a jmespath exception) on a syntax error."""
    return compile_expr_noted(src)[0]


def compile_expr_noted(src: str) -> tuple[Expr, list[str]]:
    """``compile_expr`` plus the deprecations jmespath would only warn about on stderr.

    ```DDL``` (a backtick literal that is not JSON) still parses as the string "DDL", with a
    PendingDeprecationWarning; the loader turns that into advice.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parsed = _parser.parse(src)
        except jexc.EmptyExpressionError as exc:
            raise ExprError(None, "the expression is empty", "write a predicate") from exc
        except jexc.ParseError as exc:
            raise _explain(exc, src) from exc
        except (jexc.JMESPathError, ValueError, TypeError, RecursionError) as exc:
            raise ExprError(None, f"cannot parse: {exc}") from exc
    notes = []
    if any("deprecated string literal" in str(w.message) for w in caught):
        notes.append(
            "a backtick literal that is not JSON (`DDL`) is deprecated string syntax: write "
            "strings in single quotes ('DDL') and JSON in backticks (`0`, `true`)"
        )
    return Expr(src, SafeParsed(src, parsed.parsed)), notes


_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "AND": "&&", "OR": "||", "NOT": "!"}


def _explain(exc: jexc.ParseError, src: str) -> ExprError:
    col = exc.lex_position if isinstance(exc.lex_position, int) else None
    if isinstance(exc, jexc.IncompleteExpressionError):
        return ExprError(
            len(src), "the expression ends too early", "is a `)`, `]` or a quote missing?"
        )
    if isinstance(exc, jexc.LexerError):
        msg = exc.message
        hint = None
        if "Unknown token '='" in msg:
            hint = "compare with `==` (a single `=` is not an operator)"
        elif "Unclosed" in msg:
            hint = "close the quote; a string literal is written 'like this'"
        elif "literal" in msg.lower() or "JSON" in msg:
            hint = 'a backtick literal holds JSON: `0`, `true`, `"text"`, `[1, 2]`'
        return ExprError(col, msg, hint)
    token = exc.token_value
    hint = None
    if isinstance(token, str) and token in _WORD_OPS:
        hint = f"JMESPath writes `{token}` as `{_WORD_OPS[token]}`"
    elif token == "=":
        hint = "compare with `==`"
    return ExprError(col, f"unexpected {exc.token_type.lower()} `{token}`", hint)


def caret(src: str, column: int | None) -> str:
    """The expression with a caret under ``column``: what `dasalert jp` shows."""
    if column is None:
        return src
    line_start = src.rfind("\n", 0, column) + 1
    line_end = src.find("\n", column)
    line = src[line_start : line_end if line_end != -1 else len(src)]
    return f"{line}\n{' ' * (column - line_start)}^"


# --- static checks over the AST ------------------------------------------------------------

_ALL_FUNCTIONS: dict[str, dict[str, Any]] = dict(DasFunctions.FUNCTION_TABLE)


def _arity(name: str) -> tuple[int, bool]:
    sig = _ALL_FUNCTIONS[name]["signature"]
    variadic = any(a.get("variadic") for a in sig)
    return len(sig), variadic


def did_you_mean(word: str, choices: Any) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def check_functions(
    parsed: Any, lists: Mapping[str, Any], params: Mapping[str, Any]
) -> list[tuple[str, str | None]]:
    """(message, suggestion) for each function call jmespath would reject per event."""
    out: list[tuple[str, str | None]] = []
    root = original_ast(parsed)
    for node in walk(root):
        if node.get("type") != "function_expression":
            continue
        name = node["value"]
        args = node.get("children") or []
        if name not in _ALL_FUNCTIONS:
            out.append(
                (
                    f"unknown function `{name}()`",
                    did_you_mean(name, _ALL_FUNCTIONS) or "see the function list in docs/rules.md",
                )
            )
            continue
        n, variadic = _arity(name)
        most = MAX_ARGS.get(name)
        if ((len(args) < n) if variadic else (len(args) != n)) or (
            most is not None and len(args) > most
        ):
            want = (f"{n} to {most}" if most else f"at least {n}") if variadic else str(n)
            example = CUSTOM_FUNCTIONS.get(name, (0, ""))[1].split(" — ")[0]
            out.append(
                (
                    f"`{name}()` takes {want} argument(s), got {len(args)}",
                    f"write it like {example}" if example else None,
                )
            )
            continue
        for idx, what in LITERAL_ARGS.get(name, {}).items():
            out.extend(_check_literal_arg(name, idx, what, args[idx], lists, params))
    return out


def _check_literal_arg(
    fn: str,
    idx: int,
    what: str,
    arg: dict[str, Any],
    lists: Mapping[str, Any],
    params: Mapping[str, Any],
) -> list[tuple[str, str | None]]:
    text = literal_str(arg)
    if what in ("regexes", "regexes_ci"):
        return _check_patterns(fn, arg, text, lists, what == "regexes_ci")
    if what == "cidr" and text is None:
        items = literal_list(arg)
        if items is None:
            return [
                (
                    f"the second argument of `{fn}()` must be a literal: a CIDR, a list of "
                    "CIDRs or a list name",
                    f"write {fn}(remoteHost, '10.0.0.0/8') or {fn}(remoteHost, 'office_nets')",
                )
            ]
        bad = [i for i in items if not isinstance(i, str) or parse_network(i) is None]
        return [(f"`{fn}()`: {b!r} is not a CIDR or IP address", None) for b in bad]
    if text is None:
        quoted = arg.get("value") if arg.get("type") == "field" else None
        sugg = (
            f"quote it: '{quoted}' (a bare or double-quoted name is an event field)"
            if quoted
            else f"write a quoted {what} literal"
        )
        return [(f"argument {idx + 1} of `{fn}()` must be a literal {what} name", sugg)]
    if what == "list" and text not in lists:
        return [
            (
                f"unknown list `{text}` in `{fn}()`",
                did_you_mean(text, lists) or _define_hint("lists", text, lists),
            )
        ]
    if what == "param" and text not in params:
        return [
            (
                f"unknown param `{text}`",
                did_you_mean(text, params) or _define_hint("params", text, params),
            )
        ]
    if what == "tz":
        try:
            helpers.zone(text)
        except ValueError as exc:
            return [(f"`{fn}()`: {exc}", "e.g. 'UTC', 'Europe/Paris', 'America/New_York'")]
        return []
    if what == "hours":
        try:
            helpers.parse_hours(text)
        except ValueError as exc:
            return [
                (
                    f"`{fn}()`: hours {exc}",
                    "write e.g. 'mon-fri 07:00-19:00' or 'mon-fri 08:00-18:00, sat 09:00-12:00'",
                )
            ]
        return []
    if what == "regex_ci":
        what, fn_ci = "regex", True
    else:
        fn_ci = fn == "imatches"
    if what == "regex":
        try:
            compile_regex(text, fn_ci)
        except re.error as exc:
            return [(f"bad regex {text!r} in `{fn}()`: {exc}", "fix the pattern (Python re)")]
    if what == "cidr" and parse_network(text) is None:
        if text not in lists:
            return [
                (
                    f"`{fn}()`: {text!r} is neither a CIDR nor a list name",
                    did_you_mean(text, lists) or "write a CIDR like '10.0.0.0/8' or a list name",
                )
            ]
        bad = [v for v in lists[text] or [] if not isinstance(v, str) or parse_network(v) is None]
        if bad:
            return [(f"list `{text}` used as networks has entries that are not CIDRs: {bad}", None)]
    return []


def _check_patterns(
    fn: str, arg: dict[str, Any], text: str | None, lists: Mapping[str, Any], ignore_case: bool
) -> list[tuple[str, str | None]]:
    """``matches_any(x, ['re1', 're2'])`` or ``matches_any(x, 'list_name')``: every regex
    compiles (a named list's entries too, so a bad line in lists.yaml is caught at load)."""
    if text is not None:
        if text not in lists:
            return [
                (
                    f"`{fn}()` takes a list of regexes or the name of one; `{text}` is no list",
                    did_you_mean(text, lists) or f"write {fn}(das.sql, ['{text}'])",
                )
            ]
        patterns: list[Any] = list(lists[text] or [])
        where = f" in list `{text}`"
    else:
        items = literal_list(arg)
        if items is None:
            return [
                (
                    f"argument 2 of `{fn}()` must be a literal list of regexes or a list name",
                    f"write {fn}(das.sql, ['outfile', 'dumpfile']) or {fn}(das.sql, 'my_list')",
                )
            ]
        patterns, where = items, ""
    out: list[tuple[str, str | None]] = []
    for p in patterns:
        if not isinstance(p, str):
            out.append((f"`{fn}()`: {p!r}{where} is not a regex (a string)", None))
            continue
        try:
            compile_regex(p, ignore_case)
        except re.error as exc:
            out.append(
                (f"bad regex {p!r}{where} in `{fn}()`: {exc}", "fix the pattern (Python re)")
            )
    return out


def _define_hint(section: str, name: str, known: Mapping[str, Any]) -> str:
    if not known:
        return f"no lists.yaml was loaded: define `{section}: {{{name}: …}}` in rules/lists.yaml"
    return f"define it under `{section}:` in lists.yaml (known: {', '.join(sorted(known))})"
