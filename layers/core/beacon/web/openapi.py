"""What each /v1 operation answers, for the OpenAPI document: one place for the error envelope, the
security schemes and the statuses that follow from a route's shape.

A route declares its answers with powertools' own `responses=` and `security=`:

    @router.post("/v1/lists/<list_id>/send", ..., security=SIGNED_IN,
                 responses=answers(202, SendAnswer, auth=True, body=True, found=True,
                                   also={409: "the campaign is not a draft"}))

`answers` adds what the machinery answers for every route of that shape (401 without a valid
credential, 404 for a path id that is not the caller's, 400/415/422 for a JSON body or a query);
`also` names the statuses the domain answers. SIGNED_IN becomes, in the document, the bearer scheme or
the console's session cookie (with its CSRF header and a 403 on changes). tests/unit/test_openapi_document.py
holds every route of the app to this, so a route added without its answers fails a test; every answer the
in-process API tests and the fuzz provoke is held to the document (tests/contract.py). docs/api.md, "The
OpenAPI document", says how to document a new route.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.models import OpenAPI, SecurityScheme
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from beacon.web import session_cookie
from beacon.web.answers import ErrorBody

BEARER_SCHEME = "bearer"
COOKIE_SCHEME = "session_cookie"
CSRF_SCHEME = "csrf_token"
# A route that needs a caller declares `security=SIGNED_IN`. The document then offers either credential:
# the bearer one (an API key or a session token), or the web console's session cookie, which on an
# operation that changes something (any method but GET) also needs the CSRF header, else 403
# `csrf_failed` (Resolver.get_openapi_schema writes both alternatives and that 403).
SIGNED_IN: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
SAFE_METHODS = frozenset({"get", "head", "options"})

SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    BEARER_SCHEME: {  # type: ignore[dict-item]  # powertools validates the dict into HTTPBearer
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "bk_... (an API key) or bs_... (a session token from POST /v1/sessions)",
        "description": "`Authorization: Bearer <key>`: an API key (`bk_`, from sign-up or POST /v1/api-keys) "
                       "or a session token (`bs_`, from POST /v1/sessions, valid 12 hours). When present it "
                       "wins over the session cookie.",
    },
    COOKIE_SCHEME: {  # type: ignore[dict-item]  # powertools validates the dict into APIKey
        "type": "apiKey",
        "in": "cookie",
        "name": session_cookie.COOKIE,
        "description": "The web console's session: set (HttpOnly, Secure, SameSite=Strict) by POST /v1/sessions "
                       "with `cookie: true`, cleared by DELETE /v1/session. Only a session token is read from "
                       "it (an API key there is 401).",
    },
    CSRF_SCHEME: {  # type: ignore[dict-item]
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "With the session cookie, every operation that changes something (not GET) needs the "
                       "session's `csrf_token` (from POST /v1/sessions with `cookie: true` or GET /v1/session) "
                       "in this header, else 403 `csrf_failed` and nothing changes.",
    },
}

# Why each status is answered, when a route does not say more.
WHY: dict[int, str] = {
    400: "a body the API cannot read: not JSON (`malformed_json`), not UTF-8 (`invalid_encoding`), nested deeper "
         "than 32 levels (`too_deep`); or a cursor the API did not give out (`invalid_cursor`)",
    401: "no valid `Authorization: Bearer` credential or session cookie (code `unauthorized`, `invalid_session`)",
    403: "signed in by the session cookie without its `X-CSRF-Token` header, or with a wrong one (code "
         "`csrf_failed`); nothing changed",
    404: "no such object for this account (another account's objects are not found either)",
    409: "the object's state does not allow this",
    410: "gone: the token is unknown, used or expired",
    413: "too large",
    415: "the body is not `application/json` (code `unsupported_media_type`)",
    422: "the body or a query parameter breaks a rule; `details` names the field (code `validation_error`, "
         "`invalid_text` for a lone UTF-16 surrogate, or a more precise one)",
    429: "too many requests: wait `Retry-After` seconds",
}

RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                               "schema": {"type": "integer", "minimum": 1}}}


def error(status: int, why: str | None = None) -> OpenAPIResponse:
    """An error answer: the one envelope, {"error": {code, message, details?}}."""
    answer: OpenAPIResponse = {"description": why or WHY.get(status, "error"),
                               "content": {"application/json": {"model": ErrorBody}}}
    if status == 429:
        answer["headers"] = RETRY_AFTER  # type: ignore[typeddict-item]
    return answer


def success(model: Any, description: str) -> OpenAPIResponse:
    if model is None:  # 204: no body at all
        return {"description": description, "content": {}}
    return {"description": description, "content": {"application/json": {"model": model}}}


def answers(
    status: int,
    model: Any,
    *,
    description: str = "done",
    auth: bool = True,
    body: bool = False,
    query: bool = False,
    found: bool = False,
    more: Mapping[int, tuple[type[BaseModel] | None, str]] | None = None,
    also: Mapping[int, str] | None = None,
) -> dict[int, OpenAPIResponse]:
    """Every status one operation answers.

    status, model  the success answer: a pydantic model, a union of them, or None (no body, as for 204)
    auth           takes the bearer credential: 401 without a valid one
    body           takes a JSON body: 400 malformed, 415 not JSON, 422 breaks a rule
    query          takes query parameters with rules: 422 (400 for a cursor the API did not give out)
    found          names an object in its path: 404 when the caller has no such object
    more           other success answers {status: (model, description)}
    also           the statuses the domain answers {status: why}
    """
    result: dict[int, OpenAPIResponse] = {status: success(model, description)}
    for other, (other_model, why) in (more or {}).items():
        result[other] = success(other_model, why)
    errors: dict[int, str | None] = {}
    if body:
        errors.update({400: None, 415: None, 422: None})
    if query:
        errors.update({400: None, 422: None})
    if auth:
        errors[401] = None
    if found:
        errors[404] = None
    errors.update(also or {})
    for code in sorted(errors):
        result[code] = error(code, errors[code])
    return dict(sorted(result.items()))


def request_body(media_type: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A request body the route reads itself (not JSON, so not a pydantic Body): for `openapi_extensions`."""
    return {"requestBody": {"required": True, "description": description,
                            "content": {media_type: {"schema": schema}}}}


