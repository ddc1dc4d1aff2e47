"""The Security Hub output: one finding per incident, updated as it repeats.

Findings are built and validated in :mod:`engine.outputs.asff` and imported with
``BatchImportFindings`` in batches of 100. The account comes from the alert (an
``aws_account_id`` or a stream ARN in ``Alert.context``) or, once per container, from STS
``GetCallerIdentity``; the region from the same ARN or the client. A finding that fails
validation is a permanent failure naming the field; ``FailedFindings`` are reported per finding.

An alert whose database the pipeline resolved names it by ARN (``AwsRdsDbCluster`` /
``AwsRdsDbInstance``). An escalation (``context["escalation"]``), and a repeat of a finding this
container imported, re-import the same finding Id with severity and types in
``FindingProviderFields`` only (as AWS asks of providers once a finding exists), ``UpdatedAt``
moved to now and an escalation's reasons in the description and ``ProductFields``; the severity
never goes below what was imported before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.alerts import Alert
from engine.outputs.asff import build_finding, problems
from engine.outputs.aws_errors import retryable_code
from engine.outputs.base import Deadline, DeliveryReport, Output, Status, register
from engine.outputs.retry import Outcome, RetryPolicy

if TYPE_CHECKING:
    from engine.outputs.routing import OutputContext

MAX_BATCH = 100
MAX_REMEMBERED = 10_000  # finding severities kept per container (oldest dropped first)
_ARN_KEYS = ("stream_arn", "streamArn", "event_source_arn", "eventSourceARN", "resource_arn")


def _arn_parts(alert: Alert) -> tuple[str | None, str | None, str | None]:
    """(partition, region, account) from an ARN the pipeline put in the alert, if any."""
    for source in (alert.context, alert.das):
        if not isinstance(source, Mapping):
            continue
        for key in _ARN_KEYS:
            arn = source.get(key)
            if isinstance(arn, str) and arn.startswith("arn:"):
                parts = arn.split(":")
                if len(parts) >= 6:
                    return parts[1] or None, parts[3] or None, parts[4] or None
    return None, None, None


def _account_of(alert: Alert) -> str | None:
    for source in (alert.context, alert.das):
        if isinstance(source, Mapping):
            for key in ("aws_account_id", "account_id", "accountId"):
                if source.get(key):
                    return str(source[key])
    return _arn_parts(alert)[2]


# Findings are security incidents: pipeline health alerts stay out of Security Hub by default.
@register(
    "securityhub", enabled_by=("SECURITYHUB_ENABLED",), flag=True, min_severity="low", ops=False
)
class SecurityHubOutput(Output):
    updates_in_place = True  # Id = alert id: a repeat updates the one finding (count, last seen)
    """Imports alerts as ASFF findings into the account's default product."""

    def __init__(
        self,
        client: Any,
        *,
        sts: Callable[[], Any] | None = None,
        account_id: str | None = None,
        region: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.client = client
        self._sts = sts
        self._account = account_id
        self.region = region or getattr(getattr(client, "meta", None), "region_name", None)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.policy = policy or RetryPolicy()
        # The highest severity this container imported per finding Id: a later import (a
        # repeat, an update) never lowers it. The escalation's previous severity covers the
        # same across containers.
        self._imported: dict[str, str] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str], ctx: OutputContext) -> SecurityHubOutput:
        from engine.pipeline.env import ConfigError, env_str

        account = env_str(env, "SECURITYHUB_ACCOUNT_ID")
        if account and not (account.isdigit() and len(account) == 12):
            raise ConfigError("SECURITYHUB_ACCOUNT_ID", f"not a 12-digit account id: {account!r}")
        return cls(
            ctx.client("securityhub"),
            sts=lambda: ctx.client("sts"),
            account_id=account,
            clock=ctx.clock,
            policy=RetryPolicy(sleeper=ctx.sleeper),
        )

    def caller_account(self) -> str:
        """The account of our credentials, asked of STS once per container."""
        if self._account is None:
            if self._sts is None:
                raise RuntimeError("no account id and no STS client")
            self._account = str(self._sts().get_caller_identity()["Account"])
        return self._account

    def finding(self, alert: Alert, now: dt.datetime) -> dict[str, Any]:
        partition, region, _ = _arn_parts(alert)
        account = _account_of(alert) or self.caller_account()
        return build_finding(
            alert,
            account_id=account,
            region=region or self.region or "",
            now=now,
            partition=partition or "aws",
            floor_severity=self._imported.get(alert.id),
            update=alert.id in self._imported,  # this container imported it: it exists
        )

    def _import(
        self, ids: Sequence[str], findings: Mapping[str, dict[str, Any]]
    ) -> dict[str, Outcome]:
        out: dict[str, Outcome] = {}
        for i in range(0, len(ids), MAX_BATCH):
            chunk = ids[i : i + MAX_BATCH]
            try:
                resp = self.client.batch_import_findings(Findings=[findings[k] for k in chunk])
            except Exception as exc:
                outcome = Outcome.of_aws_error(exc, "Security Hub")
                out.update({k: outcome for k in chunk})
                continue
            failed = {f.get("Id"): f for f in resp.get("FailedFindings", [])}
            for k in chunk:
                f = failed.get(k)
                if f is None:
                    out[k] = Outcome.delivered()
                    continue
                code = str(f.get("ErrorCode", ""))
                reason = f"Security Hub {code}: {str(f.get('ErrorMessage', ''))[:200]}"
                out[k] = (
                    Outcome.retryable(reason) if retryable_code(code) else Outcome.permanent(reason)
                )
        return out

    def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
        report = DeliveryReport(self.name)
        now = self.clock()
        findings: dict[str, dict[str, Any]] = {}  # by Id: a repeated alert is one finding
        early: dict[str, Outcome] = {}
        for alert in alerts:
            try:
                finding = self.finding(alert, now)
            except Exception as exc:  # STS down: the account is unknown, try again later
                early[alert.id] = Outcome.retryable(
                    f"cannot determine the AWS account: {type(exc).__name__}"
                )
                continue
            wrong = problems(finding)
            if wrong:
                early[alert.id] = Outcome.permanent("invalid ASFF finding: " + "; ".join(wrong))
                continue
            findings[alert.id] = finding
        ids = list(findings)
        results = self.policy.call_batch(
            ids, lambda k: k, lambda p: self._import(p, findings), deadline
        )
        results.update(early)
        for alert in alerts:
            r = results[alert.id]
            report.add(alert.id, r.status, r.reason)
            if r.status is Status.DELIVERED and alert.id in findings:
                self._remember(
                    alert.id, findings[alert.id]["FindingProviderFields"]["Severity"]["Original"]
                )
        return report

    def _remember(self, finding_id: str, severity: str) -> None:
        if len(self._imported) >= MAX_REMEMBERED:
            self._imported.pop(next(iter(self._imported)))
        self._imported[finding_id] = severity
