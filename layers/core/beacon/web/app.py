"""The authenticated /v1 API (powertools HTTP resolver). One router per resource; routes parse and
shape, the domain modules decide. The OpenAPI 3.1 document is generated from these routes."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from beacon.shared.errors import BeaconError
from beacon.web import json_body
from beacon.web.common import error, reply
from beacon.web.guards import authenticate_first, body_is_utf8
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

# Validation is added as a middleware of our own (below), so it runs after authentication: an
# unauthenticated request is a 401 whatever its body holds.
app = APIGatewayHttpResolver(json_body_deserializer=json_body.loads)
app.enable_swagger(path="/v1/docs", title="Beacon API", version="1",
                   description="Email marketing on AWS: lists, contacts, campaigns and honest stats.")
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
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        details.append({"field": ".".join(loc) or None, "type": e.get("type"), "message": e.get("msg")})
    if any(d["type"] == "json_invalid" for d in details):
        return error(400, "malformed_json", "the request body is not valid JSON")
    first = details[0] if details else {"field": None, "message": "invalid request"}
    where = f"{first['field']}: " if first.get("field") else ""
    return error(422, "validation_error", f"{where}{first['message']}", details)


@app.not_found
def _not_found(_exc: Exception) -> Response[Any]:
    return error(404, "not_found", "no such route")


# ----------------------------------------------------------------------------- OpenAPI
@app.get("/v1/openapi.json", summary="This API's OpenAPI 3.1 document", tags=["meta"])
def openapi() -> Response[Any]:
    return reply(200, json.loads(app.get_openapi_json_schema(title="Beacon API", version="1")))
