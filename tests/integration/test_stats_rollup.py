"""The stats roll-up over moto: after a 2,000-recipient campaign with human, proxied and machine opens,
human, scanner and honeypot clicks, the stats read from the roll-up equal a brute-force count over
the ledger items, when the ledger's stream records reach StatsRollupFunction duplicated, retried,
regrouped into other batches, interleaved across shards and with writes that fail half-way.

What DynamoDB Streams and Lambda guarantee, and so what the delivery below may do: every change of
an item goes to one shard, in order; Lambda reads a shard in order and delivers a record the first
time in order; a record may come again (a retried batch restarts at its first or its failed record;
"if records are processed multiple times, they might be processed out of order"). Different shards
go in any order relative to each other."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from typing import Any

import pytest

from beacon import wiring
from beacon.campaigns import timeline
from beacon.campaigns.stats import report
from beacon.db.campaigns import CampaignRepo
from beacon.db.engagement import Engagement
from beacon.db.keys import ledger_pk, ledger_pks
from beacon.db.stats_rollup import Part, RollupStore, Target
from beacon.shared.config import get_settings
from beacon.shared.ids import recipient_id
from beacon.tracking import rollup
from beacon.tracking.engagement_stats import contribution, summarize, timeline_counts
from beacon_local.resources import Resources
from tests.integration.ledger_stream import LedgerStream, ledger_stream, load_handler
from tests.integration.pipeline_world import World, make_world

RECIPIENTS = int(__import__("os").environ.get("ROLLUP_TEST_RECIPIENTS", "2000"))
SHARDS = ["shardId-00000001700000000000-aaaa0001", "shardId-00000001700000000000-bbbb0002",
          "shardId-00000001700000000000-cccc0003", "shardId-00000001700000000000-dddd0004"]
T0 = 1_800_000_000  # the campaign's delivery time in this test (epoch seconds)


def _iso(at: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def delivered(account_id: str, campaign_id: str, recipient_id: str) -> None:
    """delivered_at as ses_events sets it (beacon.db.send_ledger.Ledger.mark), without the campaign
    counter's transaction: moto copies the whole table for each transaction."""
    client = wiring.engagement()._client
    client.update_item(TableName=get_settings().messages_table,
                       Key={"pk": {"S": ledger_pk(account_id, campaign_id, recipient_id)}, "sk": {"S": recipient_id}},
                       UpdateExpression="SET delivered_at = :at",
                       ConditionExpression="attribute_not_exists(delivered_at)",
                       ExpressionAttributeValues={":at": {"S": _iso(T0)}})


def engage(world: World, campaign: str, people: list[str], rng: random.Random) -> None:
    """Opens and clicks of every kind, written as the pixel and the click handler write them."""
    e: Engagement = wiring.engagement()
    acct = world.account_id
    for i, email in enumerate(people):
        rid = recipient_id(acct, email)
        ids = (acct, campaign, rid)
        roll = rng.random()
        if i % 5 == 0:  # SES reported some deliveries (the click window starts there)
            delivered(*ids)
        if roll < 0.15:  # Apple MPP: machine opens only
            for k in range(rng.randint(1, 2)):
                e.record_open(*ids, kind="machine", at=T0 + 5 + k, at_iso=_iso(T0 + 5 + k), client="apple_mpp")
        elif roll < 0.35:  # a person, sometimes after MPP
            if rng.random() < 0.2:
                e.record_open(*ids, kind="machine", at=T0 + 2, at_iso=_iso(T0 + 2), client="apple_mpp")
            for k in range(rng.choice((1, 1, 1, 2, 3))):
                at = T0 + 600 + 37 * k + i
                e.record_open(*ids, kind="human", at=at, at_iso=_iso(at), client="desktop_browser")
        elif roll < 0.42:  # a webmail image proxy
            e.record_open(*ids, kind="proxied", at=T0 + 900, at_iso=_iso(T0 + 900), client="gmail_proxy")
        elif roll < 0.45:  # opened by a scanner, then by the person
            e.record_open(*ids, kind="machine", at=T0 + 1, at_iso=_iso(T0 + 1), client="scanner:proofpoint")
            e.record_open(*ids, kind="human", at=T0 + 4000, at_iso=_iso(T0 + 4000), client="mobile_browser")
        click = rng.random()
        if click < 0.05:  # a link scanner 3 s after delivery, before any open: machine by the sweep
            e.record_click(*ids, link_index=0, human=True, at=T0 + 3, at_iso=_iso(T0 + 3), client="desktop_browser")
        elif click < 0.09:  # a person, an hour later, on both links, one link twice
            for k, link in enumerate((0, 1, 1)):
                at = T0 + 3600 + 10 * k
                e.record_click(*ids, link_index=link, human=True, at=at, at_iso=_iso(at), client="desktop_browser")
        elif click < 0.11:  # curl
            e.record_click(*ids, link_index=1, human=False, at=T0 + 50, at_iso=_iso(T0 + 50), client="scanner:curl")
        elif click < 0.13:  # the honeypot, then a "person" within 120 s of it: tainted
            e.record_honeypot(*ids, at=T0 + 7200, at_iso=_iso(T0 + 7200), client="scanner:bot")
            e.record_click(*ids, link_index=0, human=True, at=T0 + 7260, at_iso=_iso(T0 + 7260), client="other")
        if i % 5 and i % 7 == 0 and rng.random() < 0.5:  # a delivery event that arrives after the click
            delivered(*ids)


