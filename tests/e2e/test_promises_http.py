"""Promise 2 to the second and a hostile tenant's requests, over HTTP against `beacon dev`.

The local stack sends at its deployment pace (14 emails/s over 5 send invocations: 2.8/s per
container), so a batch of 50 takes ~18 s: suppressions and a pause answered while it sends must
stop every email that would leave more than a second later. When an email left is the time its
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
    })
    client.token = answer["api_key"]
    return client


@pytest.fixture(scope="module")
def stack(dev_stack_factory: Callable[..., Any]) -> Any:
    return dev_stack_factory()


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
    people = [f"reader{i:02d}@example.com" for i in range(40)]
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
    time.sleep(4.0)  # the batch would have sent ~11 more in this time

    mailed = sent_at(stack.outbox, subject)
    late = {who: [t - at for t in mailed.get(who, []) if t > at + 1.0] for who, at in answered.items()}
    assert not any(late.values()), f"mailed more than a second after their suppression answered: {late}"
    after_pause = sorted(t - paused for times in mailed.values() for t in times if t > paused + 1.0)
    assert not after_pause, f"emails left this long after the pause answered: {after_pause}"
    assert all(len(times) == 1 for times in mailed.values())
    stats = tenant.expect(200, "GET", f"/v1/campaigns/{campaign}/stats")
    assert stats["status"] == "paused" and stats["sent"] == sum(map(len, mailed.values()))
    tenant.expect(200, "POST", f"/v1/campaigns/{campaign}/cancel")
