"""Mask secrets before an event leaves the function: passwords in SQL text, bind values.

Aurora masks a password only when it recognises it from context, so activity events can still
carry ``ALTER ROLE … PASSWORD '…'``, ``CREATE USER … IDENTIFIED BY …``, ``SET PASSWORD = …`` or
``CREATE LOGIN … WITH PASSWORD = …``. Alerts go to chat, SNS and Security Hub: nothing secret may
reach them. What is masked and what is not is written down in docs/redaction.md.

How: ``redact_sql`` tokenizes the text the way a database would (string literals with their
escapes, quoted identifiers, comments) and masks the value that follows a password keyword. The
text's dialect is not known for certain (and a redactor that guesses wrong leaks), so the text
is tokenized once per dialect — PostgreSQL, MySQL, Oracle, SQL Server, whose quoting rules
differ (``\\'`` escapes only in MySQL, ``#`` comments only in MySQL, ``[ident]`` only in SQL
Server, ``$$…$$`` only in PostgreSQL, ``q'[…]'`` only in Oracle) — and the union of what every
dialect would mask is masked. A secret is therefore masked as long as its statement is valid in
one of the four dialects; the price is occasionally masking a little more than needed.
Comment bodies and literal contents are scanned as SQL too (MySQL executes ``/*! … */``;
``DO $$ … $$`` and ``EXECUTE '…'`` carry dynamic SQL). Text that mentions none of the trigger
words returns unchanged without being tokenized, which keeps this cheap per event; hostile text
stays linear (see the bounds below).
"""

from __future__ import annotations

import re
from typing import Any

from engine.alerts.sqllex import DIALECTS, Dialect, Tok, tokens

MASK = "***"
PARAM_MASK = "<redacted>"
# Text longer than this is cut before it is redacted (and so before any output sees it): the
# cost of redaction grows with the text (~2 s and ~90 MiB per MiB of hostile SQL), and no
# responder reads past the first screens of a statement. The marker says how much was cut.
MAX_TEXT_CHARS = 64 * 1024
CUT_MARKER = " …[cut: "
# The shortest masked value that is also removed from the event's other fields (shorter ones
# would mask unrelated text; they are weak passwords anyway).
_MIN_ECHO = 4

