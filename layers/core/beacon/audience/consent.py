"""The double opt-in confirmation and the consent record it completes.

GET /confirm/{token} only looks (`look`): link scanners fetch every link of an email, so a GET
changes nothing. POST confirms (`confirm`), once: the consent record becomes confirmed, a pending
contact and its pending memberships become subscribed, lists the person was not on are joined
(source "form"), and the person's own earlier unsubscribe is lifted (their choice again, an audit
event). A hard bounce, a complaint or the tenant's own suppression stays: nobody is subscribed then.
All of it is one transaction (beacon.db.signups.SignupStore.confirm). The token expires 7 days
after the email was sent; verifying it reads nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from beacon.db.signups import ConfirmPlan, ConsentRecord, SignupStore
from beacon.shared.clock import now_iso
from beacon.shared.tokens import CONFIRM, InvalidToken, TokenSigner

CONFIRM_SECONDS = 7 * 86400
BLOCKING = ("complaint", "bounce", "manual")
ATTEMPTS = 4


@dataclass(frozen=True)
class Outcome:
    """Where a confirmation link stands: invalid (not ours or tampered), expired (too old, or its
    signup is gone), blocked (the address is suppressed for good), pending (waiting for the
    person's POST), confirmed (by this request), already (confirmed earlier)."""

    state: str
    company: str = ""
    form_name: str = ""
    email: str = ""


def _verify(signer: TokenSigner, token: str, now: int) -> tuple[str, str, str] | Outcome:
    try:
        data = signer.verify(token, CONFIRM)
    except InvalidToken:
        return Outcome("invalid")
    if data.issued_at + CONFIRM_SECONDS < now or data.issued_at > now + 300:
        return Outcome("expired")
    return data.account_id, data.recipient_id, data.campaign_id  # the campaign slot holds the signup id


def _outcome(state: str, record: ConsentRecord) -> Outcome:
    return Outcome(state, record.company, record.form_name, record.email)


def look(store: SignupStore, signer: TokenSigner, token: str, clock: Callable[[], float] = time.time) -> Outcome:
    """What the link's page shows. Reads only."""
    found = _verify(signer, token, int(clock()))
    if isinstance(found, Outcome):
        return found
    record = store.record(*found)
    if record is None:
        return Outcome("expired")
    if record.status == "confirmed":
        return _outcome("already", record)
    if store.suppression_reason(record.account_id, record.recipient_id) in BLOCKING:
        return _outcome("blocked", record)
    return _outcome("pending", record)


def confirm(store: SignupStore, signer: TokenSigner, token: str, requester: tuple[str, str],
            clock: Callable[[], float] = time.time) -> Outcome:
    """Confirm the signup (idempotent: a second POST changes nothing and says it is done)."""
    now = int(clock())
    found = _verify(signer, token, now)
    if isinstance(found, Outcome):
        return found
    client, network = requester
    for _attempt in range(ATTEMPTS):
        record = store.record(*found)
        if record is None:
            return Outcome("expired")
        if record.status == "confirmed":
            return _outcome("already", record)
        reason = store.suppression_reason(record.account_id, record.recipient_id)
        if reason in BLOCKING:
            return _outcome("blocked", record)
        lists = store.existing_lists(record.account_id, record.list_ids)
        contact = store.contact(record.account_id, record.recipient_id)
        memberships = store.memberships(record.account_id, record.recipient_id, lists)
        at = now_iso()
        events: list[tuple[str, dict[str, Any]]] = [("signup_confirmed", {
            "form_id": record.form_id, "signup_id": record.signup_id, "list_ids": lists,
            "submitted_at": record.submitted_at, "client": client, "network": network})]
        lift = reason == "unsubscribe"
        if lift:
            events.append(("resubscribe", {"via": "form", "form_id": record.form_id, "received_at": at,
                                           "effective_at": at, "client": client, "network": network}))
        plan = ConfirmPlan(
            record=record, at=at, network=network, client=client, contact=contact,
            attributes={**(contact.attributes if contact else {}), **record.attributes},
            join=[i for i in lists if i not in memberships],
            flip=[i for i in lists if i in memberships and memberships[i].status == "pending"],
            lift_unsubscribe=lift, events=events,
        )
        if store.confirm(plan, now):
            return _outcome("confirmed", record)
    raise RuntimeError("the signup kept changing while it was being confirmed")


def record_view(record: ConsentRecord) -> dict[str, Any]:
    """A consent record as the API shows it (GET /v1/contacts/{email}, /export)."""
    return {
        "signup_id": record.signup_id, "status": record.status, "form_id": record.form_id,
        "form_name": record.form_name, "list_ids": list(record.list_ids), "consent_text": record.consent_text,
        "fields": dict(record.attributes), "submitted_at": record.submitted_at,
        "submitted_from": {"network": record.network or None, "client": record.client or None},
        "confirmation_sent_at": record.emailed_at, "confirmed_at": record.confirmed_at,
        "confirmed_from": ({"network": record.confirm_network or None, "client": record.confirm_client or None}
                           if record.confirmed_at else None),
    }
