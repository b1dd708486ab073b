"""Contacts: JSON upsert and CSV import onto a list, and paged listing.

A contact is keyed by its recipient id (a hash of tenant and address). Adding a contact never
resubscribes a person who unsubscribed, complained or hard-bounced: status only moves on a
person's own action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from beacon.audience import attributes, consent, csv_import
from beacon.db.accounts import ListRepo
from beacon.db.audit_log import EventRepo
from beacon.db.contacts import ContactRepo, NewContact
from beacon.db.keys import campaign_of
from beacon.db.models import ContactItem, ListItem
from beacon.db.paging import decode_cursor, encode_cursor
from beacon.db.recipient_ledger import RecipientLedger
from beacon.db.signups import SignupStore
from beacon.db.suppressions import SuppressionRepo
from beacon.shared import addresses
from beacon.shared.clock import now_iso
from beacon.shared.errors import BadRequest, NotFound, PayloadTooLarge, Unprocessable
from beacon.shared.heap import collection_paused
from beacon.shared.ids import recipient_id

MAX_JSON_CONTACTS = 1000
SUPPRESSED_STATUS = {"unsubscribe": "unsubscribed", "complaint": "complained", "bounce": "bounced",
                     "manual": "suppressed"}


def contact_view(item: ContactItem) -> dict[str, Any]:
    return {
        "email": item.email,
        "status": item.status,
        "attributes": item.attributes or {},
        "list_ids": sorted(item.list_ids or []),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


MAX_CONSENT_SOURCE = 200


def clean_consent_source(value: Any) -> str | None:
    """What the account says about how it got the person's consent ("trade fair 2031, paper form"):
    one line of at most 200 characters, or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_CONSENT_SOURCE or any(c in value for c in "\r\n\x00"):
        raise ValueError(f"consent_source must be one line of at most {MAX_CONSENT_SOURCE} characters")
    return value.strip() or None


def _require_list(lists: ListRepo, account_id: str, list_id: str) -> None:
    if lists.get(account_id, list_id) is None:
        raise NotFound("list not found")


@dataclass
class Sorted:
    """Entries judged before any read or write: the clean ones by recipient id (in file order), where
    each was, what the account vouches for each, and the entries skipped (with their reason)."""

    clean: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    where: dict[str, dict[str, int]] = field(default_factory=dict)
    vouched: dict[str, str | None] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)


def sort_entries(account_id: str, entries: list[tuple[dict[str, int], Any, Any]],
                 skipped: list[dict[str, Any]] | None = None, *, consent_sources: dict[int, str | None] | None = None,
                 consent_source: str | None = None, seen: dict[str, dict[str, int]] | None = None) -> Sorted:
    """Judge entries: an invalid address or attributes, or an address seen before (in `seen`, which
    this fills: the first place of each address, over several calls for a file imported in steps),
    is skipped; the rest are clean. Reads and writes nothing."""
    out = Sorted(skipped=list(skipped or []))
    first_seen = {} if seen is None else seen
    for number, (where, raw_email, raw_attrs) in enumerate(entries):
        try:
            email = addresses.normalize(raw_email)
        except addresses.InvalidAddress as exc:
            out.skipped.append({**where, "email": raw_email if isinstance(raw_email, str) else None,
                                "reason": f"invalid email: {exc}"})
            continue
        try:
            attrs = attributes.clean(raw_attrs)
        except attributes.InvalidAttributes as exc:
            out.skipped.append({**where, "email": email, "reason": str(exc)})
            continue
        rid = recipient_id(account_id, email)
        if rid in first_seen:
            first = ", ".join(f"{k} {v}" for k, v in first_seen[rid].items())
            out.skipped.append({**where, "email": email, "reason": f"duplicate of {first} (same address)"})
            continue
        out.clean[rid] = (email, attrs)
        out.where[rid] = where
        first_seen[rid] = where
        out.vouched[rid] = (consent_sources or {}).get(number, consent_source)
    return out


@dataclass
class Written:
    created: int
    updated: int
    joined: set[str]  # recipient ids new to the list (its contact_count grows by as many)


