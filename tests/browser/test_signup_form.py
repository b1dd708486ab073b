"""Double opt-in in a real Chromium against `beacon dev` (the stack and browser of conftest.py): a
person fills the hosted signup form, and a copy of `embed_html` pasted into another page, finds the
confirmation email in the outbox, opens its link and clicks Confirm. Screenshots go to
.beacon/screenshots/signup-*.png (git-ignored): look at them.

The fields are found the way a person finds them: by their visible label and the buttons by their
text.
"""

from __future__ import annotations

import email
import re
import secrets
import time
from email import policy
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from beacon_local.client import Client
from tests.browser.conftest import snap
from tests.e2e.conftest import DevStack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def form(stack: DevStack) -> tuple[Client, dict[str, Any]]:
    api = Client(stack.base_url)
    run = secrets.token_hex(4)
    api.token = api.expect(201, "POST", "/v1/accounts", json_body={
        "company": "Browser Bakery", "email": f"owner-{run}@bakery.example.com", "password": "correct horse battery",
        "postal_address": "Browser Bakery\n7 Crumb Lane\nSpringfield 12345"})["api_key"]
    domain = f"b{run}.beacon.test"
    api.expect(201, "POST", "/v1/domains", json_body={"domain": domain})
    lst = api.expect(201, "POST", "/v1/lists", json_body={"name": "Bread news"})
    created = api.expect(201, "POST", "/v1/forms", json_body={
        "name": "Fresh bread every Friday", "list_ids": [lst["id"]], "from_email": f"hello@{domain}",
        "fields": [{"name": "first_name", "label": "First name", "required": True}],
        "consent_text": "Yes, email me Browser Bakery's weekly news. I can unsubscribe at any time."})
    return api, created


def confirm_link(stack: DevStack, to: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(stack.outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if str(message["To"]) == to:
                text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                found = re.search(r"(http://127\.0\.0\.1:\d+/confirm/[A-Za-z0-9_-]+)", text)
                assert found, text
                return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no confirmation email to {to}:\n{stack.output()}")


def status_of(api: Client, address: str) -> str:
    return str(api.expect(200, "GET", f"/v1/contacts/{quote(address)}")["status"])


def sign_up_and_confirm(browser: Browser, stack: DevStack, api: Client, page: Page, person: str, name: str) -> None:
    page.get_by_label("Email").fill(person)
    page.get_by_label("First name").fill("Pat <b>")
    expect(page.get_by_text("Yes, email me Browser Bakery's weekly news.")).to_be_visible()
    # the honeypot: off screen, and not in the accessibility tree (screen readers do not announce it)
    expect(page.get_by_label("Leave this empty")).not_to_be_in_viewport()
    expect(page.get_by_role("textbox", name="Leave this empty")).to_have_count(0)
    expect(page.get_by_role("textbox", name="First name")).to_have_count(1)
    snap(page, f"signup-{name}-filled")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Almost done: check your inbox")).to_be_visible()
    snap(page, f"signup-{name}-check-inbox")
    link = confirm_link(stack, person)
    assert status_of(api, person) == "pending"
    confirm = browser.new_page()
    confirm.goto(link)
    expect(confirm.get_by_role("heading", name="Confirm your subscription")).to_be_visible()
    expect(confirm.get_by_text(person)).to_be_visible()
    snap(confirm, f"signup-{name}-confirm")
    assert status_of(api, person) == "pending"  # opening the link changed nothing
    confirm.get_by_role("button", name="Confirm").click()
    expect(confirm.get_by_role("heading", name="You are subscribed")).to_be_visible()
    snap(confirm, f"signup-{name}-subscribed")
    confirm.close()
    detail = api.expect(200, "GET", f"/v1/contacts/{quote(person)}")
    assert detail["status"] == "subscribed" and detail["attributes"] == {"first_name": "Pat <b>"}
    (record,) = detail["consent"]["signups"]
    # headless Chromium says so in its user agent: the record keeps that class, and only the /24
    assert record["status"] == "confirmed" and record["submitted_from"] == {
        "network": "127.0.0.0/24", "client": "scanner:headless_browser"}


def test_a_person_fills_the_hosted_form_and_confirms(browser: Browser, stack: DevStack,
                                                    form: tuple[Client, dict[str, Any]]) -> None:
    api, created = form
    page = browser.new_page()
    page.goto(created["url"])
    expect(page.get_by_role("heading", name="Fresh bread every Friday")).to_be_visible()
    snap(page, "signup-hosted-form")
    sign_up_and_confirm(browser, stack, api, page, f"pat-{secrets.token_hex(3)}@example.com", "hosted")
    page.close()


def test_the_embed_code_works_pasted_into_another_page(browser: Browser, stack: DevStack,
                                                       form: tuple[Client, dict[str, Any]]) -> None:
    api, created = form
    page = browser.new_page()
    page.set_content("<!doctype html><html><head><title>Browser Bakery</title></head><body>"
                     "<h1>Browser Bakery</h1><p>Our shop's own page, with the form pasted in:</p>"
                     f"{created['embed_html']}</body></html>")
    snap(page, "signup-embedded-form")
    sign_up_and_confirm(browser, stack, api, page, f"emb-{secrets.token_hex(3)}@example.com", "embedded")
    page.close()
