"""SNS (SES configuration-set events): deliveries, bounces and complaints."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.shared.observability import logger
from beacon.tracking.ses_events import BadNotification, apply, parse
from beacon.wiring import ses_event_deps


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    handled = ignored = 0
    for record in event.get("Records") or []:
        try:
            parsed = parse((record.get("Sns") or {}).get("Message") or "")
        except BadNotification as exc:
            logger.warning("SES notification refused", extra={"reason": str(exc)})
            ignored += 1
            continue
        if parsed is None:
            ignored += 1
            continue
        apply(ses_event_deps(), parsed)
        handled += 1
    return {"handled": handled, "ignored": ignored}
