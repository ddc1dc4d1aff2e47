"""The statement's leading keywords (``das.verb``) and the action they imply.

Rules want "what kind of statement was this" without parsing SQL: ``CREATE TABLE``, ``ALTER
ROLE``, ``GRANT``, ``SELECT``. We read only the first few words, skipping whitespace, ``--`` and
``/* */`` comments, opening parentheses and (MySQL) ``#`` comments. MySQL executable comments
(``/*!50003 CREATE*/``) run or not depending on the server's version, so a text that has one is
read both ways and the reading with the more dangerous action wins (``_most_dangerous``).
Modifiers that don't change the kind of statement are dropped (``CREATE OR REPLACE VIEW`` →
``CREATE VIEW``, ``CREATE UNIQUE INDEX`` → ``CREATE INDEX``, ``DROP TEMPORARY TABLE`` →
``DROP TABLE``).

Cost: the verb depends only on the start of the text, and a busy cluster repeats the same
statement shapes, so results are memoised by the first ``_PREFIX`` characters whenever the verb
was decided inside that prefix.
"""

from __future__ import annotations

import re

_PREFIX = 48
# The verb is looked for in the first MAX_VERB_SCAN characters: skipping comments costs ~1 us
# per comment, and 20 MiB of "--x" lines would take seconds. A text whose first MAX_VERB_SCAN
# characters are all comments, spaces and parentheses gets UNREAD_VERB, whose action is DDL:
# padding cannot make a statement look harmless, it makes it look like a schema change.
MAX_VERB_SCAN = 256 * 1024
UNREAD_VERB = "UNREAD"
_CACHE_MAX = 8192
_caches: tuple[dict[str, str | None], dict[str, str | None]] = ({}, {})

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$#]*")
# Whitespace, comments and "(" between words. MySQL mode also skips "#…" comments and reads
# executable comments ("/*!50003 … */") as plain SQL: their opener and closer count as space.
_SKIP = re.compile(r"(?:\s+|--[^\n]*|/\*.*?(?:\*/|\Z)|\()*", re.S)
_SKIP_MYSQL = re.compile(r"(?:\s+|--[^\n]*|#[^\n]*|/\*![0-9]*|/\*.*?(?:\*/|\Z)|\*/|\()*", re.S)
# The same text read by a server too old for every versioned comment (``/*!50000 …*/`` is then a
# comment; ``/*! … */`` without a version still runs), and by one that runs none of them.
_SKIP_MYSQL_UNVERSIONED = re.compile(
    r"(?:\s+|--[^\n]*|#[^\n]*|/\*!(?![0-9])|/\*.*?(?:\*/|\Z)|\*/|\()*", re.S
)
_SKIP_MYSQL_NONE = re.compile(r"(?:\s+|--[^\n]*|#[^\n]*|/\*.*?(?:\*/|\Z)|\()*", re.S)
_MYSQL_READINGS = (_SKIP_MYSQL, _SKIP_MYSQL_UNVERSIONED, _SKIP_MYSQL_NONE)
_NONSPACE = re.compile(r"(?:(?!\*/)\S)*")

