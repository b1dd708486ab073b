"""The stats roll-up without a database: the per-item contribution sums to the brute-force summary
(any items, any order of their changes), the timeline adds up to the stats, and the stream-record
parser takes hostile events without applying anything it should not."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.db.engagement import LINK_SHIFT
from beacon.db.stats_rollup import Part, Target, padded, slot_of, watermark_name
from beacon.tracking import rollup
from beacon.tracking.engagement_stats import change, contribution, figures, summarize, timeline_counts

T0 = 1_800_000_000
ACCT, CAMP = "a" * 32, "c" * 32
ISO = {T0: "2027-01-15T08:00:00.000Z"}


def n(value: int) -> dict[str, str]:
    return {"N": str(value)}


@st.composite
def ledger_items(draw: st.DrawFn) -> dict[str, Any]:
    """A ledger item as the pixel, the click handler and ses_events leave it (consistent counts)."""
    item: dict[str, Any] = {"sk": {"S": draw(st.text("0123456789abcdef", min_size=32, max_size=32))}}
    if draw(st.booleans()):
        item["delivered_at"] = {"S": ISO[T0]}
    elif draw(st.booleans()):
        item["sent_at"] = {"S": draw(st.sampled_from([ISO[T0], "garbage", ""]))}
    human, proxied, machine = (draw(st.integers(0, 3)) for _ in range(3))
    if human + proxied + machine:
        item["opens"] = n(human + proxied + machine)
        for name, count in (("human_opens", human), ("proxied_opens", proxied), ("machine_opens", machine)):
            if count:
                item[name] = n(count)
        if human or proxied:
            item["first_human_open"] = n(T0 + draw(st.integers(-100, 5000)))
        item["last_open_at"] = {"S": ISO[T0]}
        item["open_client"] = {"S": draw(st.sampled_from(["apple_mpp", "desktop_browser", "gmail_proxy",
                                                           "scanner:proofpoint", "head_request"]))}
    if draw(st.booleans()):
        item["honeypot_hits"] = {"NS": [str(T0 + draw(st.integers(0, 300))) for _ in range(draw(st.integers(1, 2)))]}
    logged = draw(st.lists(st.tuples(st.integers(-10, 400), st.integers(0, 3)), max_size=5))
    unlogged, request_machine = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    total = len(logged) + unlogged + request_machine
    if total:
        item["clicks"] = n(total)
        per_link: Counter[int] = Counter(link for _, link in logged)
        for _ in range(unlogged + request_machine):
            per_link[draw(st.integers(0, 3))] += 1
        for link, count in per_link.items():
            item[f"link_{link}"] = n(count)
        if logged:
            item["human_click_log"] = {"L": [n((T0 + at) * LINK_SHIFT + link) for at, link in logged]}
        if unlogged:
            item["human_clicks_unlogged"] = n(unlogged)
        if request_machine:
            item["machine_clicks"] = n(request_machine)
        item["last_click_at"] = {"S": ISO[T0]}
        item["click_client"] = {"S": draw(st.sampled_from(["scanner:curl", "desktop_browser", "no_user_agent"]))}
    return item


@settings(max_examples=300, deadline=None)
@given(st.lists(ledger_items(), max_size=12))
def test_the_sum_of_contributions_is_the_brute_force_summary(items: list[dict[str, Any]]) -> None:
    totals: Counter[str] = Counter()
    for item in items:
        totals.update(contribution(item))
    assert figures(totals, 4) == summarize(items, 4)
    opens, clicks = summarize(items, 4)
    minutes, untimed = timeline_counts(totals)
    assert sum(m["human_opens"] for m in minutes.values()) + untimed["human_opens"] == opens["human_unique"]
    assert sum(m["machine_opens"] for m in minutes.values()) + untimed["machine_opens"] == opens["machine"]
    assert sum(m["machine_clicks"] for m in minutes.values()) + untimed["machine_clicks"] == clicks["machine"]
    assert sum(m["human_clicks"] for m in minutes.values()) + untimed["human_clicks"] == \
        clicks["total"] - clicks["machine"]


@settings(max_examples=200, deadline=None)
@given(st.lists(ledger_items(), min_size=1, max_size=6), st.randoms())
def test_changes_telescope_in_any_order(versions: list[dict[str, Any]], rnd: Any) -> None:
    """An item's successive versions: the changes (old -> new) summed in any order give the last version."""
    steps = list(zip([None, *versions[:-1]], versions, strict=True))
    rnd.shuffle(steps)
    total: Counter[str] = Counter()
    for old, new in steps:
        total.update(change(old, new))
    assert {k: v for k, v in total.items() if v} == contribution(versions[-1])


