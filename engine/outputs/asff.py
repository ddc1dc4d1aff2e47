"""AWS Security Finding Format (ASFF): build a finding from an alert, and validate it.

Pure functions, so the mapping is testable without AWS and a bad finding is caught *before*
``BatchImportFindings`` with a message that names the field, instead of an opaque
``InvalidInput`` from the service. The finding ``Id`` is the alert id: Security Hub updates a
finding whose ``Id`` (and product) it already has, so a repeated or redelivered alert updates one
finding (``LastObservedAt``, ``UpdatedAt``, the count in ``ProductFields``) instead of adding one.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from engine.alerts import Alert
from engine.alerts.invisible import INVISIBLE

SCHEMA_VERSION = "2018-10-08"
TITLE_MAX = 256
DESCRIPTION_MAX = 1024
PRODUCT_FIELD_MAX = 2048
TYPES_MAX = 50
RESOURCES_MAX = 32
ID_MAX = 512
NAMESPACES = frozenset(
    {
        "Software and Configuration Checks",
        "TTPs",
        "Effects",
        "Unusual Behaviors",
        "Sensitive Data Identifications",
    }
)
LABELS = {
    "info": "INFORMATIONAL",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
    "critical": "CRITICAL",
}
# MITRE ATT&CK tactic tags (Sigma style: attack.credential_access) -> ASFF type
TACTIC_TYPES = {
    "reconnaissance": "TTPs/Discovery",
    "initial_access": "TTPs/Initial Access",
    "execution": "TTPs/Execution",
    "persistence": "TTPs/Persistence",
    "privilege_escalation": "TTPs/Privilege Escalation",
    "defense_evasion": "TTPs/Defense Evasion",
    "credential_access": "TTPs/Credential Access",
    "discovery": "TTPs/Discovery",
    "lateral_movement": "TTPs/Lateral Movement",
    "collection": "TTPs/Collection",
    "command_and_control": "TTPs/Command and Control",
    "exfiltration": "Effects/Data Exfiltration",
    "impact": "Effects/Data Destruction",
}
DEFAULT_RULE_TYPE = "Unusual Behaviors/User"
KIND_TYPES = {
    "pipeline": "Software and Configuration Checks/dasalert/Pipeline Health",
    "rule_error": "Software and Configuration Checks/dasalert/Rule Error",
    "test": "Software and Configuration Checks/dasalert/Test",
}
_ACCOUNT = re.compile(r"^\d{12}$")
_PRODUCT_ARN = re.compile(r"^arn:aws[a-z-]*:securityhub:[a-z0-9-]+:(\d{12})?:product/.+")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
# Controls and every character that renders as nothing (tabs and newlines kept).
_CONTROL = INVISIBLE
_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)


def asff_types(tags: Iterable[str], kind: str = "rule") -> list[str]:
    """ASFF ``Types`` from the rule's ATT&CK tactic tags (``attack.<tactic>``), in tag order.

    A tag may also name an ASFF type directly (``asff:Effects/Data Exposure``). Rules without a
    mapped tag are ``Unusual Behaviors/User``: a database user did something a rule flags.
    """
    if kind in KIND_TYPES:
        return [KIND_TYPES[kind]]
    types: list[str] = []
    for tag in tags:
        t = tag.strip()
        low = t.lower()
        mapped = None
        if low.startswith("attack."):
            mapped = TACTIC_TYPES.get(low[len("attack.") :].replace("-", "_"))
        elif low.startswith("asff:") and t[5:].split("/")[0] in NAMESPACES:
            mapped = t[5:]
        if mapped and mapped not in types:
            types.append(mapped)
    return types[:TYPES_MAX] or [DEFAULT_RULE_TYPE]


def techniques(tags: Iterable[str]) -> list[str]:
    return [m.group(1).upper() for t in tags if (m := _TECHNIQUE.match(t.strip()))]


def timestamp(value: object, default: dt.datetime) -> str:
    """RFC 3339 UTC with milliseconds (``2026-01-02T03:04:05.678Z``), as ASFF wants it."""
    when = default
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str) and value:
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            when = default
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _text(value: object, limit: int) -> str:
    s = _CONTROL.sub("", "" if value is None else str(value)).replace("\r", "")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def product_arn(region: str, account_id: str, partition: str = "aws") -> str:
    """The account's own default product: where custom integrations import findings."""
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def resources(alert: Alert, region: str, partition: str = "aws") -> list[dict[str, Any]]:
    das = alert.das
    out: list[dict[str, Any]] = []
    cluster = str(das.get("clusterId") or "")
    instance = str(das.get("instanceId") or "")
    if cluster:
        out.append(
            {
                "Type": "AwsRdsDbCluster",
                "Id": cluster,
                "Partition": partition,
                "Region": region,
                "Details": {"AwsRdsDbCluster": {"DbClusterResourceId": cluster}},
            }
        )
    if instance:
        out.append(
            {
                "Type": "AwsRdsDbInstance",
                "Id": instance,
                "Partition": partition,
                "Region": region,
                "Details": {"AwsRdsDbInstance": {"DbiResourceId": instance}},
            }
        )
    if not out:  # pipeline / test alerts have no database: the finding is about dasalert
        out.append(
            {
                "Type": "Other",
                "Id": f"dasalert/{alert.rule_id}",
                "Partition": partition,
                "Region": region,
            }
        )
    return out


