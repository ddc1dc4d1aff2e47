"""Scheduled heartbeat watchdog (template.yaml: ``HealthFunction``, every 5 minutes).

Reads the last heartbeat time of every resource from the state table, alerts on each resource silent
for longer than ``DASALERT_HEARTBEAT_MAX_SILENCE`` and on each resource of
``DASALERT_EXPECTED_RESOURCES`` that never reported (``engine/pipeline/watchdog.py``). Alerts go
through the same idempotent delivery as the stream's: one alert per silence episode, however often
this runs; an alert that fails retryably is sent again by the next run.
"""

from __future__ import annotations

import time
from typing import Any

from engine.outputs.base import Deadline, Status
from engine.pipeline.batch import HEARTBEAT_NS
from engine.pipeline.metrics import emit_silent
from engine.pipeline.watchdog import find_silent, silence_alert
from handlers._runtime import HEALTH, observability, runtime

logger, metrics = observability()


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime(HEALTH)
    if rt.pipeline.resources is not None:  # the account of alert ARNs, without asking STS
        rt.pipeline.resources.use_function_arn(getattr(context, "invoked_function_arn", None))
    cfg = rt.config
    now = time.time()
    last_seen = rt.state.read_namespace(HEARTBEAT_NS)
    silent = find_silent(last_seen, cfg.expected_resources, now, cfg.heartbeat_max_silence_s)
    alerts = [silence_alert(s, now, cfg.heartbeat_max_silence_s) for s in silent]
    result = rt.pipeline.deliver(alerts, Deadline.from_context(context))
    for s in silent:
        emit_silent(metrics, s.resource_id)
    metrics.add_metric(name="ResourcesWatched", unit="Count", value=len(last_seen))
    sent = sorted({d.alert_id for d in result.deliveries if d.status is Status.DELIVERED})
    failed = sorted({d.alert_id for d in result.deliveries if d.status is not Status.DELIVERED})
    logger.info(
        "heartbeat check",
        extra={
            "watched": sorted(last_seen),
            "silent": [s.resource_id for s in silent],
            "alerts_sent": len(sent),
            "alerts_failed": len(failed),
        },
    )
    return {
        "watched": sorted(last_seen),
        "silent": [s.resource_id for s in silent],
        "alerts_sent": sent,
        "alerts_failed": failed,
    }
