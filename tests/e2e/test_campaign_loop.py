"""The whole product over HTTP: `beacon dev` in a subprocess, two tenants, a campaign sent and read
from the outbox, the pixel, a tracked link, RFC 8058 unsubscribe, stats, a second campaign that
skips the unsubscribed person, and tenant isolation. One stack for the whole module."""

from __future__ import annotations

import email
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from beacon_local.client import BROWSER_UA, Client, Reply
from beacon_local.demo import open_pixels, tracked_links, unsubscribe_url

pytestmark = pytest.mark.e2e


SEND_TIMEOUT = 90.0
CSV = (
    "email,first_name,city\n"
    "ada@example.com,Ada,London\n"
    "grace@example.com,Grace,Arlington\n"
    "linus@example.org,Linus,Portland\n"
    "not-an-email,Broken,Nowhere\n"
    "ada@example.com,Ada,London\n"
    "margaret@example.net,Margaret,Boston\n"
)
VALID = {"ada@example.com", "grace@example.com", "linus@example.org", "margaret@example.net"}
UNSUBSCRIBER = "linus@example.org"
LINKS = ["https://example.com/articles/launch?utm_source=beacon", "https://example.org/pricing"]
HTML = f"""<!doctype html>
<html><body>
<h1>Hello {{{{ contact.first_name }}}}</h1>
<p>News from {{{{ contact.city }}}}: <a href="{LINKS[0]}">read the launch post</a>
and <a href="{LINKS[1]}">see the prices</a>.</p>
<p><a href="{{{{ unsubscribe_url }}}}">Unsubscribe</a></p>
</body></html>"""
TEXT = "Hello {{ contact.first_name }}\n\nRead: " + LINKS[0] + "\n\nUnsubscribe: {{ unsubscribe_url }}\n"


@dataclass
class World:
    stack: Any
    a: Client
    b: Client
    list_id: str = ""
    import_summary: dict[str, Any] = field(default_factory=dict)
    campaigns: dict[str, str] = field(default_factory=dict)  # subject -> id


def signup(base_url: str, name: str) -> Client:
    client = Client(base_url)
    answer = client.expect(201, "POST", "/v1/accounts", json_body={
        "company": f"{name} Ltd", "email": f"owner@{name.lower()}.example.com", "password": "correct horse battery",
        "postal_address": f"{name} Ltd\n1 Market Street\nSpringfield 12345",
    })
    assert answer["account"]["id"]
    client.token = answer["api_key"]
    return client


def items(payload: Any) -> list[Any]:
    if isinstance(payload, list):
        return payload
    for key in ("items", "lists", "data"):
        if isinstance(payload, dict) and isinstance(payload.get(key), list):
            return list(payload[key])
    raise AssertionError(f"not a collection: {payload!r}")


def wait_stats(client: Client, campaign_id: str, done: Callable[[dict[str, Any]], bool],
               timeout: float = SEND_TIMEOUT) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    stats: dict[str, Any] = {}
    while time.monotonic() < deadline:
        stats = client.expect(200, "GET", f"/v1/campaigns/{campaign_id}/stats")
        if done(stats):
            return stats
        time.sleep(0.3)
    raise AssertionError(f"campaign {campaign_id} stats did not settle: {json.dumps(stats)}")


def send_campaign(world: World, subject: str) -> str:
    campaign = world.a.expect(201, "POST", "/v1/campaigns", json_body={
        "name": subject, "subject": subject, "from_email": "news@demo.beacon.test", "from_name": "Demo News",
        "list_ids": [world.list_id], "html": HTML, "text": TEXT,
    })
    assert campaign["status"] == "draft"
    world.a.expect(202, "POST", f"/v1/campaigns/{campaign['id']}/send", json_body={})
    wait_stats(world.a, campaign["id"], lambda s: s.get("status") == "sent")
    world.campaigns[subject] = campaign["id"]
    return str(campaign["id"])


def outbox(world: World, subject: str) -> list[EmailMessage]:
    found = []
    for path in sorted(world.stack.outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["Subject"]) == subject:
            found.append(message)
    return found


