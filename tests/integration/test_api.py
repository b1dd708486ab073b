"""The authenticated /v1 API, end to end in-process: functions/account/handler.py is called with
API Gateway HTTP API (payload 2.0) events over moto, the way API Gateway would call it.

Two tenants (A and B) are signed up once for the module after one clean; every test that changes
data makes its own lists and campaigns, so the tests do not depend on their order.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from beacon_local.ses import stop_verifying_identities, verify_identities_at_once
from tests import contract
from tests.integration.conftest import load_function

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "functions" / "account" / "handler.py"
PASSWORD = "correct horse battery"  # >= 10 characters
POSTAL_ADDRESS = "Test Co\n1 Test Street\nSpringfield 12345"  # every email's footer; needed to send

STATS_KEYS = {"status", "recipients", "sent", "failed", "skipped_suppressed", "delivered", "bounced",
              "complained", "unsubscribed", "opens", "clicks",
              "not_sent", "rejected", "rendering_failed",  # issue 4: cancelled sends, SES reject/render failures
              "recipients_final"}  # issue 4: False while dispatch is still queuing a big campaign
OPENS_KEYS = {"total", "unique", "human_unique", "machine", "proxied"}  # proxied: webmail image proxies
CLICKS_KEYS = {"total", "unique", "human_unique", "machine", "honeypot", "links"}  # honeypot: hidden-link hits


# ---------------------------------------------------------------------------- event plumbing
@dataclass
class FakeLambdaContext:
    function_name: str = "beacon-test-account"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:beacon-test-account"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/beacon-test-account"
    log_stream_name: str = "2024/01/01/[$LATEST]0"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def build_event(method: str, path: str, *, query: dict[str, Any] | None = None, body: str | bytes | None = None,
                headers: dict[str, str] | None = None, base64_body: bool = False) -> dict[str, Any]:
    """An API Gateway HTTP API payload-2.0 event for the `ANY /v1/{proxy+}` route."""
    raw_query = urlencode(query or {})
    hdrs = {
        "host": "127.0.0.1:3000",
        "user-agent": "beacon-tests/1.0",
        "accept": "application/json",
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-port": "3000",
        "x-forwarded-proto": "http",
    }
    for name, value in (headers or {}).items():
        hdrs[name.lower()] = value
    encoded = False
    if isinstance(body, bytes):
        if base64_body:
            body, encoded = base64.b64encode(body).decode("ascii"), True
        else:
            body = body.decode("utf-8")
    elif body is not None and base64_body:
        body, encoded = base64.b64encode(body.encode("utf-8")).decode("ascii"), True
    now = time.time()
    request_id = str(uuid.uuid4())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "ANY /v1/{proxy+}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1:3000",
            "domainPrefix": "127",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": hdrs["user-agent"]},
            "requestId": request_id,
            "routeKey": "ANY /v1/{proxy+}",
            "stage": "$default",
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "pathParameters": {"proxy": path.removeprefix("/v1/")},
        "isBase64Encoded": encoded,
    }
    if raw_query:
        event["queryStringParameters"] = dict(parse_qsl(raw_query, keep_blank_values=True))
    if body is not None:
        event["body"] = body
    return event


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
    raw: str


class Client:
    """Calls the account handler in-process. Methods return (status, json body)."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], key: str | None = None) -> None:
        self._handler = handler
        self.key = key

    def as_(self, key: str | None) -> Client:
        return Client(self._handler, key)

    def call(self, method: str, path: str, *, json_body: Any = None, raw: str | bytes | None = None,
             content_type: str | None = None, query: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, base64_body: bool = False) -> Answer:
        hdrs: dict[str, str] = {}
        body: str | bytes | None = raw
        if json_body is not None:
            body = json.dumps(json_body)
            hdrs["content-type"] = "application/json"
        if content_type:
            hdrs["content-type"] = content_type
        if self.key is not None:
            hdrs["authorization"] = f"Bearer {self.key}"
        hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
        event = build_event(method, path, query=query, body=body, headers=hdrs, base64_body=base64_body)
        result = self._handler(event, FakeLambdaContext(aws_request_id=event["requestContext"]["requestId"]))
        text = result.get("body") or ""
        if result.get("isBase64Encoded"):
            text = base64.b64decode(text).decode("utf-8")
        answer_headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        ctype = answer_headers.get("content-type", "")
        parsed: Any = json.loads(text) if text and "json" in ctype else None
        # every answer of every test is held to the OpenAPI document (status, body, content type)
        contract.in_process().check(method, path, result["statusCode"], answer_headers, text)
        return Answer(result["statusCode"], parsed, answer_headers, text)

    def _simple(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        answer = self.call(method, path, json_body=body, **kw)
        return answer.status, answer.body

    def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self._simple("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self._simple("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self._simple("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self._simple("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self._simple("DELETE", path, **kw)


def assert_error(status: int, body: Any, expected_status: int, code: str | None = None,
                 mentions: str | tuple[str, ...] = ()) -> dict[str, Any]:
    """The DESIGN error body: {"error": {"code": snake_case, "message": sentence, "details"?}}."""
    assert status == expected_status, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert set(err) <= {"code", "message", "details"} and {"code", "message"} <= set(err), err
    assert isinstance(err["code"], str) and err["code"] and err["code"] == err["code"].lower(), err
    assert " " not in err["code"] and "-" not in err["code"], err
    assert isinstance(err["message"], str) and err["message"].strip(), err
    if code is not None:
        assert err["code"] == code, err
    for word in (mentions,) if isinstance(mentions, str) else mentions:
        assert word.lower() in err["message"].lower(), err
    return err


# ---------------------------------------------------------------------------- fixtures
@dataclass
class Tenant:
    client: Client
    account: dict[str, Any]
    key: str


def _load_handler() -> SimpleNamespace:
    """The account function's handler, its calls held to the function's IAM statements."""
    return SimpleNamespace(handler=load_function("functions/account", "beacon_account_handler_under_test_api"))


@pytest.fixture(scope="module", autouse=True)
def api(aws: Any) -> Iterator[Client]:
    import beacon.shared.aws
    import beacon.wiring

    beacon.wiring.reset()
    aws.clean()
    verify_identities_at_once(beacon.shared.aws.SESSION)  # as the local stack does: sender domains verify at once
    yield Client(_load_handler().handler)
    stop_verifying_identities(beacon.shared.aws.SESSION)
    beacon.wiring.reset()


@pytest.fixture
def d() -> str:
    """A domain of this test's own: contacts are per tenant, and tests share the tenants."""
    return f"{uuid.uuid4().hex[:12]}.example.com"


def _unique_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def _sign_up(api: Client, company: str) -> Tenant:
    status, body = api.post("/v1/accounts", {"company": company, "email": _unique_email(company.lower()),
                                             "password": PASSWORD, "postal_address": POSTAL_ADDRESS})
    assert status == 201, body
    return Tenant(api.as_(body["api_key"]), body["account"], body["api_key"])


def _add_domain(tenant: Tenant, domain: str) -> None:
    status, body = tenant.client.post("/v1/domains", {"domain": domain})
    assert status == 201 and body["status"] == "verified", body


@pytest.fixture(scope="module")
def tenant_a(api: Client) -> Tenant:
    tenant = _sign_up(api, "Alpha")
    _add_domain(tenant, "alpha.example.com")  # campaigns send only from a verified domain of the tenant
    return tenant


@pytest.fixture(scope="module")
def tenant_b(api: Client) -> Tenant:
    tenant = _sign_up(api, "Bravo")
    _add_domain(tenant, "bravo.example.com")
    return tenant


@pytest.fixture
def a(tenant_a: Tenant) -> Client:
    return tenant_a.client


@pytest.fixture
def b(tenant_b: Tenant) -> Client:
    return tenant_b.client


def new_list(client: Client, name: str = "Newsletter") -> dict[str, Any]:
    status, body = client.post("/v1/lists", {"name": name})
    assert status == 201, body
    return body


def get_list(client: Client, list_id: str) -> dict[str, Any]:
    status, body = client.get(f"/v1/lists/{list_id}")
    assert status == 200, body
    return body


def all_members(client: Client, list_id: str, limit: int = 100) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query: dict[str, Any] = {"limit": limit}
        if cursor:
            query["cursor"] = cursor
        status, body = client.get(f"/v1/lists/{list_id}/contacts", query=query)
        assert status == 200, body
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging never ended")


def import_csv(client: Client, list_id: str, data: str | bytes, **kw: Any) -> Answer:
    return client.call("POST", f"/v1/lists/{list_id}/imports", raw=data, content_type="text/csv", **kw)


def campaign_body(list_ids: list[str], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Spring news",
        "subject": "Hello {{ contact.first_name }}",
        "from_email": "news@alpha.example.com",
        "from_name": "Alpha News",
        "list_ids": list_ids,
        "html": "<html><body><p>Hi {{ contact.first_name }} from {{ account.company }}</p>"
                '<a href="https://alpha.example.com/offer">Offer</a></body></html>',
        "text": "Hi {{ contact.first_name }}, see https://alpha.example.com/offer",
    }
    body.update(overrides)
    return body


def new_campaign(client: Client, list_ids: list[str], **overrides: Any) -> dict[str, Any]:
    status, body = client.post("/v1/campaigns", campaign_body(list_ids, **overrides))
    assert status == 201, body
    return body


def campaign_count(client: Client) -> int:
    status, body = client.get("/v1/campaigns")
    assert status == 200, body
    return len(body["items"])


def list_count(client: Client) -> int:
    status, body = client.get("/v1/lists")
    assert status == 200, body
    return len(body["items"])


# ---------------------------------------------------------------------------- sign-up
def test_sign_up_returns_the_account_and_a_working_key(api: Client) -> None:
    email = f"SignUp-{uuid.uuid4().hex[:10]}@Example.COM"
    status, body = api.post("/v1/accounts", {"company": "  Signup Co ", "email": email, "password": PASSWORD})
    assert status == 201, body
    assert set(body) == {"account", "api_key"}
    account = body["account"]
    assert account["company"] == "Signup Co"
    assert account["email"] == email.lower()
    assert "password" not in json.dumps(body).lower()
    assert isinstance(body["api_key"], str) and len(body["api_key"]) >= 20
    me = api.as_(body["api_key"])
    status, profile = me.get("/v1/account")
    assert status == 200, profile
    assert profile["id"] == account["id"] and profile["email"] == email.lower()
    status, lists = me.get("/v1/lists")
    assert (status, lists) == (200, {"items": [], "next_cursor": None})


def test_sign_up_refuses_a_taken_email_whatever_its_case(api: Client) -> None:
    email = _unique_email("dup")
    status, first = api.post("/v1/accounts", {"company": "First", "email": email, "password": PASSWORD})
    assert status == 201, first
    for variant in (email, email.upper(), "  " + email.capitalize() + " "):
        status, body = api.post("/v1/accounts", {"company": "Second", "email": variant, "password": PASSWORD})
        assert_error(status, body, 409, "email_taken", "email")
    # the first account and its key are untouched
    status, profile = api.as_(first["api_key"]).get("/v1/account")
    assert status == 200 and profile["company"] == "First"


@pytest.mark.parametrize("password", ["", "short", "123456789"])
def test_sign_up_refuses_a_weak_password(api: Client, password: str) -> None:
    email = _unique_email("weak")
    status, body = api.post("/v1/accounts", {"company": "Weak", "email": email, "password": password})
    err = assert_error(status, body, 422, mentions="password")
    assert err["code"] in {"weak_password", "validation_error"}
    # nothing was created: the same email signs up fine afterwards
    status, body = api.post("/v1/accounts", {"company": "Weak", "email": email, "password": PASSWORD})
    assert status == 201, body


def test_sign_up_password_of_exactly_ten_characters_is_enough(api: Client) -> None:
    status, body = api.post("/v1/accounts", {"company": "Ten", "email": _unique_email("ten"),
                                             "password": "0123456789"})
    assert status == 201, body


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "user@localhost", "two@@example.com",
                                   "ünïcode@example.com", "line\r\nbreak@example.com"])
def test_sign_up_refuses_an_invalid_email(api: Client, email: str) -> None:
    status, body = api.post("/v1/accounts", {"company": "Bad", "email": email, "password": PASSWORD})
    assert_error(status, body, 422, mentions="email")


def test_sign_up_malformed_json_is_400(api: Client) -> None:
    for raw in ('{"company": "X", "email": ', "{'company': 'X'}", "{" * 10, "[1, 2"):
        answer = api.call("POST", "/v1/accounts", raw=raw, content_type="application/json")
        assert_error(answer.status, answer.body, 400, "malformed_json", "json")


def test_sign_up_refuses_unknown_and_missing_fields(api: Client) -> None:
    email = _unique_email("fields")
    status, body = api.post("/v1/accounts", {"company": "X", "email": email, "password": PASSWORD,
                                             "is_admin": True})
    err = assert_error(status, body, 422, "validation_error", "is_admin")
    assert any(d.get("field") == "is_admin" for d in err["details"]), err
    status, body = api.post("/v1/accounts", {"company": "X", "email": email})
    err = assert_error(status, body, 422, "validation_error", "password")
    assert any(d.get("field") == "password" for d in err["details"]), err
    status, body = api.post("/v1/accounts", {})
    err = assert_error(status, body, 422, "validation_error")
    assert {d.get("field") for d in err["details"]} >= {"company", "email", "password"}, err
    # neither attempt created the account
    status, body = api.post("/v1/accounts", {"company": "X", "email": email, "password": PASSWORD})
    assert status == 201, body


@pytest.mark.parametrize("payload", [
    {"company": 123, "email": "t@example.com", "password": PASSWORD},
    {"company": "X", "email": ["t@example.com"], "password": PASSWORD},
    {"company": "X", "email": "t@example.com", "password": 1234567890123},
    {"company": None, "email": "t@example.com", "password": PASSWORD},
])
def test_sign_up_refuses_wrong_types(api: Client, payload: dict[str, Any]) -> None:
    status, body = api.post("/v1/accounts", payload)
    err = assert_error(status, body, 422, "validation_error")
    wrong = next(k for k, v in payload.items() if not isinstance(v, str))
    assert wrong in err["message"], err


@pytest.mark.parametrize("body", [[], "a string", 42, None])
def test_sign_up_body_must_be_an_object(api: Client, body: Any) -> None:
    answer = api.call("POST", "/v1/accounts", raw=json.dumps(body), content_type="application/json")
    assert_error(answer.status, answer.body, 422)


def test_sign_up_form_encoded_body_is_refused(api: Client) -> None:
    email = _unique_email("form")
    answer = api.call("POST", "/v1/accounts", raw=urlencode({"company": "X", "email": email, "password": PASSWORD}),
                      content_type="application/x-www-form-urlencoded")
    assert_error(answer.status, answer.body, 415, mentions=("json",))
    assert api.post("/v1/accounts", {"company": "X", "email": email, "password": PASSWORD})[0] == 201


@pytest.mark.parametrize(("raw", "ctype"), [("<account/>", "application/xml"),
                                            ('{"company": "X"}', "text/plain")])
def test_sign_up_non_json_content_type_has_the_error_shape(api: Client, raw: str, ctype: str) -> None:
    answer = api.call("POST", "/v1/accounts", raw=raw, content_type=ctype)
    assert answer.status in {400, 415, 422}, answer
    assert_error(answer.status, answer.body, answer.status, mentions=("json",))


def test_put_contacts_non_json_content_type_changes_nothing(a: Client, d: str) -> None:
    lst = new_list(a)
    answer = a.call("PUT", f"/v1/lists/{lst['id']}/contacts", raw=f"x@{d}", content_type="text/plain")
    assert answer.status in {400, 415, 422}, answer
    assert get_list(a, lst["id"])["contact_count"] == 0


@pytest.mark.parametrize(("raw", "ctype", "base64_body", "status", "code"), [
    (b"\x87\xff{", "application/json", True, 400, "invalid_encoding"),  # not UTF-8: API Gateway sends base64
    (b'{"name": "x"}', "multipart/form-data", False, 415, "unsupported_media_type"),  # no boundary
])
def test_a_body_powertools_cannot_read_is_a_4xx(api: Client, a: Client, raw: bytes, ctype: str,
                                                base64_body: bool, status: int, code: str) -> None:
    for path in ("/v1/lists", "/v1/accounts"):
        answer = a.call("POST", path, raw=raw, content_type=ctype, base64_body=base64_body)
        assert_error(answer.status, answer.body, status, code)
    # without a credential, an authenticated route says that first
    answer = api.call("POST", "/v1/lists", raw=raw, content_type=ctype, base64_body=base64_body)
    assert_error(answer.status, answer.body, 401, "unauthorized")


@pytest.mark.parametrize(("raw", "ctype"), [("{", "application/json"), ('{"name": 5}', "application/json"),
                                            ("", "application/json"), ("name=x", "application/x-www-form-urlencoded"),
                                            ("<x/>", "application/xml")])
def test_no_credential_is_401_before_the_body_is_judged(api: Client, raw: str, ctype: str) -> None:
    for key in (None, "bk_not-a-key"):
        answer = api.as_(key).call("POST", "/v1/lists", raw=raw, content_type=ctype)
        assert_error(answer.status, answer.body, 401)


@pytest.mark.parametrize("raw", [None, ""])
def test_sign_up_empty_body_says_so(api: Client, raw: str | None) -> None:
    answer = api.call("POST", "/v1/accounts", raw=raw, content_type="application/json")
    assert answer.status in {400, 422}, answer
    assert_error(answer.status, answer.body, answer.status, mentions="body")


# ---------------------------------------------------------------------------- authentication
def test_requests_without_a_valid_key_are_401(api: Client, tenant_a: Tenant) -> None:
    bad_headers = [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer bk_not-a-real-key",
        "Bearer " + tenant_a.key[:-1] + ("A" if tenant_a.key[-1] != "A" else "B"),
        "Bearer garbage!!\u00e9\u2603",
        "Bearer " + "x" * 100_000,
        "Bearer bk_" + "x" * 100_000,
        "Basic " + base64.b64encode(b"user:password").decode(),
        "Basic " + tenant_a.key,
        tenant_a.key,
        "Token " + tenant_a.key,
    ]
    for header in bad_headers:
        headers = {} if header is None else {"authorization": header}
        for method, path in (("GET", "/v1/lists"), ("POST", "/v1/lists"), ("GET", "/v1/account"),
                             ("GET", "/v1/campaigns")):
            answer = api.call(method, path, headers=headers,
                              json_body={"name": "sneaky"} if method == "POST" else None)
            assert_error(answer.status, answer.body, 401, "unauthorized")
    # nothing was created by any of them
    assert all(i["name"] != "sneaky" for i in tenant_a.client.get("/v1/lists")[1]["items"])


def test_the_401_message_names_the_problem(api: Client) -> None:
    err = assert_error(*api.get("/v1/lists"), 401, "unauthorized")
    assert "authorization" in err["message"].lower() or "api key" in err["message"].lower(), err
    err = assert_error(*api.as_("bk_nope").get("/v1/lists"), 401, "unauthorized", "key")


def test_bearer_scheme_is_case_insensitive(api: Client, tenant_a: Tenant) -> None:
    status, body = api.get("/v1/account", headers={"authorization": f"bearer {tenant_a.key}"})
    assert status == 200, body


# ---------------------------------------------------------------------------- lists
def test_lists_create_get_and_list_with_contact_count(a: Client) -> None:
    created = new_list(a, "  Customers  ")
    assert created["name"] == "Customers"
    assert created["contact_count"] == 0
    assert len(created["id"]) == 32
    assert get_list(a, created["id"]) == created
    status, body = a.get("/v1/lists")
    assert status == 200
    mine = [i for i in body["items"] if i["id"] == created["id"]]
    assert mine == [created]
    assert all("contact_count" in i for i in body["items"])


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_list_name_must_not_be_empty(a: Client, name: str) -> None:
    before = list_count(a)
    status, body = a.post("/v1/lists", {"name": name})
    assert_error(status, body, 422, mentions="name")
    assert list_count(a) == before


def test_list_body_validation(a: Client) -> None:
    before = list_count(a)
    assert_error(*a.post("/v1/lists", {"name": "x", "owner": "someone"}), 422, "validation_error", "owner")
    assert_error(*a.post("/v1/lists", {}), 422, "validation_error", "name")
    assert_error(*a.post("/v1/lists", {"name": 5}), 422, "validation_error", "name")
    answer = a.call("POST", "/v1/lists", raw="{nope", content_type="application/json")
    assert_error(answer.status, answer.body, 400, "malformed_json")
    assert list_count(a) == before


def test_unknown_list_is_404(a: Client) -> None:
    assert_error(*a.get("/v1/lists/" + "0" * 32), 404, "not_found", "list")


# ---------------------------------------------------------------------------- contacts: JSON
def test_put_contacts_creates_updates_and_skips_with_reasons(a: Client, d: str) -> None:
    D = d.upper()
    lst = new_list(a)
    path = f"/v1/lists/{lst['id']}/contacts"
    status, body = a.put(path, [
        {"email": f"Ann@{D}", "attributes": {"first_name": "Ann", "plan": "pro"}},
        {"email": f"bob@{d}"},
        {"email": "not an email", "attributes": {}},
        {"email": f"jos\u00e9@{d}"},
        {"email": f"carl@{d}", "nickname": "C"},
        {"email": f"ANN@{D}", "attributes": {"first_name": "Annie"}},
        {"email": f"dora@{d}", "attributes": {"card": "4111 1111 1111 1111"}},
        {"email": f"eve@{d}", "attributes": {"card_no": "4111-1111-1111-1111"}},
        {"email": f"fred@{d}", "attributes": {"order": "4111111111111112"}},
    ])
    assert status == 200, body
    assert body["created"] == 3 and body["updated"] == 0, body
    skipped = {s["index"]: s for s in body["skipped"]}
    assert set(skipped) == {2, 3, 4, 5, 6, 7}, body
    assert "email" in skipped[2]["reason"].lower()
    assert "ascii" in skipped[3]["reason"].lower()
    assert "nickname" in skipped[4]["reason"]
    assert "duplicate" in skipped[5]["reason"].lower()
    assert "card" in skipped[6]["reason"].lower()
    assert "card" in skipped[7]["reason"].lower()
    assert all(isinstance(s["reason"], str) and s["reason"] for s in body["skipped"])
    assert get_list(a, lst["id"])["contact_count"] == 3

    members = {m["email"]: m for m in all_members(a, lst["id"])}
    assert set(members) == {f"ann@{d}", f"bob@{d}", f"fred@{d}"}
    assert members[f"ann@{d}"]["attributes"] == {"first_name": "Ann", "plan": "pro"}
    assert members[f"ann@{d}"]["status"] == "subscribed"
    assert "4111" not in json.dumps(list(members.values())).replace("4111111111111112", "")

    # a second call updates (merging attributes) and does not count anyone twice
    status, body = a.put(path, [{"email": f"ann@{D}", "attributes": {"first_name": "Annie", "city": "Oslo"}},
                                {"email": f"gil@{d}"}])
    assert status == 200, body
    assert (body["created"], body["updated"], body["skipped"]) == (1, 1, [])
    assert get_list(a, lst["id"])["contact_count"] == 4
    members = {m["email"]: m for m in all_members(a, lst["id"])}
    assert members[f"ann@{d}"]["attributes"] == {"first_name": "Annie", "plan": "pro", "city": "Oslo"}


def test_put_contacts_more_than_1000_is_413_and_changes_nothing(a: Client, d: str) -> None:
    lst = new_list(a)
    entries = [{"email": f"p{i}@{d}"} for i in range(1001)]
    status, body = a.put(f"/v1/lists/{lst['id']}/contacts", entries)
    assert_error(status, body, 413, mentions="1000")
    assert get_list(a, lst["id"])["contact_count"] == 0
    assert all_members(a, lst["id"]) == []
    status, body = a.put(f"/v1/lists/{lst['id']}/contacts", entries[:1000])
    assert status == 200 and body["created"] == 1000, body
    assert get_list(a, lst["id"])["contact_count"] == 1000


@pytest.mark.parametrize("payload", [{"email": "x@example.com"}, "x@example.com", 5, None])
def test_put_contacts_body_must_be_an_array(a: Client, payload: Any) -> None:
    lst = new_list(a)
    answer = a.call("PUT", f"/v1/lists/{lst['id']}/contacts", raw=json.dumps(payload),
                    content_type="application/json")
    assert_error(answer.status, answer.body, 422)
    assert get_list(a, lst["id"])["contact_count"] == 0


def test_put_contacts_malformed_json_is_400(a: Client) -> None:
    lst = new_list(a)
    answer = a.call("PUT", f"/v1/lists/{lst['id']}/contacts", raw='[{"email": "x@example.com"',
                    content_type="application/json")
    assert_error(answer.status, answer.body, 400, "malformed_json")
    assert get_list(a, lst["id"])["contact_count"] == 0


def test_put_contacts_odd_entries_are_skipped_not_fatal(a: Client, d: str) -> None:
    lst = new_list(a)
    status, body = a.put(f"/v1/lists/{lst['id']}/contacts", [
        f"x@{d}", 7, None, {"email": 5}, {"attributes": {"a": 1}},
        {"email": f"ok@{d}", "attributes": {"bad name!": 1}},
        {"email": f"ok2@{d}", "attributes": {"nested": {"a": 1}}},
        {"email": f"ok3@{d}", "attributes": "not an object"},
        {"email": f"fine@{d}", "attributes": {"score": 3, "vip": True, "note": None}},
    ])
    assert status == 200, body
    assert body["created"] == 1 and body["updated"] == 0, body
    assert sorted(s["index"] for s in body["skipped"]) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert get_list(a, lst["id"])["contact_count"] == 1


# ---------------------------------------------------------------------------- contacts: CSV
def test_csv_import_survives_real_exports(a: Client, d: str) -> None:
    lst = new_list(a)
    csv_text = (
        "\ufeffFirst Name;EMAIL;City\r\n"
        f"Ann;ann@{d};Oslo\r\n"
        f'"Bob ""B"" Jones";bob@{d};"Line one\nline two"\r\n'
        "Bad;not-an-email;Rome\r\n"
        "\r\n"
        f"Carl;carl@{d};Bergen\r\n"
        f"Jos\u00e9;jos\u00e9@{d};Lima\r\n"
        f"Dup;ANN@{d};Paris\r\n"
    )
    answer = import_csv(a, lst["id"], csv_text.encode("utf-8"))
    assert answer.status == 200, answer.body
    body = answer.body
    assert body["created"] == 3 and body["updated"] == 0, body
    rows = {s["row"]: s for s in body["skipped"]}
    # rows are numbered as a spreadsheet shows them: header is row 1, the quoted newline spans 2 lines
    assert set(rows) == {5, 8, 9}, body
    assert "email" in rows[5]["reason"].lower()
    assert "ascii" in rows[8]["reason"].lower()
    assert "duplicate" in rows[9]["reason"].lower()
    assert get_list(a, lst["id"])["contact_count"] == 3
    members = {m["email"]: m for m in all_members(a, lst["id"])}
    assert set(members) == {f"ann@{d}", f"bob@{d}", f"carl@{d}"}
    assert members[f"bob@{d}"]["attributes"] == {"first_name": 'Bob "B" Jones', "city": "Line one\nline two"}
    assert members[f"ann@{d}"]["attributes"] == {"first_name": "Ann", "city": "Oslo"}


@pytest.mark.parametrize("header", ["email", "Email", "E-Mail", "EMAIL ADDRESS"])
def test_csv_import_email_header_any_case_and_delimiters(a: Client, header: str, d: str) -> None:
    lst = new_list(a)
    for delim in (",", ";", "\t"):
        data = f"name{delim}{header}\nZed{delim}zed{ord(delim)}@{d}\n"
        answer = import_csv(a, lst["id"], data)
        assert answer.status == 200, answer.body
        assert answer.body["created"] == 1 and answer.body["skipped"] == [], answer.body
    assert get_list(a, lst["id"])["contact_count"] == 3


def test_csv_import_base64_encoded_body(a: Client, d: str) -> None:
    lst = new_list(a)
    data = f"\ufeffEmail,Plan\nb64@{d},gold\n".encode()
    answer = import_csv(a, lst["id"], data, base64_body=True)
    assert answer.status == 200, answer.body
    assert answer.body["created"] == 1
    assert all_members(a, lst["id"])[0]["attributes"] == {"plan": "gold"}


def test_csv_import_latin1_base64_body(a: Client, d: str) -> None:
    lst = new_list(a)
    answer = import_csv(a, lst["id"], f"email;name\nlat@{d};Jos\u00e9\n".encode("latin-1"), base64_body=True)
    assert answer.status == 200, answer.body
    assert answer.body["created"] == 1
    assert all_members(a, lst["id"])[0]["attributes"] == {"name": "Jos\u00e9"}


def test_csv_import_card_number_column_is_refused_per_row(a: Client, d: str) -> None:
    lst = new_list(a)
    answer = import_csv(a, lst["id"], f"email,card\nc1@{d},4111 1111 1111 1111\nc2@{d},hello\n")
    assert answer.status == 200, answer.body
    assert answer.body["created"] == 1
    assert [s["row"] for s in answer.body["skipped"]] == [2]
    assert "card" in answer.body["skipped"][0]["reason"].lower()


def test_csv_import_without_an_email_column_is_422(a: Client) -> None:
    lst = new_list(a)
    answer = import_csv(a, lst["id"], "name,city\nAnn,Oslo\n")
    assert_error(answer.status, answer.body, 422, "invalid_csv", "email")
    assert get_list(a, lst["id"])["contact_count"] == 0


@pytest.mark.parametrize("data", ["", "\ufeff"])
def test_csv_import_empty_body_is_422(a: Client, data: str) -> None:
    lst = new_list(a)
    answer = import_csv(a, lst["id"], data)
    assert_error(answer.status, answer.body, 422, "invalid_csv")
    assert get_list(a, lst["id"])["contact_count"] == 0


def test_csv_import_binary_body_is_422(a: Client) -> None:
    lst = new_list(a)
    answer = import_csv(a, lst["id"], b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", base64_body=True)
    assert_error(answer.status, answer.body, 422, "invalid_csv")
    assert get_list(a, lst["id"])["contact_count"] == 0


def test_contact_count_after_json_and_csv_imports(a: Client, d: str) -> None:
    lst = new_list(a)
    a.put(f"/v1/lists/{lst['id']}/contacts", [{"email": f"m{i}@{d}"} for i in range(5)])
    answer = import_csv(a, lst["id"], "email\n" + "".join(f"m{i}@{d}\n" for i in range(3, 9)))
    assert answer.status == 200
    assert (answer.body["created"], answer.body["updated"]) == (4, 2)
    assert get_list(a, lst["id"])["contact_count"] == 9
    # the same person on a second list counts on both, once each
    other = new_list(a, "Other")
    answer = import_csv(a, other["id"], f"email\nm0@{d}\nm0@{d}\n")
    assert (answer.body["created"], answer.body["updated"]) == (0, 1)
    assert get_list(a, other["id"])["contact_count"] == 1
    assert get_list(a, lst["id"])["contact_count"] == 9
    member = all_members(a, other["id"])[0]
    assert set(member["list_ids"]) == {lst["id"], other["id"]}


# ---------------------------------------------------------------------------- contacts: paging
def test_paging_through_contacts_returns_everyone_once(a: Client, d: str) -> None:
    lst = new_list(a)
    emails = {f"page{i}@{d}" for i in range(7)}
    status, body = a.put(f"/v1/lists/{lst['id']}/contacts", [{"email": e} for e in sorted(emails)])
    assert status == 200 and body["created"] == 7
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            query["cursor"] = cursor
        status, page = a.get(f"/v1/lists/{lst['id']}/contacts", query=query)
        assert status == 200, page
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= 2
        pages += 1
        seen.extend(i["email"] for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
        assert pages < 10
    assert pages == 4
    assert sorted(seen) == sorted(emails)
    # exactly 2 per page fills the last page, and the cursor is still null there
    lst2 = new_list(a)
    a.put(f"/v1/lists/{lst2['id']}/contacts", [{"email": f"even{i}@{d}"} for i in range(4)])
    first = a.get(f"/v1/lists/{lst2['id']}/contacts", query={"limit": 2})[1]
    second = a.get(f"/v1/lists/{lst2['id']}/contacts", query={"limit": 2, "cursor": first["next_cursor"]})[1]
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    empty = a.get(f"/v1/lists/{new_list(a)['id']}/contacts")[1]
    assert empty == {"items": [], "next_cursor": None}


def test_tampered_cursor_is_400(a: Client, b: Client, d: str) -> None:
    lst = new_list(a)
    a.put(f"/v1/lists/{lst['id']}/contacts", [{"email": f"t{i}@{d}"} for i in range(3)])
    status, page = a.get(f"/v1/lists/{lst['id']}/contacts", query={"limit": 1})
    cursor = page["next_cursor"]
    decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    other_list = new_list(a)
    a.put(f"/v1/lists/{other_list['id']}/contacts", [{"email": f"o{i}@{d}"} for i in range(3)])
    # a cursor that points into another tenant's copy of the same list id
    assert decoded["pk"].endswith(f"#L#{lst['id']}")
    forged_pk = dict(decoded, pk="0" * 32 + decoded["pk"][32:])
    forged = base64.urlsafe_b64encode(json.dumps(forged_pk).encode()).decode().rstrip("=")
    for list_id, bad in ((lst["id"], "!!!not-base64!!!"), (lst["id"], cursor[:-3] + "xyz"), (lst["id"], "e30"),
                         (lst["id"], base64.urlsafe_b64encode(b"[1,2]").decode()), (lst["id"], forged),
                         (lst["id"], "A" * 2048), (other_list["id"], cursor)):
        status, body = a.get(f"/v1/lists/{list_id}/contacts", query={"limit": 1, "cursor": bad})
        assert_error(status, body, 400, mentions="cursor")
    assert len(all_members(a, lst["id"], limit=1)) == 3
    # a cursor from A's list does not open B's view onto it either (B gets 404 for the list)
    assert_error(*b.get(f"/v1/lists/{lst['id']}/contacts", query={"cursor": cursor}), 404)


@pytest.mark.parametrize("limit", ["0", "5000", "-1", "abc", "1001"])
def test_bad_limit_is_422(a: Client, limit: str) -> None:
    lst = new_list(a)
    status, body = a.get(f"/v1/lists/{lst['id']}/contacts", query={"limit": limit})
    assert_error(status, body, 422, "validation_error", "limit")


# ---------------------------------------------------------------------------- suppression
def test_reimport_does_not_resubscribe_an_unsubscribed_person(a: Client, tenant_a: Tenant, d: str) -> None:
    from beacon import wiring
    from beacon.audience import subscriptions
    from beacon.shared.ids import recipient_id
    from beacon.shared.tokens import UNSUBSCRIBE, TokenData

    lst = new_list(a)
    a.put(f"/v1/lists/{lst['id']}/contacts", [{"email": f"leaver@{d}", "attributes": {"first_name": "L"}},
                                               {"email": f"stayer@{d}"}])
    account_id = tenant_a.account["id"]
    campaign_id = new_campaign(a, [lst["id"]])["id"]
    data = TokenData(UNSUBSCRIBE, account_id, campaign_id, recipient_id(account_id, f"leaver@{d}"))
    assert subscriptions.unsubscribe(wiring.subscription_deps(), data, via="test") is True

    def statuses(list_id: str) -> dict[str, str]:
        return {m["email"]: m["status"] for m in all_members(a, list_id)}

    assert statuses(lst["id"]) == {f"leaver@{d}": "unsubscribed", f"stayer@{d}": "subscribed"}
    status, body = a.put(f"/v1/lists/{lst['id']}/contacts", [{"email": f"LEAVER@{d}"}])
    assert status == 200 and body["updated"] == 1
    answer = import_csv(a, lst["id"], f"email,first_name\nleaver@{d},Again\n")
    assert answer.status == 200
    other = new_list(a, "Fresh start")
    answer = import_csv(a, other["id"], f"email\nleaver@{d}\n")
    assert answer.status == 200
    assert statuses(lst["id"])[f"leaver@{d}"] == "unsubscribed"
    assert statuses(other["id"]) == {f"leaver@{d}": "unsubscribed"}


def test_import_of_a_suppressed_new_address_keeps_it_suppressed(a: Client, tenant_a: Tenant, d: str) -> None:
    from beacon.db.models import SuppressionItem
    from beacon.shared.clock import now_iso
    from beacon.shared.ids import recipient_id

    account_id = tenant_a.account["id"]
    for email, reason in ((f"complainer@{d}", "complaint"), (f"bouncer@{d}", "bounce"),
                          (f"gone@{d}", "unsubscribe")):
        SuppressionItem(pk=account_id, sk=recipient_id(account_id, email), email=email, reason=reason,
                        created_at=now_iso()).save()
    lst = new_list(a)
    answer = import_csv(a, lst["id"], f"Email\nComplainer@{d}\nbouncer@{d}\ngone@{d}\n"
                                      f"new@{d}\n")
    assert answer.status == 200 and answer.body["created"] == 4
    got = {m["email"]: m["status"] for m in all_members(a, lst["id"])}
    assert got == {f"complainer@{d}": "complained", f"bouncer@{d}": "bounced",
                   f"gone@{d}": "unsubscribed", f"new@{d}": "subscribed"}


# ---------------------------------------------------------------------------- campaigns
def test_campaign_create_is_a_draft(a: Client) -> None:
    lst = new_list(a)
    before = campaign_count(a)
    camp = new_campaign(a, [lst["id"]], from_email="News@Alpha.Example.com")
    assert camp["status"] == "draft"
    assert len(camp["id"]) == 32
    assert camp["list_ids"] == [lst["id"]]
    assert camp["from_email"] == "news@alpha.example.com"
    assert "https://alpha.example.com/offer" in camp["links"]
    status, got = a.get(f"/v1/campaigns/{camp['id']}")
    assert status == 200 and got == camp
    assert campaign_count(a) == before + 1


@pytest.mark.parametrize(("field", "source", "line"), [
    ("html", "<html>\n<body>\n<p>{{ contact.first_name }</p>\n</body>\n</html>", 3),
    # an unclosed block: the line where it opens
    ("html", "<p>one</p>\n<p>two</p>\n<p>three</p>\n<p>four</p>\n{% if contact.plan %}\nno end\n", 5),
    ("html", "{% for x in %}", 1),
    ("text", "Hi\n\n{{ contact. }}\n", 3),
    ("subject", "Hello {{ contact.first_name", 1),
])
def test_template_syntax_error_is_422_with_the_line(a: Client, field: str, source: str, line: int) -> None:
    lst = new_list(a)
    before = campaign_count(a)
    status, body = a.post("/v1/campaigns", campaign_body([lst["id"]], **{field: source}))
    err = assert_error(status, body, 422, "template_error", field)
    assert err["details"][0]["line"] == line, err
    assert err["details"][0]["field"] == field, err
    assert campaign_count(a) == before


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.environ }}",
    "{{ joiner.__init__.__globals__['os'].popen('id').read() }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ contact.__class__.__base__.__subclasses__() }}",
    "{% set x = namespace() %}{{ x.__class__ }}",
])
def test_sandbox_escapes_are_refused(a: Client, source: str) -> None:
    lst = new_list(a)
    before = campaign_count(a)
    status, body = a.post("/v1/campaigns", campaign_body([lst["id"]], html=f"<p>{source}</p>"))
    err = assert_error(status, body, 422)
    assert "AWS_SECRET" not in json.dumps(body) and "TOKEN_SECRET" not in json.dumps(body)
    assert err["code"] == "template_error", err
    assert "not allowed" in err["message"] or "unsafe" in err["message"].lower(), err
    assert campaign_count(a) == before