# Cheap pre-check on the lowercased text: no trigger, nothing to mask.
_TRIGGERS = (
    "password",
    "passwd",
    "pwd",
    "identified",
    "secret",
    "passphrase",
    "sp_addlogin",
    "sp_setapprole",
    "sp_addapprole",
    "sp_addlinkedsrvlogin",
    "sp_addremotelogin",
    "rds_set_external",
    "credential",  # DBMS_CREDENTIAL.*_CREDENTIAL, aws_commons.create_aws_credentials
    "set_authentication",
    "simple_bind_s",
    "authentication_string",
    "session_token",
    "://",
)
# An AWS access key id: its secret key is usually nearby (in a literal of the same call).
_ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
# Whole words that name a secret, and parts of a word split on "_" (``v_pwd``, ``client_secret``).
_SECRET_WORDS = frozenset({"PWD", "SECRET", "AUTHENTICATION_STRING"})
_SECRET_PARTS = ("PASSWORD", "PASSWD", "PASSPHRASE")
# Stored procedures whose secrets are positional: every literal of the call is masked.
_POSITIONAL = frozenset(
    {
        "SP_ADDLOGIN",
        "SP_PASSWORD",
        "SP_SETAPPROLE",
        "SP_ADDAPPROLE",
        "SP_APPROLEPASSWORD",
        "SP_ADDLINKEDSRVLOGIN",
        "SP_ADDREMOTELOGIN",
        "SP_CONTROL_DBMASTERKEY_PASSWORD",
        "CREATE_CREDENTIAL",
        "UPDATE_CREDENTIAL",  # Oracle DBMS_CREDENTIAL
        "CREATE_AWS_CREDENTIALS",  # Aurora PostgreSQL aws_commons: (key id, secret key, token)
        "SET_AUTHENTICATION",  # Oracle UTL_HTTP
        "SIMPLE_BIND_S",  # Oracle DBMS_LDAP
    }
)
_POSITIONAL_PREFIXES = ("RDS_SET_EXTERNAL",)
# Words that may follow the keyword PASSWORD without being a password (options, clauses,
# column types): anything else right after PASSWORD is taken for an unquoted password.
_NOT_A_PASSWORD = frozenset(
    """NULL EXPIRE HISTORY REUSE REQUIRE LOCK UNLOCK FROM AS IS IN LIKE ILIKE RLIKE REGEXP DESC
    ASC AND OR NOT ON TO FOR WHERE ORDER GROUP BY LIMIT OFFSET UNION EXCEPT INTERSECT SET VALUES
    INTO JOIN LEFT RIGHT INNER OUTER FULL CROSS THEN ELSE END WHEN CASE HAVING FETCH WITH VALID
    ENCRYPTED UNENCRYPTED DEFAULT CURRENT OPTIONAL FAILED_LOGIN_ATTEMPTS PASSWORD_LOCK_TIME
    CHECK COLLATE PRIMARY REFERENCES CONSTRAINT UNIQUE INTERVAL NEVER UNLIMITED TEXT VARCHAR
    VARCHAR2 NVARCHAR NVARCHAR2 CHAR NCHAR CHARACTER VARBINARY BINARY BYTEA BLOB CLOB RAW STRING
    INT INTEGER BIGINT BOOLEAN GENERATED IDENTITY ACCOUNT MUST_CHANGE HASHED RETURNING USING
    BETWEEN ESCAPE""".split()  # noqa: SIM905
) | frozenset(
    # Prose, not SQL: the engines' own messages ("password authentication failed for user",
    # "Password did not match that for the login provided") must stay readable for responders.
    """AUTHENTICATION AUTH DID DOES DO HAS HAVE HAD WAS WERE WILL MUST SHOULD CAN CANNOT COULD
    EXPIRED EXPIRES MISMATCH INCORRECT INVALID WRONG CHANGE CHANGED RESET POLICY VERIFICATION
    VERIFY ATTEMPT ATTEMPTS FAILED FAILURE MATCH MATCHES MATCHED PROVIDED REQUIRED TOO THE A AN
    OF LENGTH COMPLEXITY STRENGTH RULES CONTAINS HASH""".split()  # noqa: SIM905
)
_PREFIXES = frozenset({"E", "N", "X", "B", "Q", "NQ"})  # E'…', N'…', X'…', B'…', q'[…]'
# Bounds that keep adversarial text linear: tokens scanned for a call's arguments, characters
# of an unquoted password (Oracle's limit is 1024 bytes).
_MAX_ARG_TOKENS = 64
_MAX_BARE = 1024
_MAX_DEPTH = 3  # nesting of comments / literals scanned as SQL

# Inside literals and comments, and over the whole text: libpq/ODBC/JDBC key=value pairs,
# environment variables (``PGPASSWORD=``, ``MYSQL_PWD=``, ``AWS_SECRET_ACCESS_KEY=``), ODBC braced
# values (``PWD={a;b}}c}``: ``}}`` escapes a brace) and URIs with user:password@.
# (The lookbehinds keep a long run of letters from being retried at every position; every
# quantifier is bounded or possessive.)
_DSN_KV = re.compile(
    r"(?<![A-Za-z0-9_])(?:pg|[A-Za-z0-9_]{0,32}_)?"
    r"(?:password|passwd|pwd|passphrase|secret(?:_?access)?(?:_?key)?|session_?token)"
    r"\s*=\s*(?:''|'|\")?"
    r"(\{(?:[^}]|\}\})*+\}?|[^\s;&,)'\"]+)",
    re.I,
)
# Over the whole text (outside literals): only ``key=value`` written without spaces, the way
# connection strings and environment variables are, and not a SQL literal, call or hex value
# (``PASSWORD = N'x'``, ``PASSWORD('x')``, ``0x… HASHED``: the tokenizers handle those).
_TOP_KV = re.compile(
    r"(?<![A-Za-z0-9_])(?:pg|[A-Za-z0-9_]{0,32}_)?"
    r"(?:password|passwd|pwd|passphrase|secret(?:_?access)?(?:_?key)?|session_?token)="
    r"(\{(?:[^}]|\}\})*+\}?|(?!0x)[^\s;&,()'\"]++(?![('\"]))",
    re.I,
)
# An AWS secret access key: 40 characters of base64 with upper case, lower case and a digit or
# symbol (a hex digest has one case only). Looked for only next to an access key id or a
# trigger word.
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")
_DSN_URI = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@'\"]*:([^\s@'\"/]+)@")


