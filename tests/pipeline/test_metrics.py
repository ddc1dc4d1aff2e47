"""The EMF lines a batch writes: totals in one document, breakdowns with their dimensions."""

from __future__ import annotations

import json

from aws_lambda_powertools import Metrics

from engine.alerts import Alert
from engine.outputs.base import Delivery, Status
from engine.pipeline.batch import PERMANENT, TRANSIENT, BatchResult, RecordOutcome
from engine.pipeline.metrics import emit_batch


def _alert(rule: str, severity: str) -> Alert:
    return Alert(id=f"{rule}-{severity}", rule_id=rule, title="t", severity=severity, event={})


def test_batch_metrics_as_emf(capsys) -> None:
    metrics = Metrics(namespace="dasalert", service="dasalert")
    result = BatchResult(
        outcomes=[
            RecordOutcome("1", events=3, heartbeats=2),
            RecordOutcome("2", status=TRANSIENT, reason="kms_throttled"),
            RecordOutcome("3", status=PERMANENT, reason="bad_envelope"),
        ],
        alerts=[_alert("r1", "high"), _alert("r2", "low")],
        deliveries=[
            Delivery("r1-high", "slack", Status.DELIVERED),
            Delivery("r2-low", "sns", Status.RETRYABLE, "throttled"),
        ],
        kms_calls=1,
        key_cache_hits=2,
        state_dropped=4,
    )
    emit_batch(metrics, result)
    metrics.flush_metrics()
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]

    def find(name: str, **dims: str) -> float:
        for doc in docs:
            names = [m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
            if name in names and all(doc.get(k) == v for k, v in dims.items()):
                value = doc[name]
                return value[0] if isinstance(value, list) else value
        raise AssertionError(f"no {name} {dims} in {docs}")

    assert find("Records") == 3 and find("Events") == 3 and find("Heartbeats") == 2
    assert find("RecordsRetried") == 1
    assert find("KmsCalls") == 1 and find("KeyCacheHits") == 2
    assert find("StateDropped") == 4  # stateful matches over the per-batch cap
    assert find("RecordsFailed", Reason="kms_throttled") == 1
    assert find("RecordsFailed", Reason="bad_envelope") == 1
    assert find("Alerts", RuleId="r1", Severity="high") == 1
    assert find("Deliveries", Output="sns", Status="failed_retryable") == 1
    assert all(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "dasalert" for doc in docs)


def test_message_reader_metrics(capsys) -> None:
    metrics = Metrics(namespace="dasalert", service="dasalert")
    result = BatchResult(
        outcomes=[RecordOutcome("1", events=1)],
        reader_fallbacks=2,
        reader_mismatches=1,
        reader_footer_mismatches=3,
    )
    emit_batch(metrics, result)
    metrics.flush_metrics()
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]

    def one(value: float | list[float]) -> float:
        return value[0] if isinstance(value, list) else value

    totals = next(d for d in docs if "ReaderFallbacks" in d)
    assert one(totals["ReaderFallbacks"]) == 2
    kinds = {d["Kind"]: one(d["ReaderMismatches"]) for d in docs if "ReaderMismatches" in d}
    assert kinds == {"other": 1, "footer": 3}
