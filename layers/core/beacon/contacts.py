"""Contacts: JSON upsert and CSV import onto a list, and paged listing.

A contact is keyed by its recipient id (a hash of tenant and address). Adding a contact never
resubscribes a person who unsubscribed, complained or hard-bounced: status only moves on a
person's own action.
"""

from __future__ import annotations

from typing import Any

from beacon import addresses, attributes, csv_import
from beacon.clock import now_iso
from beacon.db.accounts import ListRepo
from beacon.db.contacts import ContactRepo, decode_cursor, encode_cursor
from beacon.db.models import ContactItem
from beacon.db.suppressions import SuppressionRepo
from beacon.errors import BadRequest, NotFound, PayloadTooLarge, Unprocessable
from beacon.ids import recipient_id

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


def _require_list(lists: ListRepo, account_id: str, list_id: str) -> None:
    if lists.get(account_id, list_id) is None:
        raise NotFound("list not found")


def upsert(
    contacts: ContactRepo,
    lists: ListRepo,
    suppressions: SuppressionRepo,
    account_id: str,
    list_id: str,
    entries: list[tuple[dict[str, int], Any, Any]],
    skipped: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Add or update contacts on a list. `entries` are (where, raw email, raw attributes), where
    `where` locates the entry for the caller ({"row": n} in a CSV, {"index": i} in JSON)."""
    _require_list(lists, account_id, list_id)
    skipped = list(skipped or [])
    clean: dict[str, tuple[str, dict[str, Any]]] = {}
    for where, raw_email, raw_attrs in entries:
        try:
            email = addresses.normalize(raw_email)
        except addresses.InvalidAddress as exc:
            skipped.append({**where, "email": raw_email if isinstance(raw_email, str) else None,
                            "reason": f"invalid email: {exc}"})
            continue
        try:
            attrs = attributes.clean(raw_attrs)
        except attributes.InvalidAttributes as exc:
            skipped.append({**where, "email": email, "reason": str(exc)})
            continue
        rid = recipient_id(account_id, email)
        if rid in clean:
            skipped.append({**where, "email": email, "reason": "duplicate of an earlier row"})
            continue
        clean[rid] = (email, attrs)

    existing = contacts.get_many(account_id, clean)
    new_ids = [rid for rid in clean if rid not in existing]
    suppressed: dict[str, str] = {}
    for rid in suppressions.suppressed(account_id, new_ids):
        found = suppressions.get(account_id, rid)
        suppressed[rid] = SUPPRESSED_STATUS.get(found.reason if found else "manual", "suppressed")
    now = now_iso()
    created = updated = 0
    to_save: list[ContactItem] = []
    joined: set[str] = set()
    for rid, (email, attrs) in clean.items():
        item = existing.get(rid)
        if item is None:
            item = ContactItem(pk=account_id, sk=f"C#{rid}", email=email, attributes=attrs,
                               status=suppressed.get(rid, "subscribed"), list_ids={list_id},
                               created_at=now, updated_at=now)
            created += 1
            joined.add(rid)
        else:
            merged = dict(item.attributes or {})
            merged.update(attrs)
            item.attributes = merged
            if list_id not in (item.list_ids or set()):
                joined.add(rid)
            item.list_ids = set(item.list_ids or set()) | {list_id}
            item.updated_at = now
            updated += 1
        to_save.append(item)
    contacts.save_many(to_save, joined, list_id, now)
    lists.add_count(account_id, list_id, len(joined))
    return {"created": created, "updated": updated, "skipped": skipped}


def upsert_json(contacts: ContactRepo, lists: ListRepo, suppressions: SuppressionRepo, account_id: str,
                list_id: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, list):
        raise Unprocessable("the body must be a JSON array of {email, attributes}")
    if len(body) > MAX_JSON_CONTACTS:
        raise PayloadTooLarge(f"at most {MAX_JSON_CONTACTS} contacts a call; use a CSV import for more")
    entries: list[tuple[dict[str, int], Any, Any]] = []
    skipped: list[dict[str, Any]] = []
    for index, entry in enumerate(body):
        if not isinstance(entry, dict):
            skipped.append({"index": index, "email": None, "reason": "entry must be an object"})
            continue
        unknown = set(entry) - {"email", "attributes"}
        if unknown:
            skipped.append({"index": index, "email": entry.get("email") if isinstance(entry.get("email"), str)
                            else None, "reason": f"unknown fields: {', '.join(sorted(map(str, unknown)))}"})
            continue
        entries.append(({"index": index}, entry.get("email"), entry.get("attributes")))
    result = upsert(contacts, lists, suppressions, account_id, list_id, entries, skipped)
    return result


def import_csv(contacts: ContactRepo, lists: ListRepo, suppressions: SuppressionRepo, account_id: str,
               list_id: str, data: bytes) -> dict[str, Any]:
    _require_list(lists, account_id, list_id)
    try:
        parsed = csv_import.parse(data)
    except csv_import.CsvProblem as exc:
        raise Unprocessable(str(exc), code="invalid_csv") from exc
    entries: list[tuple[dict[str, int], Any, Any]] = [({"row": row}, email, attrs)
                                                      for row, email, attrs in parsed.rows]
    result = upsert(contacts, lists, suppressions, account_id, list_id, entries, parsed.skipped)
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
    items = [contact_view(found[m.sk]) for m in members if m.sk in found]
    return {"items": items, "next_cursor": encode_cursor(next_key)}
