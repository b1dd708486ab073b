"""SQS send queue: each message is up to 50 recipients of one campaign, sent exactly once each."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.sending.send import send_batch
from beacon.shared.observability import logger, metrics
from beacon.wiring import send_deps

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> dict[str, int]:
    result = send_batch(json.loads(record.body), send_deps())
    metrics.add_metric(name="EmailsSent", unit="Count", value=result.sent)
    metrics.add_metric(name="EmailsFailed", unit="Count", value=result.failed)
    metrics.add_metric(name="EmailsDeferred", unit="Count", value=result.deferred)
    return {"sent": result.sent, "failed": result.failed, "deferred": result.deferred}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
