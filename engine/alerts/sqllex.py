"""A tokenizer of SQL text for the four DAS dialects, as far as masking secrets needs it.

PostgreSQL, MySQL, Oracle and SQL Server quote differently (``\\'`` escapes only in MySQL, ``#``
comments only in MySQL, ``[ident]`` only in SQL Server, ``$$…$$`` only in PostgreSQL, ``q'[…]'``
only in Oracle); a redactor that reads a literal with the wrong rules leaks what follows it. This
module only splits text into significant tokens per dialect; what is secret is decided in
``engine.alerts.redact``. Every pattern is possessive or bounded so hostile text stays linear.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """Quoting and comment rules of one SQL dialect, as far as masking needs them."""

    name: str
    token: re.Pattern[str]  # one token at a position; its lastgroup names the kind
    bodies: dict[str, tuple[re.Pattern[str], str]]  # literal kind -> (body pattern, closer)
    nested_comments: bool


_WS = r"(?P<ws>\s+)"
_WORD_CHARS = r"A-Za-z0-9_@$#."
_P = r"(?P<p>.)"


def _dialect(name: str, parts: list[str], bodies: dict[str, tuple[str, str]], nested: bool):
    return Dialect(
        name,
        re.compile("|".join(parts), re.S),
        {kind: (re.compile(body, re.S), closer) for kind, (body, closer) in bodies.items()},
        nested,
    )


_STD_SQ = (r"(?:[^']++|'')*+", "'")
_BS_SQ = (r"(?:[^'\\]++|\\.|'')*+", "'")
_STD_DQ = (r'(?:[^"]++|"")*+', '"')
_BS_DQ = (r'(?:[^"\\]++|\\.|"")*+', '"')

DIALECTS = (
    _dialect(
        "postgres",
        [
            _WS,
            r"(?P<line>--[^\n]*)",
            r"(?P<block>/\*)",
            r"(?P<dollar>\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)",
            r"(?P<esq>[Ee]')",
            r"(?P<sq>(?:[NnXxBb]|[Uu]&)?')",
            r'(?P<dq>(?:[Uu]&)?")',
            rf"(?P<word>[{_WORD_CHARS}]+)",
            _P,
        ],
        {"esq": _BS_SQ, "sq": _STD_SQ, "dq": _STD_DQ},
        True,
    ),
    _dialect(
        "mysql",
        [
            _WS,
            r"(?P<line>(?:--(?=[\s]|\Z)|#)[^\n]*)",
            r"(?P<ws2>/\*[!+][0-9]*|\*/)",  # executable comments and hints are SQL
            r"(?P<block>/\*)",
            r"(?P<sq>(?:[NnXxBb]|_[A-Za-z0-9]+)?')",
            r'(?P<dq>(?:_[A-Za-z0-9]+)?")',
            r"(?P<bq>`)",
            r"(?P<word>[A-Za-z0-9_@$.]+)",
            _P,
        ],
        {"sq": _BS_SQ, "dq": _BS_DQ, "bq": (r"(?:[^`]++|``)*+", "`")},
        False,
    ),
    _dialect(
        "oracle",
        [
            _WS,
            r"(?P<line>--[^\n]*)",
            r"(?P<block>/\*)",
            r"(?P<qq>[Nn]?[Qq]'.)",
            r"(?P<sq>[Nn]?')",
            r'(?P<dq>")',
            rf"(?P<word>[{_WORD_CHARS}]+)",
            _P,
        ],
        {"sq": _STD_SQ, "dq": _STD_DQ},
        False,
    ),
    _dialect(
        "sqlserver",
        [
            _WS,
            r"(?P<line>--[^\n]*)",
            r"(?P<block>/\*)",
            r"(?P<sq>[Nn]?')",
            r'(?P<dq>")',
            r"(?P<br>\[)",
            rf"(?P<word>[{_WORD_CHARS}]+)",
            _P,
        ],
        {"sq": _STD_SQ, "dq": _STD_DQ, "br": (r"(?:[^\]]++|\]\])*+", "]")},
        True,
    ),
)
_Q_CLOSERS = {"[": "]", "{": "}", "(": ")", "<": ">"}

# (start, stop, doubled quote, backslash escapes) of a comment body or literal content
Inner = Callable[[int, int, str | None, bool], None]

# A significant token: (kind, start, end, content start, content end, text upper-cased)
# kind: "w" word, "s" string literal, "q" quoted identifier, "p" punctuation.
Tok = tuple[str, int, int, int, int, str]


def tokens(text: str, start: int, stop: int, d: Dialect, inner: Inner) -> list[Tok]:
    """Significant tokens of ``text[start:stop]``.

    Comments and literals are not tokens a statement is made of, but they can hold SQL or a
    DSN: ``inner(start, stop, doubled, backslash)`` is called with the span of every comment
    body and literal content (``doubled``: the quote character that escapes itself there, if
    any; ``backslash``: whether backslash escapes), so the caller scans them.
    """
    toks: list[Tok] = []
    pos = start
    match = d.token.match
    while pos < stop:
        m = match(text, pos, stop)
        if m is None:  # cannot happen ("." matches anything) but never loop forever
            break
        kind = m.lastgroup or "p"  # every alternative is a named group
        end = m.end()
        if kind == "ws" or kind == "ws2":
            pos = end
        elif kind == "word":
            toks.append(("w", pos, end, pos, end, m.group().upper()))
            pos = end
        elif kind == "p":
            toks.append(("p", pos, end, pos, end, m.group()))
            pos = end
        elif kind == "line":
            inner(pos + 1, end, None, False)
            pos = end
        elif kind == "block":
            close = _block_end(text, end, stop, d.nested_comments)
            inner(end, max(end, close - 2), None, False)
            pos = close
        else:
            cstart = end
            if kind == "dollar":
                closer = m.group()
                cend = text.find(closer, cstart, stop)
            elif kind == "qq":
                closer = _Q_CLOSERS.get(text[end - 1], text[end - 1]) + "'"
                cend = text.find(closer, cstart, stop)
            else:
                body, closer = d.bodies[kind]
                cend = body.match(text, cstart, stop).end()  # type: ignore[union-attr]
                if not text.startswith(closer, cend):
                    cend = -1
            if cend < 0:  # unterminated: the literal runs to the end of the text
                cend = stop
                end = stop
            else:
                end = cend + len(closer)
            tkind = "s" if kind in ("sq", "esq", "dollar", "qq") else "q"
            if tkind == "q" and d.name == "mysql" and kind == "dq":
                tkind = "s"  # MySQL: "…" is a string unless ANSI_QUOTES
            toks.append((tkind, pos, end, cstart, cend, ""))
            backslash = kind == "esq" or (d.name == "mysql" and kind in ("sq", "dq"))
            doubled = None if kind in ("dollar", "qq") else closer[-1]
            inner(cstart, cend, doubled, backslash)
            pos = end
    return toks


def _block_end(text: str, pos: int, stop: int, nested: bool) -> int:
    """Index just past the ``*/`` that closes a comment opened before ``pos`` (or ``stop``)."""
    depth = 1
    close = text.find("*/", pos, stop)
    while close >= 0:
        if nested:
            opened = text.find("/*", pos, close)
            if opened >= 0:
                depth += 1
                pos = opened + 2
                continue
        depth -= 1
        pos = close + 2
        if depth == 0:
            return pos
        close = text.find("*/", pos, stop)
    return stop
