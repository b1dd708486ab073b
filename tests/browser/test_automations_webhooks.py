"""Automations and webhooks in the console, in Chromium against `beacon dev` (the package's stack and
browser): a welcome sequence of two steps written, activated and listed; a webhook endpoint made,
its secret shown once; a contact added to the trigger list, and the delivery in the log (a local
receiver answers 200), sent again with the replay button; the step's email counted in the numbers
per step; the endpoint deleted. Its own account, made over the API; signed in through the page."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from beacon_local.client import Client
from tests.browser.conftest import snap
from tests.e2e.conftest import DevStack
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.browser

RUN = secrets.token_hex(3)
OWNER = f"owner-{RUN}@drip.test"
PASSWORD = "a long automation password"
DOMAIN = f"drip-{RUN}.beacon.test"
STATE: dict[str, Any] = {}


def wait_for(predicate: Any, timeout: float = 45.0, about: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"not true within {timeout} s: {predicate}; {about() if about else ''}")


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def account(stack: DevStack) -> Client:
    api = Client(stack.base_url)
    api.token = api.expect(201, "POST", "/v1/accounts", json_body={
        "company": "Drip Coffee", "email": OWNER, "password": PASSWORD,
        "postal_address": "Drip Coffee\n3 Filter Road\nSpringfield 12345"})["api_key"]
    api.expect(201, "POST", "/v1/domains", json_body={"domain": DOMAIN})
    STATE["list_id"] = api.expect(201, "POST", "/v1/lists", json_body={"name": "Newcomers"})["id"]
    return api


def test_sign_in_and_write_a_two_step_automation(page: Page, account: Client) -> None:
    page.goto("/#/automations")
    expect(page.get_by_role("heading", name="Sign in to Beacon")).to_be_visible()
    page.get_by_label("Email", exact=True).fill(OWNER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Automations", exact=True)).to_be_visible()
    expect(page.get_by_text("No automations yet.")).to_be_visible()
    page.get_by_role("link", name="New automation").click()
    page.get_by_label("Automation name", exact=True).fill("Welcome sequence")
    page.get_by_label("Trigger list", exact=True).select_option(label="Newcomers")
    first = page.get_by_role("group", name="Step 1")
    expect(first.get_by_label("From email", exact=True)).to_have_value(f"hello@{DOMAIN}")
    first.get_by_label("Subject", exact=True).fill("Welcome to Drip")
    expect(first.get_by_text("Sent right away on entering.")).to_be_visible()
    page.get_by_role("button", name="Add a step").click()
    second = page.get_by_role("group", name="Step 2")
    second.get_by_label("Wait after the step before", exact=True).fill("2")
    second.get_by_label("Unit", exact=True).select_option(label="days")
    expect(second.get_by_text("Sent 2 days after the step before.")).to_be_visible()
    # an empty subject is said at its field, before anything is sent
    page.get_by_role("button", name="Create automation").click()
    expect(second.get_by_label("Subject", exact=True)).to_have_attribute("aria-invalid", "true")
    second.get_by_label("Subject", exact=True).fill("Our brewing guide")
    snap(page, "automation-new")
    page.get_by_role("button", name="Create automation").click()
    expect(page.get_by_role("heading", name="Welcome sequence")).to_be_visible()
    expect(page.get_by_text("is saved as a draft")).to_be_visible()
    STATE["automation_url"] = page.url
    automation_id = page.url.rsplit("/", 1)[1]
    saved = account.expect(200, "GET", f"/v1/automations/{automation_id}")
    assert [s["after_seconds"] for s in saved["steps"]] == [0, 2 * 86400]
    assert [s["subject"] for s in saved["steps"]] == ["Welcome to Drip", "Our brewing guide"]
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("The automation is active")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    expect(page.get_by_role("group", name="Step 2").get_by_label("Subject", exact=True)).to_be_disabled()
    nav(page, "Automations")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Welcome sequence"))
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("Subscribed on Newcomers")
    snap(page, "automations")


def test_a_webhook_secret_once_and_a_delivery_in_its_log(page: Page, account: Client, receiver: Receiver) -> None:
    nav(page, "Webhooks")
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    page.get_by_label("Endpoint URL", exact=True).fill(f"{receiver.base_url}/hook")
    expect(page.get_by_label("contact.subscribed", exact=True)).to_be_checked()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator(".secret code").inner_text()
    assert secret.startswith("whsec_")
    expect(page.get_by_role("button", name="Copy the signing secret")).to_be_visible()
    receiver.secrets["/hook"] = secret
    snap(page, "webhooks")
    page.reload()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    assert secret not in page.content()  # shown once
    page.get_by_role("link", name=f"{receiver.base_url}/hook").click()
    expect(page.get_by_text("Nothing delivered yet")).to_be_visible()

    # a contact enters the automation's list: a contact.subscribed delivery, and step 1 of the automation
    account.expect(200, "PUT", f"/v1/lists/{STATE['list_id']}/contacts", json_body=[{"email": "ann@example.com"}])
    log = page.get_by_role("region", name="Deliveries")
    expect(log.get_by_role("row").filter(has_text="contact.subscribed")).to_contain_text("HTTP 200",
                                                                                          timeout=45_000)
    expect(log).to_contain_text("succeeded")
    assert receiver.of("/hook") and all(r.verified for r in receiver.of("/hook"))
    snap(page, "webhook")
    before = len(receiver.of("/hook"))
    log.get_by_role("button", name="Send again").first.click()
    expect(page.get_by_text("delivery is sent again")).to_be_visible()
    wait_for(lambda: len(receiver.of("/hook")) > before, about=lambda: receiver.received)
    assert receiver.of("/hook")[-1].verified

    # the step email is counted in the automation's numbers per step
    automation_id = STATE["automation_url"].rsplit("/", 1)[1]
    wait_for(lambda: account.expect(200, "GET", f"/v1/automations/{automation_id}/stats")["steps"][0]["sent"] == 1)
    page.goto(STATE["automation_url"])
    steps = page.get_by_role("region", name="Numbers per step")
    expect(steps.get_by_role("row").filter(has_text="Welcome to Drip").get_by_role("cell").first).to_have_text("1")
    expect(page.get_by_label("Entered", exact=True)).to_have_text("1")
    snap(page, "automation")

    page.go_back()
    expect(page.get_by_role("heading", name=f"{receiver.base_url}/hook")).to_be_visible()
    page.get_by_role("button", name="Delete endpoint").click()
    page.get_by_role("button", name="Delete it").click()
    expect(page.get_by_text("was deleted.")).to_be_visible()
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()
