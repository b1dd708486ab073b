"""SQS signup queue: one form signup each; records it pending and sends the confirmation email."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.audience.signup import process
from beacon.shared.observability import logger
from beacon.wiring import signup_deps


def record_handler(record: SQSRecord) -> str:
    outcome = process(json.loads(record.body), signup_deps())
    logger.info("signup processed", extra={"outcome": outcome})
    return outcome


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)  # one per invocation (concurrent local invocations)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
