"""Segments: how fast a segment is evaluated, and what reading a list for it costs in DynamoDB.

- segment_eval_contacts_per_s / segment_eval_ratio: the per-contact work of a segment count or a
  dispatch page once the items are read (the contact decoded from the raw BatchGetItem item as
  beacon.db.contacts.ContactRow, a 6-rule segment of most kinds of value rule) over 10,000 contacts
  with 10 attributes each, against a floor doing the least that gives the same answer (json.loads of
  the attributes and a hand-written Python predicate with the same case folding). CPU time, the best
  of 7 interleaved runs each; the ratio is what decoding and the rule language cost over hand-written
  code. segment_eval_pynamodb_decode_us: PynamoDB's ContactItem.from_raw_data per contact, which
  ContactRow replaces on this path (for comparison).
- segment_dynamodb_reads_per_contact: read units per contact of counting a 10,000-contact list on
  moto (`attributes_only`: the same segment; `with_engagement_rule`: "opened a prior campaign"
  added, every contact's engagement read), and of dispatching a campaign aimed at the engagement
  segment (`dispatch_with_engagement_rule`: its pages of 100). moto does not charge read units, so
  every read call is metered here as DynamoDB charges it: a Query by the summed size of the items
  it reads, rounded up to 4 KB; BatchGetItem and GetItem per item (found or not) rounded up to
  4 KB; half a unit per 4 KB eventually consistent, one strongly consistent; item sizes from the
  stored items (attribute names and values, DynamoDB's size rules). Goal: <= 1, no per-contact Get.
- segment_dynamodb_calls_per_contact: DynamoDB calls per contact of the same passes, by operation
  (`get_item` must stay 0).
- segment_count_peak_memory_ratio: tracemalloc's peak during a count (the page logic dispatch uses
  too) of a 40,000-contact list over the peak for a 2,500-contact list (flat in list size: ~1). The
  pages come from a generator, not moto: moto runs in-process and its own per-partition work would
  count as Beacon's.

The prior campaign's ledger items are written directly (BatchWriteItem) in the shape the send
ledger and the tracking writes give them (status, email, recipient key, claim and send times, and
for a third of them opens and clicks): sending 10,000 emails through moto would measure moto.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import sys
import threading
import time
import tracemalloc
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "layers" / "core", ROOT / "local"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import moto  # noqa: E402,F401  (before any botocore session: the read figures run on moto)

from beacon.audience.segments import Segment, parse  # noqa: E402
from beacon.db.contacts import ContactRow  # noqa: E402
from beacon.db.models import ContactItem  # noqa: E402

LIST_SIZE = 10_000
SMALL_LIST = 2_500
NOW = datetime.now(UTC)
PRIOR = "0" * 31 + "1"
RULES = [
    {"field": "attributes.plan", "op": "in", "value": ["pro", "team"]},
    {"field": "attributes.country", "op": "eq", "value": "lv"},
    {"field": "attributes.age", "op": "gt", "value": 30},
    {"field": "attributes.city", "op": "contains", "value": "RĪGA"},
    {"field": "attributes.joined", "op": "within_days", "value": 365},
    {"field": "attributes.vip", "op": "exists"},
]


def attributes(rng: random.Random, i: int) -> dict[str, Any]:
    """10 attributes, as an import would give them."""
    return {
        "first_name": f"Reader{i}", "last_name": rng.choice(["Bērziņš", "Ozola", "Smith", "Müller"]),
        "city": rng.choice(["Rīga", "Jūrmala", "Tallinn", "Vilnius", "Berlin"]),
        "country": rng.choice(["LV", "LV", "EE", "LT", "DE"]), "plan": rng.choice(["free", "pro", "team"]),
        "age": rng.randint(18, 80), "score": round(rng.uniform(0, 100), 2),
        "joined": (NOW - timedelta(days=rng.randint(0, 900))).date().isoformat(),
        "vip": rng.choice([True, False, None]), "company": f"Company {rng.randint(1, 500)}",
    }


# ------------------------------------------------------------------------------ evaluation CPU
def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def floor_predicate(raw: dict[str, Any]) -> bool:
    """The same segment, hand-written for these attributes' known types."""
    a = json.loads(raw["attributes"]["S"])
    if a.get("plan") not in ("pro", "team") or a.get("country", "").casefold() != "lv" or not a.get("age", 0) > 30:
        return False
    if "rīga" not in _fold(a.get("city", "")):
        return False
    joined = datetime.fromisoformat(a["joined"]).replace(tzinfo=UTC)
    return NOW - timedelta(days=365) <= joined <= NOW and a.get("vip") is not None