@pytest.mark.parametrize("field", ["subject", "from_name", "name", "reply_to"])
@pytest.mark.parametrize("evil", ["Hi\r\nBcc: victim@example.com", "Hi\nX-Evil: 1", "Hi\rthere"])
def test_cr_lf_in_header_fields_is_422_naming_the_field(a: Client, field: str, evil: str) -> None:
    lst = new_list(a)
    before = campaign_count(a)
    value = evil if field != "reply_to" else evil.replace("Hi", "reply@example.com")
    status, body = a.post("/v1/campaigns", campaign_body([lst["id"]], **{field: value}))
    assert_error(status, body, 422, mentions=field)
    assert campaign_count(a) == before


@pytest.mark.parametrize("from_email", ["nobody", "a@b", "x@@example.com", "ünï@example.com", "news@localhost"])
def test_invalid_from_email_is_422(a: Client, from_email: str) -> None:
    lst = new_list(a)
    before = campaign_count(a)
    status, body = a.post("/v1/campaigns", campaign_body([lst["id"]], from_email=from_email))
    assert_error(status, body, 422, mentions="from_email")
    assert campaign_count(a) == before


def test_unknown_list_id_is_422(a: Client, b: Client) -> None:
    lst = new_list(a)
    before = campaign_count(a)
    b_list = new_list(b, "B's own")
    for list_ids in (["0" * 32], [lst["id"], "f" * 32], [b_list["id"]], ["not-an-id"]):
        status, body = a.post("/v1/campaigns", campaign_body(list_ids))
        assert_error(status, body, 422, mentions="list")
    assert campaign_count(a) == before


