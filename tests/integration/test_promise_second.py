"""DESIGN promise 2 to the second, over moto with a fake clock: while a batch sends at its pace,
suppressions, a pause or a cancel answered at some moment stop every email that would leave more
than one second later (beacon.sending.gate). The clock moves only when the send path waits (its
pace, the tenant's window) or SES takes its time; the changes happen at given moments of it,
through the same domain functions the API calls."""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from beacon import wiring
from beacon.accounts import sender_domains, tenants
from beacon.audience import suppressions
from beacon.campaigns import lifecycle
from beacon.db.accounts import AccountRepo, ListRepo
from beacon.db.audit_log import EventRepo
from beacon.db.campaigns import CampaignRepo
from beacon.db.contacts import ContactRepo
from beacon.db.domains import DomainRepo
from beacon.db.suppressions import SuppressionRepo
from beacon.db.tenant_pace import TenantPace
from beacon.ports.identities import FakeIdentities
from beacon.ports.ses import OutgoingEmail
from beacon.sending.gate import RECHECK_SECONDS
from beacon.sending.pacing import Pacer
from beacon.sending.send import PAUSED_RETRY_SECONDS, send_batch
from beacon.shared.config import get_settings
from beacon.shared.errors import Conflict
from beacon.shared.ids import new_id, recipient_id
from tests.integration.pipeline_world import DISPATCH_Q, World, make_world

T0 = 1_900_000_000.0
SES_SECONDS = 0.05  # what each SES call takes on the fake clock
RATE = 10.0  # the pace of these batches (emails/s)


class Timeline:
    """A fake clock whose waits run what was scheduled for the moments they pass over."""

    def __init__(self) -> None:
        self.now = T0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (when, next(self._seq), action))

    def sleep(self, seconds: float) -> None:
        target = self.now + max(0.0, seconds)
        while self._events and self._events[0][0] <= target:
            when, _, action = heapq.heappop(self._events)
            self.now = max(self.now, when)
            action()
        self.now = target


class SerialPool:
    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Any:
        return list(map(fn, items))


class CountingReads:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[int] = []  # keys asked per read

    def read(self, account_id: str, campaign_id: str, recipient_ids: Any, *, full: bool = False) -> Any:
        self.calls.append(len(list(recipient_ids)))
        return self.inner.read(account_id, campaign_id, recipient_ids, full=full)


@pytest.fixture
def world(clean_aws: object) -> World:
    return make_world()


def paced(world: World, clock: Timeline) -> tuple[list[tuple[float, str]], CountingReads]:
    """The world's batches at RATE on the fake clock; returns (when each email left, to whom) and the reads."""
    world.deps.clock, world.deps.sleep = clock, clock.sleep
    world.deps.pacer = Pacer(RATE, clock=clock, sleep=clock.sleep)
    world.deps.pool = SerialPool()  # type: ignore[assignment]
    reads = CountingReads(world.deps.batch_state)
    world.deps.batch_state = reads
    left: list[tuple[float, str]] = []
    send = world.ses.send

    def accepted(email: OutgoingEmail) -> str:
        clock.sleep(SES_SECONDS)  # the call takes its time; what happens meanwhile may be too late for it
        message_id = send(email)
        left.append((clock.now, email.to_address))  # it leaves when SES accepts it
        return message_id

    world.ses.send = accepted  # type: ignore[method-assign]
    return left, reads


def people(n: int) -> list[str]:
    return [f"reader{i:03d}@example.com" for i in range(n)]


def suppress(world: World, clock: Timeline, email: str, answered: dict[str, float]) -> Callable[[], None]:
    def act() -> None:
        deps = suppressions.SuppressionDeps(SuppressionRepo(), ContactRepo(), EventRepo(400))
        created, _view = suppressions.add(deps, world.account_id, email, "manual")
        assert created
        answered[email] = clock.now  # the API answers once this returns

    return act


def control(world: World, clock: Timeline, campaign: str, action: str, answered: dict[str, float]
            ) -> Callable[[], None]:
    def act() -> None:
        lifecycle.control(CampaignRepo(), world.queue, DISPATCH_Q, world.account_id, campaign, action,
                          senders=wiring.sender_check())
        answered[action] = clock.now

    return act


