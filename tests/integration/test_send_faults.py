"""The fault-injection test of issue 4, over moto: a 2,000-recipient campaign while SES throttles
~30 % of calls at random, the send function dies once mid-batch (after SES accepted some of the
batch's emails, before the ledger settled them), and SQS delivers every message twice, reordered.
Every recipient gets exactly one email, nobody is missing, the stats add up, and a contact who
unsubscribes while the campaign is sending gets nothing after that."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from beacon.audience import subscriptions
from beacon.db import send_ledger as ledger_mod
from beacon.ports.ses import OutgoingEmail
from beacon.shared.ids import recipient_id
from beacon.shared.tokens import UNSUBSCRIBE
from beacon.tracking.ses_events import SesEvent, apply
from beacon.wiring import ses_event_deps, signer, subscription_deps
from beacon_local.moto_patches import fast_transactions
from tests.integration.pipeline_world import World, make_world

N = 2000


@pytest.fixture
def fast_moto() -> Iterator[None]:
    with fast_transactions():
        yield


class LambdaDied(BaseException):
    """The invocation ended mid-batch (timeout, out of memory): not an Exception, nothing is cleaned up."""


def test_exactly_once_under_throttling_a_crash_duplicates_and_reordering(
        clean_aws: object, fast_moto: None, monkeypatch: pytest.MonkeyPatch) -> None:
    world: World = make_world()
    rng = random.Random(20261125)
    people = [f"reader{i:04d}@example.com" for i in range(N)]
    campaign = world.campaign([world.new_list(people)])
    world.ses.throttle_rate = 0.3
    world.ses.rng = random.Random(7)

    # the send function dies once: on its 900th SES call, after the batch's other calls went through
    real_send = world.ses.send
    crash_at = {"call": 900, "done": False}

    lock = threading.Lock()

    def send_or_die(email: OutgoingEmail) -> str:
        with lock:
            die = not crash_at["done"] and world.ses.calls + 1 >= crash_at["call"]
            crash_at["done"] = crash_at["done"] or die
        if die:
            raise LambdaDied()
        return real_send(email)

    monkeypatch.setattr(world.ses, "send", send_or_die)

    # dispatch: every job delivered twice
    jobs = world.queue.drain("local://dispatch")
    world.queue.send("local://dispatch", jobs * 2)
    world.run_dispatch(time_left=0.0)  # one page per job: continuations, each also delivered twice below
    leaving: str | None = None
    left_at = 0
    crashed: list[dict[str, Any]] = []
    rounds = 0
    while True:
        bodies = world.send_messages()
        dispatch_jobs = [j for j in world.queue.drain("local://dispatch") if j.get("kind") != "finalize"]
        if dispatch_jobs:
            world.queue.send("local://dispatch", dispatch_jobs * 2)
            world.run_dispatch(time_left=0.0)
            bodies += world.send_messages()
        if not bodies:
            break
        rounds += 1
        twice = bodies + bodies
        rng.shuffle(twice)
        for n, body in enumerate(twice):
            if leaving is None and rounds == 1 and n == len(twice) // 3:
                # someone whose batch has not been delivered yet unsubscribes mid-campaign
                pending = [r for b in twice[n:] for r in b["recipients"]]
                sent_now = {e.to_address for e in world.ses.sent}
                leaving = next(r["email"] for r in pending if r["email"] not in sent_now)
                rid = recipient_id(world.account_id, leaving)
                token = signer().unsubscribe_token(world.account_id, campaign, rid, 0)
                subscriptions.unsubscribe(subscription_deps(), signer().verify(token, UNSUBSCRIBE), via="one-click")
                left_at = len(world.ses.sent)
            try:
                world.deliver([body])
            except LambdaDied:
                crashed.append(body)
        if crashed and rounds == 1:
            # SES publishes events for what it accepted; ses_events settles the crashed batch's sends
            crashed_rids = {r["rid"] for b in crashed for r in b["recipients"]}
            accepted = [e for e in world.ses.sent if e.tags["recipient"] in crashed_rids]
            assert accepted, "the crash was meant to come after SES accepted part of the batch"
            for e in accepted:
                apply(ses_event_deps(), SesEvent("Delivery", world.account_id, campaign, e.tags["recipient"],
                                                 f"ses-{e.tags['recipient']}", e.to_address, None, {}))
            # ... and SQS redelivers the crashed message once its visibility timeout (> the stale-claim
            # age) has passed, so the one claim the crash left behind may be taken again
            monkeypatch.setattr(ledger_mod, "STALE_CLAIM_SECONDS", -1)
            world.queue.send("local://send", crashed)
        if rounds > 30:
            pytest.fail("the send did not converge")

    assert crash_at["done"] and crashed, "the crash was not injected"
    assert leaving is not None
    counts = Counter(e.to_address for e in world.ses.sent)
    expected = sorted(set(people) - {leaving})
    assert sorted(counts) == expected, "someone was skipped, or the unsubscribed contact was mailed"
    assert max(counts.values()) == 1, f"doubled: {[e for e, c in counts.items() if c > 1][:5]}"
    assert all(e.to_address != leaving for e in world.ses.sent[left_at:])

    world.finalize()
    stats = world.stats(campaign)
    assert stats["status"] == "sent"
    assert stats["recipients"] == N
    assert (stats["sent"], stats["failed"], stats["skipped_suppressed"], stats["not_sent"]) == (N - 1, 0, 1, 0)
    assert stats["sent"] + stats["failed"] + stats["skipped_suppressed"] == stats["recipients"]
    assert world.ses.calls > N * 1.2, "SES was meant to throttle a good share of the calls"
