"""The OpenAPI document of the /v1 API (GET /v1/openapi.json) tells every status each operation answers.

Every route of the app is held to the rules its shape implies, so a route added without declaring its
answers (beacon.web.openapi.answers) fails here:
- authenticated (the bearer scheme) unless listed in PUBLIC, and then it documents 401;
- a JSON body documents 400 (malformed JSON), 415 (not JSON) and 422 (a rule broken);
- query parameters document 422; a path parameter documents 404;
- every success has its response model (204: no body), every error the one envelope.
What the domain answers besides (409, 410, 413, 429, ...) is checked against the API's real answers by
the integration tests (each answer goes through tests/contract.py) and by the fuzz.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import hypothesis
import pytest
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from openapi_spec_validator import validate

from beacon.web import guards
from beacon.web.answers import ContactList, ErrorBody
from beacon.web.app import app
from beacon.web.bodies import ListIn
from beacon.web.common import error
from beacon.web.openapi import SECURITY_SCHEMES, SIGNED_IN, Resolver, answers
from beacon.web.session_cookie import COOKIE, CSRF_HEADER
from tests.contract import Contract

# Operations anyone may call (signing up, signing in, resetting a forgotten password): the ones
# beacon.web.guards lets through without a credential, so the document and the enforcement agree.
PUBLIC = {(method, re.sub(r"<([^>]+)>", r"{\1}", path)) for method, path in guards.PUBLIC}
ERROR_REF = "#/components/schemas/ErrorBody"


def _document() -> dict[str, Any]:
    return json.loads(app.get_openapi_json_schema())


DOCUMENT = _document()
ROUTES = [r for r in app._static_routes + app._dynamic_routes if r.include_in_schema]
OPERATIONS = {(r.method, r.openapi_path): DOCUMENT["paths"][r.openapi_path][r.method.lower()] for r in ROUTES}


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1")
    validate(DOCUMENT)


def test_the_document_has_exactly_the_app_s_routes() -> None:
    documented = {(m.upper(), p) for p, item in DOCUMENT["paths"].items() for m in item}
    assert documented == set(OPERATIONS)


def test_operation_ids_are_the_route_functions_names() -> None:
    """What a generated client names its functions (sign_up, create_list): a new route needs a unique name."""
    for route in ROUTES:
        operation = DOCUMENT["paths"][route.openapi_path][route.method.lower()]
        assert operation["operationId"] == route.func.__name__, (route.method, route.openapi_path)


def test_the_bearer_scheme_is_declared_so_swagger_ui_can_authorize() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    # the console's session cookie, and its CSRF header on changes (beacon.web.session_cookie)
    assert schemes["session_cookie"] == {**schemes["session_cookie"], "type": "apiKey", "in": "cookie",
                                         "name": COOKIE}
    assert schemes["csrf_token"] == {**schemes["csrf_token"], "type": "apiKey", "in": "header",
                                     "name": "X-CSRF-Token"}
    assert CSRF_HEADER == "x-csrf-token"
    event = {"version": "2.0", "routeKey": "$default", "rawPath": "/v1/docs", "rawQueryString": "",
             "headers": {"host": "localhost"}, "requestContext": {"http": {"method": "GET", "path": "/v1/docs"},
                                                                  "domainName": "localhost", "stage": "$default"},
             "isBase64Encoded": False}
    page = app.resolve(event, None)["body"]
    assert '"securitySchemes"' in page and '"bearer"' in page  # the Authorize button's source


def test_generated_validation_errors_are_not_documented() -> None:
    """Beacon answers its own envelope, never powertools' HTTPValidationError."""
    assert "HTTPValidationError" not in json.dumps(DOCUMENT)
    assert "ValidationError" not in DOCUMENT["components"]["schemas"]


HOW = ("document it in the route's decorator: `security=SIGNED_IN, responses=answers(<status>, <answer model>, "
       "body=/query=/found=..., also={<status>: \"why\"})` (beacon.web.openapi; docs/api.md, \"The OpenAPI "
       "document\")")


