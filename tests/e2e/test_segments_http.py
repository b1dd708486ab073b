"""Segments over HTTP against `beacon dev`: a saved segment, its count, a campaign aimed at it minus
an excluded list (read from the outbox), and a resend to the people who did not open the first one
— a person's open keeps them out, a machine's open (a link-checking client fetching the pixel) does
not. One stack for the module; the dispatch function runs as the local stack runs it."""

from __future__ import annotations

import email
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from beacon_local.client import BROWSER_UA, Client
from beacon_local.demo import open_pixels

pytestmark = pytest.mark.e2e

SEND_TIMEOUT = 90.0
CSV = (
    "email,first_name,plan,city\n"
    "ada@example.com,Ada,pro,Rīga\n"
    "grace@example.com,Grace,PRO,Tallinn\n"
    "linus@example.org,Linus,free,Rīga\n"
    "margaret@example.net,Margaret,Pro,RĪGA\n"
    "ken@example.com,Ken,team,Berlin\n"
    "barbara@example.com,Barbara,pro,Vilnius\n"
)
PEOPLE = {"ada@example.com", "grace@example.com", "linus@example.org", "margaret@example.net", "ken@example.com",
          "barbara@example.com"}
HTML = ('<html><body><p>Hi {{ contact.first_name }}</p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>')


@dataclass
class Town:
    stack: Any
    api: Client
    customers: str
    staff: str
    launch: str


def _send(api: Client, name: str, list_ids: list[str], **extra: Any) -> str:
    campaign = api.expect(201, "POST", "/v1/campaigns", json_body={
        "name": name, "subject": name, "from_email": "news@segments.beacon.test", "list_ids": list_ids, "html": HTML,
        "text": "Hi {{ contact.first_name }}", **extra})
    api.expect(202, "POST", f"/v1/campaigns/{campaign['id']}/send", json_body={})
    _wait_sent(api, campaign["id"])
    return str(campaign["id"])


def _wait_sent(api: Client, campaign_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + SEND_TIMEOUT
    stats: dict[str, Any] = {}
    while time.monotonic() < deadline:
        stats = api.expect(200, "GET", f"/v1/campaigns/{campaign_id}/stats")
        if stats["status"] == "sent":
            return stats
        time.sleep(0.3)
    raise AssertionError(f"campaign {campaign_id} did not finish: {json.dumps(stats)}")


def _outbox(town: Town, subject: str) -> dict[str, EmailMessage]:
    found: list[EmailMessage] = []
    for path in sorted(town.stack.outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["Subject"]) == subject:
            found.append(message)
    by_address = {str(m["To"].addresses[0].addr_spec).lower(): m for m in found}  # type: ignore[attr-defined]
    assert len(by_address) == len(found), f"someone got {subject!r} twice"
    return by_address


@pytest.fixture(scope="module")
def town(dev_stack_factory: Callable[..., Any]) -> Town:
    stack = dev_stack_factory()
    api = Client(stack.base_url)
    account = api.expect(201, "POST", "/v1/accounts", json_body={
        "company": "Segments Ltd", "email": "owner@segments.example.com", "password": "correct horse battery",
        "postal_address": "Segments Ltd\n3 Market Street\nSpringfield 12345"})  # required before a send
    api.token = account["api_key"]
    api.expect(201, "POST", "/v1/domains", json_body={"domain": "segments.beacon.test"})
    customers = api.expect(201, "POST", "/v1/lists", json_body={"name": "Customers"})["id"]
    staff = api.expect(201, "POST", "/v1/lists", json_body={"name": "Staff"})["id"]
    reply = api.request("POST", f"/v1/lists/{customers}/imports", data=CSV.encode(),
                        headers={"Content-Type": "text/csv"})
    assert reply.status in (200, 201), f"{reply}\n{stack.output()}"
    api.expect(200, "PUT", f"/v1/lists/{staff}/contacts", json_body=[{"email": "barbara@example.com"}])
    launch = _send(api, "Launch", [customers])
    return Town(stack, api, customers, staff, launch)


def test_a_segment_counts_and_targets_its_campaign(town: Town) -> None:
    segment = town.api.expect(201, "POST", "/v1/segments", json_body={
        "name": "Pro plan", "match": "all", "rules": [{"field": "attributes.plan", "op": "eq", "value": "pro"}]})
    count = town.api.expect(200, "POST", "/v1/segments/count", json_body={
        "rules": segment["rules"], "list_ids": [town.customers], "exclude_list_ids": [town.staff]})
    pro_not_staff = {"ada@example.com", "grace@example.com", "margaret@example.net"}
    assert count == {"count": len(pro_not_staff), "complete": True, "next_cursor": None}
    campaign = _send(town.api, "Pro news", [town.customers], segment_id=segment["id"],
                     exclude_list_ids=[town.staff])
    assert set(_outbox(town, "Pro news")) == pro_not_staff
    view = town.api.expect(200, "GET", f"/v1/campaigns/{campaign}")
    assert view["segment"]["rules"] == segment["rules"] and view["exclude_list_ids"] == [town.staff]
    assert town.api.expect(200, "GET", f"/v1/campaigns/{campaign}/stats")["recipients"] == len(pro_not_staff)
    bad = town.api.request("POST", "/v1/segments", json_body={"name": "x", "rules": [
        {"field": "attributes.plan", "op": "gt", "value": "pro"}]})
    assert bad.status == 422 and bad.json()["error"]["details"][0]["field"] == "rules[0].value", bad


def test_resend_to_non_openers_skips_people_not_machines(town: Town) -> None:
    launch = _outbox(town, "Launch")
    assert set(launch) == PEOPLE
    opened = town.api.get(open_pixels(_html(launch["ada@example.com"]))[0], auth=False,
                          headers={"User-Agent": BROWSER_UA})
    assert opened.status == 200
    for machine in ("grace@example.com", "ken@example.com"):  # a client that only checks links fetched it
        fetched = town.api.get(open_pixels(_html(launch[machine]))[0], auth=False,
                               headers={"User-Agent": "python-requests/2.31"})
        assert fetched.status == 200
    deadline = time.monotonic() + 30  # the stats roll-up follows the ledger's stream (a 5 s batching window)
    while True:
        stats = town.api.expect(200, "GET", f"/v1/campaigns/{town.launch}/stats")
        if stats["opens"]["unique"] >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (stats["opens"]["unique"], stats["opens"]["human_unique"]) == (3, 1), stats["opens"]
    draft = town.api.expect(201, "POST", f"/v1/campaigns/{town.launch}/resend",
                            json_body={"audience": "non_openers", "subject": "Did you see this?"})
    assert draft["resend_of"] == {"campaign_id": town.launch, "audience": "non_openers"}
    town.api.expect(202, "POST", f"/v1/campaigns/{draft['id']}/send", json_body={})
    _wait_sent(town.api, draft["id"])
    received = Counter(_outbox(town, "Did you see this?"))
    assert set(received) == PEOPLE - {"ada@example.com"}  # grace and ken's machine opens are not reads


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())
