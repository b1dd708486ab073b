"""Automations and webhooks over HTTP on `beacon dev`: a welcome sequence of two steps (0 s and 5 s)
arrives in the outbox after an API add, an unsubscribe between the steps stops step 2, and a real
local receiver gets signed deliveries of every event kind (each signature verified with the
`standardwebhooks` package), including the automation's own emails. One stack for the module."""

from __future__ import annotations

import email
import http.client
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from beacon_local.client import BROWSER_UA, Client
from beacon_local.demo import open_pixels, tracked_links, unsubscribe_url
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

TIMEOUT = 60.0
DOMAIN = "welcome.beacon.test"
STEP = {"from_email": f"hello@{DOMAIN}", "from_name": "Welcome team",
        "html": '<p>Hi {{ contact.first_name }}, <a href="https://example.com/start">start here</a></p>',
        "text": "Hi {{ contact.first_name }}"}


@dataclass
class World:
    stack: Any
    api: Client
    receiver: Receiver
    list_id: str
    automation_id: str
    webhook: dict[str, Any]


POSTAL = "Welcome Ltd\n1 Welcome Street\nSpringfield 12345"


def _wait(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def outbox(world: World, subject: str, to: str) -> list[EmailMessage]:
    found = []
    for path in sorted(world.stack.outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["Subject"]) == subject and to in str(message["To"]):
            found.append(message)
    return found


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def world(dev_stack_factory: Callable[..., Any], receiver: Receiver) -> World:
    stack = dev_stack_factory()
    api = Client(stack.base_url)
    answer = api.expect(201, "POST", "/v1/accounts", json_body={
        "company": "Welcome Ltd", "email": "owner@welcome.example.com", "password": "correct horse battery"})
    api.token = answer["api_key"]
    api.expect(201, "POST", "/v1/domains", json_body={"domain": DOMAIN})
    list_id = api.expect(201, "POST", "/v1/lists", json_body={"name": "Newsletter"})["id"]
    webhook = api.expect(201, "POST", "/v1/webhooks", json_body={
        "url": f"{receiver.base_url}/hook", "events": ["contact.subscribed", "contact.unsubscribed",
                                                        "email.delivered", "email.opened", "email.clicked",
                                                        "email.bounced", "campaign.sent"]})
    receiver.secrets["/hook"] = webhook["secret"]
    automation = api.expect(201, "POST", "/v1/automations", json_body={
        "name": "Welcome", "trigger": {"type": "subscribed", "list_id": list_id},
        "steps": [{**STEP, "after_seconds": 0, "subject": "Welcome, {{ contact.first_name }}"},
                  {**STEP, "after_seconds": 5, "subject": "Getting started"}]})
    assert automation["status"] == "draft" and len(automation["steps"]) == 2
    # every step email's footer carries the account's postal address: none yet, no activation
    refused = api.expect(409, "POST", f"/v1/automations/{automation['id']}/activate")
    assert refused["error"]["code"] == "postal_address_required"
    api.expect(200, "PATCH", "/v1/account", json_body={"postal_address": POSTAL})
    assert api.expect(200, "POST", f"/v1/automations/{automation['id']}/activate")["status"] == "active"
    return World(stack, api, receiver, list_id, automation["id"], webhook)


def test_the_secret_is_shown_once(world: World) -> None:
    assert world.webhook["secret"].startswith("whsec_")
    again = world.api.expect(200, "GET", f"/v1/webhooks/{world.webhook['id']}")
    listed = world.api.expect(200, "GET", "/v1/webhooks")["items"]
    assert "secret" not in again and all("secret" not in w for w in listed)


def test_a_two_step_welcome_sequence_after_an_api_add(world: World) -> None:
    world.api.expect(200, "PUT", f"/v1/lists/{world.list_id}/contacts",
                     json_body=[{"email": "ann@example.com", "attributes": {"first_name": "Ann"}}])
    first = _wait(lambda: outbox(world, "Welcome, Ann", "ann@example.com"), "step 1")
    assert len(first) == 1
    text = str(first[0].get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "1 Welcome Street" in text and "List-Id" in first[0]  # the footer and List-Id, as a campaign's
    second = _wait(lambda: outbox(world, "Getting started", "ann@example.com"), "step 2")
    assert len(second) == 1
    stats = _wait(lambda: (s := world.api.expect(200, "GET", f"/v1/automations/{world.automation_id}/stats"))
                  and s["completed"] == 1 and s, "the stats")
    assert (stats["entered"], stats["active"], stats["exited"]) == (1, 0, 0)
    assert [s["sent"] for s in stats["steps"]] == [1, 1]
    # step 2 went out at least its after_seconds after step 1 (the ledger's send times)
    messages = world.api.expect(200, "GET", "/v1/contacts/ann@example.com/export")["messages"]
    sent = sorted(datetime.fromisoformat(m["sent_at"].replace("Z", "+00:00")) for m in messages)
    assert len(sent) == 2 and (sent[1] - sent[0]).total_seconds() >= 5
    # nothing twice, also a while later (the sweep runs every few seconds locally)
    time.sleep(3)
    assert len(outbox(world, "Welcome, Ann", "ann@example.com")) == 1
    assert len(outbox(world, "Getting started", "ann@example.com")) == 1


def test_an_unsubscribe_between_the_steps_stops_step_two(world: World) -> None:
    world.api.expect(200, "PUT", f"/v1/lists/{world.list_id}/contacts",
                     json_body=[{"email": "bob@example.com", "attributes": {"first_name": "Bob"}}])
    first = _wait(lambda: outbox(world, "Welcome, Bob", "bob@example.com"), "step 1")
    url = unsubscribe_url(first[0])
    assert url is not None
    request = urllib.request.Request(url, data=b"List-Unsubscribe=One-Click", method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    stats = _wait(lambda: (s := world.api.expect(200, "GET", f"/v1/automations/{world.automation_id}/stats"))
                  and s["exited"] >= 1 and s, "bob's exit", timeout=30)
    assert stats["exited"] == 1
    time.sleep(2)
    assert outbox(world, "Getting started", "bob@example.com") == []


def test_signed_webhooks_for_each_event_kind(world: World) -> None:
    world.api.expect(200, "PUT", f"/v1/lists/{world.list_id}/contacts",
                     json_body=[{"email": "cat@example.com", "attributes": {"first_name": "Cat"}},
                                {"email": "bounce@simulator.amazonses.com", "attributes": {"first_name": "B"}}])
    message = _wait(lambda: outbox(world, "Welcome, Cat", "cat@example.com"), "cat's welcome")[0]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for url in open_pixels(html)[:1] + tracked_links(html)[:1]:
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname == "127.0.0.1"
        connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=10)
        connection.request("GET", parts.path, headers={"User-Agent": BROWSER_UA})  # never follows the 302
        assert connection.getresponse().status in (200, 302)
        connection.close()

    def kinds() -> set[str]:
        return {r.payload["type"] for r in world.receiver.of("/hook")}

    wanted = {"contact.subscribed", "contact.unsubscribed", "email.delivered", "email.opened", "email.clicked",
              "email.bounced"}
    try:
        _wait(lambda: wanted <= kinds(), f"webhooks {wanted}", timeout=45)
    except AssertionError:
        raise AssertionError(f"got {kinds()}\n{world.stack.output(6000)}") from None
    got = world.receiver.of("/hook")
    assert all(r.verified for r in got), [r.headers for r in got if not r.verified]
    clicked = [r.payload for r in got if r.payload["type"] == "email.clicked"]
    assert clicked[0]["data"]["url"] == "https://example.com/start"
    assert clicked[0]["data"]["automation_id"] == world.automation_id and clicked[0]["data"]["step"] == 1
    opened = [r.payload for r in got if r.payload["type"] == "email.opened"]
    assert opened[0]["data"]["machine"] is False and opened[0]["data"]["email"] == "cat@example.com"
    log = world.api.expect(200, "GET", f"/v1/webhooks/{world.webhook['id']}/deliveries")
    assert log["items"] and all(i["status"] == "succeeded" for i in log["items"])
    assert {i["attempts"][0]["status_code"] for i in log["items"]} == {200}
