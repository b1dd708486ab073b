"""GET /c/{token}: redirect to the link that was in the campaign (the token carries it, encrypted).

Zero database reads; one write per click (beacon.tracking.opens_and_clicks). The redirect never waits on the
database's health: a storage fault is logged and counted, and the 302 still goes out, after at most a
second (opens_and_clicks.record_in_time). A destination with a control character is never a Location. The hidden
honeypot link (only machines follow it) answers with a blank page and is recorded as a machine.
"""

from typing import Any

from beacon.shared.observability import count_fault, logger
from beacon.tracking.opens_and_clicks import is_honeypot, is_safe_location, record_click, record_in_time, verify_click
from beacon.web.pages import not_found_page, page
from beacon.web.request import parse, path_param
from beacon.wiring import signer, tracking_engagement


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        data = verify_click(signer(), path_param(event, "token"))
    except Exception:
        logger.exception("click token could not be checked")
        data = None
    if data is None:
        return not_found_page()
    honeypot = is_honeypot(data)
    if not honeypot and not is_safe_location(data.url):
        return not_found_page()
    try:
        record_in_time(record_click, tracking_engagement(), data, parse(event))
    except Exception:
        logger.exception("click not recorded")
        count_fault("click")
    if honeypot:
        return page("Nothing here", "<p>Nothing here.</p>")
    return {"statusCode": 302, "headers": {"location": data.url, "cache-control": "no-store"}, "body": ""}