def shape_problems(method: str, path: str, operation: dict[str, Any], public: bool) -> list[str]:
    """What an operation's shape implies that its document lacks, each naming the operation and the status."""
    where = f"{method} {path}"
    responses = {int(code): answer for code, answer in operation.get("responses", {}).items()}
    statuses = set(responses)
    problems = []
    if not any(200 <= s < 300 for s in statuses):
        problems.append(f"{where}: no success status documented")
    writes = method not in ("GET", "HEAD", "OPTIONS")
    if public:
        if "security" in operation:
            problems.append(f"{where}: listed as public, yet documents a credential")
    else:
        cookie = {"session_cookie": [], "csrf_token": []} if writes else {"session_cookie": []}
        if operation.get("security") != [{"bearer": []}, cookie]:
            problems.append(f"{where}: needs a caller, so `security=SIGNED_IN` (or add it to PUBLIC in this test)")
        if 401 not in statuses:
            problems.append(f"{where}: authenticated, so 401 is documented (answers(..., auth=True))")
        if writes and 403 not in statuses:
            problems.append(f"{where}: a change with the session cookie, so 403 csrf_failed is documented")
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body and not {400, 415, 422} <= statuses:
        problems.append(f"{where}: a JSON body, so 400, 415 and 422 (answers(..., body=True)); has {sorted(statuses)}")
    parameters = operation.get("parameters", [])
    if any(p["in"] == "query" for p in parameters) and 422 not in statuses:
        problems.append(f"{where}: query parameters, so 422 (answers(..., query=True))")
    if any(p["in"] == "path" for p in parameters) and not public and 404 not in statuses:
        problems.append(f"{where}: an object in the path, so 404 (answers(..., found=True))")
    for status, answer in sorted(responses.items()):
        content = answer.get("content") or {}
        if status >= 400:
            if content.get("application/json", {}).get("schema") != {"$ref": ERROR_REF}:
                problems.append(f"{where} -> {status}: an error answers the one envelope, ErrorBody (answers() "
                                f"writes it); documented: {content}")
        elif status == 204:
            if content:
                problems.append(f"{where} -> 204: no body (model None)")
        else:
            schema = content.get("application/json", {}).get("schema", {})
            models = schema.get("anyOf") or [schema]  # one model, or a union of them
            if not all(m.get("$ref", "").startswith("#/components/schemas/") for m in models):
                problems.append(f"{where} -> {status}: its answer's model (beacon.web.answers) is not documented: "
                                f"{schema or 'no schema'}")
    return problems


@pytest.mark.parametrize("key", sorted(OPERATIONS), ids=lambda k: f"{k[0]} {k[1]}")
def test_each_operation_documents_what_its_shape_answers(key: tuple[str, str]) -> None:
    method, path = key
    problems = shape_problems(method, path, OPERATIONS[key], key in PUBLIC)
    assert not problems, "\n".join(problems) + "\n" + HOW


def test_an_undocumented_route_fails_with_its_name_and_what_to_declare() -> None:
    """What an engineer adding a route without its answers sees (a throwaway app with one such route, and one
    documented the house's way)."""
    scratch = Resolver(enable_validation=True)
    scratch.configure_openapi(title="t", version="1", security_schemes=SECURITY_SCHEMES)

    @scratch.get("/v1/jobs/<job_id>")
    def get_job(job_id: str) -> Response[Any]:
        raise AssertionError("not called")

    @scratch.post("/v1/things", security=SIGNED_IN,
                  responses=answers(201, ContactList, body=True, also={409: "a thing of that name exists"}))
    def create_thing(body: Annotated[ListIn, Body()]) -> Response[Any]:
        raise AssertionError("not called")

    document = json.loads(scratch.get_openapi_json_schema())
    problems = shape_problems("GET", "/v1/jobs/{job_id}", document["paths"]["/v1/jobs/{job_id}"]["get"], False)
    assert any("GET /v1/jobs/{job_id}: needs a caller, so `security=SIGNED_IN`" in p for p in problems), problems
    assert any("GET /v1/jobs/{job_id}: authenticated, so 401" in p for p in problems), problems
    assert any("GET /v1/jobs/{job_id}: an object in the path, so 404" in p for p in problems), problems
    assert any("GET /v1/jobs/{job_id} -> 200: its answer's model" in p for p in problems), problems
    documented = document["paths"]["/v1/things"]["post"]
    assert shape_problems("POST", "/v1/things", documented, False) == []
    assert sorted(documented["responses"]) == ["201", "400", "401", "403", "409", "415", "422"]