# --- scanning inside comments and literals ------------------------------------------------------

_Ranges = list[tuple[int, int]]


def _scan_inner(
    text: str,
    start: int,
    stop: int,
    d: Dialect,
    ranges: _Ranges,
    depth: int,
    doubled: str | None,
    backslash: bool,
) -> None:
    """Scan a comment or a quoted token's content for secrets.

    Comments can hold a commented-out statement or a DSN; string literals can hold dynamic SQL
    (``EXECUTE 'ALTER ROLE r PASSWORD ''x'''``, ``DO $$ … $$``, ``EXEC('CREATE LOGIN …')``), and
    error messages quote SQL in double quotes. The content is unescaped (``''`` → ``'``, and
    backslash-x → x where backslash escapes) and scanned as SQL of the same dialect; what it
    masks is mapped back to positions in the original text.
    """
    _scan_dsn(text, start, stop, ranges)
    if depth >= _MAX_DEPTH or stop - start < 6:
        return
    segment = text[start:stop]
    if not needs_redaction(segment):
        return
    pair = doubled * 2 if doubled else None
    if (pair is None or pair not in segment) and not (backslash and "\\" in segment):
        _mask_statements(text, start, stop, d, ranges, depth + 1)
        return
    chars: list[str] = []
    index: list[int] = []
    i = start
    while i < stop:
        char = text[i]
        if i + 1 < stop and (
            (backslash and char == "\\") or (pair is not None and text.startswith(pair, i))
        ):
            index.append(i)  # the escaped character maps to where its escape starts
            i += 1
        else:
            index.append(i)
        chars.append(text[i])
        i += 1
    index.append(stop)
    inner = "".join(chars)
    found: _Ranges = []
    _mask_statements(inner, 0, len(inner), d, found, depth + 1)
    ranges.extend((index[s], index[e]) for s, e in found)


def _scan_dsn(
    text: str, start: int, stop: int, ranges: _Ranges, kv: re.Pattern[str] = _DSN_KV
) -> None:
    if stop - start < 6:
        return
    for pattern in (kv, _DSN_URI):
        for m in pattern.finditer(text, start, stop):
            ranges.append((m.start(1), m.end(1)))
    for m in _AWS_SECRET.finditer(text, start, stop):
        key = m.group()
        if _mixed(key):
            ranges.append((m.start(), m.end()))


_HEX = frozenset("0123456789abcdefABCDEF")


def _mixed(key: str) -> bool:
    """Upper case, lower case and a digit or symbol: random base64, not a word or a digest.

    A hex literal (``0x0200…``, a SQL Server password hash) is a digest whose only lower-case
    letter is the ``x``: the password reader masks it and keeps the ``0x`` it reads as syntax.
    """
    if key[:2] in ("0x", "0X") and _HEX.issuperset(key[2:]):
        return False
    return (
        not key.isupper()
        and not key.islower()
        and any(c.isdigit() or c in "/+" for c in key)
        and any(c.isupper() for c in key)
    )


# --- masking -----------------------------------------------------------------------------------


def _mask_statements(text: str, start: int, stop: int, d: Dialect, ranges: _Ranges, depth: int):
    """Find the secrets in ``text[start:stop]`` read as one dialect; add their ranges."""

    def inner(cstart: int, cend: int, doubled: str | None, backslash: bool) -> None:
        _scan_inner(text, cstart, cend, d, ranges, depth, doubled, backslash)

    toks = tokens(text, start, stop, d, inner)
    n = len(toks)
    scanned = 0  # positional calls: literals before this index are already masked
    for i, tok in enumerate(toks):
        kind = tok[0]
        if kind == "s":
            _literal_context(text, toks, i, ranges)
            continue
        if kind == "q":  # "password" 'x' (a quoted option name), `password` = 'x'
            if 3 <= tok[4] - tok[3] <= 64 and _is_secret_word(text[tok[3] : tok[4]].upper()):
                _keyword_value(text, toks, i, ranges)
            continue
        if kind != "w":
            continue
        word = tok[5].lstrip("@").rpartition(".")[2]
        if word == "IDENTIFIED":
            _identified(text, toks, i, ranges)
        elif word in _POSITIONAL or word.startswith(_POSITIONAL_PREFIXES):
            j = max(i + 1, scanned)
            while j < n and j <= i + _MAX_ARG_TOKENS and toks[j][5] != ";":
                if toks[j][0] in "sq":
                    ranges.append((toks[j][3], toks[j][4]))
                j += 1
            scanned = j
        elif _is_secret_word(word):
            _keyword_value(text, toks, i, ranges)
    if "@" in text[start:stop]:
        _secret_variables(toks, ranges)


