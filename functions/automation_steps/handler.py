"""SQS automation queue: a due step for a few contacts (sent by the campaigns' send code), the
one-minute sweep of the due-time index, and an automation's resume and purge jobs."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.automations.progress import handle
from beacon.shared.observability import logger
from beacon.wiring import automation_deps


def record_handler(record: SQSRecord) -> str:
    return handle(json.loads(record.body), automation_deps(sending=True))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)  # one per invocation: concurrent ones stay apart
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
