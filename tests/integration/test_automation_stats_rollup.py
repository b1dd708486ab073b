"""An automation's stats from the stats roll-up, over moto: its steps' emails go out through the
automation's own send path (beacon.automations.progress), people and machines open and click them
(every kind test_stats_rollup.py writes: human, proxied and machine opens, human, scanner and
honeypot clicks, deliveries before and after the clicks), the ledger's stream reaches the roll-up
duplicated, retried, regrouped and interleaved across shards, and then:

- per step, delivered, opens and clicks equal a brute-force count over the step's ledger items
  (engagement_stats.summarize, the reference the campaign roll-up is held to), and equal the
  pre-roll-up report (kept below as `brute_force_report`, its Query over every engaged ledger item)
  except `delivered`, which that report took from a counter nothing writes any more;
- reading the stats costs the same DynamoDB calls and read units (bench/_meter.py's pricing of each
  request, by DynamoDB's rules) at light and at heavy engagement: one Query for the enrolments and
  one per step."""

from __future__ import annotations

import importlib.util
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from beacon import wiring
from beacon.audience import contacts
from beacon.automations import definitions, progress
from beacon.automations.stats import report
from beacon.db.accounts import ListRepo
from beacon.db.campaign_counters import Counters
from beacon.db.contacts import ContactRepo
from beacon.db.engagement import Engagement
from beacon.db.stats_rollup import RollupStore
from beacon.db.suppressions import SuppressionRepo
from beacon.ports.queue import FakeQueue
from beacon.shared.ids import new_id, recipient_id
from beacon.tracking import rollup
from beacon.tracking.domain_events import DomainEvent
from beacon.tracking.engagement_stats import summarize
from beacon_local.resources import Resources
from tests.integration.ledger_stream import ledger_stream, load_handler, roll_up
from tests.integration.pipeline_world import World, make_world
from tests.integration.test_reactions import Clock
from tests.integration.test_stats_rollup import SHARDS, T0, _iso, engage, ledger_items, roll_up_with_faults

ROOT = Path(__file__).resolve().parents[2]
AUTOMATION_Q = "local://automation"
PEOPLE = int(__import__("os").environ.get("AUTOMATION_ROLLUP_TEST_PEOPLE", "200"))
LINKS = ("https://shop.example.com/a", "https://shop.example.com/b")


def _meter_module() -> Any:
    """bench/_meter.py (the benchmarks' DynamoDB pricing of each request moto answers), loaded by path."""
    name = "beacon_bench_meter"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "_meter.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass
class Drip:
    world: World
    clock: Clock
    queue: FakeQueue
    deps: progress.AutomationDeps
    automation_id: str
    people: list[str]

    def item(self) -> dict[str, Any]:
        found = wiring.automations().get(self.world.account_id, self.automation_id)
        assert found is not None
        return found

    def step_ids(self) -> list[str]:
        return [str(s["id"]) for s in self.item()["steps"]]

    def run_steps(self, rounds: int = 4) -> None:
        for _ in range(rounds):
            for body in self.queue.drain(AUTOMATION_Q):
                progress.handle(body, self.deps)


def drip(people: list[str], delays: tuple[int, ...] = (0, 5)) -> Drip:
    """An active automation of len(delays) steps (each with LINKS) on a list of `people`, everyone
    entered (as the contact.subscribed events would enter them) and every step sent."""
    world = make_world()
    clock, queue = Clock(), FakeQueue()
    world.deps.clock = clock
    deps = progress.AutomationDeps(automations=wiring.automations(), contacts=ContactRepo(),
                                   ledger=wiring.ledger(), queue=queue, queue_url=AUTOMATION_Q,
                                   send_deps=world.deps, clock=clock)
    list_id = world.new_list([])
    html = "<p>Hi {{ contact.first_name }}</p>" + "".join(f'<a href="{u}">{i}</a> ' for i, u in enumerate(LINKS))
    steps = [{"after_seconds": d, "subject": f"Step {i + 1}", "from_email": f"hello@{world.sender_domain}",
              "html": html} for i, d in enumerate(delays)]
    created = definitions.create(wiring.automations(), ListRepo(), wiring.signer(), world.account_id, "Acme",
                                 {"name": "Drip", "trigger": {"type": "subscribed", "list_id": list_id},
                                  "steps": steps}, "https://t.example.com", senders=wiring.sender_check())
    definitions.set_status(wiring.automations(), world.account_id, created["id"], "activate")
    for start in range(0, len(people), 1000):
        contacts.upsert_json(ContactRepo(), ListRepo(), SuppressionRepo(), world.account_id, list_id,
                             [{"email": e, "attributes": {"first_name": e.split("@")[0]}}
                              for e in people[start:start + 1000]])
    d = Drip(world, clock, queue, deps, str(created["id"]), people)
    for email in people:
        rid = recipient_id(world.account_id, email)
        progress.enter(DomainEvent(id=new_id(), type="contact.subscribed", account_id=world.account_id,
                                   timestamp="2030-03-17T17:46:40.000Z", data={}, list_id=list_id,
                                   recipient_id=rid, automations=True), deps)
    for _ in delays:
        d.run_steps()
        clock.now += max(delays) + 1
    d.run_steps()
    return d


