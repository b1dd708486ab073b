"""GET /u/{token}: the unsubscribe page (a GET changes nothing). POST: unsubscribe at once
(RFC 8058 one-click body, or the page's form), or undo it."""

from typing import Any

from beacon.web.unsubscribe_page import handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event)
