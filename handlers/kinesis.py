"""Lambda entry point on the DAS Kinesis stream (template.yaml: ``StreamFunction``).

Thin on purpose: the batch is ``engine.pipeline.batch.Pipeline.run``. The response is the partial
batch response, listing only records that failed for a transient reason (KMS or the state table
throttled or unreachable, an output still failing); undecodable records, and records the rule
engine raised on or the state table refused for good, were dead-lettered and alerted by the
pipeline, so they are not retried.

Why not powertools' ``BatchProcessor``: it treats any exception as "retry this record", while
dasalert must split transient from permanent failures, map an alert's delivery failure back to
the records that produced it, and keep deliveries idempotent across redeliveries — all of which
lives in the pipeline, which the CLI also runs. The partial response itself is one line here.
"""

from __future__ import annotations

from typing import Any

from engine.das.sources import records_from_kinesis_event
from engine.outputs.base import Deadline
from engine.pipeline.batch import summarize
from engine.pipeline.metrics import emit_batch
from handlers._runtime import KINESIS, observability, runtime

logger, metrics = observability()


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    rt = runtime(KINESIS)
    if rt.pipeline.resources is not None:  # the account of alert ARNs, without asking STS
        rt.pipeline.resources.use_function_arn(getattr(context, "invoked_function_arn", None))
    records = records_from_kinesis_event(event)
    result = rt.pipeline.run(records, Deadline.from_context(context))
    emit_batch(metrics, result)
    logger.info("batch done", extra={"summary": summarize(result)})
    return {"batchItemFailures": [{"itemIdentifier": rid} for rid in result.transient_ids]}