def _description(alert: Alert) -> str:
    ev, das = alert.event, alert.das
    facts = [
        f"user {ev['dbUserName']}" if ev.get("dbUserName") else "",
        f"from {ev['remoteHost']}" if ev.get("remoteHost") else "",
        f"via {ev['clientApplication']}" if ev.get("clientApplication") else "",
        f"on database {ev['databaseName']}" if ev.get("databaseName") else "",
        f"({das['engine']})" if das.get("engine") else "",
    ]
    who = " ".join(f for f in facts if f)
    head = alert.description or alert.rule_title or alert.title
    events = f"{alert.count} event{'s' if alert.count != 1 else ''}"
    return _text(f"{head.strip()} — {events}{': ' + who if who else ''}.", DESCRIPTION_MAX)


def _product_fields(alert: Alert) -> dict[str, str]:
    ev, das = alert.event, alert.das
    fields = {
        "dasalert/RuleId": alert.rule_id,
        "dasalert/AlertId": alert.id,
        "dasalert/Kind": alert.kind,
        "dasalert/Count": str(alert.count),
        "dasalert/RuleStatus": alert.status,
        "dasalert/Engine": das.get("engine"),
        "dasalert/Action": das.get("action"),
        "dasalert/User": ev.get("dbUserName"),
        "dasalert/Database": ev.get("databaseName"),
        "dasalert/RemoteHost": ev.get("remoteHost"),
        "dasalert/ClientApplication": ev.get("clientApplication"),
        "dasalert/SqlRedacted": ev.get("commandText"),
        "dasalert/Tags": ", ".join(alert.tags),
        "dasalert/AttackTechniques": ", ".join(techniques(alert.tags)),
    }
    return {k: _text(v, PRODUCT_FIELD_MAX) for k, v in fields.items() if v not in (None, "")}