def path_predicate(segment: Segment) -> Callable[[dict[str, Any]], bool]:
    def one(raw: dict[str, Any]) -> bool:
        return segment.matches(ContactRow.from_raw(raw), {}, NOW)

    return one


def eval_figures() -> dict[str, Any]:
    rng = random.Random(15)
    raws = [ContactItem(pk="a" * 32, sk=f"C#{i:032x}", email=f"reader{i}@example.com", attributes=attributes(rng, i),
                        list_ids={"l" * 32}, created_at="2025-01-01T00:00:00Z",
                        updated_at="2025-01-01T00:00:00Z").serialize() for i in range(LIST_SIZE)]
    segment = parse({"match": "all", "rules": RULES})
    ours, floor = path_predicate(segment), floor_predicate
    assert [ours(r) for r in raws] == [floor(r) for r in raws], "the floor must give the same answer"
    times: dict[str, list[float]] = {"path": [], "floor": []}
    for _ in range(7):
        for name, fn in (("path", ours), ("floor", floor)):
            start = time.process_time()
            for raw in raws:
                fn(raw)
            times[name].append(time.process_time() - start)
    path, floor_time = min(times["path"]), min(times["floor"])
    start = time.process_time()
    for raw in raws:
        ContactItem.from_raw_data(raw)
    pynamodb = time.process_time() - start
    matched = sum(1 for r in raws if ours(r))
    sys.stdout.write(f"  {matched} of {LIST_SIZE} contacts match; path {path * 1e6 / LIST_SIZE:.1f} us/contact, "
                     f"floor {floor_time * 1e6 / LIST_SIZE:.1f} us/contact\n")
    return {"segment_eval_contacts_per_s": round(LIST_SIZE / path),
            "segment_eval_ratio": round(path / floor_time, 2),
            "segment_eval_pynamodb_decode_us": round(pynamodb * 1e6 / LIST_SIZE, 1)}


# ------------------------------------------------------------------------------ read units on moto
def _value_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (developer guide, "Item sizes")."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in inner.items())
    raise ValueError(kind)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


class ReadMeter:
    """Every DynamoDB read call through botocore, charged as DynamoDB charges it (full stored items)."""

    def __init__(self, stored: Callable[[str, dict[str, Any]], dict[str, Any] | None]) -> None:
        self.stored = stored
        self.units = 0.0
        self.calls: Counter[str] = Counter()

    def _unit(self, consistent: bool) -> float:
        return 1.0 if consistent else 0.5

    def charge(self, operation: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        self.calls[operation] += 1
        if operation == "GetItem":
            full = self.stored(params["TableName"], params["Key"])
            consistent = params.get("ConsistentRead", False)
            self.units += max(1, math.ceil(item_size(full or {}) / 4096)) * self._unit(consistent)
        elif operation == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                unprocessed = {json.dumps(k, sort_keys=True) for k in
                               answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])}
                for key in request["Keys"]:
                    if json.dumps(key, sort_keys=True) in unprocessed:
                        continue
                    full = self.stored(table, key)
                    self.units += (max(1, math.ceil(item_size(full or {}) / 4096))
                                   * self._unit(request.get("ConsistentRead", False)))
        elif operation == "Query":
            pk = _hash_key_of(params)
            total = 0
            for item in answer.get("Items", []):
                full = self.stored(params["TableName"], {"pk": pk, "sk": item["sk"]})
                total += item_size(full or {})
            self.units += max(1, math.ceil(total / 4096)) * self._unit(params.get("ConsistentRead", False))


