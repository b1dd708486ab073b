"""SQS jobs queue: one step of a tenant's long operation (deleting a list, erasing the account)."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.audience.jobs import run
from beacon.shared.observability import logger
from beacon.wiring import job_deps

_context: LambdaContext | None = None


def _time_left() -> float:
    return _context.get_remaining_time_in_millis() / 1000 if _context else 60.0


def record_handler(record: SQSRecord) -> str:
    try:
        message = json.loads(record.body)
    except ValueError:
        message = None  # refused (and logged) by run()
    return run(message, job_deps(), _time_left)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _context
    _context = context
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context)
