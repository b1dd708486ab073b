"""The public signup pages: GET/POST /forms/{form_id} (the hosted form, and the POST of any copy of
it), GET/POST /confirm/{token} (double opt-in: GET shows a Confirm button, only POST confirms)."""

from typing import Any

from beacon.web.signup_pages import handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event)
