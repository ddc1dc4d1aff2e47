"""Per-engine derivation of ``das.action``, ``das.failed`` and ``das.errorCode``.

Each engine reports the same activity differently (docs/events.md): PostgreSQL has pgaudit
classes and SQLSTATEs, MySQL a MAIN/AUX split with errno strings, Oracle action names with ORA
numbers, SQL Server audit action names with an exit code where **1 means success**. This module
is the one place that knows those conventions, so rules can say ``das.action == 'LOGIN_FAILED'``
and ``das.failed`` and work everywhere.

Failed logins are accepted in every shape that has been reported or inferred, not one exact
value, because only the SQL Server shape comes from an AWS sample.
"""

from __future__ import annotations

from engine.events.sqlverb import tsql_ddl_object, verb_action

# Every value ``das.action`` takes (docs/events.md), in the order docs and lint messages list
# them; a rule comparing das.action with anything else never matches.
ACTIONS: tuple[str, ...] = (
    "CONNECT",
    "DISCONNECT",
    "LOGIN_FAILED",
    "DDL",
    "ROLE",
    "READ",
    "WRITE",
    "FUNCTION",
    "MISC",
)

# (action, failed, errorCode)
Derived = tuple[str, bool, str | None]

_PG_CLASS_ACTION = {
    "DDL": "DDL",
    "ROLE": "ROLE",
    "READ": "READ",
    "WRITE": "WRITE",
    "FUNCTION": "FUNCTION",
    "MISC": "MISC",
    "MISC_SET": "MISC",
}
_LOGIN_FAILED_COMMANDS = frozenset(
    {"AUTH FAILURE", "AUTHENTICATION FAILURE", "LOGIN FAILED", "FAILED_CONNECT", "FAILED CONNECT"}
)
_PG_AUTH_SQLSTATES = frozenset({"28P01", "28000"})
# pgaudit files SET under MISC, but these SETs change who the session is: ROLE, as the SQL verb
# table says for the other engines (EXECUTE AS on SQL Server).
_IDENTITY_VERBS = frozenset({"SET ROLE", "SET SESSION AUTHORIZATION"})
_PG_AUTH_MESSAGES = (
    "password authentication failed",
    "authentication failed for user",
    "no pg_hba.conf entry",
)
_MYSQL_CONNECT = frozenset({"CONNECT", "CHANGEUSER", "CHANGE_USER", "CHANGE USER"})
_MYSQL_AUX_ACTION = {
    "READ": "READ",
    "WRITE": "WRITE",
    "CREATE": "DDL",
    "DROP": "DDL",
    "ALTER": "DDL",
    "RENAME": "DDL",
}
_MYSQL_QUERY_KIND = {"QUERY_DDL": "DDL", "QUERY_DCL": "ROLE"}
_MYSQL_ACCESS_DENIED = "1045"
_ORACLE_LOGOFF = frozenset({"LOGOFF", "LOGOFF BY CLEANUP"})
_SQLSERVER_COMMAND_ACTION = {
    "LOGIN SUCCEEDED": "CONNECT",
    "LOGIN FAILED": "LOGIN_FAILED",
    "LOGOUT": "DISCONNECT",
    "SELECT": "READ",
    "RECEIVE": "READ",
    "INSERT": "WRITE",
    "UPDATE": "WRITE",
    "DELETE": "WRITE",
    "MERGE": "WRITE",
    "EXECUTE": "FUNCTION",
    "IMPERSONATE": "ROLE",  # EXECUTE AS LOGIN/USER (audit action IMPERSONATE)
    **dict.fromkeys(
        (
            "GRANT",
            "GRANT WITH GRANT",
            "REVOKE",
            "REVOKE WITH GRANT",
            "REVOKE WITH CASCADE",
            "DENY",
            "DENY WITH CASCADE",
            "ADD MEMBER",
            "DROP MEMBER",
            "CHANGE PASSWORD",
            "RESET PASSWORD",
            "CHANGE OWNER",
            "TAKE OWNERSHIP",
            "CHANGE DEFAULT DATABASE",
            "CHANGE DEFAULT LANGUAGE",
        ),
        "ROLE",
    ),
}
# System procedures that grant, revoke or create principals (the pre-2005 way, still common).
_SQLSERVER_PRIVILEGE_PROCEDURES = (
    "sp_addrolemember",
    "sp_droprolemember",
    "sp_addsrvrolemember",
    "sp_dropsrvrolemember",
    "sp_addlogin",
    "sp_droplogin",
    "sp_grantlogin",
    "sp_revokelogin",
    "sp_denylogin",
    "sp_grantdbaccess",
    "sp_revokedbaccess",
    "sp_adduser",
    "sp_dropuser",
    "sp_password",
    "sp_addrole",
    "sp_droprole",
    "sp_addapprole",
    "sp_change_users_login",
    "sp_changedbowner",
)
_SQLSERVER_SCHEMA_COMMANDS = frozenset({"CREATE", "ALTER", "DROP"})
_SQLSERVER_PRINCIPAL_WORDS = ("LOGIN", "ROLE", "USER")


