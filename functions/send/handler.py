"""SQS send queue: each message is up to 50 recipients of one campaign, sent exactly once each."""

import json
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.sending.send import send_batch
from beacon.shared.observability import invocation_metrics, logger
from beacon.wiring import send_deps


def record_handler(record: SQSRecord, metrics: EphemeralMetrics) -> dict[str, int]:
    result = send_batch(json.loads(record.body), send_deps())
    metrics.add_metric(name="EmailsSent", unit="Count", value=result.sent)
    metrics.add_metric(name="EmailsFailed", unit="Count", value=result.failed)
    metrics.add_metric(name="EmailsDeferred", unit="Count", value=result.deferred)
    return {"sent": result.sent, "failed": result.failed, "deferred": result.deferred}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # the processor and the metrics hold this invocation's results: one of each per invocation
    # (the local stack runs invocations in threads of one process)
    metrics = invocation_metrics()
    try:
        return process_partial_response(event=event, record_handler=partial(record_handler, metrics=metrics),
                                        processor=BatchProcessor(event_type=EventType.SQS), context=context)
    finally:
        metrics.flush_metrics()