def test_campaign_body_validation(a: Client) -> None:
    before = campaign_count(a)
    assert_error(*a.post("/v1/campaigns", campaign_body([], owner="x")), 422, "validation_error", "owner")
    body = campaign_body([])
    del body["html"]
    assert_error(*a.post("/v1/campaigns", body), 422, "validation_error", "html")
    assert_error(*a.post("/v1/campaigns", campaign_body([], subject="   ")), 422, mentions="subject")
    assert_error(*a.post("/v1/campaigns", campaign_body([], tracking={"opens": "maybe"})), 422,
                 "validation_error", "tracking")
    assert campaign_count(a) == before


def test_preview_renders_for_one_contact(a: Client, tenant_a: Tenant) -> None:
    lst = new_list(a)
    camp = new_campaign(a, [lst["id"]], html="<html><body><p>Hi {{ contact.first_name }} in {{ contact.city }}"
                                             "{{ contact.missing }}!</p><a href=\"https://alpha.example.com/x\">x</a>"
                                             "</body></html>")
    status, body = a.post(f"/v1/campaigns/{camp['id']}/preview",
                          {"contact": {"email": "Pat@Example.com", "attributes": {"first_name": "Pat",
                                                                                    "city": "<b>Oslo</b>"}}})
    assert status == 200, body
    assert set(body) == {"subject", "html", "text", "headers"}
    assert body["subject"] == "Hello Pat"
    assert "Hi Pat in &lt;b&gt;Oslo&lt;/b&gt;!" in body["html"]
    assert "<b>Oslo</b>" not in body["html"]
    assert "Hi Pat," in body["text"]
    headers = {k.lower(): v for k, v in body["headers"].items()}
    assert headers["list-unsubscribe"].startswith("<http://127.0.0.1:3000/u/")
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    assert "/u/" in body["html"] and "/u/" in body["text"]  # the footer link is appended
    assert "/o/" in body["html"]  # the open pixel
    assert "https://alpha.example.com/x" not in body["html"]  # the link is tracked
    # previewing sends nothing and leaves the draft a draft
    assert a.get(f"/v1/campaigns/{camp['id']}")[1]["status"] == "draft"


