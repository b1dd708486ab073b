"""The local stack under concurrency (issue 12): hundreds of simultaneous requests on a few items —
opens and clicks of a few emails, the same campaigns sent by several clients at once, one person's
one-click unsubscribe POSTed many times, API reads — each on its own connection, as API Gateway
would see them. Every count is exact, no request fails or is reset, and every conditional write
lets exactly one through (one 202 per campaign, one unsubscribe counted)."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest

from beacon_local.client import BROWSER_UA, Client
from beacon_local.demo import html_of, open_pixels, read_eml, tracked_links, unsubscribe_url
from tests.e2e.test_campaign_loop import signup, wait_stats

pytestmark = pytest.mark.e2e

PEOPLE = [f"reader{i}@example.com" for i in range(5)]
UNSUBSCRIBER = PEOPLE[0]
OPENS_PER_EMAIL = 30
CLICKS_PER_EMAIL = 12
UNSUBSCRIBE_POSTS = 20
CAMPAIGNS_SENT_AT_ONCE = 6
SENDS_PER_CAMPAIGN = 5
API_READS = 60
CLIENT_THREADS = 64
HTML = ('<html><body><p>Hi {{ contact.first_name }}</p><p><a href="https://example.com/a">A</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>')


@dataclass
class Answer:
    label: str
    status: int | None
    error: str | None = None


def call(base_url: str, label: str, method: str, url: str, headers: dict[str, str], body: bytes | None = None
         ) -> Answer:
    """One request on a fresh connection (no keep-alive: every request is a new accept)."""
    target = urlsplit(url if url.startswith("http") else base_url + url)
    connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
    try:
        path = target.path + (f"?{target.query}" if target.query else "")
        connection.request(method, path, body=body, headers={"Connection": "close", **headers})
        reply = connection.getresponse()
        reply.read()
        return Answer(label, reply.status)
    except OSError as exc:  # a reset, a refused or timed-out connection
        return Answer(label, None, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


def emails(outbox: Any, subject: str) -> list[EmailMessage]:
    return [m for m in map(read_eml, outbox.glob("*.eml")) if str(m["Subject"]) == subject]


def recipient(message: EmailMessage) -> str:
    return str(message["To"].addresses[0].addr_spec)  # type: ignore[attr-defined]


def new_campaign(client: Client, list_id: str, subject: str) -> str:
    return str(client.expect(201, "POST", "/v1/campaigns", json_body={
        "name": subject, "subject": subject, "from_email": "news@load.beacon.test", "list_ids": [list_id],
        "html": HTML, "text": "Hi {{ contact.first_name }}: https://example.com/a\n{{ unsubscribe_url }}",
    })["id"])


def test_hundreds_of_simultaneous_requests_count_exactly(dev_stack_factory: Callable[..., Any]) -> None:
    stack = dev_stack_factory()
    client = signup(stack.base_url, "Load")
    list_id = client.expect(201, "POST", "/v1/lists", json_body={"name": "Readers"})["id"]
    client.expect(201, "POST", "/v1/domains", json_body={"domain": "load.beacon.test"})
    rows = "email,first_name\n" + "".join(f"{p},{p.split('@')[0].title()}\n" for p in PEOPLE)
    reply = client.request("POST", f"/v1/lists/{list_id}/imports", data=rows.encode(),
                           headers={"Content-Type": "text/csv"})
    assert reply.status in (200, 201), reply
    first = new_campaign(client, list_id, "Before the rush")
    client.expect(202, "POST", f"/v1/campaigns/{first}/send", json_body={})
    wait_stats(client, first, lambda s: s.get("status") == "sent")
    mailed = {recipient(m): m for m in emails(stack.outbox, "Before the rush")}
    assert set(mailed) == set(PEOPLE)
    drafts = [new_campaign(client, list_id, f"Rush {i}") for i in range(CAMPAIGNS_SENT_AT_ONCE)]

    browser = {"User-Agent": BROWSER_UA}
    json_auth = {"Authorization": f"Bearer {client.token}", "Content-Type": "application/json"}
    requests: list[tuple[str, str, str, dict[str, str], bytes | None]] = []
    for message in mailed.values():
        requests += [("open", "GET", open_pixels(html_of(message))[0], browser, None)] * OPENS_PER_EMAIL
        requests += [("click", "GET", tracked_links(html_of(message))[0], browser, None)] * CLICKS_PER_EMAIL
    one_click = unsubscribe_url(mailed[UNSUBSCRIBER])
    assert one_click
    requests += [("unsubscribe", "POST", one_click, {"Content-Type": "application/x-www-form-urlencoded"},
                  b"List-Unsubscribe=One-Click")] * UNSUBSCRIBE_POSTS
    for campaign in drafts:
        requests += [(f"send {campaign}", "POST", f"/v1/campaigns/{campaign}/send", json_auth, b"{}")] * (
            SENDS_PER_CAMPAIGN)
    reads = [f"/v1/campaigns/{first}/stats", f"/v1/campaigns/{first}", "/v1/lists", f"/v1/lists/{list_id}"]
    requests += [("read", "GET", reads[i % len(reads)], json_auth, None) for i in range(API_READS)]
    requests = requests[::2] + requests[1::2]  # kinds interleaved

    go = threading.Event()

    def fire(request: tuple[str, str, str, dict[str, str], bytes | None]) -> Answer:
        go.wait(10)
        return call(stack.base_url, *request)

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        futures = [pool.submit(fire, r) for r in requests]
        go.set()
        answers = [f.result() for f in futures]
    burst = time.monotonic() - started

    failures = [a for a in answers if a.error or (a.status or 500) >= 500]
    assert not failures, f"{len(failures)} of {len(answers)} failed: {failures[:5]}\n{stack.output()}"
    by_kind = Counter((a.label.split()[0], a.status) for a in answers)
    assert by_kind[("open", 200)] == OPENS_PER_EMAIL * len(PEOPLE)
    assert by_kind[("click", 302)] == CLICKS_PER_EMAIL * len(PEOPLE)
    assert by_kind[("unsubscribe", 200)] == UNSUBSCRIBE_POSTS
    assert by_kind[("read", 200)] == API_READS
    sends = Counter((a.label, a.status) for a in answers if a.label.startswith("send"))
    for campaign in drafts:  # the draft -> sending transition lets exactly one request through
        assert (sends[(f"send {campaign}", 202)], sends[(f"send {campaign}", 409)]) == (1, SENDS_PER_CAMPAIGN - 1)

    # the stats roll-up follows the ledger's stream (a 5 s batching window): wait until it has them all
    stats = wait_stats(client, first, lambda s: s["opens"]["total"] >= OPENS_PER_EMAIL * len(PEOPLE)
                       and s["clicks"]["total"] >= CLICKS_PER_EMAIL * len(PEOPLE), timeout=30)
    assert stats["opens"]["total"] == OPENS_PER_EMAIL * len(PEOPLE), stats
    assert stats["opens"]["unique"] == len(PEOPLE)
    assert stats["clicks"]["total"] == CLICKS_PER_EMAIL * len(PEOPLE), stats
    assert stats["clicks"]["unique"] == len(PEOPLE)
    assert (stats["sent"], stats["recipients"], stats["unsubscribed"]) == (len(PEOPLE), len(PEOPLE), 1), stats

    for index, campaign in enumerate(drafts):
        done = wait_stats(client, campaign, lambda s: s.get("status") == "sent", timeout=60)
        received = Counter(map(recipient, emails(stack.outbox, f"Rush {index}")))
        assert done["failed"] == 0, done
        assert done["sent"] + done["skipped_suppressed"] == done["recipients"], done
        assert sum(received.values()) == done["sent"] and set(received.values()) <= {1}, (done, received)
    print(f"{len(answers)} simultaneous requests on {CLIENT_THREADS} connections in {burst:.1f} s")