def _hash_key_of(params: dict[str, Any]) -> dict[str, Any]:
    """The partition key value of a Query (`<pk name> = <placeholder>` leads every key condition here)."""
    found = re.match(r"\s*\(?\s*(#?\w+)\s*=\s*(:\w+)", params["KeyConditionExpression"])
    assert found, params["KeyConditionExpression"]
    return params["ExpressionAttributeValues"][found.group(2)]


@contextmanager
def metered(meter: ReadMeter) -> Iterator[None]:
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    inside = threading.local()

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = original(client, operation, params)
        if client.meta.service_model.service_name == "dynamodb" and not getattr(inside, "on", False):
            inside.on = True  # the meter's own reads of the stored items are not charged
            try:
                meter.charge(operation, params, answer)
            finally:
                inside.on = False
        return answer

    botocore.client.BaseClient._make_api_call = counted
    try:
        yield
    finally:
        botocore.client.BaseClient._make_api_call = original


def _ledger_items(account_id: str, rids: list[str], rng: random.Random) -> list[dict[str, Any]]:
    """The prior campaign's ledger: what claim + settle write, and for a third, opens and clicks."""
    from beacon.db.keys import ledger_pk

    sent = int(NOW.timestamp()) - 86_400
    items = []
    for rid in rids:
        item: dict[str, Any] = {
            "pk": {"S": ledger_pk(account_id, PRIOR, rid)}, "sk": {"S": rid}, "email": {"S": f"{rid[:10]}@example.com"},
            "recipient_key": {"S": f"{account_id}#{rid}"}, "status": {"S": "sent"},
            "claim_id": {"S": f"{rng.getrandbits(64):016x}"}, "claimed_at": {"N": f"{sent}.123"},
            "settled_at": {"S": "2025-06-14T09:00:00.000Z"}, "sent_at": {"S": "2025-06-14T09:00:00.000Z"},
            "ses_message_id": {"S": f"0100018f{rng.getrandbits(128):032x}-000000"},
            "delivered_at": {"S": "2025-06-14T09:00:02.000Z"},
        }
        kind = rng.random()
        if kind < 0.33:
            item.update({"opens": {"N": "2"}, "machine_opens": {"N": "1"}, "human_opens": {"N": "1"},
                         "first_human_open": {"N": str(sent + 3600)}, "last_open_at": {"S": "2025-06-14T10:00:00Z"},
                         "open_client": {"S": "desktop_browser"}})
        elif kind < 0.66:
            item.update({"opens": {"N": "1"}, "machine_opens": {"N": "1"},
                         "last_open_at": {"S": "2025-06-14T09:00:05Z"}, "open_client": {"S": "apple_mpp"}})
        if kind < 0.1:
            item.update({"clicks": {"N": "1"}, "link_3": {"N": "1"},
                         "human_click_log": {"L": [{"N": str((sent + 3700) * 65536 + 3)}]},
                         "last_click_at": {"S": "2025-06-14T10:01:40Z"}, "click_client": {"S": "desktop_browser"}})
        items.append(item)
    return items