def write_sorted(contacts: ContactRepo, suppressions: SuppressionRepo, account_id: str, list_id: str,
                 judged: Sorted, *, source: str = "api", trigger_automations: bool = True, at: str | None = None,
                 joined_before: set[str] | None = None,
                 before_write: Callable[[Written], None] | None = None) -> Written:
    """Write the clean entries of `judged` onto the list (the list's count is the caller's). A step of
    an import done again after a crash passes its first attempt's time `at` and `joined_before` (who
    was new to the list then): what the first attempt wrote is written the same, so nothing is lost
    (a membership not written yet is written) and no change is seen twice. `before_write` sees the
    counts once they are known, before anything is written (an import step records them there)."""
    clean, vouched = judged.clean, judged.vouched
    must_join = joined_before or set()
    existing = contacts.get_many(account_id, clean)
    new_ids = [rid for rid in clean if rid not in existing or existing[rid].status == "pending"]
    suppressed: dict[str, str] = {}
    for rid in suppressions.suppressed(account_id, new_ids):
        found = suppressions.get(account_id, rid)
        suppressed[rid] = SUPPRESSED_STATUS.get(found.reason if found else "manual", "suppressed")
    now = at or now_iso()
    created = updated = 0
    to_save: list[ContactItem | NewContact] = []
    members_only: list[tuple[str, str, str]] = []
    joined: set[str] = set()
    for rid, (email, attrs) in clean.items():
        item = existing.get(rid)
        if item is None:
            to_save.append(NewContact(pk=account_id, sk=f"C#{rid}", email=email, attributes=attrs,
                                      status=suppressed.get(rid, "subscribed"), list_ids={list_id},
                                      created_at=now, updated_at=now, consent_source=vouched.get(rid)))
            created += 1
            joined.add(rid)
            continue
        updated += 1
        merged = dict(item.attributes or {})
        merged.update(attrs)
        on_list = list_id in (item.list_ids or set())
        pending = item.status == "pending"
        source_given = vouched.get(rid) is not None and vouched.get(rid) != item.consent_source
        if on_list and merged == (item.attributes or {}) and not pending and not source_given:
            if rid in must_join:  # written by the first attempt: its membership may not have been
                joined.add(rid)
                members_only.append((account_id, rid, email))
            continue  # nothing new: no write (a re-import of the same file costs reads only)
        if pending:  # a form signup not confirmed yet: the account adds the person, so it stands
            item.status = suppressed.get(rid, "subscribed")
            item.expires_at = None
        if source_given:
            item.consent_source = vouched[rid]
        item.attributes = merged
        if not on_list or rid in must_join:
            joined.add(rid)
        item.list_ids = set(item.list_ids or set()) | {list_id}
        item.updated_at = now
        to_save.append(item)
    written = Written(created, updated, joined)
    if before_write is not None:
        before_write(written)
    contacts.save_many(to_save, joined, list_id, now, source, trigger_automations=trigger_automations,
                       members_only=members_only)
    return written


def upsert(
    contacts: ContactRepo,
    lists: ListRepo,
    suppressions: SuppressionRepo,
    account_id: str,
    list_id: str,
    entries: list[tuple[dict[str, int], Any, Any]],
    skipped: list[dict[str, Any]] | None = None,
    *,
    source: str = "api",
    consent_sources: dict[int, str | None] | None = None,
    consent_source: str | None = None,
    trigger_automations: bool = True,
) -> dict[str, Any]:
    """Add or update contacts on a list. `entries` are (where, raw email, raw attributes), where
    `where` locates the entry for the caller ({"row": n} in a CSV, {"index": i} in JSON). The
    account vouches for these people: they are subscribed at once (a pending form signup too), and
    may carry what the account says about their consent (`consent_source` for all, or by entry
    number in `consent_sources`). `source`: api | import, kept on each new list membership, and
    whether it may start the list's automations (an import only with ?trigger_automations=true):
    the event layer reads both off the item."""
    _require_list(lists, account_id, list_id)
    judged = sort_entries(account_id, entries, skipped, consent_sources=consent_sources,
                          consent_source=consent_source)
    written = write_sorted(contacts, suppressions, account_id, list_id, judged, source=source,
                           trigger_automations=trigger_automations)
    lists.add_count(account_id, list_id, len(written.joined))
    return {"created": written.created, "updated": written.updated, "skipped": judged.skipped}


