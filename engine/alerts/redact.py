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
    "create_credential",
    "://",
)
_SECRET_WORDS = frozenset({"PWD", "SECRET"})
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

# Inside literals and comments: libpq/ODBC/JDBC key=value pairs and URIs with user:password@.
_DSN_KV = re.compile(r"(?<![A-Za-z0-9_])(?:password|passwd|pwd)\s*=\s*([^\s;&,)'\"]+)", re.I)
# (The lookbehind keeps a long run of letters from being retried at every position.)
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


def _scan_dsn(text: str, start: int, stop: int, ranges: _Ranges) -> None:
    if stop - start < 6:
        return
    for pattern in (_DSN_KV, _DSN_URI):
        for m in pattern.finditer(text, start, stop):
            ranges.append((m.start(1), m.end(1)))


# --- masking -----------------------------------------------------------------------------------


def _mask_statements(text: str, start: int, stop: int, d: Dialect, ranges: _Ranges, depth: int):
    """Find the secrets in ``text[start:stop]`` read as one dialect; add their ranges."""

    def inner(cstart: int, cend: int, doubled: str | None, backslash: bool) -> None:
        _scan_inner(text, cstart, cend, d, ranges, depth, doubled, backslash)

    toks = tokens(text, start, stop, d, inner)
    n = len(toks)
    scanned = 0  # positional calls: literals before this index are already masked
    for i, tok in enumerate(toks):
        if tok[0] != "w":
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
        elif word in _SECRET_WORDS or any(part in word for part in _SECRET_PARTS):
            _keyword_value(text, toks, i, ranges)


def _keyword_value(text: str, toks: list[Tok], i: int, ranges: _Ranges) -> None:
    """``PASSWORD 'x'``, ``PASSWORD = N'x'``, ``PASSWORD = 0x… HASHED``, ``PASSWORD('x')``,
    ``SET PASSWORD FOR u = 'x'``, and a password typed without quotes (``PASSWORD hunter2``,
    a syntax error that still puts the password in the log)."""
    n = len(toks)
    j = i + 1
    if j < n and toks[j][5] == "FOR":  # MySQL SET PASSWORD FOR 'u'@'h' = …
        k = j + 1
        while k < n and k < j + 16 and toks[k][5] not in ("=", ";"):
            k += 1
        if k >= n or toks[k][5] != "=":
            return
        j = k
    if j < n and toks[j][5] in ("=", ":"):
        k = _value(toks, j + 1, ranges)
        if j + 1 < k < n and toks[k][5] == "REPLACE":  # MySQL SET PASSWORD = 'new' REPLACE 'cur'
            _value(toks, k + 1, ranges)
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
    """True when ``text`` mentions anything ``redact_sql`` might mask (the cheap pre-check)."""
    low = text.lower()
    return any(trigger in low for trigger in _TRIGGERS)


def redact_sql(text: str) -> str:
    """``text`` with every password (and DSN password) replaced by ``***``; never raises.

    Quotes around a masked literal are kept (``PASSWORD '***'``); an unterminated literal is
    masked to the end of the text. Text without a trigger word is returned as is.
    """
    if not isinstance(text, str):
        return text
    if not needs_redaction(text):
        return text
    ranges: _Ranges = []
    try:
        for dialect in DIALECTS:
            _mask_statements(text, 0, len(text), dialect, ranges, 0)
    except Exception:  # a bug here must not leak the text: mask all of it
        return MASK
    return _apply(text, ranges)


def _apply(text: str, ranges: _Ranges) -> str:
    if not ranges:
        return text
    ranges.sort()
    out: list[str] = []
    pos = 0
    cur_start, cur_end = ranges[0]
    for start, end in ranges[1:]:
        if start <= cur_end:
            cur_end = max(cur_end, end)
            continue
        out.append(text[pos:cur_start])
        out.append(MASK)
        pos = cur_end
        cur_start, cur_end = start, end
    out.append(text[pos:cur_start])
    out.append(MASK)
    out.append(text[cur_end:])
    return "".join(out)


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
    """
    out = dict(event)
    sensitive_sql = False
    for key, value in event.items():
        if type(value) is str and key not in _PLAIN_FIELDS and needs_redaction(value):
            sensitive_sql = True
            out[key] = redact_sql(value)
    drop_params = not keep_params or sensitive_sql
    das = event.get("das")
    if isinstance(das, dict):
        sql = das.get("sql")
        if isinstance(sql, str) and needs_redaction(sql):
            same = event.get("commandText") == sql  # usually: reuse that redaction
            out["das"] = {**das, "sql": out["commandText"] if same else redact_sql(sql)}
            drop_params = True
    params = event.get("paramList")
    if drop_params and isinstance(params, list) and params:
        out["paramList"] = [PARAM_MASK] * len(params)
    native = event.get("engineNativeAuditFields")
    if isinstance(native, dict) and native:
        out["engineNativeAuditFields"] = _redact_mapping(native, drop_params)
    return out


def _redact_mapping(mapping: dict[str, Any], drop_binds: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if drop_binds and key in _BIND_FIELDS and value:
            out[key] = PARAM_MASK
        elif isinstance(value, str):
            out[key] = redact_sql(value)
        else:
            out[key] = value
    return out