def read_figures() -> dict[str, Any]:
    from moto import mock_aws

    from beacon_local.moto_patches import fast_queries, fast_transactions
    from beacon_local.resources import FAKE_CREDENTIALS, create_resources

    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws(), fast_transactions(), fast_queries():
        resources = create_resources(ROOT / "template.yaml", stage="bench", region="us-east-1",
                                     secret="bench-token-secret-0123456789abcdef")  # noqa: S106 (moto)
        os.environ.update(resources.environment())
        from beacon import wiring
        from beacon.audience import contacts
        from beacon.audience.targeting import Target
        from beacon.db.accounts import ListRepo
        from beacon.db.campaigns import CampaignRepo
        from beacon.db.contacts import ContactRepo
        from beacon.db.models import CampaignItem, ListItem
        from beacon.db.suppressions import SuppressionRepo
        from beacon.ports.queue import FakeQueue
        from beacon.sending.deps import DispatchDeps
        from beacon.sending.dispatch import dispatch
        from beacon.shared.ids import new_id, recipient_id

        wiring.reset()
        settings = wiring.bound()
        dynamodb = resources.client("dynamodb")

        def stored(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
            return dynamodb.get_item(TableName=table, Key=key).get("Item")  # (a plain client: not metered)

        account_id = new_id()
        rng = random.Random(16)
        lists = {}
        for name in ("all", "small"):
            lists[name] = new_id()
            ListRepo().create(ListItem(pk=f"A#{account_id}", sk=f"LIST#{lists[name]}", list_id=lists[name], name=name,
                                       created_at="2025-01-01T00:00:00Z", contact_count=0))
        people: list[dict[str, Any]] = [{"email": f"reader{i:05d}@example.com", "attributes": attributes(rng, i)}
                                        for i in range(LIST_SIZE)]
        for start in range(0, LIST_SIZE, 1000):
            contacts.upsert_json(ContactRepo(), ListRepo(), SuppressionRepo(), account_id, lists["all"],
                                 people[start:start + 1000])
        for start in range(0, SMALL_LIST, 1000):
            contacts.upsert_json(ContactRepo(), ListRepo(), SuppressionRepo(), account_id, lists["small"],
                                 people[start:min(start + 1000, SMALL_LIST)])
        rids = [recipient_id(account_id, p["email"]) for p in people]
        for start in range(0, LIST_SIZE, 2000):
            dynamodb_items = _ledger_items(account_id, rids[start:start + 2000], rng)
            table = settings.messages_table
            for chunk in range(0, len(dynamodb_items), 25):
                dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}}
                                                                for i in dynamodb_items[chunk:chunk + 25]]})
        CampaignRepo().create(CampaignItem(pk=account_id, sk=PRIOR, campaign_id=PRIOR, name="Prior", subject="s",
                                           from_email="n@acme.test", html="<p>x</p>", status="sent",
                                           created_at="x", updated_at="x"))

        attributes_only = parse({"match": "all", "rules": RULES})
        with_engagement = parse({"match": "all", "rules": [*RULES[:1], {"field": f"campaign:{PRIOR}", "op": "opened"}]})
        targeting = wiring.targeting()
        reads: dict[str, float] = {}
        calls: dict[str, dict[str, float]] = {}
        counts = {}
        for name, segment in (("attributes_only", attributes_only), ("with_engagement_rule", with_engagement)):
            meter = ReadMeter(stored)
            with metered(meter):
                answer = targeting.count(account_id, Target((lists["all"],), segment=segment), budget=LIST_SIZE)
            assert answer["complete"], answer
            counts[name] = answer["count"]
            reads[name] = round(meter.units / LIST_SIZE, 3)
            calls[name] = {op: round(n / LIST_SIZE, 4) for op, n in sorted(meter.calls.items())}

        # a dispatch of a campaign aimed at the engagement segment (pages of 100), queue in memory
        segment_id = new_id()
        campaign = CampaignItem(pk=account_id, sk=new_id(), name="Targeted", subject="s", from_email="n@acme.test",
                                html="<p>x</p>", status="sending", list_ids=[lists["all"]], segment_id=segment_id,
                                segment_snapshot={"id": segment_id, "name": "n", **with_engagement.definition()},
                                created_at="x", updated_at="x")
        campaign.campaign_id = campaign.sk
        CampaignRepo().create(campaign)
        queue = FakeQueue()
        deps = DispatchDeps(campaigns=CampaignRepo(), audience=targeting, counters=wiring.counters(), queue=queue,
                            send_queue_url="q://send", dispatch_queue_url="q://dispatch")
        meter = ReadMeter(stored)
        with metered(meter):
            while dispatch({"account_id": account_id, "campaign_id": campaign.sk}, deps, lambda: 60.0) != "done":
                pass
        dispatched = sum(len(m["recipients"]) for m in queue.messages.get("q://send", []))
        assert dispatched == counts["with_engagement_rule"], (dispatched, counts)
        reads["dispatch_with_engagement_rule"] = round(meter.units / LIST_SIZE, 3)
        calls["dispatch_with_engagement_rule"] = {op: round(n / LIST_SIZE, 4) for op, n in sorted(meter.calls.items())}

        wiring.reset()
    sys.stdout.write(f"  matched: {counts}, dispatched {dispatched}\n")
    for name, per_op in calls.items():
        if per_op.get("GetItem", 0) > 0.01:  # dispatch reads its campaign once a job: never once a contact
            raise RuntimeError(f"{name}: Gets by the contact ({per_op})")
    return {"segment_dynamodb_reads_per_contact": reads, "segment_dynamodb_calls_per_contact": calls}


