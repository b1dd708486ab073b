"""Automations and webhooks on moto: the stream records of real writes become events
(beacon_local.streams reads moto's streams), contacts enter once, each step goes out once whatever is
redelivered, an unsubscribe between the steps stops step 2, a 100-contact burst enters once each, and
webhook deliveries retry with backoff, stop at 410, fail to the DLQ after ~28 h, and replay."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import pytest

from beacon import wiring
from beacon.audience import contacts
from beacon.automations import definitions, progress
from beacon.automations.stats import report
from beacon.db.accounts import ListRepo
from beacon.db.contacts import ContactRepo
from beacon.db.models import SuppressionItem
from beacon.db.suppressions import SuppressionRepo
from beacon.ports.http_out import FakeHttpOut
from beacon.ports.queue import FakeQueue
from beacon.tracking.domain_events import DomainEvent, StreamDeps, events_of
from beacon.webhooks import deliveries, endpoints
from beacon_local.resources import Resources
from beacon_local.streams import TableStream
from tests.integration.pipeline_world import World, make_world

AUTOMATION_Q = "local://automation"
EVENTS_Q = "local://events"
WEBHOOK_Q = "local://webhooks"
DLQ = "local://webhooks-dlq"


@dataclass
class Clock:
    now: float = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Reactions:
    world: World
    clock: Clock
    queue: FakeQueue
    auto: progress.AutomationDeps
    streams: dict[str, TableStream]
    stream_deps: StreamDeps
    http: FakeHttpOut = field(default_factory=FakeHttpOut)

    def events(self) -> list[DomainEvent]:
        records = [r for reader in self.streams.values() for r in reader.read()]
        return events_of(records, self.stream_deps)

    def enter_all(self, events: list[DomainEvent]) -> None:
        for event in events:
            progress.enter(event, self.auto)

    def run_steps(self, rounds: int = 4) -> int:
        """Run the queued automation messages, and what they queue, a few rounds (a step that is not due
        yet queues itself again: it would wait for its SQS delay)."""
        ran = 0
        for _ in range(rounds):
            for body in self.queue.drain(AUTOMATION_Q):
                progress.handle(body, self.auto)
                ran += 1
        return ran

    def webhook_deps(self) -> deliveries.WebhookDeps:
        return deliveries.WebhookDeps(webhooks=wiring.webhooks(), queue=self.queue, queue_url=WEBHOOK_Q, dlq_url=DLQ,
                                      http=self.http, deployment_secret=wiring.settings().token_secret,
                                      origin=wiring._email_origin, clock=self.clock)


@pytest.fixture
def r(clean_aws: Resources) -> Iterator[Reactions]:
    world = make_world()
    clock = Clock()
    queue = FakeQueue()
    world.deps.clock = clock
    auto = progress.AutomationDeps(automations=wiring.automations(), contacts=ContactRepo(), ledger=wiring.ledger(),
                                   queue=queue, queue_url=AUTOMATION_Q, send_deps=world.deps, clock=clock)
    dynamodb = clean_aws.client("dynamodb")
    streams_client = boto3.client("dynamodbstreams", region_name=clean_aws.region,
                                  config=botocore.config.Config(account_id_endpoint_mode="disabled"))
    s = wiring.settings()
    tables = {"messages": s.messages_table, "contacts": s.contacts_table, "suppressions": s.suppressions_table,
              "campaigns": s.campaigns_table}
    readers = {kind: TableStream(dynamodb, streams_client, name) for kind, name in tables.items()}
    stream_deps = wiring.stream_deps()
    stream_deps.queue = queue
    stream_deps.events_queue_url = EVENTS_Q
    yield Reactions(world, clock, queue, auto, readers, stream_deps)


def _automation(r: Reactions, list_id: str, delays: tuple[int, ...] = (0, 5)) -> dict[str, Any]:
    steps = [{"after_seconds": d, "subject": f"Step {i + 1} for {{{{ contact.first_name }}}}",
              "from_email": f"hello@{r.world.sender_domain}", "html": f"<p>Step {i + 1} <a href='https://x.example/{i}'>go</a></p>"}
             for i, d in enumerate(delays)]
    created = definitions.create(wiring.automations(), ListRepo(), wiring.signer(), r.world.account_id, "Acme",
                                 {"name": "Welcome", "trigger": {"type": "subscribed", "list_id": list_id},
                                  "steps": steps}, "https://t.example.com", senders=wiring.sender_check())
    return definitions.set_status(wiring.automations(), r.world.account_id, created["id"], "activate")


def _add(r: Reactions, list_id: str, emails: list[str]) -> None:
    contacts.upsert_json(ContactRepo(), ListRepo(), SuppressionRepo(), r.world.account_id, list_id,
                         [{"email": e, "attributes": {"first_name": e.split("@")[0]}} for e in emails])


def _sent(r: Reactions, subject_start: str) -> list[str]:
    import email as email_lib
    from email import policy

    found = []
    for outgoing in r.world.ses.sent:
        message = email_lib.message_from_bytes(outgoing.raw, policy=policy.default)
        if str(message["Subject"]).startswith(subject_start):
            found.append(outgoing.to_address)
    return found


def test_redelivered_triggers_and_steps_send_nothing_twice(r: Reactions) -> None:
    list_id = r.world.new_list([])
    automation = _automation(r, list_id)
    _add(r, list_id, ["ann@example.com"])
    events = [e for e in r.events() if e.type == "contact.subscribed"]
    assert len(events) == 1 and events[0].automations
    r.enter_all(events + events)  # the event delivered twice
    step_messages = r.queue.drain(AUTOMATION_Q)
    assert len(step_messages) == 2
    for body in step_messages + step_messages:  # and each step message twice
        progress.handle(body, r.auto)
    assert _sent(r, "Step 1") == ["ann@example.com"]
    follow = r.queue.drain(AUTOMATION_Q)
    assert follow and all(b["step"] == 1 for b in follow)
    assert 5 in [d for delays in r.queue.delays for d in (delays if isinstance(delays, list) else [delays])]
    r.clock.now += 5
    for body in follow + follow:
        progress.handle(body, r.auto)
    assert _sent(r, "Step 2") == ["ann@example.com"]
    stats = report(r.world.account_id, wiring.automations().get(r.world.account_id, automation["id"]),
                   wiring.counters(), wiring.rollup_store())
    assert (stats["entered"], stats["active"], stats["completed"], stats["exited"]) == (1, 0, 1, 0)
    assert [s["sent"] for s in stats["steps"]] == [1, 1]


def test_a_step_message_that_arrives_early_waits_for_its_time(r: Reactions) -> None:
    list_id = r.world.new_list([])
    _automation(r, list_id, delays=(0, 600))
    _add(r, list_id, ["eve@example.com"])
    r.enter_all(r.events())
    r.run_steps()
    assert _sent(r, "Step 1") == ["eve@example.com"] and _sent(r, "Step 2") == []


def test_an_unsubscribe_between_the_steps_stops_step_two(r: Reactions) -> None:
    list_id = r.world.new_list([])
    automation = _automation(r, list_id)
    _add(r, list_id, ["bob@example.com", "cy@example.com"])
    r.enter_all(r.events())
    r.run_steps()
    assert sorted(_sent(r, "Step 1")) == ["bob@example.com", "cy@example.com"]
    from beacon.shared.ids import recipient_id

    bob = recipient_id(r.world.account_id, "bob@example.com")
    SuppressionRepo().add(SuppressionItem(pk=r.world.account_id, sk=bob, email="bob@example.com",
                                          reason="unsubscribe", created_at="2026-01-01T00:00:00Z"))
    ContactRepo().set_status(r.world.account_id, bob, "unsubscribed", "2026-01-01T00:00:00Z")
    r.clock.now += 5
    r.run_steps()
    assert _sent(r, "Step 2") == ["cy@example.com"]
    stats = report(r.world.account_id, wiring.automations().get(r.world.account_id, automation["id"]),
                   wiring.counters(), wiring.rollup_store())
    assert (stats["completed"], stats["exited"]) == (1, 1)
    unsubscribed = [e for e in r.events() if e.type == "contact.unsubscribed"]
    assert [e.data["email"] for e in unsubscribed] == []  # nobody listens: no webhook, no automation on it


def test_pausing_holds_the_pending_step_and_activating_sends_it(r: Reactions) -> None:
    list_id = r.world.new_list([])
    automation = _automation(r, list_id)
    _add(r, list_id, ["dee@example.com"])
    r.enter_all(r.events())
    definitions.set_status(wiring.automations(), r.world.account_id, automation["id"], "pause")
    assert r.run_steps() and _sent(r, "Step 1") == []
    definitions.set_status(wiring.automations(), r.world.account_id, automation["id"], "activate")
    progress.handle({"kind": "resume", "account_id": r.world.account_id, "automation_id": automation["id"]}, r.auto)
    r.run_steps()
    assert _sent(r, "Step 1") == ["dee@example.com"]


def test_a_burst_of_100_contacts_enters_once_each(r: Reactions) -> None:
    list_id = r.world.new_list([])
    automation = _automation(r, list_id, delays=(0, 3600))
    emails = [f"p{i:03d}@example.com" for i in range(100)]
    _add(r, list_id, emails)
    events = [e for e in r.events() if e.type == "contact.subscribed"]
    assert len(events) == 100
    r.enter_all(events)
    r.enter_all(events[:30])  # a part of the burst redelivered
    r.run_steps()
    assert sorted(_sent(r, "Step 1")) == emails
    stats = report(r.world.account_id, wiring.automations().get(r.world.account_id, automation["id"]),
                   wiring.counters(), wiring.rollup_store())
    assert (stats["entered"], stats["active"]) == (100, 100)
    assert r.queue.drain(AUTOMATION_Q) == []  # an hour is past SQS's delays: the due-time index holds it
    assert progress.sweep(r.auto) == 0
    r.clock.now += 3600
    assert progress.sweep(r.auto) == 100
    assert progress.sweep(r.auto) == 0  # what the sweep queued it does not queue again
    r.run_steps()
    assert sorted(_sent(r, "Step 2")) == emails


def test_an_import_starts_automations_only_when_asked(r: Reactions) -> None:
    list_id = r.world.new_list([])
    _automation(r, list_id)
    data = b"email,first_name\nimp@example.com,Imp\n"
    contacts.import_csv(ContactRepo(), ListRepo(), SuppressionRepo(), r.world.account_id, list_id, data)
    assert [e.automations for e in r.events()] == []  # nobody listens to plain subscribed events but automations
    data = b"email,first_name\nopt@example.com,Opt\n"
    contacts.import_csv(ContactRepo(), ListRepo(), SuppressionRepo(), r.world.account_id, list_id, data,
                        trigger_automations=True)
    events = r.events()
    assert [(e.data["email"], e.data["source"], e.automations) for e in events] == [("opt@example.com", "import", True)]


# ----------------------------------------------------------------------------- webhooks
def _endpoint(r: Reactions, url: str, events: list[str]) -> dict[str, Any]:
    return endpoints.create(wiring.webhooks(), wiring.settings().token_secret, r.world.account_id,
                            {"url": url, "events": events}, allow_local=False)


def _campaign_events(r: Reactions) -> list[DomainEvent]:
    list_id = r.world.new_list(["ann@example.com"])
    r.world.campaign([list_id])
    r.world.run_all()
    return r.events()


def test_a_500_is_retried_with_backoff_then_delivered(r: Reactions) -> None:
    hook = _endpoint(r, "https://hooks.example.com/in", ["campaign.sent"])
    r.http.script["https://hooks.example.com/in"] = [500, 500, 200]
    events = [e for e in _campaign_events(r) if e.type == "campaign.sent"]
    assert len(events) == 1
    deps = r.webhook_deps()
    assert deliveries.fan_out(events[0], deps) == 1
    outcomes, delays = [], []
    for _ in range(3):
        (message,) = r.queue.drain(WEBHOOK_Q)
        outcomes.append(deliveries.deliver(message, deps))
        delays.append(r.queue.delays[-1])
        assert deliveries.fan_out(events[0], deps) == 0  # the event redelivered: no second delivery
        r.clock.now += 2000
    assert outcomes == ["retrying", "retrying", "succeeded"]
    assert 4 <= int(delays[0]) <= 6 and 270 <= int(delays[1]) <= 330
    log = deliveries.log(wiring.webhooks(), r.world.account_id, hook["id"], 10, None)["items"]
    assert [a["status_code"] for a in log[0]["attempts"]] == [500, 500, 200] and log[0]["status"] == "succeeded"
    assert {s.headers["webhook-id"] for s in r.http.sent} == {f"msg_{events[0].id}"}


def test_a_410_disables_the_endpoint(r: Reactions) -> None:
    hook = _endpoint(r, "https://gone.example.com/in", ["email.delivered", "campaign.sent"])
    r.http.script["https://gone.example.com/in"] = [410]
    event = next(e for e in _campaign_events(r) if e.type == "campaign.sent")
    deps = r.webhook_deps()
    deliveries.fan_out(event, deps)
    (message,) = r.queue.drain(WEBHOOK_Q)
    assert deliveries.deliver(message, deps) == "gone"
    assert endpoints.require(wiring.webhooks(), r.world.account_id, hook["id"])["status"] == "disabled"
    assert deliveries.fan_out(event, deps) == 0


def test_retries_last_over_24_hours_then_the_dlq_and_replay_works(r: Reactions) -> None:
    assert sum(deliveries.RETRY_SCHEDULE) * 0.9 >= 24 * 3600
    hook = _endpoint(r, "https://down.example.com/in", ["campaign.sent"])
    r.http.script["https://down.example.com/in"] = [503]
    event = next(e for e in _campaign_events(r) if e.type == "campaign.sent")
    deps = r.webhook_deps()
    deliveries.fan_out(event, deps)
    outcomes = []
    while message := next(iter(r.queue.drain(WEBHOOK_Q)), None):
        outcomes.append(deliveries.deliver(message, deps))
        r.clock.now += 900  # each hop of a long wait is a delayed message that only re-queues itself
    assert outcomes.count("retrying") == 7 and outcomes[-1] == "failed"
    assert r.queue.drain(DLQ)[0]["event_id"] == event.id
    r.http.script["https://down.example.com/in"] = [200]
    replayed = deliveries.replay(deps, r.world.account_id, hook["id"], event.id)
    assert replayed["status"] == "pending"
    (message,) = r.queue.drain(WEBHOOK_Q)
    assert deliveries.deliver(message, deps) == "succeeded"
    item = deliveries.log(wiring.webhooks(), r.world.account_id, hook["id"], 10, None)["items"][0]
    assert len(item["attempts"]) == 9 and item["status"] == "succeeded"


def test_a_click_event_carries_the_url_and_machine_clicks_go_only_to_who_asked(r: Reactions) -> None:
    from beacon.db.engagement import Engagement  # noqa: F401 - the ledger item the click is written to

    human = _endpoint(r, "https://h.example.com/in", ["email.clicked"])
    both = endpoints.create(wiring.webhooks(), wiring.settings().token_secret, r.world.account_id,
                            {"url": "https://m.example.com/in", "events": ["email.clicked"], "include_machine": True},
                            allow_local=False)
    list_id = r.world.new_list(["ann@example.com"])
    campaign_id = r.world.campaign([list_id])
    r.world.run_all()
    r.events()
    from beacon.shared.ids import recipient_id

    rid = recipient_id(r.world.account_id, "ann@example.com")
    wiring.engagement().record_click(r.world.account_id, campaign_id, rid, link_index=1, human=False, at=1, at_iso="x",
                                     client="scanner:curl")
    (event,) = r.events()
    assert event.type == "email.clicked" and event.machine
    deps = r.webhook_deps()
    assert deliveries.fan_out(event, deps) == 1
    (message,) = r.queue.drain(WEBHOOK_Q)
    assert message["webhook_id"] == both["id"] != human["id"]
    deliveries.deliver(message, deps)
    import json

    payload = json.loads(r.http.sent[0].body)
    assert payload["type"] == "email.clicked"
    assert payload["data"] == {"email": "ann@example.com", "campaign_id": campaign_id, "machine": True,
                               "client": "scanner:curl", "url": "https://shop.example.com/b"}


def test_with_webhooks_and_an_automation_on_an_open_and_a_click_are_still_one_write_and_no_read(
        r: Reactions) -> None:
    """The event layer reads the stream: the pixel and the click path are the same one UpdateItem
    whoever listens, and their events still reach the webhook."""
    import email as email_lib
    import re
    from email import policy

    from tests.integration.test_tracking import aws_calls, event, load

    hook = _endpoint(r, "https://hooks.example.com/engagement", ["email.opened", "email.clicked"])
    list_id = r.world.new_list(["ann@example.com"])
    _automation(r, list_id)
    r.world.campaign([list_id])
    r.world.run_all()
    r.events()
    raw = email_lib.message_from_bytes(r.world.ses.sent[-1].raw, policy=policy.default)
    html = raw.get_body(("html",)).get_content()  # type: ignore[union-attr]
    pixel_token = re.search(r"/o/([A-Za-z0-9_-]+)", html).group(1)  # type: ignore[union-attr]
    click_token = re.search(r"/c/([A-Za-z0-9_-]+)", html).group(1)  # type: ignore[union-attr]
    with aws_calls() as calls:
        assert load("track_open")(event(pixel_token), None)["statusCode"] == 200
    assert dict(calls) == {"UpdateItem": 1}
    with aws_calls() as calls:
        assert load("track_click")(event(click_token), None)["statusCode"] == 302
    assert dict(calls) == {"UpdateItem": 1}
    deps = r.webhook_deps()
    events = [e for e in r.events() if e.type in ("email.opened", "email.clicked")]
    assert sorted(e.type for e in events) == ["email.clicked", "email.opened"]
    assert sum(deliveries.fan_out(e, deps) for e in events) == 2
    assert {m["webhook_id"] for m in r.queue.drain(WEBHOOK_Q)} == {hook["id"]}
