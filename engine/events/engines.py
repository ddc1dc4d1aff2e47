"""Which database engine produced an event.

DAS says it three ways (``serverType``, ``serviceName``, ``dbProtocol``) with no fixed spelling
(``PostgreSQL`` / ``Postgres 3.0``, ``MySQL``, ``oracle`` / ``oracle-ee``, ``SQLSERVER`` /
``sqlserver-ee``). The handful of distinct values is memoised, so detection is a dict lookup per
event. When none of the three fields is usable (hand-written or truncated events), the shape of
the event decides: each engine has fields or value types no other engine uses (docs/events.md).
"""

from __future__ import annotations

ENGINES: tuple[str, ...] = ("postgres", "mysql", "oracle", "sqlserver")

# Substrings of a lowercased name, checked in order ("sql" alone would be ambiguous).
_NEEDLES: tuple[tuple[str, str], ...] = (
    ("postgre", "postgres"),
    ("aurora-pg", "postgres"),
    ("mysql", "mysql"),
    ("mariadb", "mysql"),
    ("oracle", "oracle"),
    ("sqlserver", "sqlserver"),
    ("sql server", "sqlserver"),
    ("sql-server", "sqlserver"),
    ("mssql", "sqlserver"),
)
_ALIASES = {"pg": "postgres", "psql": "postgres", "ora": "oracle"}

_NAME_CACHE: dict[str, str | None] = {}
_NAME_CACHE_MAX = 1024

_PG_CLASSES = frozenset({"READ", "WRITE", "FUNCTION", "ROLE", "DDL", "MISC", "MISC_SET"})
_SQLSERVER_COMMANDS = frozenset({"LOGIN FAILED", "LOGIN SUCCEEDED", "LOGOUT"})
_ORACLE_COMMANDS = frozenset({"LOGON", "LOGOFF", "LOGOFF BY CLEANUP"})
_ORACLE_CLASSES = frozenset({"STANDARD", "FINEGRAINEDAUDIT", "XS", "DATAPUMP", "DIRECTLOAD"})


def engine_from_name(name: object) -> str | None:
    """Map one server name (any of the three fields, or a user's spelling) to an engine."""
    if type(name) is not str:
        return None
    hit = _NAME_CACHE.get(name, False)
    if hit is not False:
        return hit  # type: ignore[return-value]
    low = name.strip().lower()
    found = low if low in ENGINES else _ALIASES.get(low)
    if found is None:
        for needle, engine in _NEEDLES:
            if needle in low:
                found = engine
                break
    if len(_NAME_CACHE) < _NAME_CACHE_MAX:
        _NAME_CACHE[name] = found
    return found


def detect_engine(raw: dict) -> str | None:
    """The engine of one raw event, or ``None`` when nothing in it says."""
    get = raw.get
    for key in ("serverType", "serviceName", "dbProtocol"):
        found = engine_from_name(get(key))
        if found is not None:
            return found
    return _engine_from_shape(raw)


def _engine_from_shape(raw: dict) -> str | None:
    """Fallback: value types and vocabularies that only one engine uses."""
    get = raw.get
    cls = get("class")
    cls_u = cls.upper() if type(cls) is str else None
    if cls_u in ("MAIN", "AUX"):
        return "mysql"
    command = get("command")
    command_u = command.upper() if type(command) is str else None
    if command_u in _SQLSERVER_COMMANDS:
        return "sqlserver"
    if command_u == "FAILED_CONNECT":
        return "mysql"
    if command_u in _ORACLE_COMMANDS:
        return "oracle"
    statement_id = get("statementId")
    if type(statement_id) is str and statement_id[:2].lower() == "0x":
        return "sqlserver"
    if "dbid" in raw:
        return "oracle"
    if cls_u in _ORACLE_CLASSES:
        return "oracle"
    exit_code = get("exitCode")
    if type(exit_code) is str and exit_code.isdigit():
        return "mysql"  # PostgreSQL SQLSTATEs are 5 characters and usually not all digits
    session_id = get("sessionId")
    if type(session_id) is str and "." in session_id:
        return "postgres"  # "5ce5f7f0.474b": backend start time . pid, in hex
    if cls_u in _PG_CLASSES:
        return "postgres"
    log_time = get("logTime")
    if type(log_time) is str and len(log_time) >= 26:
        dot = log_time.find(".")
        if dot > 0:
            end = dot + 1
            while end < len(log_time) and log_time[end].isdigit():
                end += 1
            if end - dot - 1 == 7:
                return "sqlserver"
            if end == len(log_time):
                return "oracle"  # no offset at all
    return None
