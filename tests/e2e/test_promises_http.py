"""Promise 2 to the second and a hostile tenant's requests, over HTTP against `beacon dev`.

The local stack here sends at 2 emails/s for the tenant (TenantSendRatePerSecond=2, the template's
least), so a batch of 50 takes ~25 s, long enough for the suppressions and the pause to come while it
still sends on a loaded machine: they must stop every email that would leave more than a second
later. When an email left is the time its
outbox file was written, which the local SES simulator does when it accepts the email.
"""

from __future__ import annotations

import email
import random
import time
from collections.abc import Callable
from email import policy
from pathlib import Path
from typing import Any

import pytest

from beacon_local.client import Client, wait_for

pytestmark = pytest.mark.e2e

DOMAIN = "promise.beacon.test"


def signup(base_url: str, name: str) -> Client:
    client = Client(base_url)
    answer = client.expect(201, "POST", "/v1/accounts", json_body={
        "company": f"{name} Ltd", "email": f"owner@{name.lower()}.example.com", "password": "correct horse battery",
        "postal_address": f"{name} Ltd\n1 Market Street\nSpringfield 12345",  # required before a send
    })
    client.token = answer["api_key"]
    return client


@pytest.fixture(scope="module")
def stack(dev_stack_factory: Callable[..., Any]) -> Any:
    return dev_stack_factory("--parameter", "TenantSendRatePerSecond=2")


@pytest.fixture(scope="module")
def tenant(stack: Any) -> Client:
    client = signup(stack.base_url, "Promise")
    client.expect(201, "POST", "/v1/domains", json_body={"domain": DOMAIN})
    return client


def sent_at(outbox: Path, subject: str) -> dict[str, list[float]]:
    """For each recipient of `subject`: when each email to them was written (SES accepted it)."""
    found: dict[str, list[float]] = {}
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if str(message["Subject"]) != subject:
            continue
        to = str(message["To"].addresses[0].addr_spec).lower()  # type: ignore[attr-defined]
        found.setdefault(to, []).append(path.stat().st_mtime)
    return found


def test_suppressions_and_a_pause_while_a_batch_sends_hold_to_the_second(stack: Any, tenant: Client) -> None:
    people = [f"reader{i:02d}@example.com" for i in range(50)]  # one send batch
    list_id = tenant.expect(201, "POST", "/v1/lists", json_body={"name": "Second"})["id"]
    tenant.expect(200, "PUT", f"/v1/lists/{list_id}/contacts",
                  json_body=[{"email": p, "attributes": {"first_name": p[:8]}} for p in people])
    subject = "To the second"
    campaign = tenant.expect(201, "POST", "/v1/campaigns", json_body={
        "name": subject, "subject": subject, "from_email": f"news@{DOMAIN}", "list_ids": [list_id],
        "html": "<p>Hi {{ contact.first_name }}</p>", "text": "Hi"})["id"]
    tenant.expect(202, "POST", f"/v1/campaigns/{campaign}/send", json_body={})
    assert wait_for(lambda: len(sent_at(stack.outbox, subject)) >= 3, timeout=60), stack.output()

    rng = random.Random(12)
    answered: dict[str, float] = {}
    for _ in range(6):  # one by one, each someone not mailed yet
        waiting = sorted(set(people) - set(sent_at(stack.outbox, subject)) - set(answered))
        who = rng.choice(waiting)
        tenant.expect(201, "POST", "/v1/suppressions", json_body={"email": who, "reason": "manual"})
        answered[who] = time.time()
        time.sleep(rng.uniform(0.2, 0.6))
    tenant.expect(200, "POST", f"/v1/campaigns/{campaign}/pause")
    paused = time.time()
    unsent_at_pause = len(people) - len(sent_at(stack.outbox, subject)) - len(answered)
    assert unsent_at_pause > 5, "the pause came while the batch still had people to mail"
    time.sleep(4.0)  # the batch would have sent ~8 more in this time

    mailed = sent_at(stack.outbox, subject)
    late = {who: [t - at for t in mailed.get(who, []) if t > at + 1.0] for who, at in answered.items()}
    assert not any(late.values()), f"mailed more than a second after their suppression answered: {late}"
    after_pause = sorted(t - paused for times in mailed.values() for t in times if t > paused + 1.0)
    assert not after_pause, f"emails left this long after the pause answered: {after_pause}"
    assert all(len(times) == 1 for times in mailed.values())
    stats = tenant.expect(200, "GET", f"/v1/campaigns/{campaign}/stats")
    assert stats["status"] == "paused" and stats["sent"] == sum(map(len, mailed.values()))
    tenant.expect(200, "POST", f"/v1/campaigns/{campaign}/cancel")


# ----------------------------------------------------------------------------- hostile requests over HTTP
def raw_post(stack: Any, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        answer = conn.getresponse()
        data = answer.read()
        return answer.status, json.loads(data) if data else None
    finally:
        conn.close()


def test_bodies_that_are_not_utf8_or_too_deep_get_clear_4xx(stack: Any, tenant: Client) -> None:
    status, body = raw_post(stack, "/v1/accounts", b'{"company": "caf\xe9", "email": "x@example.com"}')
    assert (status, body["error"]["code"]) == (400, "invalid_encoding"), body
    deep = b'{"company": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    status, body = raw_post(stack, "/v1/accounts", deep)
    assert (status, body["error"]["code"]) == (400, "too_deep"), body
    for payload in (deep, b'{"name": "caf\xe9"}', b"{not json"):  # nobody asked: 401 whatever the body
        status, body = raw_post(stack, "/v1/lists", payload)
        assert (status, body["error"]["code"]) == (401, "unauthorized"), body
    auth = {"Authorization": f"Bearer {tenant.token}"}
    status, body = raw_post(stack, "/v1/lists", b'{"name": "\\ud800"}', auth)
    assert (status, body["error"]["code"]) == (422, "invalid_text"), body


def test_a_contact_value_cannot_put_a_header_into_the_redirect(stack: Any, tenant: Client) -> None:
    import http.client

    list_id = tenant.expect(201, "POST", "/v1/lists", json_body={"name": "Injection"})["id"]
    tenant.expect(200, "PUT", f"/v1/lists/{list_id}/contacts", json_body=[
        {"email": "mallory@example.com", "attributes": {"first_name": "x\r\nSet-Cookie: stolen=1"}}])
    subject = "Header injection"
    campaign = tenant.expect(201, "POST", "/v1/campaigns", json_body={
        "name": subject, "subject": subject, "from_email": f"news@{DOMAIN}", "list_ids": [list_id],
        "html": '<a href="https://shop.example.com/p?n={{ contact.first_name }}">Shop</a>', "text": "Hi"})["id"]
    tenant.expect(202, "POST", f"/v1/campaigns/{campaign}/send", json_body={})
    assert wait_for(lambda: sent_at(stack.outbox, subject), timeout=60), stack.output()
    (path,) = [p for p in stack.outbox.glob("*.eml")
               if str(email.message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"]) == subject]
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    link = html.split('href="', 1)[1].split('"', 1)[0]
    assert "/c/" in link
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    try:
        conn.request("GET", link.split(str(stack.port), 1)[1])
        answer = conn.getresponse()
        answer.read()
        headers = {k.lower(): v for k, v in answer.getheaders()}
    finally:
        conn.close()
    assert answer.status == 302
    assert "set-cookie" not in headers
    assert headers["location"] == "https://shop.example.com/p?n=x%0ASet-Cookie: stolen=1"