class Resolver(APIGatewayHttpResolver):
    """The API Gateway HTTP API resolver, whose OpenAPI document leaves out what this API never answers.

    With validation on, powertools documents a 422 `HTTPValidationError` on every operation; Beacon
    answers its own error envelope instead, and only where `answers` says. Those entries, and their
    schemas, are dropped from the generated document (and from the Swagger UI's copy).
    """

    def allowed_methods(self, path: str) -> list[str]:
        """The methods routed for `path` (none: no such path). A path that a literal route names is that
        route's alone: /v1/segments/count is not /v1/segments/{segment_id} (as API Gateway's own routing
        prefers literal segments)."""
        static = {r.method for r in self._static_routes if r.rule.match(path)}
        return sorted(static or {r.method for r in self._dynamic_routes if r.rule.match(path)})

    def _resolve(self) -> Any:
        # powertools would try the templated routes for a method the literal path lacks (PATCH
        # /v1/segments/count would reach PATCH /v1/segments/{segment_id}): not found there, 405 here
        method = self.current_event.http_method.upper()
        path = self._remove_prefix(self.current_event.path)
        literal = [r for r in self._static_routes if r.rule.match(path)]
        if literal and all(r.method != method for r in literal):
            return self._handle_not_found(method=method, path=path)
        return super()._resolve()

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPI:
        schema = super().get_openapi_schema(**kwargs)
        data = json.loads(schema.model_dump_json(by_alias=True, exclude_none=True))
        self._name_operations(data)
        _offer_the_session_cookie(data)
        _read_only_while_erasing(data)
        generated = "#/components/schemas/HTTPValidationError"
        for path in data.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                for code in [c for c, r in responses.items()
                             if r.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
                             == generated]:
                    del responses[code]
        _drop_unused_schemas(data)
        return OpenAPI.model_validate(data)

    def _name_operations(self, data: dict[str, Any]) -> None:
        """operationId = the route function's name (`sign_up`, `create_list`): what a generated client calls
        its functions. powertools appends the path and method (`sign_up_v1_accounts_post`)."""
        names = {(r.openapi_path, r.method.lower()): r.func.__name__
                 for r in self._static_routes + self._dynamic_routes if r.include_in_schema}
        if len(set(names.values())) != len(names):
            return  # two routes share a function name: keep powertools' unique ids
        for path, item in data.get("paths", {}).items():
            for method, operation in item.items():
                operation["operationId"] = names.get((path, method), operation.get("operationId"))


def _error_answer(why: str) -> dict[str, Any]:
    """An error answer added to the generated document: the one envelope (ErrorBody), for `why`."""
    return {"description": why, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def _offer_the_session_cookie(data: dict[str, Any]) -> None:
    """An operation declared `security=SIGNED_IN` takes the bearer credential or the console's cookie; with the
    cookie, a change (not GET) also takes the CSRF header and is 403 without it."""
    for item in data.get("paths", {}).values():
        for method, operation in item.items():
            if operation.get("security") != SIGNED_IN:
                continue
            changes = method not in SAFE_METHODS
            cookie: dict[str, list[str]] = {COOKIE_SCHEME: [], CSRF_SCHEME: []} if changes else {COOKIE_SCHEME: []}
            operation["security"] = [{BEARER_SCHEME: []}, cookie]
            if changes:
                responses = operation.setdefault("responses", {})
                responses.setdefault("403", _error_answer(WHY[403]))
                operation["responses"] = dict(sorted(responses.items()))


# A signed-in change while the account is being erased (DELETE /v1/account's job) is 409 `account_deleting`:
# the account may then only read and sign out (beacon.web.common.principal).
ERASING = "the account is being erased: it can only be read (`account_deleting`)"
SIGN_OUT = ("/v1/session", "delete")


def _read_only_while_erasing(data: dict[str, Any]) -> None:
    for path, item in data.get("paths", {}).items():
        for method, operation in item.items():
            if method in SAFE_METHODS or not operation.get("security") or (path, method) == SIGN_OUT:
                continue
            responses = operation.setdefault("responses", {})
            if "409" in responses:
                responses["409"]["description"] += "; or " + ERASING
            else:
                responses["409"] = _error_answer(ERASING)
            operation["responses"] = dict(sorted(responses.items()))


def _drop_unused_schemas(data: dict[str, Any]) -> None:
    """Keep only the component schemas that an operation refers to, directly or through another schema."""
    schemas: dict[str, Any] = data.get("components", {}).get("schemas", {})
    prefix = "#/components/schemas/"
    used: set[str] = set()
    todo = [data.get("paths", {})]
    while todo:
        text = json.dumps(todo.pop())
        for name in schemas:
            if name not in used and f'"{prefix}{name}"' in text:
                used.add(name)
                todo.append(schemas[name])
    for name in [n for n in schemas if n not in used]:
        del schemas[name]
