"""Targeting with in-memory readers (beacon.audience.targeting): lists one after the other with a
contact counted once, excluded lists, subscribed only (not through a pending membership), the
segment (engagement read only for the contacts the other rules leave open), a resend's unread
recipients, and the count's cursor (continuing equals counting at once; a cursor of another count
or another tenant is refused)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from beacon.audience.segments import SegmentProblem, parse
from beacon.audience.targeting import Target, Targeting, target_of
from beacon.db.contacts import ContactRow
from beacon.db.keys import ledger_pks
from beacon.db.models import CampaignItem, MembershipItem

ACCOUNT = "a" * 32
PRIOR = "c" * 32
NOW = datetime(2025, 6, 15, tzinfo=UTC)


def rid(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


class Contacts:
    def __init__(self) -> None:
        self.contacts: dict[str, ContactRow] = {}
        self.lists: dict[str, set[str]] = {}
        self.pending: dict[tuple[str, str], str] = {}  # (list, recipient) -> "pending": a form signup
        self.reads = 0

    def add(self, email: str, lists: Iterable[str], status: str = "subscribed", **attributes: Any) -> str:
        r = rid(email)
        self.contacts[r] = ContactRow(r, email, attributes, status, frozenset(lists), "2025-06-01T00:00:00Z")
        for list_id in lists:
            self.lists.setdefault(list_id, set()).add(r)
        return r

    def members_page(self, account_id: str, list_id: str, limit: int, cursor: dict[str, str] | None
                     ) -> tuple[list[MembershipItem], dict[str, str] | None]:
        pk = f"{account_id}#L#{list_id}"
        if cursor is not None and cursor["pk"] != pk:
            raise ValueError("cursor is not one this API gave out")
        ids = sorted(r for r in self.lists.get(list_id, ()) if cursor is None or r > cursor["sk"])
        page = [MembershipItem(pk=pk, sk=r, status=self.pending.get((list_id, r))) for r in ids[:limit]]
        return page, ({"pk": pk, "sk": page[-1].sk} if len(ids) > limit else None)

    def rows(self, account_id: str, recipient_ids: Iterable[str]) -> dict[str, ContactRow]:
        self.reads += 1
        return {r: self.contacts[r] for r in recipient_ids if r in self.contacts}


class Ledger:
    """A campaign's ledger: recipient id -> raw item."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, dict[str, Any]]] = {}
        self.asked: list[list[str]] = []

    def put(self, campaign: str, r: str, status: str = "sent", **numbers: int) -> None:
        item: dict[str, Any] = {"sk": {"S": r}, "status": {"S": status}}
        item.update({k: {"N": str(v)} for k, v in numbers.items()})
        self.items.setdefault(campaign, {})[r] = item

    def of_recipients(self, account_id: str, campaign_id: str, recipient_ids: list[str]) -> dict[str, dict[str, Any]]:
        self.asked.append(list(recipient_ids))
        items = self.items.get(campaign_id, {})
        return {r: items[r] for r in recipient_ids if r in items}

    def recipients_page(self, account_id: str, campaign_id: str, shard: int, cursor: dict[str, str] | None,
                        limit: int) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        pk = ledger_pks(account_id, campaign_id)[shard]
        ids = sorted(r for r in self.items.get(campaign_id, {}) if r[:1] == pk[-1]
                     and (cursor is None or r > cursor["sk"]))
        page = [self.items[campaign_id][r] for r in ids[:limit]]
        return page, ({"pk": pk, "sk": ids[limit - 1]} if len(ids) > limit else None)


def exclude(contacts: Contacts, email: str) -> None:
    """Put a contact on the list "NO" too."""
    row = contacts.contacts[rid(email)]
    contacts.contacts[row.recipient_id] = dataclasses.replace(row, list_ids=row.list_ids | {"NO"})


def everyone(targeting: Targeting, target: Target, limit: int = 7) -> list[str]:
    out: list[str] = []
    position: Any = (0, None)
    while position is not None:
        page = targeting.page(ACCOUNT, target, position, limit)
        out += [c.email for c in page.recipients]
        position = page.next
    return out


@pytest.fixture
def world() -> tuple[Contacts, Ledger, Targeting]:
    contacts, ledger = Contacts(), Ledger()
    return contacts, ledger, Targeting(contacts, ledger, clock=lambda: NOW)


