"""CloudWatch metrics for a batch, as Embedded Metric Format log lines (powertools Metrics).

EMF costs no API call: the metrics are JSON lines in the function's log, which CloudWatch turns
into metrics. Totals go through the handler's ``Metrics`` instance (one EMF document per
invocation, flushed by ``@metrics.log_metrics``); metrics broken down by a dimension (failure
reason, rule and severity, output and status) each need their own dimension set, so they are
written with ``single_metric``. Rule ids and reasons are bounded sets (the rule pack, the
``DecodeError`` reasons), so the dimensions cannot explode.

Metric names (namespace ``POWERTOOLS_METRICS_NAMESPACE``, ``dasalert`` in the template):

=====================  =======================  ==============================================
metric                 dimensions               meaning
=====================  =======================  ==============================================
Records                —                        records received
Events                 —                        activity events decoded
Heartbeats             —                        heartbeats seen (stream liveness)
RecordsFailed          Reason                   records not processed (transient or permanent)
RecordsRetried         —                        records returned in ``batchItemFailures``
RecordsDeadLettered    —                        undecodable or unevaluated records sent to the DLQ
Alerts                 RuleId, Severity         alerts produced (before idempotent skipping)
AlertsAlreadySent      —                        alerts skipped: delivered by an earlier attempt
AlertsMuted            —                        alerts dropped by a responder's mute
Deliveries             Output, Status           per-output delivery results
AlertsDeadLettered     —                        alerts no output took, sent to the DLQ
KmsCalls               —                        KMS Decrypt calls (cost, throttling risk)
KeyCacheHits           —                        data keys served from the cache
ReaderFallbacks        —                        messages not of RDS's usual shape, opened by
                                                the Encryption SDK instead of the native reader
ReaderMismatches       Kind                     ``DASALERT_MESSAGE_READER=compare``: the native
                                                reader and the SDK disagreed (Kind ``footer``:
                                                only the unverified signature; ``other``)
RuleErrors             —                        rule evaluations that raised
RuleLoadErrors         —                        rule problems that kept rules from loading
StateDropped           —                        sequence / first-seen / distinct-count matches
                                                left untracked over a per-batch cap
RecordsMisattributed   —                        records whose payload names another cluster or
                                                instance than their stream (evaluated as the
                                                stream's, alerted)
StreamSilent           ResourceId               the watchdog found a silent resource
=====================  =======================  ==============================================
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from engine.pipeline.batch import BatchResult

COUNT = MetricUnit.Count


def _dimensioned(metrics: Any, name: str, value: int, dims: dict[str, str]) -> None:
    with single_metric(name=name, unit=COUNT, value=value, namespace=metrics.namespace) as metric:
        for key, val in dims.items():
            metric.add_dimension(name=key, value=val)


def emit_batch(metrics: Any, result: BatchResult) -> None:
    """Add one batch's metrics to ``metrics`` (a powertools ``Metrics``)."""
    add = metrics.add_metric
    add(name="Records", unit=COUNT, value=len(result.outcomes))
    add(name="Events", unit=COUNT, value=result.events)
    add(name="Heartbeats", unit=COUNT, value=result.heartbeats)
    add(name="RecordsRetried", unit=COUNT, value=len(result.transient_ids))
    dead_records = result.dead_letters["undecodable_record"]
    dead_records += result.dead_letters["unevaluated_record"]
    add(name="RecordsDeadLettered", unit=COUNT, value=dead_records)
    add(name="AlertsDeadLettered", unit=COUNT, value=result.dead_letters["undeliverable_alert"])
    add(name="AlertsAlreadySent", unit=COUNT, value=result.skipped_already_sent)
    add(name="AlertsMuted", unit=COUNT, value=result.muted)
    add(name="KmsCalls", unit=COUNT, value=result.kms_calls)
    add(name="KeyCacheHits", unit=COUNT, value=result.key_cache_hits)
    add(name="ReaderFallbacks", unit=COUNT, value=result.reader_fallbacks)
    add(name="RuleErrors", unit=COUNT, value=result.rule_errors)
    add(name="RuleLoadErrors", unit=COUNT, value=result.rule_load_errors)
    add(name="StateDropped", unit=COUNT, value=result.state_dropped)
    add(name="RecordsMisattributed", unit=COUNT, value=result.resource_mismatches)
    add(name="ResourcesUnresolved", unit=COUNT, value=result.resources_unresolved)
    for kind, n in (
        ("other", result.reader_mismatches),
        ("footer", result.reader_footer_mismatches),
    ):
        if n:
            _dimensioned(metrics, "ReaderMismatches", n, {"Kind": kind})
    for reason, n in result.failed_by_reason().items():
        _dimensioned(metrics, "RecordsFailed", n, {"Reason": reason})
    for (rule, severity), n in Counter((a.rule_id, a.severity) for a in result.alerts).items():
        _dimensioned(metrics, "Alerts", n, {"RuleId": rule, "Severity": severity})
    for (output, status), n in Counter(
        (d.output, d.status.value) for d in result.deliveries
    ).items():
        _dimensioned(metrics, "Deliveries", n, {"Output": output, "Status": status})


def emit_silent(metrics: Any, resource_id: str) -> None:
    _dimensioned(metrics, "StreamSilent", 1, {"ResourceId": resource_id})