def test_the_error_envelope_is_what_the_api_answers() -> None:
    for details in (None, [{"field": "email", "message": "bad"}], {"retry_after": 3}):
        answer = error(422, "validation_error", "email: bad", details)
        ErrorBody.model_validate(answer.body)
    schema = DOCUMENT["components"]["schemas"]["ErrorDetail"]
    assert schema["required"] == ["code", "message"]


@pytest.mark.parametrize(("field", "value"), [
    ("password", "short"), ("email", "x"), ("company", "two\nlines"), ("company", "   "),
])
def test_constraints_in_the_document_are_the_ones_enforced(field: str, value: str) -> None:
    """The same rule the document shows refuses the request (one source: beacon.web.bodies)."""
    from pydantic import ValidationError

    from beacon.web.bodies import SignupIn

    good = {"company": "Acme", "email": "me@acme.example", "password": "a long password"}
    SignupIn.model_validate(good)
    with pytest.raises(ValidationError):
        SignupIn.model_validate({**good, field: value})
    schema = DOCUMENT["components"]["schemas"]["SignupIn"]["properties"][field]
    assert {"minLength", "pattern", "format"} & set(schema)


# ----------------------------------------------------------------------------- the checker itself
def test_the_contract_check_fails_on_an_undocumented_answer() -> None:
    contract = Contract(DOCUMENT)
    json_headers = {"content-type": "application/json"}
    good = {"id": "a" * 32, "name": "x", "contact_count": 0, "pending_count": 0,
            "created_at": "2030-01-01T00:00:00.000Z"}
    contract.check("GET", "/v1/lists/" + "a" * 32, 200, json_headers, json.dumps(good))
    with pytest.raises(AssertionError, match=r"409 not documented for GET /v1/lists/\{list_id\}.*also=\{409"):
        contract.check("GET", "/v1/lists/" + "a" * 32, 409, json_headers, json.dumps(good))
    with pytest.raises(AssertionError, match="does not match"):  # an undocumented field
        contract.check("GET", "/v1/lists/" + "a" * 32, 200, json_headers, json.dumps({**good, "secret": 1}))
    with pytest.raises(AssertionError, match="does not match"):  # an error outside the envelope
        contract.check("GET", "/v1/lists/" + "a" * 32, 404, json_headers, json.dumps({"message": "no"}))
    with pytest.raises(AssertionError, match="without a body"):
        contract.check("DELETE", "/v1/api-keys/" + "a" * 32, 204, {}, "{}")
    with pytest.raises(AssertionError, match="405"):
        contract.check("PUT", "/v1/lists", 404, json_headers, "{}")


@hypothesis.settings(max_examples=300, deadline=None, database=None)
@hypothesis.given(hypothesis.strategies.text(
    alphabet=hypothesis.strategies.characters(exclude_categories=["Cs"]), max_size=12))
@hypothesis.example("\x1c")
@hypothesis.example(" \x1f\t")
@hypothesis.example("Acme\x85")
@hypothesis.example("Acme\tInc")
def test_a_company_the_document_calls_valid_is_one_the_domain_takes(company: str) -> None:
    """The body's rule runs first, so what it refuses the API refuses; what it lets through the domain must
    take (found by this test: "\\x1c" was one line with something in it, and nothing once stripped)."""
    from pydantic import ValidationError

    from beacon.accounts.tenants import clean_company
    from beacon.shared.errors import Unprocessable
    from beacon.web.bodies import SignupIn

    try:
        SignupIn.model_validate({"company": company, "email": "me@acme.example", "password": "a long password"})
    except ValidationError:
        return
    try:
        clean_company(company)
    except Unprocessable as exc:
        raise AssertionError(f"{company!r}: valid in the document, refused: {exc.message}") from exc
