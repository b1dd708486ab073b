"""What the web console needs from the /v1 API, through the account handler over moto: the session in
an HttpOnly cookie with a CSRF token on changes, sign-out, and the campaign timeline adding up to the
stats after real opens and clicks through the tracking handlers."""

from __future__ import annotations

import email
import email.policy
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from beacon import wiring
from beacon.accounts import access as accounts
from beacon.campaigns import drafts as campaigns
from beacon.campaigns import timeline
from beacon.db.accounts import AccountRepo, ListRepo
from beacon.db.campaigns import CampaignRepo
from beacon.shared.clock import epoch
from beacon.tracking import opens_and_clicks as tracking
from beacon.web.session_cookie import COOKIE
from tests import contract
from tests.integration.ledger_stream import roll_up
from tests.integration.pipeline_world import World, make_world
from tests.integration.test_api import PASSWORD, FakeLambdaContext, _load_handler, assert_error, build_event
from tests.integration.test_tracking import BROWSER, load

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
PEOPLE_AT = 50 * 60  # seconds after the send: people open and click (within the timeline's clock slack of now)


class Browser:
    """Calls the account handler as the console does: a cookie, and X-CSRF-Token when it has one."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.cookie: str | None = None
        self.csrf: str | None = None

    def call(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
             cookie: str | None = None, csrf: bool = True, query: dict[str, str] | None = None
             ) -> tuple[int, Any, dict[str, Any]]:
        hdrs = {"content-type": "application/json"} if body is not None else {}
        if csrf and self.csrf:
            hdrs["x-csrf-token"] = self.csrf
        hdrs.update(headers or {})
        event = build_event(method, path, body=json.dumps(body) if body is not None else None, headers=hdrs,
                            query=query)
        jar = cookie if cookie is not None else self.cookie
        if jar:
            event["cookies"] = ["theme=dark", f"{COOKIE}={jar}"]
        result = self.handler(event, FakeLambdaContext())
        for raw in result.get("cookies") or []:
            name, _, rest = raw.partition("=")
            if name == COOKIE:
                self.cookie = rest.split(";", 1)[0] or None
        text = result.get("body") or ""
        # the console's answers are held to the OpenAPI document too (the cookie and CSRF schemes, the timeline)
        contract.in_process().check(method, path, result["statusCode"],
                                    {k.lower(): v for k, v in (result.get("headers") or {}).items()}, text)
        return result["statusCode"], json.loads(text) if text else None, result


@pytest.fixture(scope="module")
def handler(aws: Any) -> Iterator[Any]:
    wiring.reset()
    aws.clean()
    yield _load_handler().handler
    wiring.reset()


@pytest.fixture
def owner(handler: Any) -> tuple[Browser, str, str]:
    """A signed-up account (its API key) and a browser signed in to it."""
    address = f"owner-{uuid.uuid4().hex[:10]}@example.com"
    browser = Browser(handler)
    status, body, _ = browser.call("POST", "/v1/accounts", {"company": "Acme", "email": address, "password": PASSWORD})
    assert status == 201, body
    status, body, _ = browser.call("POST", "/v1/sessions", {"email": address, "password": PASSWORD, "cookie": True})
    assert status == 201, body
    browser.csrf = body["csrf_token"]
    return browser, body["csrf_token"], address


def test_signing_in_for_the_console_sets_an_httponly_cookie_and_hides_the_token(handler: Any) -> None:
    address = f"owner-{uuid.uuid4().hex[:10]}@example.com"
    browser = Browser(handler)
    browser.call("POST", "/v1/accounts", {"company": "Acme", "email": address, "password": PASSWORD})
    status, body, result = browser.call("POST", "/v1/sessions", {"email": address, "password": PASSWORD,
                                                                 "cookie": True})
    assert status == 201 and set(body) == {"expires_at", "csrf_token"}, body
    (issued,) = result["cookies"]
    assert issued.startswith(f"{COOKIE}=bs_") and browser.cookie and browser.cookie not in json.dumps(body)
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert attribute in issued
    assert result["headers"]["Cache-Control"] == "no-store"
    status, me, _ = browser.call("GET", "/v1/session")
    assert status == 200 and me["via"] == "cookie" and me["csrf_token"] == body["csrf_token"]
    assert me["account"]["email"] == address


def test_a_change_without_the_csrf_token_is_403_and_changes_nothing(owner: tuple[Browser, str, str]) -> None:
    browser, csrf, _ = owner
    for headers in ({}, {"x-csrf-token": "forged"}, {"x-csrf-token": csrf[:-2] + "AA"}):
        status, body, _ = browser.call("POST", "/v1/lists", {"name": "Sneaky"}, headers=headers, csrf=False)
        assert_error(status, body, 403, "csrf_failed")
    status, lists, _ = browser.call("GET", "/v1/lists")
    assert status == 200 and lists["items"] == []
    status, created, _ = browser.call("POST", "/v1/lists", {"name": "Customers"})
    assert status == 201 and created["name"] == "Customers"
    status, body, _ = browser.call("DELETE", f"/v1/lists/{created['id']}", csrf=False)
    assert_error(status, body, 403, "csrf_failed")
    assert browser.call("GET", f"/v1/lists/{created['id']}")[0] == 200


def test_an_api_key_is_never_taken_from_a_cookie(handler: Any) -> None:
    browser = Browser(handler)
    address = f"owner-{uuid.uuid4().hex[:10]}@example.com"
    status, body, _ = browser.call("POST", "/v1/accounts", {"company": "Acme", "email": address, "password": PASSWORD})
    key = body["api_key"]
    for value in (key, "garbage", "bs_" + "x" * 43):
        status, body, _ = browser.call("GET", "/v1/account", cookie=value)
        assert_error(status, body, 401)
    status, body, _ = browser.call("GET", "/v1/account", headers={"authorization": f"Bearer {key}"})
    assert status == 200 and body["email"] == address


def test_the_authorization_header_wins_over_the_cookie(owner: tuple[Browser, str, str], handler: Any) -> None:
    browser, _csrf, _ = owner
    other = Browser(handler)
    _, signup, _ = other.call("POST", "/v1/accounts", {"company": "Other", "email": f"o-{uuid.uuid4().hex[:8]}@x.com",
                                                      "password": PASSWORD})
    status, me, _ = browser.call("GET", "/v1/session", headers={"authorization": f"Bearer {signup['api_key']}"})
    assert status == 200 and me["via"] == "api_key" and "csrf_token" not in me
    assert me["account"]["company"] == "Other"
    # with a bearer credential no CSRF token is needed: a browser cannot be made to send the header
    status, _, _ = browser.call("POST", "/v1/lists", {"name": "Other's"}, csrf=False,
                                headers={"authorization": f"Bearer {signup['api_key']}"})
    assert status == 201


def test_sign_out_ends_the_session_and_clears_the_cookie(owner: tuple[Browser, str, str]) -> None:
    browser, _csrf, _ = owner
    token = browser.cookie
    status, body, _ = browser.call("DELETE", "/v1/session", csrf=False)
    assert_error(status, body, 403, "csrf_failed")
    status, body, result = browser.call("DELETE", "/v1/session")
    assert status == 204 and body is None
    assert any(c.startswith(f"{COOKIE}=;") and "Max-Age=0" in c for c in result["cookies"])
    status, body, _ = browser.call("GET", "/v1/session", cookie=token)
    assert_error(status, body, 401)
    status, body, _ = browser.call("GET", "/v1/lists", headers={"authorization": f"Bearer {token}"})
    assert_error(status, body, 401)


def test_a_bearer_session_signs_out_and_an_api_key_is_no_session(handler: Any) -> None:
    client = Browser(handler)
    address = f"owner-{uuid.uuid4().hex[:10]}@example.com"
    _, signup, _ = client.call("POST", "/v1/accounts", {"company": "Acme", "email": address, "password": PASSWORD})
    _, session, result = client.call("POST", "/v1/sessions", {"email": address, "password": PASSWORD})
    assert "token" in session and not result.get("cookies")
    bearer = {"authorization": f"Bearer {session['token']}"}
    status, me, _ = client.call("GET", "/v1/session", headers=bearer)
    assert status == 200 and me["via"] == "session" and "csrf_token" not in me
    assert client.call("DELETE", "/v1/session", headers=bearer)[0] == 204
    assert client.call("GET", "/v1/session", headers=bearer)[0] == 401
    status, body, _ = client.call("DELETE", "/v1/session", headers={"authorization": f"Bearer {signup['api_key']}"})
    assert_error(status, body, 400, "not_a_session")
    assert client.call("GET", "/v1/account", headers={"authorization": f"Bearer {signup['api_key']}"})[0] == 200


def test_signing_in_again_replaces_the_browsers_previous_session(owner: tuple[Browser, str, str]) -> None:
    browser, _csrf, address = owner
    first = browser.cookie
    status, _, _ = browser.call("POST", "/v1/sessions", {"email": address, "password": PASSWORD, "cookie": True})
    assert status == 201 and browser.cookie != first
    assert browser.call("GET", "/v1/session", cookie=first)[0] == 401
    assert browser.call("GET", "/v1/session")[0] == 200


@pytest.mark.parametrize("content_type", ["", "text/plain", "text/plain;charset=UTF-8"])
def test_a_console_sign_in_needs_a_json_content_type(owner: tuple[Browser, str, str], content_type: str) -> None:
    """What another site's page can send without a preflight signs nobody in (no login CSRF)."""
    browser, _csrf, address = owner
    before = browser.cookie
    body = json.dumps({"email": address, "password": PASSWORD, "cookie": True})
    event = build_event("POST", "/v1/sessions", body=body, headers={"content-type": content_type})
    if not content_type:
        event["headers"].pop("content-type")
    result = browser.handler(event, FakeLambdaContext())
    assert result["statusCode"] == 415 and not result.get("cookies"), result
    assert browser.cookie == before