# Words after CREATE/ALTER/DROP that don't change what is created.
_MODIFIERS = frozenset(
    [
        "REPLACE",
        "UNIQUE",
        "TEMPORARY",
        "TEMP",
        "GLOBAL",
        "LOCAL",
        "UNLOGGED",
        "PUBLIC",
        "EDITIONABLE",
        "NONEDITIONABLE",
        "EDITIONING",
        "FORCE",
        "NOFORCE",
        "SHARED",
        "PRIVATE",
        "TRUSTED",
        "PROCEDURAL",
        "RECURSIVE",
        "CLUSTERED",
        "NONCLUSTERED",
        "ONLINE",
        "OFFLINE",
        "IGNORE",
        "AGGREGATE",
        "FULLTEXT",
        "SPATIAL",
        "BITMAP",
        "COLUMNSTORE",
        "MULTIKEY",
    ]
)
# MySQL "CREATE ALGORITHM=MERGE DEFINER=`u`@`h` SQL SECURITY INVOKER VIEW".
_OPTION_WORDS = frozenset({"DEFINER", "ALGORITHM"})
_TWO_WORD_KINDS = frozenset(
    {
        ("MATERIALIZED", "VIEW"),
        ("FOREIGN", "TABLE"),
        ("FOREIGN", "DATA"),
        ("DEFAULT", "PRIVILEGES"),
        ("SERVER", "ROLE"),
        ("SERVER", "AUDIT"),
        ("PACKAGE", "BODY"),
        ("TYPE", "BODY"),
        ("DATABASE", "LINK"),
        ("DATABASE", "ROLE"),
        ("DATABASE", "AUDIT"),
        ("APPLICATION", "ROLE"),
        ("EVENT", "TRIGGER"),
        ("EVENT", "SESSION"),
        ("MASTER", "KEY"),
        ("SYMMETRIC", "KEY"),
        ("ASYMMETRIC", "KEY"),
        ("USER", "MAPPING"),
        ("TEXT", "SEARCH"),
        ("ACCESS", "METHOD"),
        ("PLUGGABLE", "DATABASE"),
        ("RESOURCE", "GROUP"),
        ("AUDIT", "POLICY"),
    }
)
_FIRST_OF_PAIR = frozenset(first for first, _ in _TWO_WORD_KINDS)
# A third word that belongs to the verb after these pairs: ALTER SERVER AUDIT SPECIFICATION is
# not ALTER SERVER AUDIT, and DROP DATABASE AUDIT SPECIFICATION is no DROP DATABASE.
_THIRD_WORDS: dict[tuple[str, str], str] = {
    ("SERVER", "AUDIT"): "SPECIFICATION",
    ("DATABASE", "AUDIT"): "SPECIFICATION",
}
# Second words kept only when this third word follows: SET SESSION AUTHORIZATION is an identity
# change, SET SESSION sql_mode = … stays SET.
_SECOND_NEEDS_THIRD: dict[tuple[str, str], str] = {("SET", "SESSION"): "AUTHORIZATION"}
_KIND_VERBS = frozenset({"CREATE", "ALTER", "DROP"})
# First word -> the second words that belong to the verb.
_SECOND_WORDS: dict[str, frozenset[str]] = {
    "SET": frozenset({"PASSWORD", "ROLE", "TRANSACTION", "DEFAULT", "SESSION"}),
    "EXECUTE": frozenset({"AS"}),  # T-SQL EXECUTE AS LOGIN|USER = …: an identity change
    "EXEC": frozenset({"AS"}),
    "RENAME": frozenset({"TABLE", "USER"}),
    "TRUNCATE": frozenset({"TABLE"}),
    "LOAD": frozenset({"DATA", "XML", "INDEX"}),
    "START": frozenset({"TRANSACTION", "SLAVE", "REPLICA"}),
    "STOP": frozenset({"SLAVE", "REPLICA"}),
    "LOCK": frozenset({"TABLE", "TABLES"}),
    "UNLOCK": frozenset({"TABLES"}),
    "CHANGE": frozenset({"MASTER", "REPLICATION"}),
    "INSTALL": frozenset({"PLUGIN", "COMPONENT"}),
    "UNINSTALL": frozenset({"PLUGIN", "COMPONENT"}),
    "REASSIGN": frozenset({"OWNED"}),
}


def extract_verb(sql: object, *, mysql: bool = False) -> str | None:
    """``CREATE TABLE``, ``SELECT``, … or ``None`` when the text starts with no keyword."""
    if type(sql) is not str or not sql:
        return None
    cache = _caches[mysql]
    key = sql[:_PREFIX]
    hit = cache.get(key, False)
    if hit is not False:
        return hit  # type: ignore[return-value]
    text = sql if len(sql) <= MAX_VERB_SCAN else sql[:MAX_VERB_SCAN]
    if mysql and "/*!" in text:
        verb, end = _most_dangerous(text)
    else:
        verb, end = _parse(text, _SKIP_MYSQL if mysql else _SKIP)
    if verb is None and len(text) < len(sql) and end >= len(text):
        return UNREAD_VERB  # only comments and spaces up to the cut: assume the worst
    # Cacheable only if the decision never looked past the prefix (the character that ended
    # the last word must be inside it too), or the whole text is the key.
    if end < len(key) or len(sql) <= _PREFIX:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = verb
    return verb