def shard_of(record: dict[str, Any]) -> str:
    """Each item to one synthetic shard (by its key, as DynamoDB keeps an item's changes together)."""
    keys = record["dynamodb"]["Keys"]
    return SHARDS[zlib.crc32((keys["pk"]["S"] + keys["sk"]["S"]).encode()) % len(SHARDS)]


class FlakyStore:
    """The real store; every few writes fails after or before it is applied (a throttle, a crash)."""

    def __init__(self, store: RollupStore, rng: random.Random) -> None:
        self.store, self.rng, self.failures, self.calls = store, rng, 0, 0
        self.unexpected: list[Exception] = []  # what the real store raised: nothing, ever

    def apply(self, target: Target, shard_id: str, parts: list[Part]) -> int:
        self.calls += 1
        fate = 0.0 if self.calls == 3 else 1.0 if self.calls == 5 else self.rng.random()  # each fault at least once
        if fate < 0.04:
            self.failures += 1
            raise RuntimeError("throttled before writing")
        try:
            done = self.store.apply(target, shard_id, parts)
        except Exception as exc:
            self.unexpected.append(exc)
            raise
        if fate > 0.97:
            self.failures += 1
            raise RuntimeError("timed out after writing")
        return done


def _seq(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def deliver(shards: dict[str, list[dict[str, Any]]], apply_batch: Any, rng: random.Random) -> Counter[str]:
    """Every shard's records, in batches as Lambda forms them, shards interleaved at random; failed
    records delivered again from the failed one; some batches delivered twice; old records replayed
    inside later batches (out of order)."""
    seen: Counter[str] = Counter()
    positions = dict.fromkeys(shards, 0)
    while any(positions[s] < len(shards[s]) for s in shards):
        shard = rng.choice([s for s in shards if positions[s] < len(shards[s])])
        start = positions[shard]
        fresh = shards[shard][start:start + rng.randint(1, 250)]
        batch = list(fresh)
        if start and (rng.random() < 0.2 or not seen["replayed"]):  # duplicates of earlier records, out of order
            batch = rng.sample(shards[shard][:start], min(start, rng.randint(1, 5))) + batch
            seen["replayed"] += 1
        failed_from = apply_batch(batch, shard)
        if failed_from is None:
            positions[shard] = start + len(fresh)
            if rng.random() < 0.1 or not seen["redelivered"]:  # the invocation timed out after writing: again
                apply_batch(batch, shard)
                seen["redelivered"] += 1
        else:  # Lambda restarts at the failed record
            seen["partial"] += 1
            firsts = [_seq(r) for r in fresh]
            positions[shard] = start + (firsts.index(failed_from) if failed_from in firsts else 0)
    return seen


def ledger_items(account_id: str, campaign_id: str) -> list[dict[str, Any]]:
    """Brute force: every ledger item of the campaign, read back from the table."""
    client, table = wiring.engagement()._client, get_settings().messages_table
    items: list[dict[str, Any]] = []
    for pk in ledger_pks(account_id, campaign_id):
        args: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "pk = :pk",
                                "ExpressionAttributeValues": {":pk": {"S": pk}}, "ConsistentRead": True}
        while True:
            page = client.query(**args)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items