def test_preview_validation(a: Client) -> None:
    camp = new_campaign(a, [new_list(a)["id"]])
    path = f"/v1/campaigns/{camp['id']}/preview"
    assert_error(*a.post(path, {"contact": {"email": "nope"}}), 422, mentions="email")
    assert_error(*a.post(path, {}), 422, "validation_error", "contact")
    assert_error(*a.post(path, {"contact": {"email": "x@example.com", "attributes": {"c": "4111111111111111"}}}),
                 422, mentions="card")


def test_patch_a_draft(a: Client) -> None:
    lst = new_list(a)
    camp = new_campaign(a, [lst["id"]])
    status, body = a.patch(f"/v1/campaigns/{camp['id']}", {"subject": "New subject {{ contact.first_name }}",
                                                          "name": "Renamed"})
    assert status == 200, body
    assert body["subject"] == "New subject {{ contact.first_name }}" and body["name"] == "Renamed"
    assert body["html"] == camp["html"] and body["status"] == "draft"
    assert a.get(f"/v1/campaigns/{camp['id']}")[1] == body
    # a bad patch changes nothing
    assert_error(*a.patch(f"/v1/campaigns/{camp['id']}", {"html": "{% if %}"}), 422, "template_error")
    assert_error(*a.patch(f"/v1/campaigns/{camp['id']}", {"from_name": "A\r\nBcc: x@example.com"}), 422,
                 mentions="from_name")
    assert_error(*a.patch(f"/v1/campaigns/{camp['id']}", {"status": "sent"}), 422, "validation_error", "status")
    assert a.get(f"/v1/campaigns/{camp['id']}")[1] == body


