"""Unsubscribe and resubscribe: a person's own choice, honoured at once for every mailing.

An unsubscribe writes the tenant's suppression (keyed by recipient id, so it outlives the
contact's erasure), marks the contact, counts it once on the campaign and keeps an audit event.
A resubscribe (the undo on the page) lifts only a suppression that an unsubscribe made.
"""

from __future__ import annotations

from dataclasses import dataclass

from beacon.clock import epoch, now_iso
from beacon.db.contacts import ContactRepo
from beacon.db.events import EventRepo
from beacon.db.ledger import Ledger
from beacon.db.models import ContactItem, SuppressionItem
from beacon.db.suppressions import SuppressionRepo
from beacon.tokens import TokenData


@dataclass
class SubscriptionDeps:
    suppressions: SuppressionRepo
    contacts: ContactRepo
    ledger: Ledger
    events: EventRepo


def is_unsubscribed(deps: SubscriptionDeps, data: TokenData) -> bool:
    found = deps.suppressions.get(data.account_id, data.recipient_id)
    return found is not None


def unsubscribe(deps: SubscriptionDeps, data: TokenData, via: str, requester: tuple[str, str] = ("", "")) -> bool:
    """Idempotent. True when this call made the change. requester: (client class, truncated
    network) for the audit record (beacon.privacy: never a raw IP address or user agent)."""
    received = now_iso()
    contact = deps.contacts.get(data.account_id, data.recipient_id)
    email = contact.email if contact else None
    if email is None:
        message = deps.ledger.get(data.account_id, data.campaign_id, data.recipient_id)
        email = str(message["email"]) if message and message.get("email") else None
    changed = deps.suppressions.add(
        SuppressionItem(pk=data.account_id, sk=data.recipient_id, email=email, reason="unsubscribe",
                        created_at=received, campaign_id=data.campaign_id),
        overwrite_reasons=("manual", "bounce"),
    )
    if contact is not None and contact.status != "unsubscribed":
        contact.update(actions=[ContactItem.status.set("unsubscribed"), ContactItem.updated_at.set(received)])
    deps.ledger.mark(data.account_id, data.campaign_id, data.recipient_id, "unsubscribed_at", "unsubscribed",
                     received)
    if changed:
        deps.events.put(data.account_id, data.recipient_id, "unsubscribe", received, epoch(),
                        campaign_id=data.campaign_id,
                        detail={"via": via, "received_at": received, "effective_at": now_iso(),
                                "client": requester[0], "network": requester[1]})
    return changed


def resubscribe(deps: SubscriptionDeps, data: TokenData, requester: tuple[str, str] = ("", "")) -> bool:
    found = deps.suppressions.get(data.account_id, data.recipient_id)
    if found is None or found.reason != "unsubscribe":
        return False
    received = now_iso()
    deps.suppressions.remove(data.account_id, data.recipient_id)
    contact = deps.contacts.get(data.account_id, data.recipient_id)
    if contact is not None and contact.status == "unsubscribed":
        contact.update(actions=[ContactItem.status.set("subscribed"), ContactItem.updated_at.set(received)])
    deps.events.put(data.account_id, data.recipient_id, "resubscribe", received, epoch(),
                    campaign_id=data.campaign_id, detail={"via": "page", "received_at": received,
                                                          "effective_at": now_iso(), "client": requester[0],
                                                          "network": requester[1]})
    return True