def roll_up_with_faults(stream: LedgerStream, passed: list[dict[str, Any]],
                        rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """The records the roll-up's filter passed, through the roll-up with every fault (deliver): writes
    that fail half-way, whole batches delivered again, records replayed. Checks that each fault
    happened; returns the records by shard."""
    shards: dict[str, list[dict[str, Any]]] = {s: [] for s in SHARDS}
    for r in passed:
        shards[shard_of(r)].append(r)
    store = FlakyStore(wiring.rollup_store(), rng)

    def apply_batch(batch: list[dict[str, Any]], shard: str) -> str | None:
        try:
            outcome = rollup.apply(stream.event(batch, shard), store)
        except RuntimeError:  # nothing written: Lambda delivers the whole batch again
            return str(batch[0]["dynamodb"]["SequenceNumber"])
        assert not outcome.skipped
        return outcome.failed_from

    seen = deliver(shards, apply_batch, rng)
    assert not store.unexpected, store.unexpected[:3]
    assert seen["replayed"] and seen["redelivered"] and seen["partial"] and store.failures  # every fault happened
    return shards


@pytest.mark.parametrize("seed", [18])
def test_rollup_equals_brute_force_under_duplicated_and_reordered_records(clean_aws: Resources, seed: int) -> None:
    rng = random.Random(seed)
    stream = ledger_stream(clean_aws)
    stream.new_records()  # start after what earlier tests wrote
    world = make_world()
    people = [f"reader{i:05d}@example.com" for i in range(RECIPIENTS)]
    campaign = world.campaign([world.new_list(people)])
    world.run_all()
    engage(world, campaign, people, rng)

    records = [r for batch in stream.new_records().values() for r in batch]
    passed = stream.passed(records)
    assert len(records) > 3 * RECIPIENTS and 0 < len(passed) < len(records)  # the filter leaves the sends out
    shards = roll_up_with_faults(stream, passed, rng)

    item = CampaignRepo().get(world.account_id, campaign, consistent=True)
    assert item is not None
    stats = report(item, wiring.rollup_store())
    truth = ledger_items(world.account_id, campaign)
    assert len(truth) == RECIPIENTS
    opens, clicks = summarize(truth, 2)
    clicks["links"] = [{"url": u, **f} for u, f in zip(item.links, clicks["links"], strict=True)]
    assert stats["opens"] == opens
    assert stats["clicks"] == clicks
    assert opens["machine"] > 0 and opens["proxied"] > 0 and clicks["machine"] > 0 and clicks["honeypot"] > 0
    assert 0 < clicks["human_unique"] < clicks["unique"]

    # the timeline: per minute, as the sum of every item's own contribution; every series adds up
    brute: Counter[str] = Counter()
    for ledger_item in truth:
        brute.update(contribution(ledger_item))
    store_timeline = wiring.rollup_store().timeline(world.account_id, campaign, consistent=True)
    assert {k: v for k, v in store_timeline.items() if v} == {k: v for k, v in brute.items() if k[0] in "tu"}
    minutes, untimed = timeline_counts(store_timeline)
    assert sum(m["human_opens"] for m in minutes.values()) + untimed["human_opens"] == opens["human_unique"]
    assert sum(m["machine_opens"] for m in minutes.values()) + untimed["machine_opens"] == opens["machine"]
    assert sum(m["machine_clicks"] for m in minutes.values()) + untimed["machine_clicks"] == clicks["machine"]
    assert sum(m["human_clicks"] for m in minutes.values()) + untimed["human_clicks"] == \
        clicks["total"] - clicks["machine"]
    # the console's GET /v1/campaigns/{id}/timeline (from the roll-up) is the ledger items' own timeline
    now = T0 + 7 * 86400  # the send was requested now; its opens and clicks come at T0 (a year on)
    for bucket in (86400, None):
        answer = timeline.for_campaign(item, wiring.rollup_store(), now, bucket)
        start = timeline.parse_time(item.send_requested_at)
        assert answer == {"campaign_id": campaign, "status": item.status,
                          **timeline.derive(truth, start=start, now=now, active=False, bucket=bucket)}
    assert sum(p["human_opens"] for p in answer["points"]) > 0

    # the whole stream once more, through the function's own handler: nothing changes
    handler = load_handler()
    for shard, batch in shards.items():
        for start in range(0, len(batch), 1000):
            assert handler(stream.event(batch[start:start + 1000], shard), None) == {"state": {},
                                                                                    "batchItemFailures": []}
    assert report(item, wiring.rollup_store()) == stats


def test_a_removed_item_and_foreign_records_change_nothing(clean_aws: Resources) -> None:
    stream = ledger_stream(clean_aws)
    stream.new_records()
    world = make_world()
    people = [f"r{i}@example.com" for i in range(3)]
    campaign = world.campaign([world.new_list(people)])
    world.run_all()
    rid = recipient_id(world.account_id, people[0])
    wiring.engagement().record_open(world.account_id, campaign, rid, kind="human", at=T0, at_iso=_iso(T0),
                                    client="desktop_browser")
    records = stream.passed([r for b in stream.new_records().values() for r in b])
    assert len(records) == 1
    removal = {**records[0], "eventName": "REMOVE"}
    removal["dynamodb"] = {k: v for k, v in records[0]["dynamodb"].items() if k != "NewImage"}
    removal["dynamodb"]["SequenceNumber"] = str(int(records[0]["dynamodb"]["SequenceNumber"]) + 1)
    foreign = {**records[0], "dynamodb": {**records[0]["dynamodb"], "Keys": {"pk": {"S": "not#a#ledger#key"}}}}
    outcome = rollup.apply(stream.event([records[0], removal, foreign], SHARDS[0]), wiring.rollup_store())
    assert outcome.items == 2 and len(outcome.skipped) == 1 and "ledger" in outcome.skipped[0]  # core + hour
    assert world.stats(campaign)["opens"]["human_unique"] == 1