def brute_force_report(account_id: str, item: dict[str, Any], counters: Counters,
                       engagement: Engagement) -> dict[str, Any]:
    """beacon.automations.stats.report as it was before the roll-up (commit d21bfb9): per step, a Query
    over every engaged ledger item of the step, its cost growing with the engagement."""
    c = counters.read(account_id, item["automation_id"])
    entered, completed, exited = c.get("entered", 0), c.get("completed", 0), c.get("exited", 0)
    steps = []
    for index, step in enumerate(item["steps"]):
        s = counters.read(account_id, step["id"])
        links = list(step.get("links") or [])
        opens, clicks = summarize(engagement.items(account_id, step["id"], len(links)), len(links))
        clicks["links"] = [{"url": url, **figures} for url, figures in zip(links, clicks["links"], strict=True)]
        steps.append({
            "step": index + 1, "id": step["id"], "subject": step["subject"], "after_seconds": step["after_seconds"],
            **{name: s.get(name, 0) for name in ("sent", "failed", "skipped_suppressed", "delivered", "bounced",
                                                 "complained", "unsubscribed")},
            "opens": opens, "clicks": clicks,
        })
    return {"status": item["status"], "entered": entered, "active": max(0, entered - completed - exited),
            "completed": completed, "exited": exited, "steps": steps}


@pytest.fixture
def stream(clean_aws: Resources) -> Iterator[Any]:
    s = ledger_stream(clean_aws)
    s.new_records()  # start after what earlier tests wrote
    yield s


def test_automation_stats_equal_a_brute_force_count_under_duplicated_and_reordered_records(stream: Any) -> None:
    rng = random.Random(18)
    people = [f"dripper{i:04d}@example.com" for i in range(PEOPLE)]
    d = drip(people)
    acct, step_ids = d.world.account_id, d.step_ids()
    assert len(d.world.ses.sent) == 2 * PEOPLE
    for step_id in step_ids:
        engage(d.world, step_id, people, rng)

    records = [r for batch in stream.new_records().values() for r in batch]
    passed = stream.passed(records)
    assert 0 < len(passed) < len(records)  # the template's filter leaves the claims and settles out
    assert {rollup.parse(stream.event([r], SHARDS[0])).changes[0].campaign_id for r in passed} == set(step_ids)
    shards = roll_up_with_faults(stream, passed, rng)

    stats = report(acct, d.item(), wiring.counters(), wiring.rollup_store())
    assert (stats["entered"], stats["active"], stats["completed"], stats["exited"]) == (PEOPLE, 0, PEOPLE, 0)
    for index, (step, step_id) in enumerate(zip(stats["steps"], step_ids, strict=True)):
        truth = ledger_items(acct, step_id)
        assert len(truth) == PEOPLE
        opens, clicks = summarize(truth, len(LINKS))
        clicks["links"] = [{"url": u, **f} for u, f in zip(LINKS, clicks["links"], strict=True)]
        assert (step["step"], step["id"]) == (index + 1, step_id)
        assert step["opens"] == opens
        assert step["clicks"] == clicks
        assert step["delivered"] == sum(1 for i in truth if "delivered_at" in i) > 0
        assert step["sent"] == sum(1 for i in truth if i["status"]["S"] == "sent") == PEOPLE
        assert opens["machine"] > 0 and opens["proxied"] > 0 and clicks["machine"] > 0 and clicks["honeypot"] > 0
        assert 0 < clicks["human_unique"] < clicks["unique"]

    # the report before the roll-up gave the same figures, but `delivered` from a counter that SES's
    # Delivery events stopped writing when deliveries moved to the roll-up: always 0
    before = brute_force_report(acct, d.item(), wiring.counters(), wiring.engagement())
    assert [s["delivered"] for s in before["steps"]] == [0, 0]
    for s in before["steps"]:
        s.pop("delivered")
    assert before == {**stats, "steps": [{k: v for k, v in s.items() if k != "delivered"} for s in stats["steps"]]}

    # the whole stream once more, through the function's own handler (as AWS would): nothing changes
    handler = load_handler()
    for shard, batch in shards.items():
        for start in range(0, len(batch), 1000):
            assert handler(stream.event(batch[start:start + 1000], shard), None)["batchItemFailures"] == []
    assert report(acct, d.item(), wiring.counters(), wiring.rollup_store()) == stats