def test_send_then_patch_send_delete_are_409(a: Client) -> None:
    lst = new_list(a)
    a.put(f"/v1/lists/{lst['id']}/contacts", [{"email": "r1@example.com"}, {"email": "r2@example.com"}])
    camp = new_campaign(a, [lst["id"]])
    path = f"/v1/campaigns/{camp['id']}"
    status, body = a.post(f"{path}/send", {})
    assert status == 202, body
    assert body["status"] == "sending"
    status, again = a.post(f"{path}/send")
    assert_error(status, again, 409, mentions="draft")
    assert_error(*a.patch(path, {"name": "Too late"}), 409, mentions="draft")
    status, delete = a.delete(path)
    assert_error(status, delete, 409, mentions="draft")
    got = a.get(path)[1]
    assert got["status"] == "sending" and got["name"] == camp["name"]


@pytest.mark.parametrize("raw", ["[null, null]", '"now"', "5", "[]"])
def test_send_with_a_body_that_is_not_an_object_is_422_and_stays_draft(a: Client, raw: str) -> None:
    lst = new_list(a)
    a.put(f"/v1/lists/{lst['id']}/contacts", [{"email": "r1@example.com"}])
    camp = new_campaign(a, [lst["id"]])
    answer = a.call("POST", f"/v1/campaigns/{camp['id']}/send", raw=raw, content_type="application/json")
    assert_error(answer.status, answer.body, 422, "validation_error", "object")
    assert a.get(f"/v1/campaigns/{camp['id']}")[1]["status"] == "draft"
    answer = a.call("POST", f"/v1/campaigns/{camp['id']}/send", raw="null", content_type="application/json")
    assert answer.status == 202, answer  # JSON null: no body, send now


