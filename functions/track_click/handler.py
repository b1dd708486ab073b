"""GET /c/{token}: redirect to the link that was in the campaign (the token carries it)."""

from typing import Any

from beacon.composition import signer, tracking_deps
from beacon.observability import logger
from beacon.pages import not_found_page
from beacon.tracking import record_click, verify_click


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = (event.get("pathParameters") or {}).get("token") or ""
    try:
        data = verify_click(signer(), token)
    except Exception:
        logger.exception("click token could not be checked")
        data = None
    if data is None or not data.url.lower().startswith(("http://", "https://")):
        return not_found_page()
    try:
        http = (event.get("requestContext") or {}).get("http") or {}
        headers = event.get("headers") or {}
        record_click(*tracking_deps(), data, http.get("method", "GET"), headers.get("user-agent", ""),
                     http.get("sourceIp", ""), headers.get("sec-purpose") or headers.get("purpose", ""))
    except Exception:
        logger.exception("click not recorded")
    return {"statusCode": 302, "headers": {"location": data.url, "cache-control": "no-store"}, "body": ""}