def _secret_variables(toks: list[Tok], ranges: _Ranges) -> None:
    """A variable used as a password, whatever its name: ``SET @q = 'x'; CREATE USER u
    IDENTIFIED BY @q`` or ``DECLARE @q sysname = 'x'; CREATE LOGIN l WITH PASSWORD = @q``.
    The literal assigned to it anywhere in the same text is masked."""
    names: set[str] = set()
    for i, tok in enumerate(toks):
        if tok[0] != "w" or not tok[5].startswith("@") or i < 2:
            continue
        before, before2 = toks[i - 1][5], toks[i - 2][5]
        identified = before == "BY" and (
            before2 == "IDENTIFIED" or (i >= 4 and toks[i - 4][5] == "IDENTIFIED")
        )
        keyword = before == "=" and _is_secret_word(before2.lstrip("@").rpartition(".")[2])
        if identified or keyword:
            names.add(tok[5])
    if not names:
        return
    for i, tok in enumerate(toks):
        if tok[0] == "w" and tok[5] in names:
            v = _assignment(toks, i + 1)
            if v is not None:
                _value(toks, v, ranges)


def _is_secret_word(word: str) -> bool:
    """PASSWORD, V_PASSWORD, PWD, V_PWD, CLIENT_SECRET, AUTHENTICATION_STRING."""
    if word in _SECRET_WORDS or any(part in word for part in _SECRET_PARTS):
        return True
    return "_" in word and any(part in _SECRET_WORDS for part in word.split("_"))


# A literal whose text ends with a secret keyword: dynamic SQL is being built and the next
# literals of the expression carry the secret: format('... PASSWORD %L', r, 'x'),
# '... PASSWORD ' || quote_literal('x'), CONCAT('... IDENTIFIED BY <quote>', 'x', <quote>).
_ENDS_WITH_KEYWORD = re.compile(
    r"(?<![^\s('\"])(?:pass(?:word|wd|phrase)|pwd|secret|identified\s+by)"
    r"[\s=:'\"(]*(?:%[A-Za-z]|\?|\{\d*\}|\$\d+)?[\s'\"()]*\Z",
    re.I,
)
# A literal that is only a secret's name: the next literal is its value
# (set_config('app.password', 'x', false), attribute => 'password', value => 'x',
# jsonb_build_object('password', 'x')).
_KEY_LITERAL = re.compile(
    r"[\w.$-]{0,48}(?:pass(?:word|wd|phrase)|pwd|secret|authentication_string)[\w.-]{0,16}",
    re.I,
)
# Words that end an expression: the scan for the value of a keyword-ending literal stops there.
_CLAUSE_WORDS = frozenset(
    """AND OR NOT WHERE FROM THEN ELSE END WHEN INTO USING SELECT LIKE ILIKE IS IN AS ON
    GROUP ORDER HAVING LIMIT UNION RETURNING VALUES SET BEGIN LOOP IF""".split()  # noqa: SIM905
)