def test_send_without_lists_is_422_and_stays_draft(a: Client) -> None:
    camp = new_campaign(a, [])
    assert_error(*a.post(f"/v1/campaigns/{camp['id']}/send"), 422, mentions="list")
    assert a.get(f"/v1/campaigns/{camp['id']}")[1]["status"] == "draft"


def test_stats_shape(a: Client) -> None:
    camp = new_campaign(a, [new_list(a)["id"]])
    status, stats = a.get(f"/v1/campaigns/{camp['id']}/stats")
    assert status == 200, stats
    assert set(stats) == STATS_KEYS
    assert set(stats["opens"]) == OPENS_KEYS
    assert set(stats["clicks"]) == CLICKS_KEYS
    assert stats["status"] == "draft"
    for key in STATS_KEYS - {"status", "opens", "clicks"}:
        assert stats[key] == 0, key
    assert all(stats["opens"][k] == 0 for k in OPENS_KEYS)
    assert all(stats["clicks"][k] == 0 for k in CLICKS_KEYS - {"links"})
    assert stats["clicks"]["links"] == [{"url": "https://alpha.example.com/offer", "total": 0, "unique": 0,
                                         "human_unique": 0, "machine": 0}]


def test_delete_a_draft(a: Client) -> None:
    camp = new_campaign(a, [new_list(a)["id"]])
    before = campaign_count(a)
    answer = a.call("DELETE", f"/v1/campaigns/{camp['id']}")
    assert answer.status == 204
    assert not answer.raw
    assert campaign_count(a) == before - 1
    assert_error(*a.get(f"/v1/campaigns/{camp['id']}"), 404, "not_found")
    assert_error(*a.delete(f"/v1/campaigns/{camp['id']}"), 404, "not_found")