def test_lists_minus_excluded_subscribed_only_once_each(world: tuple[Contacts, Ledger, Targeting]) -> None:
    contacts, _ledger, targeting = world
    for i in range(30):
        contacts.add(f"a{i}@x.com", ["L1"])
    for i in range(20, 45):  # a20-a29 are on both lists
        contacts.add(f"a{i}@x.com", ["L1", "L2"] if i < 30 else ["L2"])
    contacts.add("left@x.com", ["L1"], status="unsubscribed")
    contacts.add("bounced@x.com", ["L2"], status="bounced")
    contacts.add("pending@x.com", ["L1"], status="pending")
    for i in (3, 25, 40):
        exclude(contacts, f"a{i}@x.com")
    got = everyone(targeting, Target(("L1", "L2"), frozenset({"NO"})))
    expected = {f"a{i}@x.com" for i in range(45)} - {"a3@x.com", "a25@x.com", "a40@x.com"}
    assert sorted(got) == sorted(expected) and len(got) == len(set(got))


def test_a_pending_membership_of_a_subscribed_contact_is_no_recipient_of_that_list(
        world: tuple[Contacts, Ledger, Targeting]) -> None:
    """A subscribed person whose form signup to another list waits for its confirmation (issue 14)."""
    contacts, _ledger, targeting = world
    contacts.add("known@x.com", ["L1"])
    r = contacts.add("waiting@x.com", ["L1"])
    contacts.lists.setdefault("L2", set()).add(r)
    contacts.pending[("L2", r)] = "pending"
    contacts.add("other@x.com", ["L2"])
    assert sorted(everyone(targeting, Target(("L2",)))) == ["other@x.com"]
    assert sorted(everyone(targeting, Target(("L1", "L2")))) == ["known@x.com", "other@x.com", "waiting@x.com"]
    assert targeting.count(ACCOUNT, Target(("L2",)))["count"] == 1


def test_a_contact_erased_between_membership_and_read_is_skipped(world: tuple[Contacts, Ledger, Targeting]) -> None:
    contacts, _ledger, targeting = world
    gone = contacts.add("gone@x.com", ["L1"])
    contacts.add("here@x.com", ["L1"])
    del contacts.contacts[gone]
    assert everyone(targeting, Target(("L1",))) == ["here@x.com"]


def test_engagement_is_read_only_for_the_undecided(world: tuple[Contacts, Ledger, Targeting]) -> None:
    contacts, ledger, targeting = world
    pro = [contacts.add(f"pro{i}@x.com", ["L"], plan="pro") for i in range(10)]
    for i in range(10):
        contacts.add(f"free{i}@x.com", ["L"], plan="free")
    for i, r in enumerate(pro):
        ledger.put(PRIOR, r, human_opens=1 if i % 2 else 0, machine_opens=0 if i % 2 else 4)
    segment = parse({"match": "all", "rules": [{"field": "attributes.plan", "op": "eq", "value": "pro"},
                                               {"field": f"campaign:{PRIOR}", "op": "opened"}]})
    got = everyone(targeting, Target(("L",), segment=segment), limit=100)
    assert sorted(got) == sorted(f"pro{i}@x.com" for i in range(1, 10, 2))
    assert [sorted(a) for a in ledger.asked] == [sorted(pro)]  # one read, the pro contacts only
    ledger.asked.clear()
    any_segment = parse({"match": "any", "rules": [{"field": "attributes.plan", "op": "eq", "value": "pro"},
                                                   {"field": f"campaign:{PRIOR}", "op": "opened"}]})
    assert len(everyone(targeting, Target(("L",), segment=any_segment), limit=100)) == 10
    assert [len(a) for a in ledger.asked] == [10]  # only the free ones needed their engagement


def test_a_page_with_no_undecided_contact_reads_no_engagement(world: tuple[Contacts, Ledger, Targeting]) -> None:
    contacts, ledger, targeting = world
    for i in range(5):
        contacts.add(f"free{i}@x.com", ["L"], plan="free")
    segment = parse({"rules": [{"field": "attributes.plan", "op": "eq", "value": "pro"},
                               {"field": f"campaign:{PRIOR}", "op": "clicked"}]})
    assert everyone(targeting, Target(("L",), segment=segment)) == []
    assert ledger.asked == []