def _literal_context(text: str, toks: list[Tok], i: int, ranges: _Ranges) -> None:
    """Secrets that a literal announces for the literals after it (see the patterns above)."""
    cstart, cend = toks[i][3], toks[i][4]
    if cend - cstart < 3:
        return
    n = len(toks)
    if cend - cstart <= 72 and _KEY_LITERAL.fullmatch(text, cstart, cend):
        # at most a few separators and one argument name between: , value =>
        j = i + 1
        limit = min(n, i + 5)
        while j < limit and (
            (toks[j][0] == "p" and toks[j][5] in ",=>:")
            or (toks[j][0] == "w" and j + 1 < n and toks[j + 1][5] in ("=", ":"))
        ):
            j += 1
        if j < limit and toks[j][0] == "s":
            ranges.append((toks[j][3], toks[j][4]))
        return
    if not _ENDS_WITH_KEYWORD.search(text, max(cstart, cend - 64), cend):
        return
    depth = 0
    for j in range(i + 1, min(n, i + _MAX_ARG_TOKENS)):
        kind, upper = toks[j][0], toks[j][5]
        if kind == "s":
            if toks[j][4] > toks[j][3]:  # not an empty (or unterminated, empty) literal
                ranges.append((toks[j][3], toks[j][4]))
        elif upper == "(":
            depth += 1
        elif upper == ")":
            depth -= 1
            if depth < 0:
                return
        elif upper == ";" or upper in _CLAUSE_WORDS:
            return


def _keyword_value(text: str, toks: list[Tok], i: int, ranges: _Ranges) -> None:
    """``PASSWORD 'x'``, ``PASSWORD = N'x'``, ``PASSWORD = 0x… HASHED``, ``PASSWORD('x')``,
    ``SET PASSWORD FOR u = 'x'`` / ``TO RANDOM REPLACE 'cur'``, a typed variable
    (``@pwd sysname = 'x'``, ``v_password VARCHAR2(30) := 'x'``, ``… DEFAULT 'x'``,
    ``SET app.password TO 'x'``), and a password typed without quotes (``PASSWORD hunter2``,
    a syntax error that still puts the password in the log)."""
    n = len(toks)
    j = i + 1
    if j < n and toks[j][5] == "FOR":  # MySQL SET PASSWORD FOR 'u'@'h' = … | TO RANDOM
        k = j + 1
        while k < n and k < j + 16 and toks[k][5] not in ("=", "TO", ";"):
            k += 1
        if k >= n or toks[k][5] not in ("=", "TO"):
            return
        j = k
    if j < n and toks[j][5] == "REPLACE":  # IDENTIFIED BY RANDOM PASSWORD REPLACE 'cur'
        _value(toks, j + 1, ranges)
        return
    v = _assignment(toks, j)
    if v is not None:
        random = v < n and toks[v][5] == "RANDOM"  # MySQL 8: the server picks the password
        k = v + 1 if random else _value(toks, v, ranges)
        if k > v and k < n and toks[k][5] == "REPLACE":
            _value(toks, k + 1, ranges)  # MySQL SET PASSWORD = 'new' REPLACE 'cur'
        return
    if (
        j < n
        and toks[j][0] == "w"
        and toks[i][5].lstrip("@").rpartition(".")[2] == "PASSWORD"
        and toks[j][5] not in _NOT_A_PASSWORD
        and toks[j][5][:1] != "$"  # $1 is a bind placeholder, $tag$ a PostgreSQL quote
        and not (j + 1 < n and toks[j + 1][5] == "(")
        and not _introducer(toks, j)
    ):
        _bare_or_value(text, toks, j, ranges)
        return
    _value(toks, j, ranges)


_ASSIGN = frozenset({"=", ":", "TO", "DEFAULT"})


def _assignment(toks: list[Tok], j: int) -> int | None:
    """The index of the value after ``[type[(args)]] =|:=|:|TO|DEFAULT``, or None."""
    n = len(toks)
    if j < n and toks[j][0] == "w" and toks[j][5] not in _ASSIGN and not _introducer(toks, j):
        j += 1  # a type: NVARCHAR(128), sysname, VARCHAR2(30), text
        if j < n and toks[j][5] == "(":
            close = j + 1
            while close < n and close < j + 8 and toks[close][5] != ")":
                close += 1
            if close >= n or toks[close][5] != ")":
                return None
            j = close + 1
    if j >= n or toks[j][5] not in _ASSIGN:
        return None
    if toks[j][5] == ":" and j + 1 < n and toks[j + 1][5] == "=":
        return j + 2
    return j + 1