# ---------------------------------------------------------------------------- tenant isolation
def test_tenant_b_cannot_see_or_touch_tenant_a(a: Client, b: Client) -> None:
    lst = new_list(a, "A secret list")
    a.put(f"/v1/lists/{lst['id']}/contacts", [{"email": "secret@example.com", "attributes": {"first_name": "S"}}])
    camp = new_campaign(a, [lst["id"]], name="A secret campaign")
    sent = new_campaign(a, [lst["id"]], name="A sent campaign")
    assert a.post(f"/v1/campaigns/{sent['id']}/send")[0] == 202
    cid, lid = camp["id"], lst["id"]

    attempts: list[tuple[str, str, Any]] = [
        ("GET", f"/v1/lists/{lid}", None),
        ("GET", f"/v1/lists/{lid}/contacts", None),
        ("PUT", f"/v1/lists/{lid}/contacts", [{"email": "intruder@example.com"}]),
        ("GET", f"/v1/campaigns/{cid}", None),
        ("GET", f"/v1/campaigns/{cid}/stats", None),
        ("GET", f"/v1/campaigns/{sent['id']}/stats", None),
        ("POST", f"/v1/campaigns/{cid}/preview", {"contact": {"email": "x@example.com"}}),
        ("POST", f"/v1/campaigns/{cid}/send", {}),
        ("POST", f"/v1/campaigns/{sent['id']}/send", {}),
        ("PATCH", f"/v1/campaigns/{cid}", {"name": "pwned"}),
        ("PATCH", f"/v1/campaigns/{sent['id']}", {"name": "pwned"}),
        ("DELETE", f"/v1/campaigns/{cid}", None),
        ("DELETE", f"/v1/campaigns/{sent['id']}", None),
    ]
    for method, path, payload in attempts:
        answer = b.call(method, path, json_body=payload)
        assert_error(answer.status, answer.body, 404, "not_found")
        assert "secret" not in answer.raw.lower()
    answer = import_csv(b, lid, "email\nintruder2@example.com\n")
    assert_error(answer.status, answer.body, 404, "not_found")
    # a campaign of B naming A's list is refused too (existence is not revealed: same as unknown)
    status, body = b.post("/v1/campaigns", campaign_body([lid]))
    assert_error(status, body, 422, mentions="list")

    # B's own views show nothing of A's
    b_lists = b.get("/v1/lists")[1]["items"]
    b_camps = b.get("/v1/campaigns")[1]["items"]
    assert lid not in {i["id"] for i in b_lists}
    assert not {cid, sent["id"]} & {i["id"] for i in b_camps}
    assert "secret" not in json.dumps([b_lists, b_camps]).lower()

    # and nothing of A's changed
    assert get_list(a, lid)["contact_count"] == 1
    assert [m["email"] for m in all_members(a, lid)] == ["secret@example.com"]
    got = a.get(f"/v1/campaigns/{cid}")[1]
    assert got["status"] == "draft" and got["name"] == "A secret campaign"
    assert a.get(f"/v1/campaigns/{sent['id']}")[1]["status"] == "sending"


