"""Per-tenant send rate: a tenant's batches take consecutive windows of a schedule shared by every
send invocation (beacon.db.tenant_pace), so one tenant stays at or under its rate."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from beacon import wiring
from beacon.db.tenant_pace import TenantPace
from beacon.ports.ses import OutgoingEmail
from beacon.shared.config import get_settings as settings
from tests.integration.pipeline_world import World, make_world

T0 = 1_800_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


class SerialPool:
    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Any:
        return map(fn, items)


def pace(clock: FakeClock) -> TenantPace:
    return TenantPace(wiring._raw_dynamodb(), settings().stats_table, clock=clock)


@pytest.fixture
def world(clean_aws: object) -> World:
    return make_world()


def send_times(world: World, clock: FakeClock) -> list[float]:
    """The clock's time at each SES call of the world, in order."""
    at: list[float] = []
    send = world.ses.send

    def timed(email: OutgoingEmail) -> str:
        at.append(clock.now)
        return send(email)

    world.ses.send = timed  # type: ignore[method-assign]
    return at


def test_one_tenants_windows_follow_each_other_and_other_tenants_are_apart(world: World) -> None:
    clock = FakeClock()
    schedule = pace(clock)
    first = schedule.reserve("a" * 32, 50, 10.0, max_wait=20)
    second = schedule.reserve("a" * 32, 50, 10.0, max_wait=20)
    other = schedule.reserve("b" * 32, 50, 10.0, max_wait=20)
    assert (first.start, second.start, other.start) == (T0, T0 + 5.0, T0)
    assert first.reserved and second.reserved and other.reserved
    too_far = schedule.reserve("a" * 32, 50, 10.0, max_wait=4)  # it would start in 10 s
    assert (too_far.start, too_far.reserved) == (T0 + 10.0, False)
    assert schedule.reserve("a" * 32, 20, 10.0, max_wait=20).start == T0 + 10.0  # nothing was taken
    clock.now = T0 + 60  # an idle tenant starts at once
    assert schedule.reserve("a" * 32, 50, 10.0, max_wait=20).start == T0 + 60


def test_a_batch_that_loses_the_race_reads_again(world: World) -> None:
    clock = FakeClock()
    client = wiring._raw_dynamodb()
    rival = pace(clock)

    class RacingClient:
        """Another invocation reserves between this one's read and its write, once."""

        exceptions = client.exceptions
        raced = False

        def get_item(self, **kwargs: Any) -> Any:
            return client.get_item(**kwargs)

        def update_item(self, **kwargs: Any) -> Any:
            if not RacingClient.raced:
                RacingClient.raced = True
                rival.reserve("a" * 32, 50, 10.0, max_wait=20)
            return client.update_item(**kwargs)

    mine = TenantPace(RacingClient(), settings().stats_table, clock=clock).reserve("a" * 32, 30, 10.0, 20)
    assert RacingClient.raced
    assert (mine.start, mine.reserved) == (T0 + 5.0, True)  # after the rival's window, not over it
    assert rival.reserve("a" * 32, 10, 10.0, 20).start == T0 + 8.0


def test_a_tenants_batches_send_at_its_rate_whichever_invocation_runs_them(world: World) -> None:
    clock = FakeClock()
    world.deps.tenant_pace, world.deps.tenant_rate = pace(clock), 20.0
    world.deps.sleep, world.deps.clock = clock.sleep, clock
    world.deps.pool = SerialPool()  # type: ignore[assignment]
    at = send_times(world, clock)
    people = [f"p{i:03d}@example.com" for i in range(120)]
    world.campaign([world.new_list(people)])
    world.run_all()
    assert sorted(world.recipients_sent()) == people
    gaps = [b - a for a, b in itertools.pairwise(at)]
    assert min(gaps) >= 0.05 - 1e-6  # never faster than 20/s
    assert at[-1] - at[0] == pytest.approx(119 * 0.05)  # and no slower: the windows follow each other


def test_a_batch_whose_window_is_far_goes_back_to_the_queue_untouched(world: World) -> None:
    clock = FakeClock()
    world.deps.tenant_pace, world.deps.tenant_rate = pace(clock), 10.0
    world.deps.sleep, world.deps.clock = clock.sleep, clock
    for _ in range(8):  # this tenant's other campaigns took the next 40 s
        world.deps.tenant_pace.reserve(world.account_id, 50, 10.0, max_wait=60)
    world.campaign([world.new_list([f"q{i}@example.com" for i in range(30)])])
    world.run_dispatch()
    bodies = world.send_messages()
    world.queue.delays.clear()
    world.deliver(bodies)
    assert world.ses.sent == [] and clock.sleeps == []
    back = world.send_messages()
    assert back == bodies and world.queue.delays == [40]
    ledger = wiring.ledger()
    for r in bodies[0]["recipients"]:
        assert ledger.get(world.account_id, bodies[0]["campaign_id"], r["rid"]) is None  # nobody claimed
    clock.now += 40  # SQS brings it back when its turn has come
    world.deliver(back)
    assert len(world.ses.sent) == 30