def error_code(value: object) -> str | None:
    """A non-success code as text: ``None`` for null, ``""``, ``"0"``, ``0`` and ``00000``."""
    kind = type(value)
    if kind is str:
        text = value.strip()  # type: ignore[attr-defined]
        if not text or text == "0" or text == "00000":
            return None
        return text
    if kind is int or kind is float:
        return None if value == 0 else str(value)
    return None  # bool, list, dict: not a code anyone wrote on purpose


def _has_text(value: object) -> bool:
    return type(value) is str and bool(value.strip())


def derive_postgres(raw: dict, command: str, cls: str, verb: str | None) -> Derived:
    code = error_code(raw.get("exitCode"))
    message = raw.get("errorMessage")
    # SQLSTATE classes 00 (success), 01 (warning) and 02 (no data) are not failures.
    failed = (code is not None and code[:2] not in ("01", "02")) or _has_text(message)
    if (
        command in _LOGIN_FAILED_COMMANDS
        or code in _PG_AUTH_SQLSTATES
        or (failed and type(message) is str and _auth_message(message))
        or (command == "CONNECT" and failed)
    ):
        return "LOGIN_FAILED", True, code
    if command == "CONNECT":
        return "CONNECT", failed, code
    if command == "DISCONNECT":
        return "DISCONNECT", failed, code
    action = _PG_CLASS_ACTION.get(cls)
    if action is None:  # ALL, NONE, missing or unknown: fall back to the command tag, then SQL
        action = verb_action(command)
        if action == "MISC" and verb:
            action = verb_action(verb)
    elif action == "MISC" and verb in _IDENTITY_VERBS:
        action = "ROLE"
    return action, failed, code


def _auth_message(message: str) -> bool:
    low = message.lower()
    return any(needle in low for needle in _PG_AUTH_MESSAGES)


def derive_mysql(raw: dict, command: str, cls: str, verb: str | None) -> Derived:
    code = error_code(raw.get("exitCode"))
    failed = code is not None or _has_text(raw.get("errorMessage"))
    if cls == "AUX":
        return _MYSQL_AUX_ACTION.get(command, "MISC"), failed, code
    if command in _LOGIN_FAILED_COMMANDS or code == _MYSQL_ACCESS_DENIED:
        return "LOGIN_FAILED", True, code
    if command in _MYSQL_CONNECT:
        return ("LOGIN_FAILED" if failed else "CONNECT"), failed, code
    if command == "DISCONNECT":
        return "DISCONNECT", failed, code
    action = _MYSQL_QUERY_KIND.get(command)
    if action is None:
        action = verb_action(verb)  # QUERY, QUERY_DML, …: the SQL text decides
    return action, failed, code


def derive_oracle(raw: dict, command: str, cls: str, verb: str | None) -> Derived:
    code = error_code(raw.get("exitCode"))
    failed = code is not None or _has_text(raw.get("errorMessage"))
    if command.startswith("LOGON"):
        return ("LOGIN_FAILED" if failed else "CONNECT"), failed, code
    if command in _ORACLE_LOGOFF:
        return "DISCONNECT", failed, code
    if command in _LOGIN_FAILED_COMMANDS:
        return "LOGIN_FAILED", True, code
    action = verb_action(command)  # Oracle's action names read like verbs: "CREATE TABLE"
    if action == "MISC" and verb:
        action = verb_action(verb)
    return action, failed, code