def ledger_status(world: World, campaign: str, email: str) -> str | None:
    item = wiring.ledger().get(world.account_id, campaign, recipient_id(world.account_id, email))
    return None if item is None else str(item["status"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_suppressions_and_a_pause_mid_batch_hold_to_the_second(world: World, seed: int) -> None:
    rng = random.Random(seed)
    clock = Timeline()
    left, reads = paced(world, clock)
    everyone = people(50)
    campaign = world.campaign([world.new_list(everyone)])
    world.run_dispatch()
    (body,) = world.send_messages()
    order = [r["email"] for r in body["recipients"]]
    # five people later in the batch are suppressed one by one while it sends, then the campaign is paused
    targets = rng.sample(order[15:40], 5)
    answered: dict[str, float] = {}
    for email, when in zip(targets, sorted(rng.uniform(0.3, 2.8) for _ in targets), strict=True):
        clock.at(T0 + when, suppress(world, clock, email, answered))
    clock.at(T0 + rng.uniform(3.2, 4.0), control(world, clock, campaign, "pause", answered))

    result = send_batch(body, world.deps)

    assert set(answered) == {*targets, "pause"}
    for email in targets:  # nobody is mailed more than a second after their suppression answered
        late = [at for at, to in left if to == email and at > answered[email] + 1.0]
        assert not late, (email, answered[email], late)
    settled_mid_batch = [e for e in targets if ledger_status(world, campaign, e) == "suppressed"]
    assert settled_mid_batch, "the suppressions came while their emails were still to go"
    assert not [at for at, _ in left if at > answered["pause"] + 1.0], "nothing leaves a second after the pause"
    # none lost: sent, settled as suppressed, or back on the queue (their claims given back)
    back = world.send_messages()
    assert world.queue.delays[-1] == PAUSED_RETRY_SECONDS
    waiting = [r["email"] for b in back for r in b["recipients"]]
    sent = [to for _, to in left]
    assert Counter(sent + settled_mid_batch + waiting) == Counter(order)
    assert all(ledger_status(world, campaign, e) == "retry" for e in waiting)
    assert (result.sent, result.suppressed, result.deferred) == (len(sent), len(settled_mid_batch), len(waiting))
    # the cost: one read at the start, then at most one every RECHECK_SECONDS while it sends,
    # each a single call for the recipients still to go
    span = left[-1][0] - T0
    assert 1 <= len(reads.calls) - 1 <= span / RECHECK_SECONDS + 1
    assert reads.calls[0] == 50 and all(n <= 50 for n in reads.calls)
    assert reads.calls[-1] < reads.calls[1], "a re-check reads only the recipients still to go"

    # resumed, the rest goes out once and the suppressed never
    clock.now += PAUSED_RETRY_SECONDS
    control(world, clock, campaign, "resume", answered)()
    world.deliver(back)
    world.run_all()
    final = Counter(to for _, to in left)
    assert max(final.values()) == 1
    assert set(final) == set(order) - {e for e in targets if e not in sent}
    stats = world.stats(campaign)
    assert (stats["status"], stats["sent"] + stats["skipped_suppressed"]) == ("sent", 50)


def test_a_cancel_mid_batch_drops_the_rest_within_the_second(world: World) -> None:
    clock = Timeline()
    left, _reads = paced(world, clock)
    order = people(50)
    campaign = world.campaign([world.new_list(order)])
    world.run_dispatch()
    (body,) = world.send_messages()
    answered: dict[str, float] = {}
    clock.at(T0 + 2.02, control(world, clock, campaign, "cancel", answered))
    result = send_batch(body, world.deps)
    assert left and not [at for at, _ in left if at > answered["cancel"] + 1.0]
    assert world.send_messages() == [], "a cancelled campaign's recipients are not put back"
    sent = {to for _, to in left}
    assert result.stopped == 50 - len(sent) > 0
    rest = [r["email"] for r in body["recipients"] if r["email"] not in sent]
    assert {ledger_status(world, campaign, e) for e in rest} <= {"retry", None}
    stats = world.stats(campaign)
    assert (stats["status"], stats["sent"], stats["not_sent"]) == ("cancelled", len(sent), 50 - len(sent))


def test_what_changes_during_the_wait_for_the_tenants_window_is_seen_before_anything_is_claimed(
        world: World) -> None:
    clock = Timeline()
    left, reads = paced(world, clock)
    schedule = TenantPace(wiring._raw_dynamodb(), get_settings().stats_table, clock=clock)
    world.deps.tenant_pace, world.deps.tenant_rate = schedule, RATE
    order = people(20)
    campaign = world.campaign([world.new_list(order)])
    world.run_dispatch()
    (body,) = world.send_messages()
    schedule.reserve(world.account_id, 80, RATE, max_wait=60)  # another campaign has the next 8 s
    answered: dict[str, float] = {}
    clock.at(T0 + 3.0, suppress(world, clock, order[0], answered))
    send_batch(body, world.deps)
    assert answered and order[0] not in {to for _, to in left}
    assert ledger_status(world, campaign, order[0]) == "suppressed"
    assert left[0][0] >= T0 + 8.0 and len(left) == 19
    assert len(reads.calls) >= 2  # the first read, and again after the wait

    # paused during the wait: the batch goes back with nothing claimed
    second = world.campaign([world.new_list(people(70)[50:])])
    world.run_dispatch()
    (body,) = world.send_messages()
    schedule.reserve(world.account_id, 50, RATE, max_wait=60)
    clock.at(clock.now + 1.0, control(world, clock, second, "pause", answered))
    before = len(left)
    result = send_batch(body, world.deps)
    assert len(left) == before and result.deferred == 20
    assert world.send_messages()[0]["recipients"] == body["recipients"]
    assert all(ledger_status(world, second, r["email"]) is None for r in body["recipients"])


def test_at_full_speed_the_gate_reads_nothing_more(world: World) -> None:
    reads = CountingReads(world.deps.batch_state)
    world.deps.batch_state = reads
    world.campaign([world.new_list(people(100))])
    world.run_all()
    assert len(world.ses.sent) == 100
    assert reads.calls == [50, 50], "one read per batch of 50: the start's read is fresh while it sends"


def test_a_failed_re_check_sends_nobody_unchecked(world: World) -> None:
    clock = Timeline()
    left, reads = paced(world, clock)
    world.campaign([world.new_list(people(30))])
    world.run_dispatch()
    (body,) = world.send_messages()
    inner = reads.inner

    class Failing:
        def read(self, account_id: str, campaign_id: str, recipient_ids: Any, *, full: bool = False) -> Any:
            if not full:
                raise RuntimeError("DynamoDB is not answering")
            return inner.read(account_id, campaign_id, recipient_ids, full=full)

    world.deps.batch_state = Failing()
    result = send_batch(body, world.deps)
    assert left and all(at <= T0 + RECHECK_SECONDS + SES_SECONDS for at, _ in left)
    assert result.sent == len(left) and result.deferred == 30 - len(left)
    back = [r for b in world.send_messages() for r in b["recipients"]]
    assert len(back) == 30 - len(left)


# ----------------------------------------------------------------------------- the sender domain
def rival() -> str:
    """Another tenant (its account id)."""
    account, _key = tenants.sign_up(AccountRepo(), "Rival", f"rival-{new_id()}@rival.test", "correct horse 1")
    return str(account["id"])


def test_a_lost_sender_domain_pauses_the_campaign_and_blocks_send_test_and_resume(world: World) -> None:
    campaign = world.campaign([world.new_list(people(60))])
    world.run_dispatch()
    first, second = world.send_messages()
    world.deliver([first])
    assert len(world.ses.sent) == 50
    sender_domains.remove(DomainRepo(), FakeIdentities(), world.account_id, world.sender_domain)
    # another tenant takes the domain and verifies it
    other = rival()
    sender_domains.add(DomainRepo(), FakeIdentities(verify_at_once=True), other, world.sender_domain)
    world.deliver([second])
    assert len(world.ses.sent) == 50, "nothing goes out from a domain the account no longer owns"
    item = CampaignRepo().get(world.account_id, campaign, consistent=True)
    assert item is not None and item.status == "paused"
    assert item.status_reason.startswith("sender_unverified:") and world.sender_domain in item.status_reason
    assert world.send_messages() == [second]  # nobody is lost: it waits for the tenant
    with pytest.raises(Conflict) as err:
        lifecycle.control(CampaignRepo(), world.queue, DISPATCH_Q, world.account_id, campaign, "resume",
                          senders=wiring.sender_check())
    assert err.value.code == "sender_unverified"


def test_send_and_test_send_need_a_domain_the_account_still_owns(world: World) -> None:
    from beacon.campaigns import drafts

    view = drafts.create(CampaignRepo(), ListRepo(), wiring.signer(), world.account_id, "Acme",
                         {"name": "N", "subject": "Hi", "from_email": f"news@{world.sender_domain}",
                          "list_ids": [world.new_list(people(3))], "html": "<p>hi</p>", "text": "hi"},
                         "https://t.example.com", senders=wiring.sender_check())
    sender_domains.remove(DomainRepo(), FakeIdentities(), world.account_id, world.sender_domain)
    other = rival()
    sender_domains.add(DomainRepo(), FakeIdentities(verify_at_once=True), other, world.sender_domain)
    item = CampaignRepo().get(world.account_id, view["id"], consistent=True)
    assert item is not None
    with pytest.raises(Conflict) as err:
        drafts.send_test(item, "Acme", wiring.signer(), world.ses, "https://t.example.com", ["me@example.com"],
                         senders=wiring.sender_check())
    assert err.value.code == "sender_unverified"
    with pytest.raises(Conflict) as err:
        lifecycle.start_send(CampaignRepo(), world.queue, DISPATCH_Q, world.account_id, view["id"],
                             "https://t.example.com", senders=wiring.sender_check())
    assert err.value.code == "sender_unverified" and world.sender_domain in err.value.message
    assert world.ses.sent == [] and world.queue.drain(DISPATCH_Q) == []
    assert wiring.sender_check()(other, f"news@{world.sender_domain}")