def _most_dangerous(sql: str) -> tuple[str | None, int]:
    """The verb of the most dangerous reading of a text with MySQL executable comments.

    ``/*!NNNNN … */`` runs only on a server of version NNNNN or later, and the text does not say
    which version the server is: ``/*!99999 SELECT */ DROP TABLE t`` drops the table on every
    real server, ``/*!50000 DROP */ TABLE t`` drops it too. Reading the comments as SQL, as
    comments, and only the unversioned ones as SQL, and keeping the reading whose action ranks
    highest, means a comment can never make a statement look less dangerous than it is.
    """
    best: str | None = None
    best_rank = -1
    last = 0
    for skip in _MYSQL_READINGS:
        verb, end = _parse(sql, skip)
        last = max(last, end)
        rank = ACTION_RANK[verb_action(verb)] if verb is not None else -1
        if rank > best_rank:
            best, best_rank = verb, rank
    return best, last


def _parse(sql: str, skip: re.Pattern[str]) -> tuple[str | None, int]:
    """(verb, index of the last character examined)."""
    pos = 0
    words: list[str] = []

    def word() -> str | None:
        nonlocal pos
        pos = skip.match(sql, pos).end()  # type: ignore[union-attr]
        found = _WORD.match(sql, pos)
        if found is None:
            return None
        pos = found.end()
        return found.group().upper()

    first = word()
    if first is None:
        return None, pos
    words.append(first)
    if first in _KIND_VERBS:
        kind = word()
        while kind is not None:
            if kind == "OR":  # CREATE OR REPLACE (PG, Oracle), CREATE OR ALTER (T-SQL)
                kind = word()
                if kind in ("REPLACE", "ALTER"):
                    kind = word()
            elif kind in _MODIFIERS:
                kind = word()
            elif kind in _OPTION_WORDS:  # DEFINER = `u`@`h`, ALGORITHM=MERGE
                pos = skip.match(sql, pos).end()  # type: ignore[union-attr]
                if sql.startswith("=", pos):
                    pos = skip.match(sql, pos + 1).end()  # type: ignore[union-attr]
                    pos = _NONSPACE.match(sql, pos).end()  # type: ignore[union-attr]
                kind = word()
            elif kind == "SQL":  # SQL SECURITY DEFINER|INVOKER
                word()
                word()
                kind = word()
            else:
                break
        if kind is not None:
            words.append(kind)
            if kind in _FIRST_OF_PAIR:
                second = word()
                if second is not None and (kind, second) in _TWO_WORD_KINDS:
                    words.append(second)
                    third = _THIRD_WORDS.get((kind, second))
                    if third is not None and word() == third:
                        words.append(third)
    else:
        allowed = _SECOND_WORDS.get(first)
        if allowed is not None:
            second = word()
            if second is not None and second in allowed:
                needed = _SECOND_NEEDS_THIRD.get((first, second))
                if needed is None:
                    words.append(second)
                    if second == "DEFAULT" and word() == "ROLE":  # SET DEFAULT ROLE
                        words.append("ROLE")
                elif word() == needed:
                    words += (second, needed)
    return " ".join(words), pos


# --- verb -> engine-neutral action -------------------------------------------------------------

