"""The authenticated /v1 API (powertools HTTP resolver). One router per resource; routes parse and
shape, the domain modules decide. The OpenAPI 3.1 document is generated from these routes."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from beacon.shared.errors import BeaconError
from beacon.web import json_body
from beacon.web.bodies import REFUSALS
from beacon.web.common import error, reply
from beacon.web.guards import authenticate_first, body_is_utf8
from beacon.web.openapi import SECURITY_SCHEMES, Resolver
from beacon.web.routes import (
    accounts,
    automations,
    campaigns,
    contacts,
    domains,
    forms,
    segments,
    session,
    suppressions,
    timeline,
    webhooks,
)

TITLE = "Beacon API"
VERSION = "1"
DESCRIPTION = (
    "Email marketing on AWS: lists, contacts, campaigns and honest stats.\n\n"
    "JSON in and out. Every error is `{\"error\": {\"code\", \"message\", \"details\"?}}` with a 4xx "
    "(a 5xx only for Beacon's own faults). Authenticated operations take `Authorization: Bearer <key>`: "
    "an API key (from sign-up or POST /v1/api-keys) or a session token (POST /v1/sessions); the web console "
    "uses the session cookie instead, with `X-CSRF-Token` on every change. A request without a valid "
    "credential is 401 whatever its body holds. Another account's object is 404, never 403. A method a "
    "path does not have is 405 with `Allow`."
)

# Validation is added as a middleware of our own (below), so it runs after authentication: an
# unauthenticated request is a 401 whatever its body holds.
app = Resolver(json_body_deserializer=json_body.loads)
app.configure_openapi(title=TITLE, version=VERSION, description=DESCRIPTION, security_schemes=SECURITY_SCHEMES)
app.enable_swagger(path="/v1/docs", persist_authorization=True)
app.include_router(accounts.router)
app.include_router(domains.router)
app.include_router(contacts.router)
app.include_router(suppressions.router)
app.include_router(campaigns.router)
app.include_router(segments.router)
app.include_router(session.router)
app.include_router(timeline.router)
app.include_router(forms.router)
app.include_router(automations.router)
app.include_router(webhooks.router)
# in this order: who is asking (401), a body that is not UTF-8 (400), then the request's own checks
app.use([authenticate_first, body_is_utf8, OpenAPIRequestValidationMiddleware()])


@app.exception_handler(BeaconError)
def _domain_error(exc: BeaconError) -> Response[Any]:
    return error(exc.status, exc.code, exc.message, exc.details)


@app.exception_handler(ValueError)
def _unreadable_body(exc: ValueError) -> Response[Any]:
    """A form body powertools cannot read (multipart/form-data without its boundary): every /v1 body is
    JSON. Any other ValueError is Beacon's own fault: raised on."""
    content_type = (app.current_event.headers.get("content-type") or "").lower()
    if content_type.startswith(("multipart/", "application/x-www-form-urlencoded")):
        return error(415, "unsupported_media_type", "send the body as application/json")
    raise exc


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_type(_exc: RequestUnsupportedContentType) -> Response[Any]:
    return error(415, "unsupported_media_type", "send the body as application/json")


@app.exception_handler(RequestValidationError)
def _validation_error(exc: RequestValidationError) -> Response[Any]:
    content_type = (app.current_event.headers.get("content-type") or "").lower()
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        # powertools reads form bodies too; every /v1 body is JSON (curl -d sends a form by default)
        return error(415, "unsupported_media_type", "send the body as application/json")
    if not (app.current_event.body or "").strip() and any(
            e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in exc.errors()):
        return error(422, "missing_body", "the request needs a JSON body")
    details = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
        details.append({"field": ".".join(loc) or None, "type": e.get("type"), "message": e.get("msg")})
    if any(d["type"] == "json_invalid" for d in details):
        return error(400, "malformed_json", "the request body is not valid JSON")
    # a rule with its own code (bodies.REFUSALS) answers that code, and its status
    own = next((d for d in details if d["type"] in REFUSALS), None)
    first = own or (details[0] if details else {"field": None, "message": "invalid request", "type": None})
    where = f"{first['field']}: " if first.get("field") else ""
    code = first["type"] if own else "validation_error"
    return error(REFUSALS.get(code, 422), code, f"{where}{first['message']}", details)


@app.not_found
def _not_found(_exc: Exception) -> Response[Any]:
    allowed = app.allowed_methods(app.current_event.path)
    if allowed:  # the path exists, the method does not (RFC 9110: 405 with Allow)
        answer = error(405, "method_not_allowed", f"this path takes {', '.join(allowed)}")
        answer.headers["Allow"] = ", ".join(allowed)
        return answer
    return error(404, "not_found", "no such route")


# ----------------------------------------------------------------------------- OpenAPI
@app.get("/v1/openapi.json", summary="This API's OpenAPI 3.1 document", tags=["meta"], include_in_schema=False)
def openapi() -> Response[Any]:
    return reply(200, json.loads(app.get_openapi_json_schema()))