def _introducer(toks: list[Tok], j: int) -> bool:
    """A word that belongs to the literal after it: MySQL ``_utf8mb4 'x'``, or a prefix written
    against the quote (``E'x'``, ``N'x'``) in a dialect that does not know that prefix."""
    if j + 1 >= len(toks) or toks[j + 1][0] != "s":
        return False
    word = toks[j][5]
    return word[:1] == "_" or (word in _PREFIXES and toks[j][2] == toks[j + 1][1])


def _value(toks: list[Tok], j: int, ranges: _Ranges) -> int:
    """Mask the literal value at ``toks[j]``; return the index after it (or ``j`` if none)."""
    n = len(toks)
    if j >= n:
        return j
    kind, start, end, cstart, cend, upper = toks[j]
    if kind in "sq":
        ranges.append((cstart, cend))
        return j + 1
    if kind == "p" and upper == "(":
        return _call_args(toks, j, ranges)
    if kind != "w":
        return j
    if j + 1 < n and toks[j + 1][5] == "(":  # PASSWORD('x'), crypt('x', gen_salt('bf'))
        return _call_args(toks, j + 1, ranges)
    if _introducer(toks, j):
        ranges.append((toks[j + 1][3], toks[j + 1][4]))
        return j + 2
    if upper.startswith("0X") and end - start > 2:  # PASSWORD = 0x0200… HASHED: keep "0x"
        ranges.append((start + 2, end))
        return j + 1
    return j


def _call_args(toks: list[Tok], j: int, ranges: _Ranges) -> int:
    """Mask every literal between ``toks[j]`` (an opening parenthesis) and its match."""
    depth = 0
    n = min(len(toks), j + _MAX_ARG_TOKENS)
    while j < n:
        tok = toks[j]
        if tok[5] == "(":
            depth += 1
        elif tok[5] == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        elif tok[0] in "sq":
            ranges.append((tok[3], tok[4]))
        j += 1
    return j


def _identified(text: str, toks: list[Tok], i: int, ranges: _Ranges) -> None:
    """``IDENTIFIED BY x [REPLACE y]``, ``IDENTIFIED WITH plugin BY|AS x``, ``BY VALUES 'h'``."""
    n = len(toks)
    j = i + 1
    if j >= n:
        return
    if toks[j][5] == "WITH":
        j += 2  # the plugin name, quoted or not
        if j >= n or toks[j][5] not in ("BY", "AS"):
            return
    elif toks[j][5] != "BY":
        return  # EXTERNALLY, GLOBALLY: no secret
    j += 1
    if j >= n:
        return
    upper = toks[j][5]
    following = toks[j + 1] if j + 1 < n else None
    if upper == "RANDOM" and following is not None and following[5] == "PASSWORD":
        return  # MySQL generates the password; nothing secret in the text
    if upper in ("PASSWORD", "VALUES") and following is not None and following[0] in "sq":
        j += 1  # MySQL 5.x "BY PASSWORD '*hash'", Oracle "BY VALUES 'S:…'"
    j = _bare_or_value(text, toks, j, ranges)
    if j < n and toks[j][5] == "REPLACE":  # the current password, to change it
        _bare_or_value(text, toks, j + 1, ranges)


def _bare_or_value(text: str, toks: list[Tok], j: int, ranges: _Ranges) -> int:
    """A literal, or (Oracle) an unquoted password: mask up to the next space or ``;``."""
    if j >= len(toks):
        return j
    if toks[j][0] in "sq" or _introducer(toks, j):
        return _value(toks, j, ranges)
    start = toks[j][1]
    end = start
    limit = min(len(text), start + _MAX_BARE)
    while (
        end < limit
        and not text[end].isspace()
        and text[end] != ";"
        and not text.startswith(("/*", "--"), end)
    ):
        end += 1
    ranges.append((start, end))
    j += 1
    while j < len(toks) and toks[j][1] < end:
        j += 1
    return j


# --- public API --------------------------------------------------------------------------------


def needs_redaction(text: str) -> bool:
    """True when ``text`` mentions anything ``redact_sql`` might mask (the cheap pre-check).

    Only the first ``MAX_TEXT_CHARS`` are read: redaction never reads further (``cap_text``).
    """
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
    low = text.lower()
    if any(trigger in low for trigger in _TRIGGERS):
        return True
    return ("AKIA" in text or "ASIA" in text) and _ACCESS_KEY_ID.search(text) is not None