def build_finding(
    alert: Alert,
    *,
    account_id: str,
    region: str,
    now: dt.datetime,
    partition: str = "aws",
) -> dict[str, Any]:
    """The ASFF finding for one alert (validate it with :func:`problems`)."""
    first = timestamp(alert.first_seen or alert.das.get("time"), now)
    last = timestamp(alert.last_seen or alert.first_seen or alert.das.get("time"), now)
    finding: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": alert.id,
        "ProductArn": product_arn(region, account_id, partition),
        "ProductName": "dasalert",
        "CompanyName": "dasalert",
        "GeneratorId": alert.rule_id,
        "AwsAccountId": account_id,
        "Region": region,
        "Types": asff_types(alert.tags, alert.kind),
        "CreatedAt": first,
        "UpdatedAt": max(timestamp(now, now), last),  # never before what it describes
        "FirstObservedAt": first,
        "LastObservedAt": last,
        "Severity": {
            "Label": LABELS.get(alert.severity, "INFORMATIONAL"),
            "Original": alert.severity,
        },
        "Title": _text(" ".join(str(alert.title).split()), TITLE_MAX),
        "Description": _description(alert),
        "Resources": resources(alert, region, partition),
        "ProductFields": _product_fields(alert),
        "RecordState": "ACTIVE",
    }
    if alert.runbook and alert.runbook.startswith(("https://", "http://")):
        finding["SourceUrl"] = alert.runbook
        finding["Remediation"] = {
            "Recommendation": {"Text": "Follow the rule's runbook.", "Url": alert.runbook}
        }
    host = alert.event.get("remoteHost")
    try:
        ip = ipaddress.ip_address(str(host)) if host else None
    except ValueError:
        ip = None
    if ip is not None:
        key = "SourceIpV4" if ip.version == 4 else "SourceIpV6"
        finding["Network"] = {"Direction": "IN", key: str(ip)}
    return finding


def problems(finding: dict[str, Any]) -> list[str]:
    """Everything that would make Security Hub refuse the finding, one sentence each."""
    out: list[str] = []

    def need(name: str) -> Any:
        value = finding.get(name)
        if value in (None, "", [], {}):
            out.append(f"{name} is missing")
            return None
        return value

    if (v := need("SchemaVersion")) is not None and v != SCHEMA_VERSION:
        out.append(f"SchemaVersion must be {SCHEMA_VERSION}, not {v!r}")
    if (v := need("Id")) is not None and len(str(v)) > ID_MAX:
        out.append(f"Id is longer than {ID_MAX} characters")
    if (v := need("ProductArn")) is not None and not _PRODUCT_ARN.match(str(v)):
        out.append(f"ProductArn {v!r} is not a Security Hub product ARN")
    if (v := need("GeneratorId")) is not None and len(str(v)) > ID_MAX:
        out.append(f"GeneratorId is longer than {ID_MAX} characters")
    if (v := need("AwsAccountId")) is not None and not _ACCOUNT.match(str(v)):
        out.append(f"AwsAccountId {v!r} is not a 12-digit account id")
    if (types := need("Types")) is not None:
        if len(types) > TYPES_MAX:
            out.append(f"Types has more than {TYPES_MAX} entries")
        for t in types:
            parts = str(t).split("/")
            if parts[0] not in NAMESPACES or len(parts) > 3 or not all(parts):
                out.append(f"Types entry {t!r} is not namespace/category/classifier")
    for name in ("CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt"):
        v = need(name) if name in ("CreatedAt", "UpdatedAt") else finding.get(name)
        if v is not None and not _TIME.match(str(v)):
            out.append(f"{name} {v!r} is not an RFC 3339 UTC time")
    sev = need("Severity")
    if sev is not None and (not isinstance(sev, dict) or sev.get("Label") not in LABELS.values()):
        out.append("Severity.Label is missing or not a Security Hub label")
    if (v := need("Title")) is not None and len(str(v)) > TITLE_MAX:
        out.append(f"Title is longer than {TITLE_MAX} characters")
    if (v := need("Description")) is not None and len(str(v)) > DESCRIPTION_MAX:
        out.append(f"Description is longer than {DESCRIPTION_MAX} characters")
    if (res := need("Resources")) is not None:
        if len(res) > RESOURCES_MAX:
            out.append(f"Resources has more than {RESOURCES_MAX} entries")
        for i, r in enumerate(res):
            if not r.get("Type") or not r.get("Id"):
                out.append(f"Resources[{i}] needs Type and Id")
    return out
