"""A hostile tenant's and a hostile network's requests, through the account handler over moto: each
gets a clear 4xx naming the problem and changes nothing (issue 12's list), and the pipeline fails
a template that only misbehaves for real recipients as `failed` with a `render: ...` reason."""

from __future__ import annotations

import email
import email.policy
import importlib.util
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from beacon import wiring
from beacon.campaigns import drafts
from beacon.campaigns.drafts import MAX_CONTENT_BYTES
from beacon.db.accounts import ListRepo
from beacon.db.campaigns import CampaignRepo
from beacon.shared.errors import Unprocessable
from beacon.web.json_body import MAX_DEPTH
from tests.integration import test_api
from tests.integration.pipeline_world import World, make_world
from tests.integration.test_api import Client, assert_error, campaign_body, campaign_count, new_campaign, new_list
from tests.integration.test_tracking import event as public_event

api = test_api.api
tenant_a, tenant_b, a, b = test_api.tenant_a, test_api.tenant_b, test_api.a, test_api.b
ROOT = Path(__file__).resolve().parents[2]
INJECTED = "https://example.com/x\r\nSet-Cookie: a=b"


def deep(n: int) -> str:
    return "[" * n + "]" * n


# ----------------------------------------------------------------------------- the door
@pytest.mark.parametrize("path", ["/v1/accounts", "/v1/sessions", "/v1/password-resets"])
def test_json_nested_a_thousand_deep_is_a_400_on_public_routes(api: Client, path: str) -> None:
    answer = api.call("POST", path, raw='{"company": ' + deep(1000) + "}", content_type="application/json")
    err = assert_error(answer.status, answer.body, 400, "too_deep", mentions=str(MAX_DEPTH))
    assert err["details"] == {"max_depth": MAX_DEPTH}


def test_json_nested_within_the_limit_is_only_a_validation_matter(api: Client) -> None:
    answer = api.call("POST", "/v1/accounts", raw='{"company": ' + deep(MAX_DEPTH - 1) + "}",
                      content_type="application/json")
    assert_error(answer.status, answer.body, 422)


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/lists"), ("PATCH", "/v1/account"),
                                              ("POST", "/v1/campaigns"), ("PUT", "/v1/lists/0123/contacts")])
@pytest.mark.parametrize("body", [deep(1000), "{not json", b'{"name": "caf\xe9"}', '{"name": "\\ud800"}'])
def test_without_a_caller_every_body_is_401_first(api: Client, method: str, path: str, body: str | bytes) -> None:
    for client in (api, api.as_("bk_not_a_key")):
        answer = client.call(method, path, raw=body, content_type="application/json",
                             base64_body=isinstance(body, bytes))
        assert_error(answer.status, answer.body, 401, "unauthorized")


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/accounts"), ("POST", "/v1/lists"),
                                              ("PATCH", "/v1/account"), ("POST", "/v1/campaigns")])
def test_a_body_that_is_not_utf8_is_a_400(api: Client, a: Client, method: str, path: str) -> None:
    client = api if path == "/v1/accounts" else a
    answer = client.call(method, path, raw=b'{"name": "caf\xe9", "company": "caf\xe9"}', base64_body=True,
                         content_type="application/json")
    assert_error(answer.status, answer.body, 400, "invalid_encoding", mentions="UTF-8")


def test_utf8_base64_bodies_still_work(a: Client) -> None:
    answer = a.call("POST", "/v1/lists", raw='{"name": "Café"}'.encode(), base64_body=True,
                    content_type="application/json")
    assert answer.status == 201 and answer.body["name"] == "Café"


@pytest.mark.parametrize("attributes", [{"first_name": "\ud800"}, {"\udfff": "x"}, {"a": ["ok", "\udc00"]}])
def test_a_lone_surrogate_is_refused_at_the_door_and_nothing_is_stored(a: Client,
                                                                       attributes: dict[str, Any]) -> None:
    lst = new_list(a, "Surrogates")
    raw = json.dumps([{"email": "lone@example.com", "attributes": attributes}])  # ensure_ascii: \ud800 escapes
    answer = a.call("PUT", f"/v1/lists/{lst['id']}/contacts", raw=raw, content_type="application/json")
    err = assert_error(answer.status, answer.body, 422, "invalid_text", mentions="surrogate")
    assert err["details"][0]["field"].startswith("[0].attributes")
    assert_error(*a.get("/v1/contacts/lone@example.com"), 404)
    preview = {"contact": {"email": "p@example.com", "attributes": attributes}}
    campaign = new_campaign(a, [lst["id"]])
    answer = a.call("POST", f"/v1/campaigns/{campaign['id']}/preview", raw=json.dumps(preview),
                    content_type="application/json")
    assert_error(answer.status, answer.body, 422, "invalid_text")