def cap_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with a marker saying how much was cut.

    Cutting *before* redaction is safe: a literal cut open is masked to the end of the text, an
    unquoted password cut short is masked to the end, and whatever followed the cut is gone.
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}{CUT_MARKER}{len(text) - limit} characters]"


def redact_sql(text: str) -> str:
    """``text`` with every password (and DSN password) replaced by ``***``; never raises.

    Quotes around a masked literal are kept (``PASSWORD '***'``); an unterminated literal is
    masked to the end of the text. Text without a trigger word is returned as is. Text longer
    than ``MAX_TEXT_CHARS`` is cut first (``cap_text``), which bounds the time and memory spent.
    """
    if not isinstance(text, str):
        return text
    return _redact(text)[0]


def _redact(text: str) -> tuple[str, list[str]]:
    """The redacted text (cut to ``MAX_TEXT_CHARS``) and the substrings that were masked."""
    text = cap_text(text)
    if not needs_redaction(text):
        return text, []
    ranges: _Ranges = []
    try:
        _scan_dsn(text, 0, len(text), ranges, _TOP_KV)  # connection strings outside literals
        for dialect in DIALECTS:
            _mask_statements(text, 0, len(text), dialect, ranges, 0)
    except Exception:  # a bug here must not leak the text: mask all of it
        return MASK, []
    return _apply(text, ranges)


def _apply(text: str, ranges: _Ranges) -> tuple[str, list[str]]:
    if not ranges:
        return text, []
    ranges.sort()
    out: list[str] = []
    secrets: list[str] = []
    pos = 0
    cur_start, cur_end = ranges[0]
    for start, end in [*ranges[1:], (len(text) + 1, len(text) + 1)]:
        if start <= cur_end:
            cur_end = max(cur_end, end)
            continue
        out.append(text[pos:cur_start])
        out.append(MASK)
        secrets.append(text[cur_start:cur_end])
        pos = cur_end
        cur_start, cur_end = start, end
    out.append(text[pos:])
    return "".join(out), secrets


# Fields that never carry SQL or secrets: skipped for speed. Any other string field (including
# ones AWS adds later) goes through redact_sql.
_PLAIN_FIELDS = frozenset(
    {
        "type",
        "class",
        "command",
        "logTime",
        "startTime",
        "endTime",
        "dbUserName",
        "databaseName",
        "remoteHost",
        "remotePort",
        "serverHost",
        "serverType",
        "serverVersion",
        "serviceName",
        "dbProtocol",
        "netProtocol",
        "sessionId",
        "statementId",
        "substatementId",
        "transactionId",
        "objectType",
        "clientApplication",
        "exitCode",
        "dbid",
    }
)
_BIND_FIELDS = frozenset({"SQL_BINDS", "sql_binds"})


