"""DynamoDB Stream of the send ledger -> the campaigns' stats roll-up (beacon.tracking.rollup).

Answers the tumbling window's state (none is kept) and the first record to deliver again when a
roll-up item could not be written. Imports no powertools on the happy path (it logs only problems).
"""

from typing import Any

from beacon.tracking.rollup import apply, response
from beacon.wiring import rollup_store


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = apply(event, rollup_store())
    if outcome.skipped or outcome.failed_from:
        from beacon.shared.observability import logger

        logger.warning("stats roll-up: records passed over or to retry",
                       extra={"skipped": outcome.skipped[:20], "retry_from": outcome.failed_from})
    return response(outcome)