def test_an_unengaged_item_adds_nothing_but_its_delivery() -> None:
    assert contribution({"sk": {"S": "x"}, "status": {"S": "sent"}}) == {}
    assert contribution({"sk": {"S": "x"}, "status": {"S": "sent"}, "delivered_at": {"S": ISO[T0]}}) == {"dl": 1}
    assert contribution(None) == {}
    assert change(None, None) == {}


def test_the_timeline_places_each_series_at_its_own_time() -> None:
    item = {"opens": n(3), "human_opens": n(1), "machine_opens": n(2), "first_human_open": n(T0 + 125),
            "last_open_at": {"S": ISO[T0]}, "open_client": {"S": "apple_mpp"},
            "clicks": n(2), "link_0": n(2), "delivered_at": {"S": ISO[T0]},
            "human_click_log": {"L": [n((T0 + 3) * LINK_SHIFT), n((T0 + 3600) * LINK_SHIFT)]}}
    c = contribution(item)
    minute = T0 // 60
    assert c[f"t{minute + 2}ho"] == 1  # the first human open, 125 s in
    assert c[f"t{minute}mo"] == 2  # MPP, placed at the last open (a machine's)
    assert c[f"t{minute}mc"] == 1  # 3 s after delivery, before the human open: the scanner sweep
    assert c[f"t{minute + 60}hc"] == 1
    item["open_client"] = {"S": "desktop_browser"}  # the latest open was the person's: MPP has no time
    assert contribution(item)["umo"] == 2


# ------------------------------------------------------------------ the stream records


