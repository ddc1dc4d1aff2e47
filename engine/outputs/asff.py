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
from engine.alerts.invisible import INVISIBLE, marker
from engine.alerts.model import SEVERITIES

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
_RDS_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:(cluster|db):[A-Za-z][A-Za-z0-9-]*$")
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
    """Finding text: a character that renders as nothing is *shown* (``⟨U+200B⟩``), because
    every finding text names someone — "user rdsadmin" must not hide a look-alike account."""
    s = _CONTROL.sub(marker, "" if value is None else str(value).replace("\r", ""))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def product_arn(region: str, account_id: str, partition: str = "aws") -> str:
    """The account's own default product: where custom integrations import findings."""
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def _known(alert: Alert) -> dict[str, dict[str, Any]]:
    """Resource id → what the pipeline resolved of it (``context["resource"]``): name, ARN."""
    res = alert.context.get("resource")
    out: dict[str, dict[str, Any]] = {}
    if isinstance(res, dict) and isinstance(res.get("id"), str):
        out[res["id"]] = res
        inst = res.get("instance")
        if isinstance(inst, dict) and isinstance(inst.get("id"), str):
            out[inst["id"]] = inst
    return out


def _rds_resource(
    kind: str, rid: str, facts: dict[str, Any], region: str, partition: str
) -> dict[str, Any]:
    """One RDS resource: its ARN as ``Id`` when resolved (ASFF's canonical identifier for an
    AWS resource), else the resource id; region and partition from the ARN when there is one."""
    arn, name = facts.get("arn"), facts.get("name")
    rid_key, name_key = (
        ("DbClusterResourceId", "DbClusterIdentifier")
        if kind == "AwsRdsDbCluster"
        else ("DbiResourceId", "DBInstanceIdentifier")
    )
    details: dict[str, Any] = {rid_key: rid}
    if isinstance(name, str) and name:
        details[name_key] = name
    out: dict[str, Any] = {"Type": kind, "Id": rid, "Partition": partition, "Region": region}
    if isinstance(arn, str) and _RDS_ARN.match(arn):
        parts = arn.split(":")
        out.update(Id=arn, Partition=parts[1], Region=parts[3])
    out["Details"] = {kind: details}
    return out


def resources(alert: Alert, region: str, partition: str = "aws") -> list[dict[str, Any]]:
    das = alert.das
    out: list[dict[str, Any]] = []
    cluster = str(das.get("clusterId") or "")
    instance = str(das.get("instanceId") or "")
    known = _known(alert)
    if cluster:
        out.append(
            _rds_resource("AwsRdsDbCluster", cluster, known.get(cluster, {}), region, partition)
        )
    if instance:
        facts = known.get(instance, {})
        res = _rds_resource("AwsRdsDbInstance", instance, facts, region, partition)
        cluster_name = known.get(cluster, {}).get("name") if cluster else None
        if isinstance(cluster_name, str) and cluster_name:
            res["Details"]["AwsRdsDbInstance"]["DBClusterIdentifier"] = cluster_name
        out.append(res)
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


def escalation(alert: Alert) -> dict[str, Any] | None:
    """``context["escalation"]`` when the alert is an update of one already sent, else None."""
    esc = alert.escalation
    if esc is None:
        return None
    reasons = esc.get("reasons")
    return {
        "step": esc["step"],
        "reasons": [str(r) for r in reasons] if isinstance(reasons, list | tuple) else [],
        "previous_severity": str(esc.get("previous_severity") or ""),
    }


def effective_severity(alert: Alert, floor: str | None = None) -> str:
    """The finding's severity: the alert's, never below what an earlier import said (the
    escalation's previous severity, or ``floor``, the highest this container imported)."""
    esc = escalation(alert)
    candidates = [alert.severity, floor or "", esc["previous_severity"] if esc else ""]
    known = [c for c in candidates if c in SEVERITIES]
    return max(known, key=SEVERITIES.index) if known else alert.severity


def _escalation_text(esc: dict[str, Any]) -> str:
    reasons = "; ".join(r for r in esc["reasons"] if r) or "the alert grew"
    return f"Escalated (update {esc['step']}): {reasons}."


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
    esc = escalation(alert)
    lead = _escalation_text(esc) + " " if esc else ""  # first: a cut must not lose it
    return _text(f"{lead}{head.strip()} — {events}{': ' + who if who else ''}.", DESCRIPTION_MAX)