_ROLE_KINDS = frozenset(
    {
        "USER",
        "ROLE",
        "GROUP",
        "LOGIN",
        "SERVER ROLE",
        "DATABASE ROLE",
        "APPLICATION ROLE",
        "DEFAULT PRIVILEGES",
        "AUTHORIZATION",
    }
)
_FIRST_WORD_ACTION: dict[str, str] = {
    **dict.fromkeys(("SELECT", "WITH", "VALUES", "TABLE"), "READ"),
    **dict.fromkeys(
        ("INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "UPSERT", "TRUNCATE", "COPY", "LOAD"),
        "WRITE",
    ),
    **dict.fromkeys(("CALL", "EXEC", "EXECUTE", "DO", "DECLARE", "PL/SQL"), "FUNCTION"),
    **dict.fromkeys(("GRANT", "REVOKE", "DENY"), "ROLE"),
    **dict.fromkeys(("CREATE", "ALTER", "DROP", "RENAME", "COMMENT"), "DDL"),
}
_WHOLE_VERB_ACTION: dict[str, str] = {
    # identity changes: the session acts as another principal from here on
    "SET ROLE": "ROLE",
    "SET SESSION AUTHORIZATION": "ROLE",
    "EXECUTE AS": "ROLE",
    "EXEC AS": "ROLE",
    "SET PASSWORD": "ROLE",
    "SET DEFAULT ROLE": "ROLE",
    "RENAME USER": "ROLE",
    "REASSIGN OWNED": "ROLE",
    "ALTER SESSION": "MISC",  # Oracle session settings: noise, not schema change
    "LOAD INDEX": "MISC",  # MySQL LOAD INDEX INTO CACHE
    UNREAD_VERB: "DDL",  # see MAX_VERB_SCAN
}
_action_cache: dict[str, str] = {}
# How much an action can hurt, for choosing between two readings of one text: privileges and
# schema first, then data changes, code (which may do anything, but less visibly), reads.
ACTION_RANK: dict[str, int] = {
    "MISC": 0,
    "READ": 1,
    "FUNCTION": 2,
    "WRITE": 3,
    "DDL": 4,
    "ROLE": 5,
}


def verb_action(verb: object) -> str:
    """READ, WRITE, DDL, ROLE, FUNCTION or MISC for a verb (or an Oracle/PG command tag)."""
    if type(verb) is not str or not verb:
        return "MISC"
    hit = _action_cache.get(verb)
    if hit is not None:
        return hit
    action = _WHOLE_VERB_ACTION.get(verb)
    if action is None:
        first, _, rest = verb.partition(" ")
        action = _FIRST_WORD_ACTION.get(first, "MISC")
        if first in _KIND_VERBS and rest in _ROLE_KINDS:
            action = "ROLE"
        elif action == "MISC" and ("GRANT" in verb or "REVOKE" in verb):
            action = "ROLE"  # Oracle: "SYSTEM GRANT", "ROLE REVOKE", …
    if len(_action_cache) < _CACHE_MAX:
        _action_cache[verb] = action
    return action


# --- the object a T-SQL DDL statement names ----------------------------------------------------

# A T-SQL identifier: [bracketed]] with ]] for ]], "quoted" with "" for ", or bare (@, # allowed).
_TSQL_IDENT = r'\[(?:[^\]]|\]\])*\]|"(?:[^"]|"")*"|[A-Za-z_@#][A-Za-z0-9_@#$]*'
_TSQL_TOKEN = re.compile(
    rf"(?P<name>(?:{_TSQL_IDENT})(?:\s*\.\s*(?:{_TSQL_IDENT})?)*)|(?P<punct>::|;|\.)|(?P<other>\S)"
)
_TSQL_PART = re.compile(_TSQL_IDENT)
# Words that may stand between CREATE/ALTER/DROP, the kind and the name: IF [NOT] EXISTS, …
_NAME_PREFIX_WORDS = frozenset({"IF", "NOT", "EXISTS", "OR", "ALTER", "REPLACE"})
_KIND_PREFIX_WORDS = _NAME_PREFIX_WORDS | _MODIFIERS  # may stand before a kind word
# What ALTER SCHEMA s TRANSFER may put before the moved object's name (OBJECT::dbo.t).
_TRANSFER_CLASSES = frozenset({"OBJECT", "TYPE", "XML", "SCHEMA", "COLLECTION"})
_TSQL_SCAN = 8192
_TSQL_TOKENS = 64


def _tsql_tokens(sql: str) -> list[tuple[str, str, int]]:
    """(kind, text, start) of the first tokens of a T-SQL text: names (dotted), ``::``/``;``, other.

    Comments, whitespace and parentheses are skipped like the verb reader does; string
    literals end the scan (a DDL statement's name never follows one).
    """
    out: list[tuple[str, str, int]] = []
    pos = 0
    text = sql[:_TSQL_SCAN]
    while len(out) < _TSQL_TOKENS:
        pos = _SKIP.match(text, pos).end()  # type: ignore[union-attr]
        found = _TSQL_TOKEN.match(text, pos)
        if found is None or found.group() == "'" or text.startswith("N'", pos):
            break
        kind = found.lastgroup or "other"
        out.append((kind, found.group(), pos))
        pos = found.end()
    return out


def _name_parts(name: str) -> list[str]:
    """``[testDB].[dbo].[Test Table]`` -> ``["testDB", "dbo", "Test Table"]`` (db..t keeps "")."""
    parts: list[str] = []
    pos = 0
    while pos <= len(name):
        while pos < len(name) and name[pos].isspace():
            pos += 1
        found = _TSQL_PART.match(name, pos)
        if found is None:
            parts.append("")
        else:
            part = found.group()
            if part[0] == "[":
                part = part[1:-1].replace("]]", "]")
            elif part[0] == '"':
                part = part[1:-1].replace('""', '"')
            parts.append(part)
            pos = found.end()
        while pos < len(name) and name[pos].isspace():
            pos += 1
        if pos >= len(name) or name[pos] != ".":
            break
        pos += 1
    return parts


def tsql_ddl_object(sql: object) -> tuple[str | None, str, str] | None:
    """``(schema, name, verb)`` of the object the first DDL statement of a T-SQL batch names.

    SQL Server audits ``CREATE TABLE dbo.t`` as an ``ALTER`` of the *schema* ``dbo`` (class
    ``SCHEMA``, ``objectName`` ``dbo``): the object itself is only in the SQL. ``schema`` is the
    qualifier written in the SQL (``None`` when the name is unqualified); ``ALTER SCHEMA s
    TRANSFER dbo.t`` names ``t``, now in ``s``. ``CREATE INDEX i ON dbo.t`` names the table.
    Leading ``USE db;`` statements are skipped; ``None`` when no DDL statement with a name is
    found among the first tokens.
    """
    if type(sql) is not str or not sql:
        return None
    tokens = _tsql_tokens(sql)
    start = 0
    while start < len(tokens) and tokens[start][1].upper() in ("USE", "GO", ";"):
        start += 2 if tokens[start][1].upper() == "USE" else 1
        if start < len(tokens) and tokens[start][1] == ";":
            start += 1
    if start >= len(tokens) or tokens[start][1].upper() not in _KIND_VERBS:
        return None
    verb = extract_verb(sql[tokens[start][2] :])
    if verb is None:
        return None
    kind_words = verb.split()[1:]
    i = start + 1
    for expected in kind_words:
        while (
            i < len(tokens)
            and tokens[i][1].upper() in _KIND_PREFIX_WORDS
            and (tokens[i][1].upper() != expected)
        ):
            i += 1
        if i >= len(tokens) or tokens[i][1].upper() != expected:
            return None
        i += 1
    while i < len(tokens) and tokens[i][1].upper() in _NAME_PREFIX_WORDS:
        i += 1
    if i >= len(tokens) or tokens[i][0] != "name":
        return None
    parts = _name_parts(tokens[i][1])
    if kind_words == ["SCHEMA"]:
        target = parts[-1]
        rest = [t[1].upper() for t in tokens[i + 1 : i + 3]]
        if not rest or rest[0] != "TRANSFER":
            return None
        j = i + 2
        while j < len(tokens) and (
            tokens[j][1].upper() in _TRANSFER_CLASSES or tokens[j][1] == "::"
        ):
            j += 1
        if j >= len(tokens) or tokens[j][0] != "name":
            return None
        moved = _name_parts(tokens[j][1])
        return (target or None), moved[-1], verb
    if kind_words == ["INDEX"] or kind_words == ["STATISTICS"]:
        j = i + 1
        if j + 1 < len(tokens) and tokens[j][1].upper() == "ON" and tokens[j + 1][0] == "name":
            parts = _name_parts(tokens[j + 1][1])
    name = parts[-1]
    if not name:
        return None
    schema = parts[-2] if len(parts) >= 2 and parts[-2] else None
    return schema, name, verb
