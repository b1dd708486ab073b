"""Unsubscribe and resubscribe: a person's own choice, honoured at once for every mailing.

An unsubscribe writes the tenant's suppression (keyed by recipient id, so it outlives the
contact's erasure), marks the contact, counts it once on the campaign and keeps an audit event.
A resubscribe (the undo on the page) lifts only a suppression that an unsubscribe made.
"""

from __future__ import annotations

from dataclasses import dataclass

from beacon.db.send_ledger import Ledger
from beacon.db.subscription_store import SubscriptionStore
from beacon.shared.clock import epoch, now_iso
from beacon.shared.tokens import TokenData


@dataclass
class SubscriptionDeps:
    store: SubscriptionStore
    ledger: Ledger


def is_unsubscribed(deps: SubscriptionDeps, data: TokenData) -> bool:
    return deps.store.suppression_reason(data.account_id, data.recipient_id) is not None


def unsubscribe(deps: SubscriptionDeps, data: TokenData, via: str, requester: tuple[str, str] = ("", "")) -> bool:
    """Idempotent. True when this call made the change. requester: (client class, truncated
    network) for the audit record (beacon.shared.privacy: never a raw IP address or user agent)."""
    received = now_iso()
    contact = deps.store.contact(data.account_id, data.recipient_id)
    email = contact[0] if contact else None
    if not email:
        message = deps.ledger.get(data.account_id, data.campaign_id, data.recipient_id)
        email = str(message["email"]) if message and message.get("email") else None
    changed = deps.store.suppress(data.account_id, data.recipient_id, email, "unsubscribe", data.campaign_id,
                                  received, overwrite_reasons=("manual", "bounce"))
    if contact is not None and contact[1] != "unsubscribed":
        deps.store.set_contact_status(data.account_id, data.recipient_id, "unsubscribed",
                                      ("subscribed", "suppressed", "bounced"), received)
    deps.ledger.mark(data.account_id, data.campaign_id, data.recipient_id, "unsubscribed_at", "unsubscribed",
                     received)
    if changed:
        deps.store.event(data.account_id, data.recipient_id, "unsubscribe", received, epoch(), data.campaign_id,
                         {"via": via, "received_at": received, "effective_at": now_iso(),
                          "client": requester[0], "network": requester[1]})
    return changed


def resubscribe(deps: SubscriptionDeps, data: TokenData, requester: tuple[str, str] = ("", "")) -> bool:
    """Lift only a suppression that an unsubscribe made (a complaint or bounce stays)."""
    received = now_iso()
    if not deps.store.lift(data.account_id, data.recipient_id, "unsubscribe"):
        return False
    deps.store.set_contact_status(data.account_id, data.recipient_id, "subscribed", ("unsubscribed",), received)
    deps.store.event(data.account_id, data.recipient_id, "resubscribe", received, epoch(), data.campaign_id,
                     {"via": "page", "received_at": received, "effective_at": now_iso(),
                      "client": requester[0], "network": requester[1]})
    return True