def _folded_fields(alert: Alert) -> dict[str, str]:
    folded = alert.context.get("folded")
    if not isinstance(folded, dict):
        return {}
    raw_more = folded.get("more")
    more: dict[str, Any] = raw_more if isinstance(raw_more, dict) else {}
    out = {}
    for key, label in (
        ("verbs", "Verbs"),
        ("objects", "Objects"),
        ("users", "Users"),
        ("hosts", "Hosts"),
    ):
        values = folded.get(key)
        if isinstance(values, list) and values:
            extra = more.get(key) if isinstance(more.get(key), int) else 0
            text = ", ".join(str(v) for v in values)
            out[f"dasalert/Folded{label}"] = text + (f" +{extra} more" if extra else "")
    return out


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
        **_folded_fields(alert),
    }
    res = alert.context.get("resource")
    if isinstance(res, dict) and res.get("name"):
        fields["dasalert/ResourceName"] = str(res["name"])
    esc = escalation(alert)
    if esc:
        fields["dasalert/EscalationStep"] = str(esc["step"])
        fields["dasalert/EscalationReasons"] = "; ".join(esc["reasons"])
        fields["dasalert/PreviousSeverity"] = esc["previous_severity"]
    return {k: _text(v, PRODUCT_FIELD_MAX) for k, v in fields.items() if v not in (None, "")}


def build_finding(
    alert: Alert,
    *,
    account_id: str,
    region: str,
    now: dt.datetime,
    partition: str = "aws",
    floor_severity: str | None = None,
    update: bool = False,
) -> dict[str, Any]:
    """The ASFF finding for one alert (validate it with :func:`problems`).

    Severity and Types always go in ``FindingProviderFields``; top level only when the finding
    may be new. AWS asks providers not to update the top-level ``Severity``/``Types`` with
    ``BatchImportFindings`` but to send ``FindingProviderFields``, which Security Hub applies
    (and mirrors to the top level unless an analyst changed it with ``BatchUpdateFindings``).
    So an ``update`` (the caller knows the finding exists) and every escalation
    (``context["escalation"]``: the alert was sent before) carry them there only. An escalation
    re-imports the same ``Id`` with the raised severity (never below an earlier import's:
    ``floor_severity``), ``UpdatedAt`` now, and the reasons leading the description and in
    ``ProductFields``.
    """
    first = timestamp(alert.first_seen or alert.das.get("time"), now)
    last = timestamp(alert.last_seen or alert.first_seen or alert.das.get("time"), now)
    severity = effective_severity(alert, floor_severity)
    label = {"Label": LABELS.get(severity, "INFORMATIONAL"), "Original": severity}
    types = asff_types(alert.tags, alert.kind)
    finding: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": alert.id,
        "ProductArn": product_arn(region, account_id, partition),
        "ProductName": "dasalert",
        "CompanyName": "dasalert",
        "GeneratorId": alert.rule_id,
        "AwsAccountId": account_id,
        "Region": region,
        "Types": types,
        "CreatedAt": first,
        "UpdatedAt": max(timestamp(now, now), last),  # never before what it describes
        "FirstObservedAt": first,
        "LastObservedAt": last,
        "Severity": dict(label),
        "FindingProviderFields": {"Severity": dict(label), "Types": list(types)},
        "Title": _text(" ".join(str(alert.title).split()), TITLE_MAX),
        "Description": _description(alert),
        "Resources": resources(alert, region, partition),
        "ProductFields": _product_fields(alert),
        "RecordState": "ACTIVE",
    }
    if update or escalation(alert) is not None:
        del finding["Severity"], finding["Types"]
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
    fpf = finding.get("FindingProviderFields")
    fpf = fpf if isinstance(fpf, dict) else {}
    # Severity and Types: top level on a new finding, FindingProviderFields on an update
    provided = finding.get("Types") is None and fpf.get("Types")
    if not provided and (types := need("Types")) is not None:
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
    provided = finding.get("Severity") is None and fpf.get("Severity")
    sev = None if provided else need("Severity")
    if sev is not None and (not isinstance(sev, dict) or sev.get("Label") not in LABELS.values()):
        out.append("Severity.Label is missing or not a Security Hub label")
    if fpf:
        sev = fpf.get("Severity")
        if not isinstance(sev, dict) or sev.get("Label") not in LABELS.values():
            out.append("FindingProviderFields.Severity.Label is not a Security Hub label")
        for t in fpf.get("Types", []):
            parts = str(t).split("/")
            if parts[0] not in NAMESPACES or len(parts) > 3 or not all(parts):
                out.append(f"FindingProviderFields.Types entry {t!r} is not namespace/category")
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
