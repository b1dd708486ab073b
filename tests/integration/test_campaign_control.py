"""Campaign control over moto, through the send pipeline world: pause, resume, cancel, scheduled
sends and the one-minute sweep, SES throttling inside an invocation, the reputation auto-pause,
and the reject / rendering-failure / delivery-delay notifications."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Any

import pytest

from beacon import wiring
from beacon.campaigns import drafts as campaigns
from beacon.campaigns import lifecycle
from beacon.db.accounts import ListRepo
from beacon.db.campaigns import CampaignRepo
from beacon.db.models import CampaignItem
from beacon.sending.dispatch import dispatch
from beacon.sending.send import send_batch
from beacon.shared.config import Settings
from beacon.shared.errors import Conflict, Unprocessable
from beacon.shared.ids import recipient_id
from beacon.tracking.ses_events import SesEvent, apply
from tests.integration.pipeline_world import BASE, DISPATCH_Q, HTML, World, make_world
from tests.integration.test_ses_events import Ctx, _handler, sample


@pytest.fixture
def world(clean_aws: object) -> World:
    return make_world()


def emails(n: int) -> list[str]:
    return [f"member{i:03d}@example.com" for i in range(n)]


def control(world: World, campaign: str, action: str) -> dict[str, Any]:
    return lifecycle.control(CampaignRepo(), world.queue, DISPATCH_Q, world.account_id, campaign, action,
                             senders=wiring.sender_check())


def draft(world: World, list_ids: list[str]) -> str:
    view = campaigns.create(CampaignRepo(), ListRepo(), wiring.signer(), world.account_id, "Acme",
                            {"name": "Later", "subject": "Hi", "from_email": f"news@{world.sender_domain}",
                             "from_name": "Acme", "list_ids": list_ids, "html": HTML, "text": "Hi"}, BASE,
                            senders=wiring.sender_check())
    return str(view["id"])


def test_paused_batches_wait_in_the_queue_and_resume_sends_them_once(world: World) -> None:
    people = emails(120)
    campaign = world.campaign([world.new_list(people)])
    world.run_dispatch()
    first, *rest = world.send_messages()
    world.deliver([first])
    assert control(world, campaign, "pause") == {"id": campaign, "status": "paused"}
    with pytest.raises(Conflict):
        control(world, campaign, "pause")
    world.deliver(rest)
    assert len(world.ses.sent) == 50, "a paused campaign sends nothing"
    back = world.send_messages()
    assert sorted(len(b["recipients"]) for b in back) == sorted(len(b["recipients"]) for b in rest)  # none lost
    world.finalize()
    assert world.stats(campaign)["status"] == "paused"  # every check stops while paused
    assert control(world, campaign, "resume")["status"] == "sending"
    world.deliver(back + back)
    world.run_all()
    counts = Counter(world.recipients_sent())
    assert sorted(counts) == sorted(people) and max(counts.values()) == 1
    stats = world.stats(campaign)
    assert (stats["status"], stats["sent"], stats["not_sent"]) == ("sent", 120, 0)


def test_cancel_mid_send_drops_the_rest_and_the_stats_say_how_many_never_went(world: World) -> None:
    people = emails(120)
    campaign = world.campaign([world.new_list(people)])
    world.run_dispatch()
    first, *rest = world.send_messages()
    world.deliver([first])
    assert control(world, campaign, "cancel")["status"] == "cancelled"
    world.deliver(rest)
    assert len(world.ses.sent) == 50
    assert world.send_messages() == []  # dropped, not put back
    for action in ("pause", "resume", "cancel"):
        with pytest.raises(Conflict):
            control(world, campaign, action)
    stats = world.stats(campaign)
    assert (stats["status"], stats["recipients"], stats["sent"], stats["not_sent"]) == ("cancelled", 120, 50, 70)
    assert stats["sent"] + stats["failed"] + stats["skipped_suppressed"] + stats["not_sent"] == stats["recipients"]


def test_cancel_while_paused_mid_dispatch_stops_dispatch_too(world: World) -> None:
    people = emails(150)
    campaign = world.campaign([world.new_list(people)])
    control(world, campaign, "pause")
    world.run_dispatch()  # the dispatch job of a paused campaign does nothing
    assert world.send_messages() == []
    control(world, campaign, "cancel")
    world.run_all()
    assert world.ses.sent == []
    assert world.stats(campaign)["status"] == "cancelled"


def test_draft_cannot_be_paused_resumed_or_cancelled(world: World) -> None:
    campaign = draft(world, [world.new_list(emails(2))])
    for action in ("pause", "resume", "cancel"):
        with pytest.raises(Conflict):
            control(world, campaign, action)


def _reschedule(world: World, campaign: str, send_at: str) -> None:
    item = CampaignRepo().get(world.account_id, campaign, consistent=True)
    assert item is not None
    item.update(actions=[CampaignItem.send_at.set(send_at)])


def test_scheduled_campaign_is_started_by_the_sweep_once_due(world: World) -> None:
    people = emails(60)
    campaign = draft(world, [world.new_list(people)])
    answer = lifecycle.start_send(CampaignRepo(), world.queue, DISPATCH_Q, world.account_id, campaign, BASE,
                                  send_at=_in_days(3), senders=wiring.sender_check())
    assert answer["status"] == "scheduled"
    assert world.queue.drain(DISPATCH_Q) == []  # nothing enqueued until it is due
    assert dispatch({"kind": "sweep"}, world.deps, lambda: 60.0) == "swept 0"
    assert world.queue.drain(DISPATCH_Q) == []
    _reschedule(world, campaign, "2000-01-01T00:00:00Z")  # ... three days later
    assert dispatch({"kind": "sweep"}, world.deps, lambda: 60.0) == "swept 1"
    jobs = world.queue.drain(DISPATCH_Q)
    world.queue.send(DISPATCH_Q, jobs + jobs)  # the sweep's job delivered twice
    world.run_all()
    counts = Counter(world.recipients_sent())
    assert sorted(counts) == sorted(people) and max(counts.values()) == 1
    stats = world.stats(campaign)
    assert (stats["status"], stats["recipients"], stats["sent"]) == ("sent", 60, 60)
    assert dispatch({"kind": "sweep"}, world.deps, lambda: 60.0) == "swept 0"  # out of the index


def test_cancelled_schedule_never_sends(world: World) -> None:
    campaign = draft(world, [world.new_list(emails(3))])
    lifecycle.start_send(CampaignRepo(), world.queue, DISPATCH_Q, world.account_id, campaign, BASE,
                         send_at=_in_days(1), senders=wiring.sender_check())
    with pytest.raises(Conflict):
        control(world, campaign, "pause")
    assert control(world, campaign, "cancel")["status"] == "cancelled"
    _reschedule(world, campaign, "2000-01-01T00:00:00Z")
    assert dispatch({"kind": "sweep"}, world.deps, lambda: 60.0) == "swept 0"
    world.queue.send(DISPATCH_Q, [{"account_id": world.account_id, "campaign_id": campaign}])  # a stray job
    world.run_all()
    assert world.ses.sent == []


@pytest.mark.parametrize("send_at", ["yesterday", "2020-01-01T00:00:00Z", "2030-01-01T09:00:00", "", 42,
                                     "9999-12-31T23:59:59Z", "2030-02-30T09:00:00Z", "x" * 100])
def test_bad_send_at_is_refused_and_the_campaign_stays_a_draft(world: World, send_at: Any) -> None:
    campaign = draft(world, [world.new_list(emails(1))])
    with pytest.raises(Unprocessable) as err:
        lifecycle.start_send(CampaignRepo(), world.queue, DISPATCH_Q, world.account_id, campaign, BASE,
                             send_at=send_at, senders=wiring.sender_check())
    assert "send_at" in str(err.value)
    item = CampaignRepo().get(world.account_id, campaign, consistent=True)
    assert item is not None and item.status == "draft" and item.send_at is None


def _in_days(days: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def test_throttling_is_absorbed_inside_the_invocation_when_it_passes(world: World) -> None:
    people = emails(20)
    campaign = world.campaign([world.new_list(people)])
    slept: list[float] = []
    world.deps.throttle_sleep = slept.append
    world.ses.throttle_next = 3  # a short burst of Throttling: fewer than the attempts one recipient gets
    world.run_dispatch()
    world.deliver(world.send_messages())
    assert world.send_messages() == [], "a short burst must not send anyone back to the queue"
    assert slept and all(0 < s <= 0.2 * 2 ** 3 for s in slept)
    stats = world.stats(campaign)
    assert (stats["sent"], stats["failed"], stats["status"]) == (20, 0, "sent")


def test_persistent_throttling_sends_the_rest_back_and_never_fails_anyone(world: World) -> None:
    people = emails(50)
    campaign = world.campaign([world.new_list(people)])
    world.ses.throttle_next = 10_000
    world.run_dispatch()
    result = send_batch(world.send_messages()[0], world.deps)
    assert (result.sent, result.failed, result.deferred) == (0, 0, 50)
    assert world.ses.calls < 50 * 4, "once SES keeps throttling, the batch stops calling it"
    world.ses.throttle_next = 0
    world.run_all()
    world.deliver(world.send_messages())
    stats = world.stats(campaign)
    assert (stats["sent"], stats["failed"], stats["status"]) == (50, 0, "sent")


def _event_deps(min_sends: int) -> Any:
    return dataclasses.replace(wiring.ses_event_deps(), pause_min_sends=min_sends)


def _bounce(world: World, campaign: str, email: str, kind: str = "Bounce") -> None:
    rid = recipient_id(world.account_id, email)
    apply(_event_deps(40), SesEvent(kind, world.account_id, campaign, rid, f"m-{rid}", email,
                                    "Permanent" if kind == "Bounce" else None, {}))


def test_bounce_rate_over_the_threshold_pauses_the_campaign_with_the_reason(world: World) -> None:
    people = emails(150)
    campaign = world.campaign([world.new_list(people)])
    world.run_dispatch()
    first, second, *rest = world.send_messages()
    world.deliver([first])  # 50 sent: 2 bounces = 4 %, under 5 %
    sent = world.recipients_sent()
    for email in sent[:2]:
        _bounce(world, campaign, email)
        _bounce(world, campaign, email)  # SNS repeats itself: counted once
    assert world.stats(campaign)["status"] == "sending"
    projection = wiring.tenant_pace()
    projection.plan(world.account_id, 1000, 2.0)  # as if its dispatch had queued 500 s ahead
    _bounce(world, campaign, sent[2])  # 3 / 50 = 6 %
    item = CampaignRepo().get(world.account_id, campaign, consistent=True)
    assert item is not None and item.status == "paused"
    assert projection.plan(world.account_id, 2, 2.0) < time.time() + 5  # the tenant's queue restarts now
    assert "bounce rate 6.00%" in item.status_reason and "after 50 sends" in item.status_reason
    world.deliver([second, *rest])
    assert len(world.ses.sent) == 50  # the rest waits for a human to look
    assert campaigns.view(item)["status_reason"].startswith("paused automatically")


def test_complaints_pause_only_after_the_minimum_sends(world: World) -> None:
    people = emails(30)
    campaign = world.campaign([world.new_list(people)])
    world.run_dispatch()
    world.deliver(world.send_messages())
    _bounce(world, campaign, people[0], kind="Complaint")  # 1/30 > 0.1 %, but 30 < 40 sends
    assert world.stats(campaign)["status"] == "sent"
    assert world.stats(campaign)["complained"] == 1


def test_auto_pause_thresholds_are_settings_with_the_issue_defaults() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert (fields["auto_pause_bounce_rate"], fields["auto_pause_complaint_rate"], fields["auto_pause_min_sends"]) \
        == (0.05, 0.001, 1000)


def test_reject_and_rendering_failure_are_counted_delivery_delay_is_not_an_error(world: World) -> None:
    people = ["ann@example.com", "bob@example.com"]
    campaign = world.campaign([world.new_list(people)])
    world.run_all()
    handler = _handler()
    for name, email in (("ses_reject.json", people[0]), ("ses_rendering_failure.json", people[1]),
                        ("ses_delivery_delay.json", people[0])):
        event = sample(name, world.account_id, campaign, email)
        assert handler(event, Ctx()) == {"handled": 1, "ignored": 0}
        handler(event, Ctx())  # SNS repeats itself
    stats = world.stats(campaign)
    assert (stats["rejected"], stats["rendering_failed"], stats["delivered"], stats["sent"]) == (1, 1, 0, 2)


def test_the_local_stack_runs_the_sweep_rule_of_the_template(clean_aws: Any) -> None:
    """`beacon dev` sends the rule's Input to the dispatch queue on a timer, as EventBridge does."""
    import json
    import threading

    from beacon_local.pollers import ScheduleTimer
    from beacon_local.template import TemplateError, parse_rate

    [schedule] = [s for s in clean_aws.template.queue_schedules if s.queue == "DispatchQueue"]
    assert (schedule.queue, schedule.seconds, json.loads(schedule.body)) == ("DispatchQueue", 60, {"kind": "sweep"})
    ScheduleTimer(schedule, clean_aws, threading.Event()).tick()
    sqs = clean_aws.client("sqs")
    got = sqs.receive_message(QueueUrl=clean_aws.queues["DispatchQueue"].url, MaxNumberOfMessages=10)
    assert [json.loads(m["Body"]) for m in got.get("Messages", [])] == [{"kind": "sweep"}]
    for bad in ("cron(0 * * * ? *)", "rate(0 minutes)", "rate(1 fortnight)", "rate()"):
        with pytest.raises(TemplateError):
            parse_rate(bad)
