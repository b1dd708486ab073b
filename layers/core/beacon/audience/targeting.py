"""Who a campaign reaches: pages of recipients for dispatch, and the count a segment would reach.

A target is its sources minus the excluded lists, matching the segment:
  - sources: the subscribed contacts of `list_ids`, list after list (a contact on an earlier list
    of the campaign is that list's recipient: one email per person); or, for a resend, the
    original campaign's recipients (its send-ledger items) that no person opened (or clicked),
    read from the original's ledger when the resend is dispatched;
  - minus anyone on one of `exclude_list_ids` (the contact item carries its lists: no extra read);
  - only contacts whose status is `subscribed` (not unsubscribed, bounced, complained, suppressed,
    or not yet confirmed), through a membership that is not `pending` (a subscribed person's form
    signup to another list waits for its confirmation there);
  - matching the segment (beacon.audience.segments), if any.

Reads per page of contacts (nothing is held beyond the page, so memory stays flat in list size):
  - one Query of the list's memberships (pk {account}#L#{list}, ~100 B an item), or for a resend one
    Query of a ledger partition of the original;
  - one BatchGetItem of those contacts (100 keys a call, in parallel): 0.5 read units a contact;
  - for each campaign a segment's engagement rules name, and only for the contacts the other rules
    leave undecided: the contacts' ledger items of that campaign, by key-range Query (a page of
    contacts is sorted by recipient id, so its ledger items lie in one narrow range) or, when the
    range is dense, BatchGetItem (beacon.db.engagement.Engagement.of_recipients).
No read per contact, no scan, no index: about 0.5 read units a contact plus ~0.04 per engagement rule.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from beacon.audience.segments import Segment, SegmentProblem, parse
from beacon.db.contacts import ContactRow
from beacon.db.keys import SHARDS, ledger_pks
from beacon.db.models import CampaignItem, MembershipItem
from beacon.shared.ids import is_id
from beacon.tracking.engagement_stats import clicked_by_a_person, read_by_a_person, received

RESEND_AUDIENCES = ("non_openers", "non_clickers")
COUNT_PAGE = 500  # contacts read per step of a count
COUNT_BUDGET = 10_000  # contacts read per count request; a bigger audience answers with a cursor
REACHABLE_STATUS = "subscribed"
PENDING = "pending"  # a pending contact or membership: a form signup not confirmed yet


class ContactReader(Protocol):
    def members_page(self, account_id: str, list_id: str, limit: int, cursor: dict[str, str] | None
                     ) -> tuple[list[MembershipItem], dict[str, str] | None]: ...

    def rows(self, account_id: str, recipient_ids: Iterable[str]) -> dict[str, ContactRow]: ...


class LedgerReader(Protocol):
    def of_recipients(self, account_id: str, campaign_id: str, recipient_ids: list[str]
                      ) -> dict[str, dict[str, Any]]: ...

    def recipients_page(self, account_id: str, campaign_id: str, shard: int, cursor: dict[str, str] | None,
                        limit: int) -> tuple[list[dict[str, Any]], dict[str, str] | None]: ...


class SegmentReader(Protocol):
    def get(self, account_id: str, segment_id: str, consistent: bool = False) -> Any: ...


@dataclass(frozen=True)
class Target:
    list_ids: tuple[str, ...]
    exclude_list_ids: frozenset[str] = frozenset()
    segment: Segment | None = None
    resend_of: str | None = None  # the original campaign of a resend
    resend_audience: str | None = None  # non_openers | non_clickers

    @property
    def sources(self) -> int:
        """How many sources are read one after the other: the lists, or the original's ledger partitions."""
        return len(SHARDS) if self.resend_of else len(self.list_ids)

    def fingerprint(self) -> str:
        """Names the target in a count cursor, so a cursor cannot continue another count."""
        text = json.dumps([self.list_ids, sorted(self.exclude_list_ids),
                           self.segment.definition() if self.segment else None, self.resend_of,
                           self.resend_audience], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


Position = tuple[int, dict[str, str] | None]  # (source index, cursor within the source)


@dataclass(frozen=True)
class Page:
    recipients: list[ContactRow]
    scanned: int  # contacts (or ledger items) read
    next: Position | None  # None after the last page


def target_of(campaign: CampaignItem) -> Target:
    """The target of a campaign being dispatched: its lists or original, its exclusions, and the
    segment definition recorded on it at dispatch (segment_snapshot)."""
    segment = None
    if campaign.segment_id:
        if not campaign.segment_snapshot:
            raise ValueError("the campaign's segment was not recorded before dispatch")
        segment = parse(campaign.segment_snapshot)
    return Target(tuple(campaign.list_ids or ()), frozenset(campaign.exclude_list_ids or ()), segment,
                  campaign.resend_of or None, campaign.resend_audience or None)


class Targeting:
    def __init__(self, contacts: ContactReader, ledger: LedgerReader, segments: SegmentReader | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._contacts = contacts
        self._ledger = ledger
        self._segments = segments
        self._clock = clock

    # ------------------------------------------------------------------ pages
    def page(self, account_id: str, target: Target, position: Position, limit: int) -> Page:
        """The recipients among the next `limit` contacts (or ledger items) from `position`."""
        index, cursor = position
        if index >= target.sources:
            return Page([], 0, None)
        if target.resend_of:
            candidates, scanned, next_cursor = self._unread_of_original(account_id, target, index, cursor, limit)
        else:
            candidates, scanned, next_cursor = self._list_members(account_id, target, index, cursor, limit)
        recipients = self._matching(account_id, target.segment, candidates)
        if next_cursor is not None:
            nxt: Position | None = (index, next_cursor)
        else:
            nxt = (index + 1, None) if index + 1 < target.sources else None
        return Page(recipients, scanned, nxt)

    @staticmethod
    def _reachable(target: Target, contact: ContactRow, earlier: frozenset[str] = frozenset()) -> bool:
        if contact.status != REACHABLE_STATUS:
            return False  # erased, or not (or no longer, or not yet) subscribed
        lists = contact.list_ids
        return not (lists & target.exclude_list_ids) and not (lists & earlier)

    def _list_members(self, account_id: str, target: Target, index: int, cursor: dict[str, str] | None,
                      limit: int) -> tuple[list[ContactRow], int, dict[str, str] | None]:
        members, next_key = self._contacts.members_page(account_id, target.list_ids[index], limit, cursor)
        found = self._contacts.rows(account_id, [m.sk for m in members])
        earlier = frozenset(target.list_ids[:index])  # a contact there was that list's recipient
        candidates: list[ContactRow] = []
        for member in members:
            if member.status == PENDING:
                continue  # a form signup waiting for its confirmation on this list (promise 5)
            contact = found.get(member.sk)
            if contact is not None and self._reachable(target, contact, earlier):
                candidates.append(contact)
        return candidates, len(members), next_key

    def _unread_of_original(self, account_id: str, target: Target, shard: int, cursor: dict[str, str] | None,
                            limit: int) -> tuple[list[ContactRow], int, dict[str, str] | None]:
        assert target.resend_of is not None
        items, next_cursor = self._ledger.recipients_page(account_id, target.resend_of, shard, cursor, limit)
        engaged = read_by_a_person if target.resend_audience == "non_openers" else clicked_by_a_person
        unread = [i["sk"]["S"] for i in items if received(i) and not engaged(i)]
        found = self._contacts.rows(account_id, unread) if unread else {}
        candidates: list[ContactRow] = []
        for rid in unread:
            contact = found.get(rid)
            if contact is not None and self._reachable(target, contact):
                candidates.append(contact)
        return candidates, len(items), next_cursor

    def _matching(self, account_id: str, segment: Segment | None, candidates: list[ContactRow]) -> list[ContactRow]:
        if segment is None or not candidates:
            return candidates
        now = self._clock()
        decided = [(contact, segment.decide(contact, now)) for contact in candidates]
        undecided = [c.recipient_id for c, d in decided if d is None]
        if not undecided:
            return [c for c, d in decided if d]
        engagement = {cid: self._ledger.of_recipients(account_id, cid, undecided) for cid in segment.campaigns()}
        out: list[ContactRow] = []
        for contact, decision in decided:
            if decision is None:
                rid = contact.recipient_id
                decision = segment.matches(contact, {cid: items.get(rid) for cid, items in engagement.items()}, now)
            if decision:
                out.append(contact)
        return out

    # ------------------------------------------------------------------ dispatch (sending.deps.Audience)
    def recipients_page(self, campaign: CampaignItem, index: int, cursor: dict[str, str] | None, limit: int
                        ) -> tuple[list[ContactRow], Position | None]:
        page = self.page(campaign.pk, target_of(campaign), (index, cursor), limit)
        return page.recipients, page.next

    def segment_definition(self, account_id: str, segment_id: str) -> dict[str, Any] | None:
        """What a campaign records as the segment it is sent with: the segment as it is now."""
        if self._segments is None:
            raise RuntimeError("Targeting was built without a segment reader")
        item = self._segments.get(account_id, segment_id, consistent=True)
        if item is None:
            return None
        return {"id": segment_id, "name": item.name, **item.definition, "updated_at": item.updated_at}

    # ------------------------------------------------------------------ count
    def count(self, account_id: str, target: Target, cursor: str | None = None, budget: int = COUNT_BUDGET
              ) -> dict[str, Any]:
        """How many contacts the target reaches: `{count, complete, next_cursor}`. At most `budget`
        contacts are read per call; a bigger audience answers `complete: false` with a cursor that
        continues the count (the running count travels in it)."""
        position: Position | None = (0, None)
        count = 0
        if cursor is not None:
            position, count = _decode_count_cursor(cursor, account_id, target)
        scanned = 0
        while position is not None and scanned < budget:
            page = self.page(account_id, target, position, min(COUNT_PAGE, budget - scanned))
            count += len(page.recipients)
            scanned += max(1, page.scanned)
            position = page.next
        if position is None:
            return {"count": count, "complete": True, "next_cursor": None}
        return {"count": count, "complete": False, "next_cursor": _encode_count_cursor(position, count, target)}


def _encode_count_cursor(position: Position, count: int, target: Target) -> str:
    raw = json.dumps({"i": position[0], "k": position[1], "n": count, "t": target.fingerprint()},
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _source_pk(account_id: str, target: Target, index: int) -> str:
    if target.resend_of:
        return ledger_pks(account_id, target.resend_of)[index]
    return f"{account_id}#L#{target.list_ids[index]}"


def _decode_count_cursor(cursor: str, account_id: str, target: Target) -> tuple[Position, int]:
    problem = SegmentProblem("cursor", "is not one this count gave out (send the same rules and lists with it)")
    if not isinstance(cursor, str) or len(cursor) > 2000:
        raise problem
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise problem from exc
    if not isinstance(data, dict) or set(data) != {"i", "k", "n", "t"} or data["t"] != target.fingerprint():
        raise problem
    index, key, count = data["i"], data["k"], data["n"]
    if (isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < target.sources
            or isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise problem
    if key is not None and not (isinstance(key, dict) and set(key) == {"pk", "sk"}
                                and key["pk"] == _source_pk(account_id, target, index)
                                and isinstance(key["sk"], str) and is_id(key["sk"])):
        raise problem
    return (index, key), count