def upsert_json(contacts: ContactRepo, lists: ListRepo, suppressions: SuppressionRepo, account_id: str,
                list_id: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, list):
        raise Unprocessable("the body must be a JSON array of {email, attributes}")
    if len(body) > MAX_JSON_CONTACTS:
        raise PayloadTooLarge(f"at most {MAX_JSON_CONTACTS} contacts a call; use a CSV import for more")
    entries: list[tuple[dict[str, int], Any, Any]] = []
    skipped: list[dict[str, Any]] = []
    sources: dict[int, str | None] = {}
    for index, entry in enumerate(body):
        if not isinstance(entry, dict):
            skipped.append({"index": index, "email": None, "reason": "entry must be an object"})
            continue
        unknown = set(entry) - {"email", "attributes", "consent_source"}
        if unknown:
            skipped.append({"index": index, "email": entry.get("email") if isinstance(entry.get("email"), str)
                            else None, "reason": f"unknown fields: {', '.join(sorted(map(str, unknown)))}"})
            continue
        try:
            vouched = clean_consent_source(entry.get("consent_source"))
        except ValueError as exc:
            skipped.append({"index": index, "email": entry.get("email") if isinstance(entry.get("email"), str)
                            else None, "reason": str(exc)})
            continue
        sources[len(entries)] = vouched
        entries.append(({"index": index}, entry.get("email"), entry.get("attributes")))
    result = upsert(contacts, lists, suppressions, account_id, list_id, entries, skipped, source="api",
                    consent_sources=sources)
    return result


def import_csv(contacts: ContactRepo, lists: ListRepo, suppressions: SuppressionRepo, account_id: str,
               list_id: str, data: bytes, consent_source: Any = None, *,
               trigger_automations: bool = False) -> dict[str, Any]:
    _require_list(lists, account_id, list_id)
    try:
        vouched = clean_consent_source(consent_source)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_consent_source") from exc
    with collection_paused():  # a quarter of a big import's CPU otherwise (beacon.shared.heap)
        return import_parsed(contacts, lists, suppressions, account_id, list_id, parse_csv(data), vouched,
                             trigger_automations=trigger_automations)


def parse_csv(data: bytes) -> csv_import.ParsedCsv:
    """The file's rows; 422 `invalid_csv` naming the problem when it cannot be imported at all."""
    try:
        return csv_import.parse(data)
    except csv_import.CsvProblem as exc:
        raise Unprocessable(str(exc), code="invalid_csv") from exc


def row_entries(rows: list[tuple[int, str, dict[str, Any]]]) -> list[tuple[dict[str, int], Any, Any]]:
    return [({"row": row}, email, attrs) for row, email, attrs in rows]


def import_parsed(contacts: ContactRepo, lists: ListRepo, suppressions: SuppressionRepo, account_id: str,
                  list_id: str, parsed: csv_import.ParsedCsv, vouched: str | None, *,
                  trigger_automations: bool = False) -> dict[str, Any]:
    """A parsed file imported at once (the synchronous import, up to Settings.import_sync_rows records)."""
    result = upsert(contacts, lists, suppressions, account_id, list_id, row_entries(parsed.rows), parsed.skipped,
                    source="import", consent_source=vouched, trigger_automations=trigger_automations)
    result["skipped"].sort(key=lambda s: s.get("row") or 0)
    return result


def list_members(contacts: ContactRepo, lists: ListRepo, account_id: str, list_id: str, limit: int,
                 cursor: str | None) -> dict[str, Any]:
    _require_list(lists, account_id, list_id)
    if not 1 <= limit <= 1000:
        raise BadRequest("limit must be between 1 and 1000")
    try:
        key = decode_cursor(cursor)
        members, next_key = contacts.members_page(account_id, list_id, limit, key)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_cursor") from exc
    found = contacts.get_many(account_id, [m.sk for m in members])
    items = []
    for m in members:
        if m.sk in found:
            view = contact_view(found[m.sk])
            if m.status == "pending":  # a form signup waiting for its confirmation on this list
                view["status"] = "pending"
            items.append(view)
    return {"items": items, "next_cursor": encode_cursor(next_key)}


