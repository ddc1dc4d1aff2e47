"""One event in, the same event plus ``das`` out: the shape every rule is written against.

Raw fields stay exactly as AWS sent them (a rule author can always fall back to them); the
derived fields live in one namespace, ``das``, so they can never collide with a field AWS adds
later. ``normalize`` runs on every event of a busy stream, so it does a shallow copy, memoised
lookups and no regex beyond the cached verb scan.

Totality: any dict is accepted. Missing fields, unknown fields and odd types (a number where a
string was expected) give ``None``/``False`` for what cannot be derived; they never raise.
"""

from __future__ import annotations

from typing import Any

from engine.events.derive import DERIVERS, sqlserver_schema_class_object
from engine.events.engines import detect_engine
from engine.events.sqlverb import extract_verb
from engine.events.timeparse import parse_log_time

_KEY_TYPES = (str, int)  # sessionId / statementId: strings or numbers depending on the engine
# The ``das`` fields every normalized event carries, in the order ``normalize`` writes them.
DAS_FIELDS: tuple[str, ...] = (
    "engine",
    "clusterId",
    "instanceId",
    "time",
    "epoch",
    "action",
    "verb",
    "failed",
    "errorCode",
    "aux",
    "user",
    "database",
    "object",
    "sourceHost",
    "client",
    "rows",
    "sql",
    "statementKey",
    "hour",
    "weekday",
    "schema",
)
_SESSION_ACTIONS = frozenset({"CONNECT", "DISCONNECT", "LOGIN_FAILED"})
# SQL Server login rows carry the failure text ("Login failed for user …") in commandText.
_SQLSERVER_NOT_SQL = frozenset({"LOGIN FAILED", "LOGIN SUCCEEDED", "LOGOUT"})


def normalize(
    raw: dict[str, Any], *, cluster_id: str | None = None, instance_id: str | None = None
) -> dict[str, Any]:
    """Return a new dict: every field of ``raw`` plus ``das`` (see docs/events.md).

    ``cluster_id``/``instance_id`` come from the record envelope. When they are not given, an
    earlier ``das`` (re-normalising decoded output is idempotent) or the event's own
    ``clusterId``/``instanceId`` fields are used. ``""`` (RDS has no cluster) becomes ``None``.
    """
    if not isinstance(raw, dict):
        raise TypeError(f"an activity event must be a JSON object, not {type(raw).__name__}")
    get = raw.get
    previous = get("das")
    if type(previous) is not dict:
        previous = None

    engine = detect_engine(raw)
    command = _upper(get("command"))
    cls = _upper(get("class"))
    aux = engine == "mysql" and cls == "AUX"

    text = get("commandText")
    sql = text if type(text) is str and text and not text.isspace() else None
    if sql is not None and (aux or (engine == "sqlserver" and command in _SQLSERVER_NOT_SQL)):
        sql = None  # MySQL AUX: the object name; SQL Server login rows: a message
    verb = extract_verb(sql, mysql=engine == "mysql") if sql is not None else None

    action, failed, code = DERIVERS[engine](raw, command, cls, verb)
    if (
        verb is None
        and command
        and engine in ("postgres", "oracle")
        and action not in _SESSION_ACTIONS
    ):
        verb = command  # PG command tags and Oracle action names are statement verbs

    time, epoch = parse_log_time(get("logTime"))
    if time is None:  # some events only have start/end times
        time, epoch = parse_log_time(get("endTime") or get("startTime"))

    instance = _id(instance_id, previous, "instanceId", raw)
    session = get("sessionId")
    statement = get("statementId")
    statement_key = None
    if type(session) in _KEY_TYPES and type(statement) in _KEY_TYPES:
        statement_key = f"{instance or ''}/{session}/{statement}"

    obj = _text(get("objectName"))
    schema = _schema(engine, raw)
    if engine == "sqlserver" and cls == "SCHEMA" and action == "DDL":
        obj, schema = sqlserver_schema_class_object(obj, schema, sql)  # objectName is the schema

    das = {
        "engine": engine,
        "clusterId": _id(cluster_id, previous, "clusterId", raw),
        "instanceId": instance,
        "time": time,
        "epoch": epoch,
        "action": action,
        "verb": verb,
        "failed": failed,
        "errorCode": code,
        "aux": aux,
        "user": _text(get("dbUserName")),
        "database": _text(get("databaseName")),
        "object": obj,
        "sourceHost": _text(get("remoteHost")),
        "client": _text(get("clientApplication")),
        "rows": _int(get("rowCount")),
        "sql": sql,
        "statementKey": statement_key,
        # UTC hour 0-23 and ISO weekday 1 (Monday) - 7 by arithmetic on the epoch (1970-01-01
        # was a Thursday): no datetime per event; zone-aware forms are rule functions
        "hour": int(epoch // 3600 % 24) if epoch is not None else None,
        "weekday": (int(epoch // 86400) + 3) % 7 + 1 if epoch is not None else None,
        "schema": schema,
    }
    event = dict(raw)
    event["das"] = das
    return event


def _schema(engine: str | None, raw: dict[str, Any]) -> str | None:
    """The schema an event's object lives in, wherever the engine puts it.

    PostgreSQL and MySQL qualify ``objectName`` (``public.customers``); MySQL's schema is its
    database, so an unqualified object falls back to ``databaseName``. Oracle reports the object's
    schema in ``objectType``; SQL Server in ``engineNativeAuditFields.schema_name``.
    """
    if engine in ("postgres", "mysql"):
        name = raw.get("objectName")
        if type(name) is str and "." in name:
            head = name.split(".", 1)[0].strip('"`')
            return head or None
        if engine == "mysql" and type(name) is str and name:
            return _text(raw.get("databaseName"))
        return None
    if engine == "oracle":
        return _text(raw.get("objectType"))
    if engine == "sqlserver":
        native = raw.get("engineNativeAuditFields")
        return _text(native.get("schema_name")) if type(native) is dict else None
    return None


def _upper(value: object) -> str:
    return value.strip().upper() if type(value) is str else ""


def _text(value: object) -> str | None:
    return value if type(value) is str and value else None


def _int(value: object) -> int | None:
    # exact types: a bool is not a row count, and a str subclass is not what DAS sends
    if type(value) is int:
        return value
    if type(value) is float:
        return int(value) if value.is_integer() else None
    if type(value) is str:
        return int(value) if value.isdigit() and len(value) < 20 else None
    return None


def _id(given: object, previous: dict | None, key: str, raw: dict) -> str | None:
    if given is None and previous is not None:
        given = previous.get(key)
    if given is None:
        given = raw.get(key)
    return given if type(given) is str and given else None