# ------------------------------------------------------------------------------ memory
class _GeneratedList:
    """A list of any size whose pages are made when asked (raw items decoded as BatchGetItem's
    would be), and a prior campaign's ledger the same way: nothing of the list is held here, so
    what tracemalloc sees growing is Beacon's."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rng = random.Random(17)

    def _rid(self, i: int) -> str:
        return f"{i * (16**32 // (self.size + 1)):032x}"

    def members_page(self, account_id: str, list_id: str, limit: int, cursor: dict[str, str] | None
                     ) -> tuple[list[Any], dict[str, str] | None]:
        from beacon.db.models import MembershipItem

        start = 0 if cursor is None else int(cursor["sk"], 16) // (16**32 // (self.size + 1)) + 1
        page = [MembershipItem(pk=f"{account_id}#L#{list_id}", sk=self._rid(i))
                for i in range(start, min(start + limit, self.size))]
        more = start + limit < self.size
        return page, ({"pk": f"{account_id}#L#{list_id}", "sk": page[-1].sk} if more else None)

    def rows(self, account_id: str, recipient_ids: Any) -> dict[str, Any]:
        from beacon.db.contacts import ContactRow

        out = {}
        for rid in recipient_ids:
            raw = ContactItem(pk=account_id, sk=f"C#{rid}", email=f"{rid[:12]}@example.com",
                              attributes=attributes(self.rng, 0), list_ids={"l" * 32}, created_at="2025-01-01",
                              updated_at="x").serialize()
            out[rid] = ContactRow.from_raw(raw)
        return out

    def of_recipients(self, account_id: str, campaign_id: str, recipient_ids: list[str]) -> dict[str, Any]:
        return {rid: item for rid, item in zip(recipient_ids, _ledger_items(account_id, recipient_ids, self.rng),
                                               strict=True)}

    def recipients_page(self, *args: Any) -> Any:
        raise NotImplementedError


def memory_figures() -> dict[str, Any]:
    from beacon.audience.targeting import Target, Targeting

    segment = parse({"match": "all", "rules": [*RULES[:1], {"field": f"campaign:{PRIOR}", "op": "opened"}]})
    peaks = {}
    for size in (SMALL_LIST, 4 * LIST_SIZE):
        source = _GeneratedList(size)
        targeting = Targeting(source, source)
        tracemalloc.start()
        answer = targeting.count("a" * 32, Target(("l" * 32,), segment=segment), budget=size)
        peaks[size] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert answer["complete"] and 0 < answer["count"] < size, answer
    small, big = peaks[SMALL_LIST], peaks[4 * LIST_SIZE]
    sys.stdout.write(f"  peak memory of a count: {small / 1e6:.2f} MB at {SMALL_LIST} contacts, "
                     f"{big / 1e6:.2f} MB at {4 * LIST_SIZE}\n")
    return {"segment_count_peak_memory_ratio": round(big / small, 2)}


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    figures.update(eval_figures())
    figures.update(memory_figures())
    figures.update(read_figures())
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        sys.stdout.write(f"{key}: {value}\n")
