"""Audience growth with consent over HTTP: `beacon dev` in a subprocess serves the hosted form and
the confirm page, runs the signup function from its queue and writes the confirmation email to
the outbox; the person confirms with a POST and the next campaign reaches them."""

from __future__ import annotations

import email
import re
import secrets
import time
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from beacon_local.client import BROWSER_UA, Client

pytestmark = pytest.mark.e2e

FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": BROWSER_UA}


def eml_to(stack: Any, address: str, subject_start: str, timeout: float = 30.0) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(stack.outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if str(message["To"]) == address and str(message["Subject"]).startswith(subject_start):
                assert isinstance(message, EmailMessage)
                return message
        time.sleep(0.2)
    raise AssertionError(f"no email {subject_start!r} to {address} in {timeout} s:\n{stack.output()}")


@pytest.fixture(scope="module")
def tenant(dev_stack_factory: Callable[..., Any]) -> tuple[Any, Client, dict[str, Any], str]:
    stack = dev_stack_factory()
    api = Client(stack.base_url)
    run = secrets.token_hex(4)
    signup = api.expect(201, "POST", "/v1/accounts", json_body={
        "company": "Form Co", "email": f"owner-{run}@forms.example.com", "password": "correct horse battery",
        "postal_address": "Form Co\n1 Signup Street\nSpringfield 12345"})
    api.token = signup["api_key"]
    domain = f"f{run}.beacon.test"
    api.expect(201, "POST", "/v1/domains", json_body={"domain": domain})
    lst = api.expect(201, "POST", "/v1/lists", json_body={"name": "Newsletter"})
    form = api.expect(201, "POST", "/v1/forms", json_body={
        "name": "Newsletter signup", "list_ids": [lst["id"]], "from_email": f"hello@{domain}",
        "fields": [{"name": "first_name", "label": "First name", "required": True}],
        "consent_text": "I want the Form Co newsletter; I can unsubscribe at any time."})
    return stack, api, {"form": form, "list": lst, "domain": domain}, run


def test_sign_up_on_the_hosted_page_confirm_and_get_the_next_campaign(
        tenant: tuple[Any, Client, dict[str, Any], str]) -> None:
    stack, api, things, run = tenant
    form, lst = things["form"], things["list"]
    assert form["url"] == f"{stack.base_url}/forms/{form['id']}"
    page = api.get(form["url"], auth=False, headers={"User-Agent": BROWSER_UA})
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert ">Email</label>" in page.text and "Subscribe</button>" in page.text and "Form Co newsletter" in page.text
    head = api.request("HEAD", form["url"], auth=False, headers={"User-Agent": BROWSER_UA})
    assert head.status == 200 and head.body == b"" and head.headers["Content-Type"] == page.headers["Content-Type"]
    version = re.search(r'name="consent_version" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
    person = f"reader-{run}@example.com"
    answer = api.post(form["url"], auth=False, headers=FORM_TYPE, data=urlencode(
        {"email": person, "first_name": "Rea", "homepage": "", "consent_version": version}).encode())
    assert answer.status == 200 and "check your inbox" in answer.text.lower()
    message = eml_to(stack, person, "Confirm your subscription")
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "1 Signup Street" in text and "Not you" in text and message["List-Unsubscribe"] is None
    link = re.search(r"(http://127\.0\.0\.1:\d+/confirm/[A-Za-z0-9_-]+)", text).group(1)  # type: ignore[union-attr]
    detail = api.expect(200, "GET", f"/v1/contacts/{quote(person)}")
    assert detail["status"] == "pending"
    assert api.expect(200, "GET", f"/v1/lists/{lst['id']}")["pending_count"] == 1
    shown = api.get(link, auth=False, headers={"User-Agent": BROWSER_UA})
    assert shown.status == 200 and ">Confirm</button>" in shown.text
    head = api.request("HEAD", link, auth=False, headers={"User-Agent": "Mozilla/5.0 (compatible; LinkChecker)"})
    assert head.status == 200 and head.body == b"" and head.headers["Content-Type"].startswith("text/html")
    assert api.get(link, auth=False, headers={"User-Agent": "Mozilla/5.0 (compatible; SafeLinks)"}).status == 200
    assert api.expect(200, "GET", f"/v1/contacts/{quote(person)}")["status"] == "pending"
    done = api.post(link, auth=False, headers=FORM_TYPE, data=b"")
    assert done.status == 200 and "You are subscribed" in done.text
    detail = api.expect(200, "GET", f"/v1/contacts/{quote(person)}")
    assert detail["status"] == "subscribed" and detail["attributes"] == {"first_name": "Rea"}
    (record,) = detail["consent"]["signups"]
    assert record["consent_text"] == "I want the Form Co newsletter; I can unsubscribe at any time."
    assert record["submitted_from"]["network"] == "127.0.0.0/24" and record["confirmed_at"]
    exported = api.expect(200, "GET", f"/v1/contacts/{quote(person)}/export")
    assert exported["consent"]["signups"][0]["status"] == "confirmed"
    campaign = api.expect(201, "POST", "/v1/campaigns", json_body={
        "name": "Welcome", "subject": "Welcome {{ contact.first_name }}", "from_email": f"news@{things['domain']}",
        "list_ids": [lst["id"]], "html": "<p>Hello {{ contact.first_name }}</p>", "text": "Hello"})
    api.expect(202, "POST", f"/v1/campaigns/{campaign['id']}/send", json_body={})
    news = eml_to(stack, person, "Welcome Rea", timeout=60)
    assert news["List-Id"] == f"<{lst['id']}.{things['domain']}>"
    assert "1 Signup Street" in news.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_json_signups_with_cors_answer_the_same_for_everyone(tenant: tuple[Any, Client, dict[str, Any], str]) -> None:
    stack, api, things, run = tenant
    url = things["form"]["url"]
    preflight = api.request("OPTIONS", url, auth=False, headers={
        "Origin": "https://shop.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    answers = []
    for address in (f"json-{run}@example.com", f"json-{run}@example.com", f"reader-{run}@example.com"):
        reply = api.post(url, {"email": address, "first_name": "J"}, auth=False,
                         headers={"Origin": "https://shop.example.org"})
        answers.append((reply.status, reply.body, reply.headers["Access-Control-Allow-Origin"]))
    assert answers[0][0] == 200 and len(set(answers)) == 1
    bot = api.post(url, {"email": f"bot-{run}@example.com", "first_name": "B", "homepage": "http://x"}, auth=False)
    assert (bot.status, bot.body) == answers[0][:2]
    eml_to(stack, f"json-{run}@example.com", "Confirm your subscription")
    time.sleep(1.0)  # the honeypot's signup would have been processed by now: there is none
    assert not [p for p in stack.outbox.glob("*.eml") if f"bot-{run}" in p.read_bytes().decode(errors="replace")]
    bad = api.post(url, {"email": "j\u00f6rg@example.com", "first_name": "J"}, auth=False)
    assert bad.status == 422 and "ASCII" in bad.json()["error"]["message"]


def test_a_bouncing_confirmation_email_suppresses_the_address(tenant: tuple[Any, Client, dict[str, Any], str]) -> None:
    """The SES simulator bounces bounce+...@simulator.amazonses.com: the bounce of the confirmation email
    reaches ses_events (no campaign in its tags), which suppresses the address for the account."""
    stack, api, things, run = tenant
    person = f"bounce+{run}@simulator.amazonses.com"
    answer = api.post(things["form"]["url"], {"email": person, "first_name": "B"}, auth=False)
    assert answer.status == 200
    eml_to(stack, person, "Confirm your subscription")
    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not found:
        found = [s for s in api.expect(200, "GET", "/v1/suppressions?limit=1000")["items"] if s["email"] == person]
        time.sleep(0.2)
    assert found and found[0]["reason"] == "bounce" and found[0]["campaign_id"] is None, stack.output()
