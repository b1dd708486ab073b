"""GET /o/{token}: the open pixel. Always the 43-byte GIF, whatever the token or the database."""

import base64
from typing import Any

from beacon.composition import signer, tracking_deps
from beacon.observability import logger
from beacon.tracking import GIF, record_open, verify_open

_BODY = base64.b64encode(GIF).decode()
_HEADERS = {"content-type": "image/gif", "cache-control": "no-store, no-cache, max-age=0", "pragma": "no-cache"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        token = (event.get("pathParameters") or {}).get("token") or ""
        data = verify_open(signer(), token)
        if data is not None:
            http = (event.get("requestContext") or {}).get("http") or {}
            headers = event.get("headers") or {}
            record_open(*tracking_deps(), data, http.get("method", "GET"), headers.get("user-agent", ""),
                        http.get("sourceIp", ""), headers.get("sec-purpose") or headers.get("purpose", ""))
    except Exception:
        logger.exception("open not recorded")
    return {"statusCode": 200, "headers": _HEADERS, "body": _BODY, "isBase64Encoded": True}