def redact_event(event: dict[str, Any], *, keep_params: bool = False) -> dict[str, Any]:
    """A new event with SQL-bearing fields redacted and bind values dropped; input untouched.

    ``commandText``, ``errorMessage``, ``das.sql`` and every other string field not known to be
    plain go through ``redact_sql``; so do string values in ``engineNativeAuditFields``.
    ``paramList`` values become ``"<redacted>"`` (the list keeps its length, so "3 parameters"
    stays visible); Oracle ``SQL_BINDS`` likewise. ``keep_params=True`` keeps them, except when
    the statement mentions a password keyword (a bind value may then be the password).

    A value masked in one field is also masked wherever it appears in the others: MySQL's error
    message quotes a fragment of the statement without the keyword that marked it secret
    (``… near 'IDENTIFIED BY 'x'' at line 1`` quotes ``x'' at line 1`` on its own).
    """
    out = dict(event)
    secrets: list[str] = []
    redacted: list[str] = []  # keys of the fields redact_sql rewrote or may need echoes removed
    sensitive_sql = False
    for key, value in event.items():
        if type(value) is str and key not in _PLAIN_FIELDS:
            if len(value) > MAX_TEXT_CHARS or needs_redaction(value):
                sensitive_sql = sensitive_sql or needs_redaction(value)
                out[key], found = _redact(value)
                secrets.extend(found)
            redacted.append(key)
    drop_params = not keep_params or sensitive_sql
    das = event.get("das")
    if isinstance(das, dict):
        sql = das.get("sql")
        if isinstance(sql, str) and (len(sql) > MAX_TEXT_CHARS or needs_redaction(sql)):
            same = event.get("commandText") == sql  # usually: reuse that redaction
            out["das"] = {**das, "sql": out["commandText"] if same else redact_sql(sql)}
            drop_params = drop_params or needs_redaction(sql)
    params = event.get("paramList")
    if drop_params and isinstance(params, list) and params:
        out["paramList"] = [PARAM_MASK] * len(params)
    native = event.get("engineNativeAuditFields")
    if isinstance(native, dict) and native:
        out["engineNativeAuditFields"] = _redact_mapping(native, drop_params, secrets)
    echoes = _echoes(secrets)
    if echoes:
        for key in redacted:
            out[key] = _remove(out[key], echoes)
        if isinstance(out.get("das"), dict) and isinstance(out["das"].get("sql"), str):
            out["das"] = {**out["das"], "sql": _remove(out["das"]["sql"], echoes)}
        if isinstance(out.get("engineNativeAuditFields"), dict):
            out["engineNativeAuditFields"] = {
                k: _remove(v, echoes) if isinstance(v, str) else v
                for k, v in out["engineNativeAuditFields"].items()
            }
    return sanitize(out)


def _echoes(secrets: list[str]) -> list[str]:
    """The masked values worth looking for elsewhere, longest first, without their wrapping
    (``{…}`` of an ODBC value, the ``*`` of a MySQL hash)."""
    found: set[str] = set()
    for secret in secrets:
        for candidate in (secret, secret.strip(" \t\r\n{}*'\"")):
            if len(candidate) >= _MIN_ECHO and candidate != MASK:
                found.add(candidate)
    return sorted(found, key=len, reverse=True)


def _remove(text: str, echoes: list[str]) -> str:
    for echo in echoes:
        if echo in text:
            text = text.replace(echo, MASK)
    return text


def _redact_mapping(
    mapping: dict[str, Any], drop_binds: bool, secrets: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if drop_binds and key in _BIND_FIELDS and value:
            out[key] = PARAM_MASK
        elif isinstance(value, str):
            out[key], found = _redact(value)
            secrets.extend(found)
        else:
            out[key] = value
    return out


# --- what every output can carry ------------------------------------------------------------

REPLACEMENT = "\ufffd"
MAX_NESTING = 32
TOO_DEEP = "<nested too deep>"
_SURROGATES = re.compile("[\ud800-\udfff]")
_INFINITIES = (float("inf"), float("-inf"))


def sanitize(value: Any, depth: int = 0) -> Any:
    """``value`` with what no output can encode made encodable, everything else kept.

    JSON allows a lone UTF-16 surrogate (``"\\ud800"``) and Python decodes it, but UTF-8 cannot
    carry it: SNS, Firehose and the console would fail on the whole batch the alert is in. It
    becomes U+FFFD (visibly "something was here"). NaN and infinities, which no strict JSON
    reader accepts, become null; structures nested deeper than ``MAX_NESTING`` (the event's
    JSON allowed it) become a marker, so serialising an alert cannot exhaust the stack. What
    needs no change is returned as the same object (no copy).
    """
    if type(value) is str:
        if value.isascii() or not _SURROGATES.search(value):
            return value
        return _SURROGATES.sub(REPLACEMENT, value)
    if type(value) is float:
        return None if value != value or value in _INFINITIES else value
    if isinstance(value, dict):
        if depth >= MAX_NESTING:
            return TOO_DEEP
        copy: dict[Any, Any] | None = None
        for key, item in value.items():
            new_key = sanitize(key, depth + 1) if type(key) is str else key
            new_item = sanitize(item, depth + 1)
            if new_item is not item or new_key is not key:
                if copy is None:
                    copy = dict(value)
                if new_key is not key:
                    del copy[key]
                copy[new_key] = new_item
        return value if copy is None else copy
    if isinstance(value, list | tuple):
        if depth >= MAX_NESTING:
            return TOO_DEEP
        items = [sanitize(item, depth + 1) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items
    return value
