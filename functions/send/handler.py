"""SQS send queue: each message is up to 50 recipients of one campaign, sent exactly once each."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.sending.send import send_batch
from beacon.shared.observability import logger
from beacon.wiring import send_deps


def record_handler(record: SQSRecord) -> dict[str, int]:
    # no custom metric ($0.30 a month each, README "What a month costs"): the campaign's stats count
    # sends and failures, and send_batch logs a deferral
    result = send_batch(json.loads(record.body), send_deps())
    return {"sent": result.sent, "failed": result.failed, "deferred": result.deferred}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # a processor per invocation: it holds this invocation's results (the local stack runs
    # invocations in threads of one process)
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context)
