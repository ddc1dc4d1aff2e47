"""Lambda entry point for a Firehose transformation on the DAS stream.

Answers every ``recordId`` (``Ok`` with the redacted normalized events as JSON lines, ``Dropped``
for heartbeat-only records, ``ProcessingFailed`` otherwise) within the 6 MB response limit; see
``engine/pipeline/firehose.py`` for the decisions. With ``DASALERT_FIREHOSE_ALERTS=true`` it also
evaluates the rules and sends alerts; Firehose cannot redeliver one record, so an alert that still
fails retryably is dead-lettered instead (``Pipeline(can_retry=False)``).
"""

from __future__ import annotations

from typing import Any

from engine.das.sources import records_from_firehose_event
from engine.outputs.base import Deadline
from engine.pipeline.batch import summarize
from engine.pipeline.firehose import firehose_response
from engine.pipeline.metrics import emit_batch
from handlers._runtime import FIREHOSE, observability, runtime

logger, metrics = observability()


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, Any]]]:
    rt = runtime(FIREHOSE)
    if rt.pipeline.resources is not None:  # the account of alert ARNs, without asking STS
        rt.pipeline.resources.use_function_arn(getattr(context, "invoked_function_arn", None))
    records = records_from_firehose_event(event)
    result = rt.pipeline.run(records, Deadline.from_context(context), keep_events=True)
    response = firehose_response(
        records,
        result,
        keep_params=rt.config.keep_params,
        partition=rt.config.firehose_partition_keys,
    )
    emit_batch(metrics, result)
    logger.info("batch done", extra={"summary": summarize(result)})
    return response