def _engage_lightly(d: Drip, step_id: str) -> None:
    """One of each kind: a delivery, a human, a proxied and a machine open, a human click on each
    link, a scanner click and a honeypot hit."""
    e, acct = wiring.engagement(), d.world.account_id
    rids = [recipient_id(acct, p) for p in d.people[:4]]
    d_ids = [(acct, step_id, r) for r in rids]
    wiring.ledger().mark_delivered(*d_ids[0], _iso(T0))
    e.record_open(*d_ids[0], kind="human", at=T0 + 600, at_iso=_iso(T0 + 600), client="desktop_browser")
    e.record_open(*d_ids[1], kind="proxied", at=T0 + 700, at_iso=_iso(T0 + 700), client="gmail_proxy")
    e.record_open(*d_ids[2], kind="machine", at=T0 + 5, at_iso=_iso(T0 + 5), client="apple_mpp")
    for link in range(len(LINKS)):
        e.record_click(*d_ids[0], link_index=link, human=True, at=T0 + 3600, at_iso=_iso(T0 + 3600),
                       client="desktop_browser")
    e.record_click(*d_ids[1], link_index=1, human=False, at=T0 + 50, at_iso=_iso(T0 + 50), client="scanner:curl")
    e.record_honeypot(*d_ids[3], at=T0 + 7200, at_iso=_iso(T0 + 7200), client="scanner:bot")


def _engage_heavily(d: Drip, step_id: str, rng: random.Random) -> None:
    """Everyone: delivered, opened (several times, by people and machines) and clicked (both links,
    people and scanners), some honeypots."""
    e, acct = wiring.engagement(), d.world.account_id
    for i, person in enumerate(d.people):
        ids = (acct, step_id, recipient_id(acct, person))
        wiring.ledger().mark_delivered(*ids, _iso(T0))
        for k in range(rng.randint(1, 4)):
            at = T0 + 600 + 60 * k + i
            e.record_open(*ids, kind=rng.choice(("human", "proxied", "machine")), at=at, at_iso=_iso(at),
                          client="desktop_browser")
        for k in range(rng.randint(1, 3)):
            at = T0 + 3600 + 30 * k + i
            e.record_click(*ids, link_index=k % len(LINKS), human=rng.random() < 0.7, at=at, at_iso=_iso(at),
                           client="desktop_browser")
        if i % 9 == 0:
            e.record_honeypot(*ids, at=T0 + 9000 + i, at_iso=_iso(T0 + 9000 + i), client="scanner:bot")


def test_reading_automation_stats_costs_the_same_whatever_the_engagement(stream: Any) -> None:
    """The same calls and read units (priced by bench/_meter.py from the items each request reads)
    at one engaged person per kind as at every person engaged several times: 1 + steps Queries."""
    meter = _meter_module()
    people = [f"reader{i:03d}@example.com" for i in range(60)]
    d = drip(people, delays=(0, 5, 5))
    acct, step_ids = d.world.account_id, d.step_ids()
    store: RollupStore = wiring.rollup_store()

    item = d.item()  # (the route reads the automation before its stats)

    def measured() -> tuple[dict[str, Any], Any]:
        roll_up()  # the ledger's stream into the roll-up, through the function's handler and the template's filter
        with meter.Meter() as usage:
            stats = report(acct, item, wiring.counters(), store)
        return stats, usage

    for step_id in step_ids:
        _engage_lightly(d, step_id)
    light, light_usage = measured()
    assert all(s["opens"]["unique"] == 3 and s["clicks"]["honeypot"] == 1 for s in light["steps"])

    rng = random.Random(7)
    for step_id in step_ids:
        _engage_heavily(d, step_id, rng)
    heavy, heavy_usage = measured()
    assert all(s["opens"]["unique"] == len(people) and s["delivered"] == len(people) for s in heavy["steps"])
    assert all(s["clicks"]["unique"] == len(people) for s in heavy["steps"])

    expected_calls = {"dynamodb.Query": 1 + len(step_ids)}  # the enrolment counters, then one per step
    assert dict(light_usage.calls) == dict(heavy_usage.calls) == expected_calls
    assert set(heavy_usage.rru_by) == {f"{wiring.settings().stats_table}.Query"}  # nothing of the ledger
    assert light_usage.rru == heavy_usage.rru  # read units: the counter and roll-up items' sizes, not the engagement
    assert heavy_usage.rru <= 1 + len(step_ids)  # each Query reads under 4 KB (consistent: 1 unit)

