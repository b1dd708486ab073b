"""GET /o/{token}: the open pixel. Always the 43-byte GIF, whatever the token or the database.

One DynamoDB write per open (first or repeat) and no read: beacon.tracking.opens_and_clicks / beacon.db.engagement.
The answer waits on the write at most a second (a slow or hanging DynamoDB:
beacon.tracking.opens_and_clicks.record_in_time).
"""

import base64
from typing import Any

from beacon.shared.observability import count_fault, logger
from beacon.tracking.opens_and_clicks import GIF, record_in_time, record_open, verify_open
from beacon.web.request import parse, path_param
from beacon.wiring import signer, tracking_engagement

_BODY = base64.b64encode(GIF).decode()
_HEADERS = {"content-type": "image/gif", "cache-control": "no-store, no-cache, max-age=0", "pragma": "no-cache"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        data = verify_open(signer(), path_param(event, "token"))
        if data is not None:
            record_in_time(record_open, tracking_engagement(), data, parse(event))
    except Exception:
        logger.exception("open not recorded")
        count_fault("open")
    return {"statusCode": 200, "headers": _HEADERS, "body": _BODY, "isBase64Encoded": True}