@pytest.mark.parametrize("payload", [{"email": "a@b.co", "password": "x", "cookie": "yes"},
                                     {"email": "a@b.co", "password": "x", "cookie": None},
                                     {"email": "a@b.co", "password": "x", "cookie": True, "extra": 1}])
def test_a_bad_cookie_flag_is_422(handler: Any, payload: dict[str, Any]) -> None:
    status, body, result = Browser(handler).call("POST", "/v1/sessions", payload)
    assert_error(status, body, 422)
    assert not result.get("cookies")


# ------------------------------------------------------------------ the timeline over real tracking
@pytest.fixture
def engaged(clean_aws: object, monkeypatch: pytest.MonkeyPatch) -> tuple[World, str]:
    """A sent campaign; people and machines open and click it over the next hours."""
    world = make_world()
    campaign = world.campaign([world.new_list([f"p{i}@example.com" for i in range(6)])])
    world.run_all()
    tokens = []
    for sent in world.ses.sent:
        raw = re.sub(r"=\r?\n", "", sent.raw.decode())
        html = email.message_from_bytes(sent.raw, policy=email.policy.default).get_body(("html",)).get_content()  # type: ignore[union-attr]
        tokens.append((re.search(r"/o/([A-Za-z0-9_-]+)", raw).group(1),  # type: ignore[union-attr]
                       re.findall(r"/c/([A-Za-z0-9_-]+)", html)[0]))
    opened, clicked = load("track_open"), load("track_click")
    start = epoch()

    def at(seconds: int) -> None:
        monkeypatch.setattr(tracking, "epoch", lambda: start + seconds)

    def request(token: str, ua: str, ip: str = "198.51.100.7") -> dict[str, Any]:
        return {"version": "2.0", "pathParameters": {"token": token}, "headers": {"user-agent": ua},
                "requestContext": {"http": {"method": "GET", "sourceIp": ip, "path": "/x"}}}

    at(20)  # a scanner clicks everything right after delivery
    clicked(request(tokens[0][1], "Mozilla/5.0 (compatible; Proofpoint URL Defense)"), None)
    at(40)  # Apple's proxy fetches two pixels
    for pixel, _ in tokens[1:3]:
        opened(request(pixel, "Mozilla/5.0", ip="17.58.1.2"), None)
    at(PEOPLE_AT)  # later people read and click
    for pixel, link in tokens[3:6]:
        opened(request(pixel, BROWSER), None)
        clicked(request(link, BROWSER), None)
    roll_up()  # the ledger's stream into the stats roll-up (the timeline reads it), as StatsRollupFunction does
    return world, campaign


