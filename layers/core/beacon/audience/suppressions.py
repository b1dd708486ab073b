"""The tenant's suppression list: who gets no mail, and why.

A suppression is keyed by recipient id (a hash of tenant and address), so it outlives the contact's
erasure (then its `email` is gone and only the hash remains). Reasons:
  unsubscribe, complaint  the person's own choice: the tenant cannot lift it (409)
  bounce                  a hard bounce: the tenant may lift it (e.g. the mailbox was fixed)
  manual                  the tenant's own: added and lifted through the API
Adding or lifting one moves the contact's status to match, and leaves an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beacon.audience.contacts import email_from_path
from beacon.db.audit_log import EventRepo
from beacon.db.contacts import ContactRepo
from beacon.db.models import SuppressionItem
from beacon.db.paging import decode_cursor, encode_cursor
from beacon.db.suppressions import SuppressionRepo
from beacon.shared import addresses
from beacon.shared.clock import epoch, now_iso
from beacon.shared.errors import BadRequest, Conflict, NotFound, Unprocessable
from beacon.shared.ids import recipient_id

REMOVABLE = ("manual", "bounce")
PERSONS_CHOICE = ("unsubscribe", "complaint")
ADDABLE = ("manual",)


@dataclass
class SuppressionDeps:
    suppressions: SuppressionRepo
    contacts: ContactRepo
    events: EventRepo


def view(item: SuppressionItem) -> dict[str, Any]:
    return {"email": item.email or None, "reason": item.reason, "created_at": item.created_at,
            "campaign_id": item.campaign_id or None}


def page(deps: SuppressionDeps, account_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    if not 1 <= limit <= 1000:
        raise BadRequest("limit must be between 1 and 1000")
    try:
        items, next_key = deps.suppressions.page(account_id, limit, decode_cursor(cursor))
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_cursor") from exc
    return {"items": [view(i) for i in items], "next_cursor": encode_cursor(next_key)}


def add(deps: SuppressionDeps, account_id: str, raw_email: Any, reason: Any) -> tuple[bool, dict[str, Any]]:
    """Suppress an address by hand. (created, the record now in force): an existing unsubscribe or
    complaint is never replaced by a weaker reason; a bounce becomes manual."""
    if reason not in ADDABLE:
        raise Unprocessable(f"reason: only {', '.join(repr(r) for r in ADDABLE)} can be added through the API",
                            details=[{"field": "reason"}])
    try:
        email = addresses.normalize(raw_email)
    except addresses.InvalidAddress as exc:
        raise Unprocessable(f"email: {exc}", details=[{"field": "email"}]) from exc
    rid = recipient_id(account_id, email)
    at = now_iso()
    existing = deps.suppressions.get(account_id, rid)
    if existing is not None and existing.reason not in ("bounce",):
        return False, view(existing)
    item = SuppressionItem(pk=account_id, sk=rid, email=email, reason="manual", created_at=at)
    if not deps.suppressions.add(item, overwrite_reasons=("bounce",)):
        found = deps.suppressions.get(account_id, rid)  # a concurrent add won
        return False, view(found or item)
    deps.contacts.set_status(account_id, rid, "suppressed", at, only_from=("subscribed", "bounced"))
    deps.events.put(account_id, rid, "suppressed", at, epoch(), detail={"reason": "manual", "via": "api"})
    return True, view(item)


def remove(deps: SuppressionDeps, account_id: str, raw_email: str) -> None:
    """Lift a manual or bounce suppression; an unsubscribe or complaint is the person's choice (409)."""
    email = email_from_path(raw_email, "suppression")
    rid = recipient_id(account_id, email)
    found = deps.suppressions.get(account_id, rid)
    if found is None:
        raise NotFound("suppression not found")
    if found.reason in PERSONS_CHOICE or not deps.suppressions.remove_if(account_id, rid, REMOVABLE):
        current = deps.suppressions.get(account_id, rid)
        reason = current.reason if current is not None else found.reason
        raise Conflict(f"this address is suppressed because of a {reason}, the person's own choice; "
                       "only they can undo it", code="suppression_not_removable", details={"reason": reason})
    at = now_iso()
    deps.contacts.set_status(account_id, rid, "subscribed", at, only_from=("suppressed", "bounced"))
    deps.events.put(account_id, rid, "suppression_removed", at, epoch(),
                    detail={"reason": found.reason, "via": "api"})