def test_resend_reaches_the_unread_subscribed_recipients(world: tuple[Contacts, Ledger, Targeting]) -> None:
    contacts, ledger, targeting = world
    kinds = {"human": {"human_opens": 1}, "mpp": {"machine_opens": 2}, "proxy": {"proxied_opens": 1},
             "none": {}, "clicked": {"clicks": 1, "human_clicks_unlogged": 1}, "scanned": {"clicks": 1}}
    expected_non_openers, expected_non_clickers = set(), set()
    for i in range(60):
        kind = list(kinds)[i % len(kinds)]
        email = f"{kind}{i}@x.com"
        status = "unsubscribed" if i % 7 == 0 else "subscribed"
        r = contacts.add(email, ["L"], status=status)
        ledger.put(PRIOR, r, **kinds[kind])
        if status == "subscribed":
            if kind not in ("human", "clicked"):
                expected_non_openers.add(email)
            if kind != "clicked":
                expected_non_clickers.add(email)
    failed = contacts.add("failed@x.com", ["L"])
    ledger.put(PRIOR, failed, status="failed")
    contacts.add("never@x.com", ["L"])  # on the list, never sent the original
    got = everyone(targeting, Target((), resend_of=PRIOR, resend_audience="non_openers"), limit=3)
    assert sorted(got) == sorted(expected_non_openers) and len(got) == len(set(got))
    got = everyone(targeting, Target((), resend_of=PRIOR, resend_audience="non_clickers"), limit=50)
    assert sorted(got) == sorted(expected_non_clickers)
    # narrowed by exclusion too
    excluded = sorted(expected_non_openers)[0]
    exclude(contacts, excluded)
    got = everyone(targeting, Target((), frozenset({"NO"}), resend_of=PRIOR, resend_audience="non_openers"))
    assert sorted(got) == sorted(expected_non_openers - {excluded})


def test_count_in_steps_equals_count_at_once(world: tuple[Contacts, Ledger, Targeting]) -> None:
    contacts, _ledger, targeting = world
    for i in range(130):
        contacts.add(f"p{i}@x.com", ["L1"] if i < 90 else ["L2"], n=i)
    target = Target(("L1", "L2"), segment=parse({"rules": [{"field": "attributes.n", "op": "gt", "value": 10}]}))
    whole = targeting.count(ACCOUNT, target)
    assert whole == {"count": 119, "complete": True, "next_cursor": None}
    answers = [targeting.count(ACCOUNT, target, budget=25)]
    while not answers[-1]["complete"]:
        answers.append(targeting.count(ACCOUNT, target, answers[-1]["next_cursor"], budget=25))
    assert answers[-1]["count"] == 119 and len(answers) >= 5
    assert all(a["count"] <= b["count"] for a, b in itertools.pairwise(answers))


def test_count_refuses_a_cursor_it_did_not_give(world: tuple[Contacts, Ledger, Targeting]) -> None:
    contacts, _ledger, targeting = world
    for i in range(40):
        contacts.add(f"p{i}@x.com", ["L1"])
    target = Target(("L1",))
    cursor = targeting.count(ACCOUNT, target, budget=10)["next_cursor"]
    other = Target(("L1",), segment=parse({"rules": [{"field": "email", "op": "contains", "value": "p1"}]}))
    import base64
    import json

    def forged(**change: Any) -> str:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        data.update(change)
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()

    bad = ["", "!!!", "e30", cursor[:-3], "x" * 5000, base64.urlsafe_b64encode(b"[1,2]").decode(),
           forged(i=5), forged(i=-1), forged(i=True), forged(n=-4), forged(n="9"),
           forged(k={"pk": f"{'b' * 32}#L#L1", "sk": "0" * 32}),  # another tenant's list
           forged(k={"pk": f"{ACCOUNT}#L#L1", "sk": "../../etc"}), forged(k={"pk": f"{ACCOUNT}#L#L1"}),
           forged(k=[1]), forged(t="0" * 16), forged(extra=1)]
    for cursor_text in bad:
        with pytest.raises(SegmentProblem) as caught:
            targeting.count(ACCOUNT, target, cursor_text)
        assert caught.value.where == "cursor"
    with pytest.raises(SegmentProblem):
        targeting.count(ACCOUNT, other, cursor)  # a cursor of another count


def test_target_of_a_campaign_uses_the_recorded_definition() -> None:
    item = CampaignItem(pk=ACCOUNT, sk="c", campaign_id="c", list_ids=["L1"], exclude_list_ids=["X"],
                        segment_id="s" * 32,
                        segment_snapshot={"id": "s" * 32, "name": "n", "match": "any", "updated_at": "t",
                                          "rules": [{"field": "email", "op": "contains", "value": "@"}]})
    target = target_of(item)
    assert (target.list_ids, target.exclude_list_ids, target.segment and target.segment.match) == (
        ("L1",), frozenset({"X"}), "any")
    item.segment_snapshot = None
    with pytest.raises(ValueError, match="recorded"):
        target_of(item)