def test_the_timeline_adds_up_to_the_stats(engaged: tuple[World, str]) -> None:
    world, campaign = engaged
    stats = world.stats(campaign)
    item = campaigns.require(CampaignRepo(), world.account_id, campaign, consistent=True)
    answer = timeline.for_campaign(item, wiring.rollup_store(), epoch() + PEOPLE_AT + 60)  # world.stats rolled up
    sums = {k: sum(p[k] for p in answer["points"]) + answer["untimed"][k]
            for k in ("human_opens", "machine_opens", "human_clicks", "machine_clicks")}
    assert stats["opens"]["human_unique"] == sums["human_opens"] == 3
    assert stats["opens"]["machine"] == sums["machine_opens"] == 2
    assert stats["clicks"]["total"] - stats["clicks"]["machine"] == sums["human_clicks"] == 3
    assert stats["clicks"]["machine"] == sums["machine_clicks"] == 1
    assert not any(answer["untimed"].values())
    assert answer["bucket_seconds"] == 60 and answer["status"] == "sent"
    origin = timeline.parse_time(answer["from"]) or 0
    first_minutes = [p for p in answer["points"] if (timeline.parse_time(p["at"]) or 0) < origin + 600]
    assert sum(p["machine_opens"] + p["machine_clicks"] for p in first_minutes) == 3
    assert sum(p["human_opens"] + p["human_clicks"] for p in first_minutes) == 0


