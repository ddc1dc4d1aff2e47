"""What a rule file may say: keys, enums, formats, and the types of DAS event fields.

Plain data and tiny parsers, shared by the loader (which validates) and the lint checks (which
advise). Keeping the vocabulary in one place is what lets every message suggest the right word.
"""

from __future__ import annotations

import datetime as dt
import re

from engine.alerts.model import SEVERITIES
from engine.events import ACTIONS, DAS_FIELDS, ENGINES
from engine.rules.model import dormant_step_s

RULE_KEYS: tuple[str, ...] = (
    "id",
    "title",
    "description",
    "severity",
    "status",
    "tags",
    "references",
    "runbook",
    "when",
    "unless",
    "dedup",
    "threshold",
    "sequence",
    "first_seen",
    "escalate",
    "outputs",
    "tests",
)
# `when` is required unless the rule has a `sequence` (then each step has its own `when`)
# `title` is optional: without one, alerts are titled by the rule id (rules written in the short
# forms of the rule-type docs, sequence and first-seen fragments included, load as written).
REQUIRED_RULE_KEYS: tuple[str, ...] = ("id", "severity", "when")
UNLESS_KEYS = ("when", "reason", "expires")
DEDUP_KEYS = ("key", "window")
THRESHOLD_KEYS = ("count", "window", "group_by", "distinct")
ESCALATE_KEYS = ("when", "severity")
SEQUENCE_KEYS = ("by", "within", "steps")
SEQUENCE_STEP_KEYS = ("when", "min", "name")
FIRST_SEEN_KEYS = ("key", "scope", "learn", "remember", "dormant")
MAX_SEQUENCE_STEPS = 10
MAX_STEP_MIN = 1000
MAX_REMEMBER_S = 400 * 86400


def dormant_remember_s(dormant_s: int) -> int:
    """The shortest ``remember`` a dormant rule can have: it must outlive the silence it judges."""
    return dormant_s + dormant_step_s(dormant_s)


TEST_KEYS = ("name", "engine", "event", "events", "expect")
# the alert fields a test may assert, besides match / count / alerts
EXPECT_ALERT_KEYS = (
    "title",
    "severity",
    "dedup_key",
    "rule_id",
    "event",
    "kind",
    "status",
    "tags",
    "runbook",
    "outputs",
    "count",
    "first_seen",
    "last_seen",
    "description",
    "rule_title",
    "context",
)
EXPECT_KEYS = ("match", "count", "alerts", *[k for k in EXPECT_ALERT_KEYS if k != "count"])
LISTS_FILE_KEYS = ("lists", "params")
LISTS_FILE_NAMES = ("lists.yaml", "lists.yml")

SEVERITY_VALUES: tuple[str, ...] = SEVERITIES
STATUS_VALUES = ("stable", "experimental", "deprecated")
ENGINE_VALUES: tuple[str, ...] = ENGINES
DEFAULT_TEST_ENGINE = "postgres"

# the offset of one event in a multi-event test: `at: +30s` (seconds after the base logTime)
TEST_OFFSET_KEY = "at"

RULE_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # list and param names

ATTACK_TACTICS = (
    "reconnaissance",
    "resource_development",
    "initial_access",
    "execution",
    "persistence",
    "privilege_escalation",
    "defense_evasion",
    "credential_access",
    "discovery",
    "lateral_movement",
    "collection",
    "command_and_control",
    "exfiltration",
    "impact",
)
ATTACK_TECHNIQUE_RE = re.compile(r"^attack\.t\d{4}(?:\.\d{3})?$")
ATTACK_GROUP_RE = re.compile(r"^attack\.(?:g|s|m)\d{4}$")  # groups, software, mitigations
OTHER_TAG_RE = re.compile(r"^[a-z][a-z0-9_-]*\.[a-z0-9_.-]+$")

DURATION_RE = re.compile(r"^\+?(\d+)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WINDOW_S = 31 * 86400

URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)