def recipient(message: EmailMessage) -> str:
    return str(message["To"].addresses[0].addr_spec).lower()  # type: ignore[attr-defined]


def html_part(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture(scope="module")
def world(dev_stack_factory: Callable[..., Any]) -> World:
    stack = dev_stack_factory()
    world = World(stack=stack, a=signup(stack.base_url, "Alpha"), b=signup(stack.base_url, "Beta"))
    world.list_id = world.a.expect(201, "POST", "/v1/lists", json_body={"name": "Customers"})["id"]
    # campaigns send only from a verified sender domain of the tenant; the local stack verifies at once
    domain = world.a.expect(201, "POST", "/v1/domains", json_body={"domain": "demo.beacon.test"})
    assert domain["status"] == "verified" and len(domain["dkim_records"]) == 3, domain
    reply = world.a.request("POST", f"/v1/lists/{world.list_id}/imports", data=CSV.encode(),
                            headers={"Content-Type": "text/csv"})
    assert reply.status in (200, 201), f"{reply}\n{stack.output()}"
    world.import_summary = reply.json()
    send_campaign(world, "First issue")
    return world


@pytest.fixture(scope="module")
def first_issue(world: World) -> dict[str, EmailMessage]:
    by_recipient = {recipient(m): m for m in outbox(world, "First issue")}
    assert set(by_recipient) == VALID
    return by_recipient


@pytest.fixture(scope="module")
def unsubscribed(world: World, first_issue: dict[str, EmailMessage]) -> Reply:
    url = unsubscribe_url(first_issue[UNSUBSCRIBER])
    assert url, first_issue[UNSUBSCRIBER]["List-Unsubscribe"]
    return world.a.post(url, data=b"List-Unsubscribe=One-Click", auth=False,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_import_counts_valid_unique_rows(world: World) -> None:
    summary = world.import_summary
    assert summary["created"] == len(VALID)
    assert "not-an-email" in json.dumps(summary["skipped"])


def test_emails_are_multipart_with_one_click_unsubscribe(first_issue: dict[str, EmailMessage]) -> None:
    ids = set()
    for address, message in first_issue.items():
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        assert str(message["List-Unsubscribe"]).startswith("<http")
        assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
        assert message["Message-ID"]
        ids.add(str(message["Message-ID"]))
        assert f"Hello {address.split('@')[0].capitalize()}" in html_part(message)
        assert len(open_pixels(html_part(message))) == 1
        assert len(tracked_links(html_part(message))) == len(LINKS)
    assert len(ids) == len(first_issue)


def test_open_pixel_is_a_gif_that_is_never_cached(world: World, first_issue: dict[str, EmailMessage]) -> None:
    (pixel,) = open_pixels(html_part(first_issue["ada@example.com"]))
    reply = world.a.get(pixel, auth=False, headers={"User-Agent": BROWSER_UA})
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("image/gif")
    assert len(reply.body) == 43
    assert "no-store" in reply.headers["Cache-Control"]


def test_tracked_link_redirects_to_the_original(world: World, first_issue: dict[str, EmailMessage]) -> None:
    link = tracked_links(html_part(first_issue["grace@example.com"]))[0]
    reply = world.a.get(link, auth=False, headers={"User-Agent": BROWSER_UA})
    assert reply.status == 302
    assert reply.headers["Location"] == LINKS[0]


def test_tampered_link_is_404_without_redirect(world: World, first_issue: dict[str, EmailMessage]) -> None:
    link = tracked_links(html_part(first_issue["margaret@example.net"]))[0]
    prefix, token = link.rsplit("/", 1)
    middle = len(token) // 2
    swapped = "A" if token[middle] != "A" else "B"
    reply = world.a.get(f"{prefix}/{token[:middle]}{swapped}{token[middle + 1:]}", auth=False)
    assert reply.status == 404
    assert reply.headers.get("Location") is None


def test_head_on_the_pixel_and_a_link_answers_like_get(
        world: World, first_issue: dict[str, EmailMessage]) -> None:
    """A link checker's or mail scanner's HEAD gets the GIF's headers and the redirect (no 404); the open
    counts as a machine's (beacon.tracking.classify's head_request; the click's count is
    tests/integration/test_tracking.py's: earlier clicks here are machines too, by the timing rule)."""
    message = first_issue["margaret@example.net"]
    (pixel,) = open_pixels(html_part(message))
    head = world.a.request("HEAD", pixel, auth=False, headers={"User-Agent": BROWSER_UA})
    assert head.status == 200 and head.body == b"" and head.headers["Content-Type"].startswith("image/gif")
    link = tracked_links(html_part(message))[0]
    head = world.a.request("HEAD", link, auth=False, headers={"User-Agent": BROWSER_UA})
    assert head.status == 302 and head.headers["Location"] == LINKS[0]
    stats = wait_stats(world.a, world.campaigns["First issue"], lambda s: s["opens"]["machine"] >= 1, timeout=30)
    assert stats["opens"]["machine"] == 1, stats


def test_unsubscribe_page_answers_head_and_get_alike(world: World, first_issue: dict[str, EmailMessage]) -> None:
    """HEAD /u/{token} (link checkers, mail scanners) reaches the page like GET and changes nothing."""
    url = unsubscribe_url(first_issue["margaret@example.net"])
    assert url
    head = world.a.request("HEAD", url, auth=False)
    get = world.a.get(url, auth=False)
    assert (head.status, get.status) == (200, 200)
    assert head.body == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers["Content-Type"].startswith("text/html")
    assert int(head.headers["Content-Length"]) == len(get.body)  # the length of the body HEAD leaves out
    assert world.a.expect(200, "GET", "/v1/contacts/margaret%40example.net")["status"] == "subscribed"


def test_one_click_unsubscribe_and_stats(
    world: World, unsubscribed: Reply, first_issue: dict[str, EmailMessage]
) -> None:
    assert unsubscribed.status == 200, unsubscribed
    for address in ("ada@example.com", "grace@example.com"):  # one open and one click, whatever ran before
        message = first_issue[address]
        world.a.get(open_pixels(html_part(message))[0], auth=False, headers={"User-Agent": BROWSER_UA})
        world.a.get(tracked_links(html_part(message))[1], auth=False, headers={"User-Agent": BROWSER_UA})
    campaign_id = world.campaigns["First issue"]
    stats = wait_stats(world.a, campaign_id, lambda s: (
        s["sent"] == len(VALID) and s["opens"]["unique"] >= 1 and s["clicks"]["unique"] >= 1
        and s["unsubscribed"] == 1
    ), timeout=30)
    assert stats["status"] == "sent"
    assert stats["recipients"] == len(VALID)
    assert stats["failed"] == 0
    assert {link["url"] for link in stats["clicks"]["links"]} <= set(LINKS)


def test_second_campaign_skips_the_unsubscribed(world: World, unsubscribed: Reply) -> None:
    assert unsubscribed.status == 200
    send_campaign(world, "Second issue")
    received = Counter(recipient(m) for m in outbox(world, "Second issue"))
    assert UNSUBSCRIBER not in received
    assert received == Counter(VALID - {UNSUBSCRIBER})
    stats = world.a.expect(200, "GET", f"/v1/campaigns/{world.campaigns['Second issue']}/stats")
    assert stats["sent"] == len(VALID) - 1


def test_tenants_cannot_see_each_other(world: World) -> None:
    campaign_id = world.campaigns["First issue"]
    for path in (f"/v1/lists/{world.list_id}", f"/v1/campaigns/{campaign_id}",
                 f"/v1/campaigns/{campaign_id}/stats", f"/v1/lists/{world.list_id}/contacts"):
        reply = world.b.get(path)
        assert reply.status == 404, f"{path}: {reply}"
    assert items(world.b.expect(200, "GET", "/v1/lists")) == []
    assert world.a.get(f"/v1/lists/{world.list_id}").status == 200
