"""SQS campaign-dispatch queue: page through a campaign's recipients into send batches."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.sending.dispatch import dispatch
from beacon.shared.observability import logger
from beacon.wiring import dispatch_deps


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> str:
    return dispatch(json.loads(record.body), dispatch_deps(),
                    lambda: lambda_context.get_remaining_time_in_millis() / 1000)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # a processor per invocation: it holds the batch's results (the local stack runs invocations in threads)
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context)