def test_the_timeline_route(engaged: tuple[World, str], owner: tuple[Browser, str, str]) -> None:
    world, campaign = engaged
    browser, _csrf, _ = owner
    key = {"authorization": f"Bearer {accounts.create_key(AccountRepo(), world.account_id, 'chart')['key']}"}
    path = f"/v1/campaigns/{campaign}/timeline"
    status, body, _ = browser.call("GET", path, headers=key)
    assert status == 200 and body["campaign_id"] == campaign and body["points"], body
    assert sum(p["human_opens"] for p in body["points"]) == 3
    status, body, _ = browser.call("GET", path, headers=key, query={"bucket_seconds": "3600"})
    assert status == 200 and body["bucket_seconds"] == 3600 and len(body["points"]) <= 2
    for bad in ("7", "abc", "-60", "99999999999", "", "60.5"):
        status, body, _ = browser.call("GET", path, headers=key, query={"bucket_seconds": bad})
        assert_error(status, body, 422, mentions="bucket_seconds")
    status, body, _ = browser.call("GET", path)  # another tenant's campaign: not found
    assert_error(status, body, 404)


def test_a_draft_has_an_empty_timeline(engaged: tuple[World, str]) -> None:
    world, _campaign = engaged
    view = campaigns.create(CampaignRepo(), ListRepo(), wiring.signer(), world.account_id, "Acme",
                            {"name": "Later", "subject": "Hi", "from_email": f"news@{world.sender_domain}",
                             "list_ids": world.lists, "html": "<p>Hi</p>", "text": "Hi"}, "https://t.example.com",
                            senders=wiring.sender_check())
    item = campaigns.require(CampaignRepo(), world.account_id, view["id"])
    answer = timeline.for_campaign(item, wiring.rollup_store(), int(time.time()))
    assert answer["points"] == [] and answer["status"] == "draft"