def test_erasing_the_tenant_erases_its_schedule(world: World) -> None:
    from beacon.db.tenant_erasure import TenantEraser

    clock = FakeClock()
    pace(clock).reserve(world.account_id, 50, 10.0, max_wait=20)
    client, table = wiring._raw_dynamodb(), settings().stats_table
    key = TenantPace.key(world.account_id)
    assert "Item" in client.get_item(TableName=table, Key=key)
    TenantEraser(client, settings(), lambda: 60.0).erase(world.account_id)
    assert "Item" not in client.get_item(TableName=table, Key=key)


def test_at_a_pace_too_slow_for_one_invocation_the_batch_sends_what_fits_and_queues_the_rest(world: World) -> None:
    """An SES sandbox sends 1 email/s: over two invocations each paces to 0.5/s, and 50 emails would
    outlast the send function's 60 s. A batch sends what fits in SEND_BUDGET_SECONDS (15 at 0.5/s)
    and puts the rest in a message of its own, claimed by nobody yet."""
    from beacon.sending.pacing import SEND_BUDGET_SECONDS, Pacer

    clock = FakeClock()
    world.deps.pacer = Pacer(0.5, clock=clock, sleep=clock.sleep)
    world.deps.pool = SerialPool()  # type: ignore[assignment]
    people = [f"s{i:02d}@example.com" for i in range(50)]
    campaign = world.campaign([world.new_list(people)])
    world.run_dispatch()
    (body,) = world.send_messages()
    world.deliver([body])
    fits = int(SEND_BUDGET_SECONDS * 0.5)
    assert len(world.ses.sent) == fits == 15
    assert clock.now - T0 <= SEND_BUDGET_SECONDS  # the invocation's share of its 60 s
    (rest,) = world.send_messages()
    assert len(rest["recipients"]) == 35 and rest["campaign_id"] == campaign
    ledger = wiring.ledger()
    assert all(ledger.get(world.account_id, campaign, r["rid"]) is None for r in rest["recipients"])
    world.deliver([rest])  # and so on, 15 at a time
    while bodies := world.send_messages():
        world.deliver(bodies)
    assert sorted(world.recipients_sent()) == people  # everyone, once
    assert world.stats(campaign)["sent"] == 50


def test_dispatchs_projection_queues_each_page_behind_the_tenants_last(world: World) -> None:
    clock = FakeClock()
    schedule = pace(clock)
    a, b = "a" * 32, "b" * 32
    assert schedule.plan(a, 100, 10.0) == T0  # nothing queued: from now
    assert schedule.plan(a, 50, 10.0) == T0 + 10.0
    assert schedule.plan(b, 50, 10.0) == T0  # another tenant's queue
    clock.now = T0 + 60  # everything queued should have gone by now
    assert schedule.plan(a, 10, 10.0) == T0 + 60
    assert schedule.reserve(a, 50, 10.0, max_wait=20).start == T0 + 60  # the send windows are apart
    with pytest.raises(ValueError):
        schedule.plan(a, 0, 10.0)