def record(seq: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None, name: str = "MODIFY",
           pk: str = f"{ACCT}#{CAMP}#a") -> dict[str, Any]:
    body: dict[str, Any] = {"SequenceNumber": seq, "Keys": {"pk": {"S": pk}, "sk": {"S": "a" * 32}},
                            "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        body["NewImage"] = new
    if old is not None:
        body["OldImage"] = old
    return {"eventName": name, "dynamodb": body}


OPENED = {"opens": n(1), "human_opens": n(1), "first_human_open": n(T0)}


class Recorder:
    def __init__(self, fail: set[str] | None = None) -> None:
        self.calls: list[tuple[Target, str, list[Part]]] = []
        self.fail = fail or set()

    def apply(self, target: Target, shard_id: str, parts: list[Part]) -> int:
        if target.sk in self.fail:
            raise RuntimeError("throttled")
        self.calls.append((target, shard_id, parts))
        return len(parts)


def test_one_open_goes_to_the_campaigns_core_item_and_its_hour() -> None:
    store = Recorder()
    outcome = rollup.apply({"shardId": "s-1", "Records": [record("100", OPENED, {"sk": {"S": "x"}})]}, store)
    assert outcome.failed_from is None and outcome.applied == 2
    targets = {t.sk: parts for t, _, parts in store.calls}
    slot = slot_of("s-1")
    assert targets[f"r{slot:02d}"][0].amounts == {"ot": 1, "ou": 1, "oh": 1}
    assert targets[f"t#{T0 // 3600:08d}#{slot:02d}"][0].amounts == {f"m{(T0 // 60) % 60:02d}ho": 1}
    assert all(t.pk == f"{ACCT}#{CAMP}" for t, _, _ in store.calls)


def test_a_click_counts_its_link_apart() -> None:
    store = Recorder()
    clicked = {"clicks": n(1), "link_3": n(1), "machine_clicks": n(1), "last_click_at": {"S": ISO[T0]},
               "click_client": {"S": "scanner:curl"}}
    rollup.apply({"shardId": "s-1", "Records": [record("5", clicked, {"sk": {"S": "x"}})]}, store)
    targets = {t.sk: parts[0].amounts for t, _, parts in store.calls}
    slot = slot_of("s-1")
    assert targets[f"l{slot:02d}"] == {"l3t": 1, "l3u": 1, "l3m": 1}  # the links item: clicks only
    assert targets[f"r{slot:02d}"] == {"ct": 1, "cu": 1, "cm": 1}


def test_a_failed_item_names_the_first_record_to_deliver_again() -> None:
    slot = slot_of("s-1")
    store = Recorder(fail={f"r{slot:02d}"})
    records = [record("7", OPENED, name="INSERT"),
               record("9", {**OPENED, "opens": n(2), "human_opens": n(2)}, OPENED)]
    outcome = rollup.apply({"shardId": "s-1", "Records": records}, store)
    assert outcome.failed_from == "7"
    assert rollup.response(outcome) == {"state": {}, "batchItemFailures": [{"itemIdentifier": "7"}]}
    with pytest.raises(RuntimeError):  # nothing could be written: the invocation fails
        rollup.apply({"shardId": "s-1", "Records": records[1:]}, store)


@pytest.mark.parametrize("event", [None, [], "x", {"Records": []}, {"shardId": "", "Records": []},
                                   {"shardId": 7, "Records": []}, {"shardId": "s" * 201, "Records": []},
                                   {"shardId": "s", "Records": "nope"},
                                   {"shardId": "s", "Records": [{}] * 10_001}])
def test_an_event_without_a_shard_or_records_is_refused(event: Any) -> None:
    with pytest.raises(rollup.BadEvent):
        rollup.parse(event)


@pytest.mark.parametrize(("bad", "why"), [
    ("not a record", "not an object"),
    ({"eventName": "MODIFY"}, "no dynamodb section"),
    ({"eventName": "MODIFY", "dynamodb": {"Keys": {}}}, "no sequence number"),
    (record("12ab", OPENED), "not a stream sequence number"),
    (record("1" * 41, OPENED), "not a stream sequence number"),
    (record("-5", OPENED), "not a stream sequence number"),
    (record("5", OPENED, name="UPSERT"), "unknown eventName"),
    (record("5", OPENED, pk="A#abc"), "not a send-ledger item"),
    (record("5", OPENED, pk=f"{ACCT}#{CAMP}"), "not a send-ledger item"),
    (record("5", OPENED, pk=f"{ACCT}#../etc#a"), "not a send-ledger item"),
    ({"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "5", "Keys": {"pk": "str"}}}, "not a send-ledger item"),
    (record("5", None), "no new image"),
    (record("5", OPENED, None, name="MODIFY"), "no old image"),
])
def test_unusable_records_are_passed_over_and_named(bad: Any, why: str) -> None:
    store = Recorder()
    outcome = rollup.apply({"shardId": "s", "Records": [bad, record("99", OPENED, name="INSERT")]}, store)
    assert len(outcome.skipped) == 1 and why in outcome.skipped[0]
    assert outcome.applied == 2  # the good record still went through


def test_an_image_the_stats_cannot_read_is_passed_over() -> None:
    broken = {"opens": n(1), "human_opens": {"N": "many"}}
    store = Recorder()
    outcome = rollup.apply({"shardId": "s", "Records": [record("3", broken, name="INSERT")]}, store)
    assert store.calls == [] and "cannot read" in outcome.skipped[0]


def test_removals_and_unchanged_figures_write_nothing() -> None:
    store = Recorder()
    records = [record("3", None, OPENED, name="REMOVE"),
               record("4", {**OPENED, "last_open_at": {"S": "x"}}, OPENED)]  # nothing the stats count changed
    outcome = rollup.apply({"shardId": "s", "Records": records}, store)
    assert store.calls == [] and outcome.skipped == []


def test_sequence_numbers_compare_as_numbers_and_names_are_short() -> None:
    assert padded("9") < padded("10") < padded("1" * 40)
    assert len(watermark_name("shardId-00000001541626099285-f35f62ef")) == 14
    assert watermark_name("a") != watermark_name("b")
    assert all(0 <= slot_of(f"shard-{i}") < 16 for i in range(50))