# ----------------------------------------------------------------------------- lists
def rename_list(lists: ListRepo, account_id: str, list_id: str, name: Any) -> ListItem:
    if not isinstance(name, str) or not name.strip():
        raise Unprocessable("name: must not be empty", details=[{"field": "name"}])
    item = lists.rename(account_id, list_id, name.strip())
    if item is None:
        raise NotFound("list not found")
    return item


STEP_RESERVE_SECONDS = 10.0  # a page of members (500) is taken out well within this


def remove_list_members(contacts: ContactRepo, account_id: str, list_id: str,
                        time_left: Callable[[], float]) -> tuple[int, bool]:
    """Take a deleted list out of its members, a page at a time, while time is left: each member's
    list_ids loses it and the membership goes. The contacts stay (with their other lists, status
    and attributes). Returns (members removed now, whether none is left). Idempotent."""
    removed = 0
    for page in contacts.member_ids(account_id, list_id):
        if removed and time_left() < STEP_RESERVE_SECONDS:
            return removed, False
        contacts.drop_list(account_id, page, list_id)
        contacts.delete_memberships(account_id, list_id, page)
        removed += len(page)
    return removed, True


# ----------------------------------------------------------------------------- one person
@dataclass
class PersonDeps:
    contacts: ContactRepo
    lists: ListRepo
    suppressions: SuppressionRepo
    events: EventRepo
    ledger: RecipientLedger
    signups: SignupStore | None = None  # consent records and pending signups (None: not looked at)


def email_from_path(raw: str, what: str = "contact") -> str:
    """The address in a URL path segment (percent-encoded), normalised; a non-address is not found."""
    try:
        return addresses.normalize(unquote(raw))
    except addresses.InvalidAddress as exc:
        raise NotFound(f"{what} not found") from exc


