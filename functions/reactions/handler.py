"""SQS events queue: each domain event enters contacts into automations (contact.subscribed) and
becomes a signed delivery for each webhook endpoint that asked for it."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.automations.progress import enter
from beacon.shared.observability import logger
from beacon.tracking.domain_events import BadEvent, DomainEvent
from beacon.webhooks.deliveries import fan_out
from beacon.wiring import automation_deps, webhook_deps


def record_handler(record: SQSRecord) -> dict[str, int]:
    try:
        event = DomainEvent.from_message(json.loads(record.body))
    except (ValueError, BadEvent) as exc:
        logger.warning("not an event; dropped", extra={"reason": str(exc)})
        return {}
    return {"entered": enter(event, automation_deps()), "deliveries": fan_out(event, webhook_deps())}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)  # one per invocation: concurrent ones stay apart
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