def test_a_surrogate_pair_is_one_character_and_welcome(a: Client) -> None:
    status, body = a.post("/v1/lists", json.loads('{"name": "smile \\ud83d\\ude00"}'))
    assert status == 201 and body["name"] == "smile \U0001f600"


@pytest.mark.parametrize("company", ["Acme\x00", "Acme\r\nBcc: x@evil.test", "A\u2028B", "A\x1bB", "A\x85B"])
def test_company_is_checked_alike_at_sign_up_and_patch(api: Client, a: Client, company: str) -> None:
    status, body = api.post("/v1/accounts", {"company": company, "email": f"c{time.time_ns()}@example.com",
                                             "password": "correct horse battery"})
    assert_error(status, body, 422, mentions="company")
    assert_error(*a.patch("/v1/account", {"company": company}), 422, mentions="company")
    assert a.get("/v1/account")[1]["company"] != company


# ----------------------------------------------------------------------------- campaign content
def test_content_over_what_one_item_holds_is_a_413_with_the_true_limit(a: Client) -> None:
    lst = new_list(a, "Big")
    before = campaign_count(a)
    html = "<p>" + "é" * (MAX_CONTENT_BYTES // 2) + "</p>"  # under the limit in characters, over it in bytes
    status, body = a.post("/v1/campaigns", campaign_body([lst["id"]], html=html, text="x"))
    err = assert_error(status, body, 413, "content_too_large", mentions=f"{MAX_CONTENT_BYTES:,}")
    assert err["details"]["limit_bytes"] == MAX_CONTENT_BYTES
    too_long = "y" * (MAX_CONTENT_BYTES + 1)
    status, body = a.post("/v1/campaigns", campaign_body([lst["id"]], html="<p>x</p>", text=too_long))
    assert_error(status, body, 422, mentions="text")  # one field alone over the limit: its own check
    created = new_campaign(a, [lst["id"]])
    assert_error(*a.patch(f"/v1/campaigns/{created['id']}", {"html": html}), 413, "content_too_large")
    assert campaign_count(a) == before + 1
    # what fits is stored and read back whole
    fits = "<p>" + "a" * (MAX_CONTENT_BYTES - 2000) + "</p>"
    status, body = a.patch(f"/v1/campaigns/{created['id']}", {"html": fits})
    assert status == 200 and a.get(f"/v1/campaigns/{created['id']}")[1]["html"] == fits


def test_the_openapi_document_advertises_the_true_limit(api: Client) -> None:
    schema = api.get("/v1/openapi.json")[1]
    fields = schema["components"]["schemas"]["CampaignIn"]["properties"]
    assert fields["html"]["maxLength"] == MAX_CONTENT_BYTES and fields["text"]["maxLength"] == MAX_CONTENT_BYTES


def test_a_template_that_runs_too_long_is_refused_at_save_quickly(a: Client) -> None:
    lst = new_list(a, "Loops")
    before = campaign_count(a)
    html = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    status, body = a.post("/v1/campaigns", campaign_body([lst["id"]], html=html))
    err = assert_error(status, body, 422, "template_error", mentions="longer than")
    assert err["details"][0]["field"] == "html"
    huge = "{{ 'ab'|replace('a', 'x' * 99999)|replace('x', 'y' * 99999) }}"
    assert_error(*a.post("/v1/campaigns", campaign_body([lst["id"]], html=huge)), 422, "template_error")
    assert campaign_count(a) == before


# ----------------------------------------------------------------------------- links and the redirect
@pytest.mark.parametrize("href", ["https://example.com/x&#13;&#10;Set-Cookie: a=b", "https://example.com/\x00",
                                  "https://example.com/a\tb", "https://example.com/a\x85b"])
def test_a_link_with_a_control_character_is_refused_at_save_naming_it(a: Client, href: str) -> None:
    lst = new_list(a, "Links")
    before = campaign_count(a)
    html = f'<p><a href="{href}">x</a></p>'
    status, body = a.post("/v1/campaigns", campaign_body([lst["id"]], html=html))
    err = assert_error(status, body, 422, "unsafe_link", mentions="control character")
    assert err["details"][0]["link"].startswith("https://example.com/")
    assert campaign_count(a) == before


def load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"fn_{name}_hostile", ROOT / f"functions/{name}/handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


@pytest.fixture
def world(clean_aws: object) -> World:
    return make_world()


def test_a_contact_value_with_cr_lf_in_a_link_is_tracked_percent_encoded(world: World) -> None:
    html = '<html><body><a href="https://shop.example.com/p?n={{ contact.first_name }}">Shop</a></body></html>'
    list_id = world.new_list([])
    from beacon.audience import contacts
    from beacon.db.contacts import ContactRepo
    from beacon.db.suppressions import SuppressionRepo

    contacts.upsert_json(ContactRepo(), ListRepo(), SuppressionRepo(), world.account_id, list_id,
                         [{"email": "eve@example.com", "attributes": {"first_name": "x\r\nSet-Cookie: a=b"}}])
    world.campaign([list_id], html=html)
    world.run_all()
    (sent,) = world.ses.sent
    message = email.message_from_bytes(sent.raw, policy=email.policy.default)
    html_part = message.get_body(("html",))  # type: ignore[attr-defined]
    token = re.findall(r"/c/([A-Za-z0-9_-]+)", html_part.get_content())[0]  # the shop link (the honeypot is last)
    data = wiring.signer().verify(token, b"c")
    assert data.url == "https://shop.example.com/p?n=x%0ASet-Cookie: a=b"  # (compose makes CR LF a LF)
    answer = load("track_click")(public_event(token), None)
    assert answer["statusCode"] == 302
    assert "\r" not in answer["headers"]["location"] and "\n" not in answer["headers"]["location"]
    assert set(answer["headers"]) == {"location", "cache-control"}


@pytest.mark.parametrize("url", [INJECTED, "https://example.com/\x00", "https://example.com/\x85",
                                 "https://example.com/\u2028"])
def test_the_redirect_refuses_any_location_with_a_control_character(clean_aws: object, url: str) -> None:
    """A token minted before links were checked (or by anyone holding the secret) still redirects nowhere."""
    wiring.reset()
    token = wiring.signer().click_token("a1" * 16, "c2" * 16, "e3" * 16, int(time.time()), 0, url)
    answer = load("track_click")(public_event(token), None)
    assert answer["statusCode"] == 404 and "location" not in {k.lower() for k in answer["headers"]}


def test_a_template_that_misbehaves_only_for_real_recipients_fails_them_as_render(world: World) -> None:
    html = ("<p>Hi</p>{% if contact.email != 'preview@example.com' %}{% for i in range(100000) %}"
            "{% for j in range(25000) %}{% endfor %}{% endfor %}{% endif %}")
    campaign = world.campaign([world.new_list([f"r{i}@example.com" for i in range(3)])], html=html)
    world.run_all()
    assert world.ses.sent == []
    stats = world.stats(campaign)
    assert (stats["status"], stats["sent"], stats["failed"]) == ("sent", 0, 3)
    item = wiring.ledger().get(world.account_id, campaign, _rid(world, "r0@example.com"))
    assert item is not None and item["status"] == "failed"
    assert str(item["error"]).startswith("render: html") and "longer than" in str(item["error"])


def _rid(world: World, email: str) -> str:
    from beacon.shared.ids import recipient_id

    return recipient_id(world.account_id, email)


def test_a_save_time_check_cannot_be_skipped_by_the_domain_layer(world: World) -> None:
    """drafts.create refuses an unsafe link too (not only the HTTP route)."""
    with pytest.raises(Unprocessable) as err:
        drafts.create(CampaignRepo(), ListRepo(), wiring.signer(), world.account_id, "Acme",
                      {"name": "n", "subject": "s", "from_email": f"news@{world.sender_domain}",
                       "html": '<a href="https://e.com/&#10;x">x</a>', "text": ""},
                      "https://t.example.com", senders=wiring.sender_check())
    assert err.value.code == "unsafe_link"
