"""Promise 4 over moto: no recipient gets a campaign twice and none is skipped, whatever SQS
redelivers, SES throttles or the sender crashes; an unsubscribe counts even mid-campaign."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from beacon.audience import subscriptions
from beacon.db import send_ledger as ledger_mod
from beacon.ports.ses import SesThrottled
from beacon.shared.ids import recipient_id
from beacon.shared.tokens import UNSUBSCRIBE
from beacon.tracking.ses_events import SesEvent, apply
from beacon.wiring import signer, subscription_deps
from tests.integration.pipeline_world import World, make_world


@pytest.fixture
def world(clean_aws: object) -> World:
    return make_world()


def emails(n: int, domain: str = "example.com") -> list[str]:
    return [f"person{i:04d}@{domain}" for i in range(n)]


def assert_exactly_once(world: World, expected: list[str]) -> None:
    counts = Counter(world.recipients_sent())
    assert sorted(counts) == sorted(expected), "someone was skipped or someone unexpected was mailed"
    assert max(counts.values()) == 1, f"doubled: {[e for e, c in counts.items() if c > 1][:5]}"


def test_redelivered_and_reordered_batches_send_each_recipient_once(world: World) -> None:
    people = emails(120)
    campaign = world.campaign([world.new_list(people)])
    world.run_dispatch()
    bodies = world.send_messages()
    assert len(bodies) == 3  # 50 + 50 + 20
    twice = bodies + bodies
    random.Random(4).shuffle(twice)
    world.deliver(twice)
    assert_exactly_once(world, people)
    stats = world.stats(campaign)
    assert stats["status"] == "sent"
    assert (stats["recipients"], stats["sent"], stats["failed"], stats["skipped_suppressed"]) == (120, 120, 0, 0)


def test_duplicated_dispatch_jobs_count_recipients_once(world: World) -> None:
    people = emails(130)
    campaign = world.campaign([world.new_list(people)])
    jobs = world.queue.drain("local://dispatch")
    world.queue.send("local://dispatch", jobs * 3)  # SQS delivered the job three times
    world.run_dispatch(time_left=0.0)  # and every job gives up after one page: continuations
    while bodies := world.send_messages():
        world.deliver(bodies)
    assert_exactly_once(world, people)
    stats = world.stats(campaign)
    assert (stats["recipients"], stats["sent"], stats["status"]) == (130, 130, "sent")


def test_contact_on_two_lists_is_one_recipient(world: World) -> None:
    first = emails(30)
    second = emails(10) + emails(15, "other.example")  # ten overlap
    campaign = world.campaign([world.new_list(first), world.new_list(second)])
    world.run_all()
    assert_exactly_once(world, sorted(set(first) | set(second)))
    assert world.stats(campaign)["recipients"] == 45


def test_throttling_defers_and_never_fails(world: World) -> None:
    people = emails(60)
    campaign = world.campaign([world.new_list(people)])
    world.ses.throttle_next = 10_000  # SES keeps throttling past the in-invocation backoff
    world.run_dispatch()
    world.deliver(world.send_messages())
    world.ses.throttle_next = 0
    deferred = world.send_messages()
    assert deferred, "throttled recipients must go back to the queue"
    assert all(b.get("attempt", 0) >= 1 for b in deferred)
    world.deliver(deferred)
    while bodies := world.send_messages():
        world.deliver(bodies)
    assert_exactly_once(world, people)
    stats = world.stats(campaign)
    assert (stats["sent"], stats["failed"], stats["status"]) == (60, 0, "sent")


def test_rejected_address_is_failed_and_the_campaign_still_finishes(world: World) -> None:
    people = emails(5)
    world.ses.reject_addresses = {people[2]}
    campaign = world.campaign([world.new_list(people)])
    world.run_all()
    assert sorted(world.recipients_sent()) == sorted(set(people) - {people[2]})
    stats = world.stats(campaign)
    assert (stats["sent"], stats["failed"], stats["status"]) == (4, 1, "sent")


def test_crash_after_ses_accepted_is_settled_by_the_ses_event_not_resent(world: World,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    people = emails(8)
    campaign = world.campaign([world.new_list(people)])
    world.run_dispatch()
    bodies = world.send_messages()
    real_settle = world.deps.ledger.settle

    def crash(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("the Lambda died between SES and the ledger")

    monkeypatch.setattr(world.deps.ledger, "settle", crash)
    with pytest.raises(RuntimeError):
        world.deliver(bodies)
    assert len(world.ses.sent) == 8
    # SES publishes Send/Delivery for what it accepted; ses_events settles those ledger items
    from beacon.wiring import ses_event_deps

    for n, email in enumerate(world.recipients_sent()):
        rid = recipient_id(world.account_id, email)
        apply(ses_event_deps(), SesEvent("Delivery", world.account_id, campaign, rid, f"fake-{n}", email, None, {}))
    monkeypatch.setattr(world.deps.ledger, "settle", real_settle)
    world.deliver(bodies)  # SQS redelivers the batch
    assert_exactly_once(world, people)
    stats = world.stats(campaign)
    assert (stats["sent"], stats["delivered"], stats["status"]) == (8, 8, "sent")


def test_crash_before_ses_answered_is_retried_after_the_claim_goes_stale(world: World,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    people = emails(1)
    campaign = world.campaign([world.new_list(people)])
    world.run_dispatch()
    bodies = world.send_messages()

    class Dies:
        def send(self, email: object) -> str:
            raise SystemExit("killed mid-call")  # not an Exception: nothing is released

    real = world.deps.ses
    world.deps.ses = Dies()  # type: ignore[assignment]
    with pytest.raises(SystemExit):
        world.deliver(bodies)
    world.deps.ses = real
    world.deliver(bodies)  # redelivered at once: the claim is fresh, so it is not sent again yet
    assert world.recipients_sent() == []
    monkeypatch.setattr(ledger_mod, "STALE_CLAIM_SECONDS", -1)  # ... the visibility timeout later
    world.deliver(bodies)
    assert_exactly_once(world, people)
    assert world.stats(campaign)["status"] == "sent"


def test_unsubscribe_mid_campaign_is_honoured_by_later_batches(world: World) -> None:
    people = emails(100)
    campaign = world.campaign([world.new_list(people)])
    world.run_dispatch()
    first, second = world.send_messages()
    world.deliver([first])
    leaving = second["recipients"][7]["email"]
    rid = recipient_id(world.account_id, leaving)
    token = signer().unsubscribe_token(world.account_id, campaign, rid, 0)
    subscriptions.unsubscribe(subscription_deps(), signer().verify(token, UNSUBSCRIBE), via="one-click")
    world.deliver([second])
    assert leaving not in world.recipients_sent()
    assert_exactly_once(world, sorted(set(people) - {leaving}))
    stats = world.stats(campaign)
    # they left through a link of an email they never got from this campaign: not its unsubscribe
    assert (stats["sent"], stats["skipped_suppressed"], stats["unsubscribed"], stats["status"]) == (
        99, 1, 0, "sent")
    # and every later campaign of the tenant skips them too
    before = len(world.ses.sent)
    later = world.campaign([world.lists[0]])
    world.run_all()
    assert leaving not in world.recipients_sent()[before:]
    # an unsubscribed contact is no recipient of a later campaign (recipients are the subscribed contacts)
    assert (world.stats(later)["recipients"], world.stats(later)["skipped_suppressed"]) == (99, 0)


def test_throttled_recipient_claim_is_released(world: World) -> None:
    people = emails(1)
    world.campaign([world.new_list(people)])
    world.run_dispatch()
    bodies = world.send_messages()

    class Throttles:
        def send(self, email: object) -> str:
            raise SesThrottled("Throttling")

    real = world.deps.ses
    world.deps.ses = Throttles()  # type: ignore[assignment]
    world.deliver(bodies)
    world.deps.ses = real
    world.deliver(world.send_messages())
    assert_exactly_once(world, people)