# Raw DAS event fields and the JSON types they hold, per engine (null is always possible).
# Source: the AWS documentation's samples and captured events (docs/events.md). Used to warn
# about comparisons that cannot match on some engine, and about title placeholders / fields
# that do not exist.
STR = "string"
NUM = "number"
_ALL_STR = dict.fromkeys(ENGINE_VALUES, STR)
RAW_FIELD_TYPES: dict[str, dict[str, str]] = {
    "exitCode": {"postgres": STR, "mysql": STR, "oracle": NUM, "sqlserver": NUM},
    "sessionId": {"postgres": STR, "mysql": STR, "oracle": NUM, "sqlserver": NUM},
    "statementId": {"postgres": NUM, "mysql": NUM, "oracle": NUM, "sqlserver": STR},
    "substatementId": dict.fromkeys(ENGINE_VALUES, NUM),
    "rowCount": dict.fromkeys(ENGINE_VALUES, NUM),
    "pid": dict.fromkeys(ENGINE_VALUES, NUM),
    "remotePort": _ALL_STR,
    "transactionId": _ALL_STR,
    **{
        name: _ALL_STR
        for name in (
            "type",
            "class",
            "command",
            "commandText",
            "databaseName",
            "dbUserName",
            "objectName",
            "objectType",
            "remoteHost",
            "clientApplication",
            "serverType",
            "serverVersion",
            "serviceName",
            "serverHost",
            "dbProtocol",
            "netProtocol",
            "logTime",
            "startTime",
            "endTime",
            "errorMessage",
            "dbid",
        )
    },
}
# ``das.*``: the derived fields that engine.events.normalize adds (docs/events.md). The names
# come from engine.events; only their JSON types are written here (a new das field without a
# type fails at import, so lint can never lag behind normalize).
BOOL = "boolean"
_DAS_TYPES: dict[str, str] = {
    "engine": STR,
    "clusterId": STR,
    "instanceId": STR,
    "time": STR,
    "epoch": NUM,
    "action": STR,
    "verb": STR,
    "failed": BOOL,
    "errorCode": STR,
    "aux": BOOL,
    "user": STR,
    "database": STR,
    "object": STR,
    "sourceHost": STR,
    "client": STR,
    "rows": NUM,
    "sql": STR,
    "statementKey": STR,
    "hour": NUM,
    "weekday": NUM,
    "schema": STR,
}
DAS_FIELD_TYPES: dict[str, str] = {name: _DAS_TYPES[name] for name in DAS_FIELDS}
# the values of ``das.action`` (engine.events); a rule comparing with anything else never matches
DAS_ACTIONS: tuple[str, ...] = ACTIONS
# fields whose content is not a scalar (any sub-key allowed)
RAW_OBJECT_FIELDS = ("engineNativeAuditFields", "paramList")


def parse_duration(value: object) -> int | None:
    """``30s`` ``5m`` ``1h`` ``1d`` → seconds (``+30s`` too); None when not a duration."""
    if isinstance(value, bool) or not isinstance(value, str):
        return None
    m = DURATION_RE.match(value.strip())
    if not m:
        return None
    return int(m.group(1)) * _UNIT_S[m.group(2)]


def duration_hint(value: object) -> str:
    """What to write instead of a bad duration (``300`` → ``5m``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if value % size == 0:
                return f"write `{value // size}{unit}` (a number and one of s, m, h, d)"
        return f"write `{value}s` (a number and one of s, m, h, d)"
    if isinstance(value, str):
        m = re.match(r"^\s*(\d+)\s*([a-zA-Z]+)\s*$", value)
        if m:
            unit = m.group(2).lower()[0]
            if unit in _UNIT_S:
                return f"write `{m.group(1)}{unit}` (units: s, m, h, d)"
    return "write a duration like `30s`, `5m`, `1h` or `1d`"


def parse_date(value: object) -> dt.date | None:
    """A YYYY-MM-DD date (YAML gives a date for unquoted ones, a str for quoted ones)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def kebab(text: str) -> str:
    """A kebab-case version of an id, for the suggestion."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", str(text))
    s = re.sub(r"[^a-zA-Z0-9]+", "-", s).strip("-").lower()
    return s or "my-rule"


def tag_problem(tag: str) -> tuple[str, str | None] | None:
    """(message, suggestion) when ``tag`` is not a valid tag, else None."""
    import difflib

    if not isinstance(tag, str):
        return f"a tag must be a string, not {tag!r}", None
    if tag.startswith("attack."):
        rest = tag[len("attack.") :]
        if ATTACK_TECHNIQUE_RE.match(tag) or ATTACK_GROUP_RE.match(tag) or rest in ATTACK_TACTICS:
            return None
        low = tag.lower().replace("-", "_").replace(" ", "_")
        if ATTACK_TECHNIQUE_RE.match(low) or low[len("attack.") :] in ATTACK_TACTICS:
            return f"`{tag}` is not a MITRE ATT&CK tag as we write them", f"write `{low}`"
        close = difflib.get_close_matches(rest, ATTACK_TACTICS, n=1, cutoff=0.6)
        hint = (
            f"did you mean `attack.{close[0]}`?"
            if close
            else "write a technique like `attack.t1110` / `attack.t1110.001` or a tactic like "
            "`attack.credential_access`"
        )
        return f"`{tag}` is not a MITRE ATT&CK technique id or tactic name", hint
    if OTHER_TAG_RE.match(tag):
        return None
    return (
        f"`{tag}` is not a namespaced tag",
        "write `attack.t1110`, `attack.credential_access` or `namespace.value` in lower case",
    )