@pytest.mark.parametrize("bad_id", ["zzzz", "../../etc/passwd", "0" * 31, "G" * 32, "A" * 32,
                                    "x" * 500,
                                    "%00", "' OR 1=1 --", "0" * 32 + "#L#x", "0" * 64])
def test_garbage_ids_are_404(a: Client, bad_id: str) -> None:
    from urllib.parse import quote

    seg = quote(bad_id, safe="")
    for method, path, payload in (
        ("GET", f"/v1/lists/{seg}", None),
        ("GET", f"/v1/lists/{seg}/contacts", None),
        ("PUT", f"/v1/lists/{seg}/contacts", [{"email": "x@example.com"}]),
        ("GET", f"/v1/campaigns/{seg}", None),
        ("GET", f"/v1/campaigns/{seg}/stats", None),
        ("PATCH", f"/v1/campaigns/{seg}", {"name": "x"}),
        ("DELETE", f"/v1/campaigns/{seg}", None),
        ("POST", f"/v1/campaigns/{seg}/send", {}),
        ("POST", f"/v1/campaigns/{seg}/preview", {"contact": {"email": "x@example.com"}}),
    ):
        answer = a.call(method, path, json_body=payload)
        assert_error(answer.status, answer.body, 404, "not_found")
    answer = import_csv(a, seg, "email\nx@example.com\n")
    assert_error(answer.status, answer.body, 404, "not_found")


def test_other_tenants_ids_and_unknown_ids_look_the_same(a: Client, b: Client) -> None:
    lst = new_list(a)
    camp = new_campaign(a, [lst["id"]])
    mine = b.get(f"/v1/campaigns/{camp['id']}")
    unknown = b.get(f"/v1/campaigns/{'0' * 32}")
    assert mine == unknown
    assert b.get(f"/v1/lists/{lst['id']}") == b.get(f"/v1/lists/{'0' * 32}")


# ---------------------------------------------------------------------------- documents and routing
def test_openapi_document(api: Client) -> None:
    status, doc = api.get("/v1/openapi.json")
    assert status == 200, doc
    assert doc["openapi"].startswith("3.1")
    assert "/v1/accounts" in doc["paths"]
    assert "/v1/campaigns" in doc["paths"]
    assert "post" in doc["paths"]["/v1/accounts"]


def test_swagger_ui(api: Client) -> None:
    answer = api.call("GET", "/v1/docs")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "swagger" in answer.raw.lower()


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nope"), ("GET", "/v1/lists/x/y/z"),
                                              ("GET", "/v2/lists"), ("DELETE", "/v1/lists/")])
def test_unknown_route_is_404(api: Client, a: Client, method: str, path: str) -> None:
    for client in (api, a):
        answer = client.call(method, path)
        assert_error(answer.status, answer.body, 404, "not_found")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("POST", "/v1/openapi.json", "GET"), ("PUT", "/v1/lists", "GET, POST"),
    ("POST", "/v1/lists/" + "a" * 32, "DELETE, GET, PATCH"), ("GET", "/v1/sessions", "POST"),
    # a literal path is not a value of the templated one beside it (/v1/segments/{segment_id})
    ("PATCH", "/v1/segments/count", "POST"), ("GET", "/v1/segments/count", "POST"),
    ("OPTIONS", "/v1/segments/count", "POST"),
])
def test_a_method_the_path_does_not_have_is_405_with_allow(api: Client, a: Client, method: str, path: str,
                                                           allow: str) -> None:
    for client in (api, a):  # RFC 9110: the path exists, so not 404; Allow lists what it takes
        answer = client.call(method, path)
        assert_error(answer.status, answer.body, 405, "method_not_allowed")
        assert answer.headers["allow"] == allow
