"""What every /v1 request passes before its body is read (powertools middlewares, see beacon.web.app):

- authenticate_first: a route that needs a caller gets one, or the request is a 401 whatever its
  body holds (a malformed or hostile body from nobody is not parsed at all);
- body_is_utf8: a body the resolver would decode (JSON, forms) that is not UTF-8 is a 400
  `invalid_encoding` (API Gateway passes such a body base64-encoded; decoding it raised a 500).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import Response

from beacon.shared.errors import BadRequest
from beacon.web.common import authenticated

# The /v1 routes anyone may call (method, route as declared); every other /v1 route needs a caller.
PUBLIC: frozenset[tuple[str, str]] = frozenset({
    ("POST", "/v1/accounts"),
    ("POST", "/v1/sessions"),
    ("POST", "/v1/password-resets"),
    ("POST", "/v1/password-resets/<token>"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/docs"),
})
_DECODED = ("", "application/json", "application/x-www-form-urlencoded", "multipart/form-data")

Next = Callable[[Any], Response[Any]]


def authenticate_first(app: Any, next_middleware: Next) -> Response[Any]:
    event = app.current_event
    route = app.context.get("_route")  # the matched route (what powertools' own validation reads)
    if route is None or getattr(route.func, "__name__", "") == "not_found_handler":
        return next_middleware(app)  # no such route: a 404 for everyone
    if event.path.startswith("/v1/") and (event.http_method.upper(), route.path) not in PUBLIC:
        authenticated(event)  # raises Unauthorized; remembered for the route's own call
    return next_middleware(app)


def body_is_utf8(app: Any, next_middleware: Next) -> Response[Any]:
    event = app.current_event
    content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if event.is_base64_encoded and event.body and content_type in _DECODED:
        try:
            base64.b64decode(event.body, validate=False).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("the request body is not valid UTF-8; send JSON as UTF-8", code="invalid_encoding") \
                from exc
    return next_middleware(app)