def test_a_big_campaign_is_queued_as_its_tenant_can_send_it_and_no_batch_comes_back(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """500 recipients at 2 emails/s take 250 s; dispatch queues 120 s ahead here (840 s deployed:
    the same at a smaller scale). It queues them page by page, each batch delayed until shortly
    before its turn, never much more than DISPATCH_AHEAD_SECONDS ahead, and continues later; so
    each batch is received once, when its window is near, instead of all 10 at once and most of
    them going back to the queue until their turn. The stats say when the count is final."""
    import heapq
    import json

    from beacon.sending import dispatch as dispatching
    from beacon.sending.dispatch import DISPATCH_LEAD_SECONDS, dispatch
    from beacon.sending.send import send_batch
    from tests.integration.pipeline_world import DISPATCH_Q, SEND_Q

    monkeypatch.setattr(dispatching, "DISPATCH_AHEAD_SECONDS", 120.0)

    clock = FakeClock()
    world.deps.tenant_pace, world.deps.tenant_rate = pace(clock), 2.0
    world.deps.sleep, world.deps.clock = clock.sleep, clock
    world.deps.pool = SerialPool()  # type: ignore[assignment]
    due: list[tuple[float, int, str, dict[str, Any]]] = []  # SQS: messages by the time they become visible
    order = itertools.count()

    queued = {"recipients": 0}
    early: list[float] = []  # how long before its recipients' turn each batch becomes visible

    def send(queue_url: str, bodies: list[dict[str, Any]], delay_seconds: int | list[int] = 0) -> None:
        delays = [delay_seconds] * len(bodies) if isinstance(delay_seconds, int) else delay_seconds
        for body, delay in zip(bodies, delays, strict=True):
            assert 0 <= delay <= 900
            if queue_url == SEND_Q:  # its first recipient's turn, at 2/s behind those queued before
                early.append(T0 + queued["recipients"] / 2.0 - (clock.now + delay))
                queued["recipients"] += len(body["recipients"])
            heapq.heappush(due, (clock.now + delay, next(order), queue_url, json.loads(json.dumps(body))))

    world.queue.send = send  # type: ignore[method-assign]
    at = send_times(world, clock)
    people = [f"big{i:04d}@example.com" for i in range(500)]
    campaign = world.campaign([world.new_list(people)])
    received = {"dispatch": 0, "send": 0}
    most_queued = 0
    while due:
        visible, _, queue_url, body = heapq.heappop(due)
        clock.now = max(clock.now, visible)
        waiting = sum(len(m.get("recipients", ())) for _, _, url, m in due if url == SEND_Q)
        most_queued = max(most_queued, waiting)
        if queue_url == DISPATCH_Q:
            if body.get("kind") == "finalize":
                continue
            received["dispatch"] += 1
            dispatch(body, world.deps, lambda: 60.0)
            counted = world.stats(campaign) if received["dispatch"] == 1 else None
            if counted is not None:  # after the first dispatch: part of the recipients, and it says so
                assert (counted["recipients"] < 500, counted["recipients_final"]) == (True, False)
        else:
            received["send"] += 1
            send_batch(body, world.deps)
    assert sorted(world.recipients_sent()) == people  # everyone, once
    assert received["send"] == 10  # no batch came back
    # and none is visible long before its turn: several send invocations taking every visible
    # batch at once would still find each one's window within the 20 s a batch may wait
    assert max(early) <= DISPATCH_LEAD_SECONDS and len(early) == 10
    assert 2 <= received["dispatch"] <= 6  # the first job and its paced continuations
    assert most_queued <= (120 + 60) * 2.0  # never much more than 2 minutes ahead
    gaps = [y - x for x, y in itertools.pairwise(at)]
    assert min(gaps) >= 0.5 - 1e-6  # the tenant's rate
    assert at[-1] - at[0] <= 499 * 0.5 * 1.1  # and not much slower than it
    final = world.stats(campaign)
    assert (final["sent"], final["recipients"], final["recipients_final"]) == (500, 500, True)


@pytest.mark.parametrize("action", ["pause", "cancel"])
def test_pausing_or_cancelling_restarts_the_tenants_projection(world: World, action: str) -> None:
    """Otherwise the tenant's next campaign would be queued behind batches that will not go out."""
    from beacon.campaigns import lifecycle
    from beacon.db.campaigns import CampaignRepo
    from tests.integration.pipeline_world import DISPATCH_Q

    clock = FakeClock()
    schedule = pace(clock)
    world.deps.tenant_pace, world.deps.tenant_rate, world.deps.clock = schedule, 2.0, clock
    campaign = world.campaign([world.new_list([f"m{i:03d}@example.com" for i in range(300)])])
    world.run_dispatch()  # 300 recipients at 2/s: queued up to T0 + 150
    other = schedule.plan("b" * 32, 100, 2.0)  # another tenant's queue is its own
    assert schedule.plan(world.account_id, 2, 2.0) == T0 + 150  # behind the campaign
    clock.now = T0 + 10
    lifecycle.control(CampaignRepo(), world.queue, DISPATCH_Q, world.account_id, campaign, action, schedule,
                      senders=wiring.sender_check())
    assert schedule.plan(world.account_id, 20, 2.0) == T0 + 10  # from now again
    assert schedule.plan("b" * 32, 2, 2.0) == other + 50.0
    # and resuming changes nothing more (the paused campaign's batches are re-planned as they send)
    if action == "pause":
        lifecycle.control(CampaignRepo(), world.queue, DISPATCH_Q, world.account_id, campaign, "resume", schedule,
                          senders=wiring.sender_check())
        assert schedule.plan(world.account_id, 2, 2.0) == T0 + 20