def derive_sqlserver(raw: dict, command: str, cls: str, verb: str | None) -> Derived:
    exit_code = raw.get("exitCode")
    # Inverted convention: 1 = success, 0 = failure. Anything else says nothing.
    failed = (exit_code == 0 and type(exit_code) is not bool) or (
        type(exit_code) is str and exit_code.strip() == "0"
    )
    failed = failed or _has_text(raw.get("errorMessage"))
    action = _SQLSERVER_COMMAND_ACTION.get(command)
    if action == "LOGIN_FAILED" or (action == "CONNECT" and failed):
        return "LOGIN_FAILED", True, _sqlserver_error(raw)
    if action is None:
        if command in _SQLSERVER_SCHEMA_COMMANDS:
            principal = any(word in cls for word in _SQLSERVER_PRINCIPAL_WORDS)
            action = "ROLE" if principal or verb_action(verb) == "ROLE" else "DDL"
        elif "ROLE" in cls or "PERMISSION" in cls:  # role and permission classes
            action = "ROLE"
        else:  # BATCH COMPLETED, RPC COMPLETED, …: the SQL text decides
            action = verb_action(verb) if verb else verb_action(command)
    if action == "FUNCTION" and _calls_privilege_procedure(raw.get("commandText")):
        action = "ROLE"
    return action, failed, (_sqlserver_error(raw) if failed else None)


def sqlserver_schema_class_object(
    object_name: str | None, schema: str | None, sql: str | None
) -> tuple[str | None, str | None]:
    """``(das.object, das.schema)`` of a SQL Server event of ``class`` ``SCHEMA``.

    SQL Server checks ``CREATE TABLE dbo.t`` (and other DDL on a schema's objects, and
    ``ALTER SCHEMA s TRANSFER dbo.t``) as a permission on the *schema*: the audit row's
    ``objectName`` is ``dbo`` and the table is only in the SQL. A responder, a title and a dedup
    key need the table, so the object is read from the SQL and qualified with its schema
    (``dbo.t``; the SQL's qualifier, else the schema AWS named), and ``das.schema`` is that
    schema. DDL on the schema itself (``CREATE SCHEMA s``) and text that cannot be read keep
    what AWS sent.
    """
    found = tsql_ddl_object(sql)
    if found is None:
        return object_name, schema
    written, name, _ = found
    owner = written or object_name or schema
    return (f"{owner}.{name}" if owner else name), owner


def _calls_privilege_procedure(sql: object) -> bool:
    """``EXEC sp_addsrvrolemember 'eve', 'sysadmin'`` changes privileges: that is ROLE."""
    if type(sql) is not str:
        return False
    head = sql[:300].lower()
    return any(name in head for name in _SQLSERVER_PRIVILEGE_PROCEDURES)


def _sqlserver_error(raw: dict) -> str | None:
    """The error number from ``additional_information`` (``<error>0x00004818</error>`` = 18456)."""
    native = raw.get("engineNativeAuditFields")
    if type(native) is not dict:
        return None
    info = native.get("additional_information")
    if type(info) is not str:
        return None
    start = info.find("<error>")
    if start < 0:
        return None
    end = info.find("</error>", start)
    text = info[start + 7 : end if end > 0 else None].strip()
    try:
        return str(int(text, 16) if text[:2].lower() == "0x" else int(text))
    except ValueError:
        return None


def derive_unknown(raw: dict, command: str, cls: str, verb: str | None) -> Derived:
    """No engine could be told: use only signals that mean the same thing everywhere."""
    failed = _has_text(raw.get("errorMessage"))
    if command in _LOGIN_FAILED_COMMANDS:
        return "LOGIN_FAILED", True, None
    if command in ("CONNECT", "LOGON", "LOGIN SUCCEEDED"):
        return "CONNECT", failed, None
    if command in ("DISCONNECT", "LOGOFF", "LOGOUT"):
        return "DISCONNECT", failed, None
    action = verb_action(command)
    if action == "MISC" and verb:
        action = verb_action(verb)
    return action, failed, None


DERIVERS = {
    "postgres": derive_postgres,
    "mysql": derive_mysql,
    "oracle": derive_oracle,
    "sqlserver": derive_sqlserver,
    None: derive_unknown,
}
