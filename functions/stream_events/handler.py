"""DynamoDB Streams (send ledger, contacts, suppressions, campaigns): domain events onto the events
queue, for the tenants that listen (beacon.tracking.domain_events). A failure fails the batch: the
stream retries it (bisecting), then hands it to the on-failure queue."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.shared.observability import logger, metrics
from beacon.tracking.domain_events import publish
from beacon.wiring import stream_deps


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = list(event.get("Records") or [])
    published = publish(records, stream_deps())
    if published:  # a batch without events writes no metric line (most batches, for most tenants)
        metrics.add_metric(name="DomainEvents", unit="Count", value=published)
    logger.debug("stream batch", extra={"records": len(records), "events": published})
    return {"batchItemFailures": []}