def _iso(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_INTERNAL = {"pk", "sk", "recipient_key", "claim_id", "claimed_at", "email"}


def _message_view(item: dict[str, Any]) -> dict[str, Any]:
    """One send-ledger item: the summary fields, and under `stored` every attribute kept on it
    (engagement counters by kind, per-link clicks, client classes, timestamps)."""
    pk = str(item.get("pk", ""))
    return {
        "campaign_id": campaign_of(pk) if "#" in pk else None,
        "status": item.get("status"),
        "sent_at": _iso(item.get("sent_at")),
        "opens": int(item.get("opens") or 0),
        "last_open_at": _iso(item.get("last_open_at")),
        "clicks": int(item.get("clicks") or 0),
        "last_click_at": _iso(item.get("last_click_at")),
        "delivered": bool(item.get("delivered_at")),
        "bounced": bool(item.get("bounced_at")),
        "complained": bool(item.get("complained_at")),
        "unsubscribed": bool(item.get("unsubscribed_at")),
        "stored": {k: v for k, v in sorted(item.items()) if k not in _INTERNAL},
    }


def _engagement(messages: list[dict[str, Any]]) -> dict[str, Any]:
    moments = [m[k] for m in messages for k in ("sent_at", "last_open_at", "last_click_at") if m.get(k)]
    return {
        "sends": sum(1 for m in messages if m["status"] == "sent"),
        "opens": sum(m["opens"] for m in messages),
        "clicks": sum(m["clicks"] for m in messages),
        "last_activity_at": max(moments) if moments else None,
    }


def _lists_of(lists: ListRepo, account_id: str, list_ids: set[str]) -> list[dict[str, str]]:
    if not list_ids:
        return []
    return [{"id": i.list_id, "name": i.name} for i in lists.all(account_id) if i.list_id in list_ids]


def _consent(deps: PersonDeps, account_id: str, rid: str, item: ContactItem | None) -> dict[str, Any]:
    """How the person's consent came about: what the account said when it added them, and every
    form signup (the consent text as shown, when and from which network it was submitted and
    confirmed). Survives list changes: the records are the person's, not the lists'."""
    records = deps.signups.records_of(account_id, rid) if deps.signups is not None else []
    return {"consent_source": item.consent_source if item is not None else None,
            "signups": [consent.record_view(r) for r in records]}


def _lists_with_membership(deps: PersonDeps, account_id: str, rid: str, item: ContactItem,
                           signups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The person's lists, each with how they got there (source) and whether they are on it yet."""
    pending = {i for s in signups if s["status"] == "pending" for i in s["list_ids"]}
    wanted = set(item.list_ids or ()) | pending
    found = _lists_of(deps.lists, account_id, wanted)
    if deps.signups is None or not found:
        return found
    memberships = deps.signups.memberships(account_id, rid, [f["id"] for f in found])
    out = []
    for entry in found:
        m = memberships.get(entry["id"])
        if m is None:
            continue
        out.append({**entry, "status": m.status, "source": m.source or None, "joined_at": m.joined_at or None})
    return out


def contact_detail(deps: PersonDeps, account_id: str, raw_email: str) -> dict[str, Any]:
    """Status, lists, attributes, consent and an engagement summary (sends, opens, clicks, last activity)."""
    email = email_from_path(raw_email)
    rid = recipient_id(account_id, email)
    item = deps.contacts.get(account_id, rid)
    if item is None:
        raise NotFound("contact not found")
    messages = [_message_view(m) for m in deps.ledger.items(account_id, rid)]
    view = contact_view(item)
    view["consent"] = _consent(deps, account_id, rid, item)
    view["lists"] = _lists_with_membership(deps, account_id, rid, item, view["consent"]["signups"])
    view["engagement"] = _engagement(messages)
    return view


def export_person(deps: PersonDeps, account_id: str, raw_email: str) -> dict[str, Any]:
    """Everything Beacon stores about one person in this tenant (a data-subject access request):
    the contact, its lists, every ledger item (one per campaign sent or skipped), the audit and
    delivery events, and the suppression record. 404 when nothing at all is stored."""
    email = email_from_path(raw_email)
    rid = recipient_id(account_id, email)
    item = deps.contacts.get(account_id, rid)
    messages = [_message_view(m) for m in deps.ledger.items(account_id, rid)]
    events = [{"kind": e.kind, "at": e.received_at, "campaign_id": e.campaign_id, "detail": e.detail or {}}
              for e in deps.events.for_person(account_id, rid)]
    suppression = deps.suppressions.get(account_id, rid)
    given = _consent(deps, account_id, rid, item)
    if item is None and not messages and not events and suppression is None and not given["signups"]:
        raise NotFound("contact not found")
    return {
        "email": email,
        "exported_at": now_iso(),
        "contact": contact_view(item) if item is not None else None,
        "consent": given,
        "lists": _lists_with_membership(deps, account_id, rid, item, given["signups"]) if item is not None else [],
        "engagement": _engagement(messages),
        "messages": messages,
        "events": events,
        "suppression": None if suppression is None else {
            "email": suppression.email, "reason": suppression.reason, "created_at": suppression.created_at,
            "campaign_id": suppression.campaign_id,
        },
    }


def erase_person(deps: PersonDeps, account_id: str, raw_email: str) -> dict[str, int | bool]:
    """Erase a person: the contact, its memberships (list counts fixed) and its events. A suppression
    stays, without its address, so an unsubscribe or complaint keeps being honoured by hash; ledger
    items stay, without their address, so campaign stats and the exactly-once guarantee hold."""
    email = email_from_path(raw_email)
    rid = recipient_id(account_id, email)
    contact = deps.contacts.erase(account_id, rid)
    if contact is not None:
        deps.lists.subtract_counts(account_id, contact.list_ids or set())
    suppression = deps.suppressions.get(account_id, rid)
    suppression_had_email = bool(suppression is not None and suppression.email)
    if suppression_had_email:
        deps.suppressions.forget_email(account_id, rid)
    events = deps.events.erase_person(account_id, rid)
    messages = deps.ledger.forget_email(account_id, rid)
    consents = deps.signups.erase_person(account_id, rid) if deps.signups is not None else 0
    if contact is None and not suppression_had_email and not events and not messages and not consents:
        raise NotFound("contact not found")
    return {"contact": contact is not None, "events": events, "messages": messages, "consent_records": consents,
            "suppression_kept": suppression is not None}
