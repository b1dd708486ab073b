"""SQS webhook queue: one signed attempt per due delivery, the batch's attempts in parallel (each
takes up to 10 s); what failed unexpectedly goes back to SQS."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.shared.observability import logger
from beacon.webhooks.deliveries import deliver_batch
from beacon.wiring import webhook_deps


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = [(str(r.get("messageId")), str(r.get("body") or "")) for r in event.get("Records") or []]
    failed = deliver_batch(records, webhook_deps())
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
