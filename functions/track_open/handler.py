"""GET /o/{token}: the open pixel. Always the 43-byte GIF, whatever the token or the database.

One DynamoDB write per open (first or repeat) and no read: beacon.tracking.opens_and_clicks / beacon.db.engagement.
"""

import base64
from typing import Any

from beacon.shared.observability import count_fault, logger
from beacon.tracking.opens_and_clicks import GIF, record_open, verify_open
from beacon.wiring import engagement, signer

_BODY = base64.b64encode(GIF).decode()
_HEADERS = {"content-type": "image/gif", "cache-control": "no-store, no-cache, max-age=0", "pragma": "no-cache"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        token = (event.get("pathParameters") or {}).get("token") or ""
        data = verify_open(signer(), token)
        if data is not None:
            http = (event.get("requestContext") or {}).get("http") or {}
            headers = event.get("headers") or {}
            purpose = headers.get("sec-purpose") or headers.get("purpose") or headers.get("x-purpose") or ""
            record_open(engagement(), data, http.get("method") or "GET", headers.get("user-agent") or "",
                        http.get("sourceIp") or "", purpose or headers.get("x-moz") or "")
    except Exception:
        logger.exception("open not recorded")
        count_fault("open")
    return {"statusCode": 200, "headers": _HEADERS, "body": _BODY, "isBase64Encoded": True}
