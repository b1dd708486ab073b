"""SES event notifications (configuration-set event publishing through SNS).

Each notification names its tenant, campaign and recipient in the message tags Beacon set at
send. Send and Delivery settle a send whose sender crashed after SES accepted it; a Delivery sets
delivered_at (the stats roll-up counts it); a hard bounce or a complaint suppresses the person for
the tenant. Send and Delivery (two per email) read the ledger item once and write only what changes.

A tenant's emails that are not a campaign's send carry the tenant and their kind instead of a
campaign: a signup's confirmation email (kind "confirmation") and a campaign's test send (kind
"test"). They have no ledger item or counters, but a hard bounce or a complaint on one is as real
as on a campaign (SES counts it against the account's reputation alike), so it suppresses the
address for the tenant too. Their recipient is the "recipient" tag, or, for emails sent before
that tag, the id derived from the bounced or complained address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from beacon.db.audit_log import EventRepo
from beacon.db.campaign_counters import Counters
from beacon.db.campaigns import CampaignRepo
from beacon.db.contacts import ContactRepo
from beacon.db.models import ContactItem, SuppressionItem
from beacon.db.send_ledger import Ledger
from beacon.db.suppressions import SuppressionRepo
from beacon.db.tenant_pace import TenantPace
from beacon.shared import addresses
from beacon.shared.clock import epoch, now_iso
from beacon.shared.ids import is_id, recipient_id
from beacon.shared.observability import logger


class BadNotification(ValueError):
    pass


CAMPAIGN = "campaign"  # a campaign's send: ledger, counters and suppression
# a tenant's other emails (the SES "kind" tag): no ledger, but a hard bounce or complaint suppresses
NOT_CAMPAIGN_KINDS = frozenset({"confirmation", "test"})


@dataclass
class SesEventDeps:
    ledger: Ledger
    counters: Counters
    suppressions: SuppressionRepo
    contacts: ContactRepo
    events: EventRepo
    campaigns: CampaignRepo | None = None  # for the auto-pause; None: never pause
    pause_bounce_rate: float = 0.05
    pause_complaint_rate: float = 0.001
    pause_min_sends: int = 1000
    tenant_pace: TenantPace | None = None  # an auto-pause restarts the tenant's dispatch projection


@dataclass(frozen=True)
class SesEvent:
    kind: str  # Send | Delivery | Bounce | Complaint | Reject | Rendering Failure | ...
    account_id: str
    campaign_id: str
    recipient_id: str
    message_id: str
    email: str | None
    bounce_type: str | None
    detail: dict[str, Any]
    email_kind: str = CAMPAIGN  # or one of NOT_CAMPAIGN_KINDS (campaign_id is "" then)


def parse(message: str) -> SesEvent | None:
    """Parse one SNS message body. None for an event that is not Beacon's (no tags)."""
    if len(message) > 256 * 1024:
        raise BadNotification("notification too large")
    try:
        doc = json.loads(message)
    except (ValueError, TypeError) as exc:
        raise BadNotification("notification is not JSON") from exc
    if not isinstance(doc, dict):
        raise BadNotification("notification is not an object")
    kind = doc.get("eventType") or doc.get("notificationType")
    mail = doc.get("mail")
    if not isinstance(kind, str) or not isinstance(mail, dict):
        raise BadNotification("notification has no eventType/mail")
    tags = mail.get("tags", {})
    if not isinstance(tags, dict):
        raise BadNotification("mail.tags is not an object")

    def tag(name: str) -> str | None:
        values = tags.get(name)
        if isinstance(values, list) and values and isinstance(values[0], str) and is_id(values[0]):
            return values[0]
        return None

    account_id, campaign_id, rid = tag("account"), tag("campaign"), tag("recipient")
    kinds = tags.get("kind")
    email_kind = kinds[0] if isinstance(kinds, list) and kinds and kinds[0] in NOT_CAMPAIGN_KINDS else CAMPAIGN
    if not account_id or (email_kind == CAMPAIGN and not (campaign_id and rid)):
        return None
    message_id = mail.get("messageId") if isinstance(mail.get("messageId"), str) else ""
    email = None
    bounce_type = None
    section: dict[str, Any] = {}
    if kind == "Bounce" and isinstance(doc.get("bounce"), dict):
        section = doc["bounce"]
        bounce_type = section.get("bounceType") if isinstance(section.get("bounceType"), str) else None
        recipients = section.get("bouncedRecipients") or []
        if isinstance(recipients, list) and recipients and isinstance(recipients[0], dict):
            email = recipients[0].get("emailAddress")
    elif kind == "Complaint" and isinstance(doc.get("complaint"), dict):
        section = doc["complaint"]
        recipients = section.get("complainedRecipients") or []
        if isinstance(recipients, list) and recipients and isinstance(recipients[0], dict):
            email = recipients[0].get("emailAddress")
    if email is None:
        destination = mail.get("destination")
        if isinstance(destination, list) and destination and isinstance(destination[0], str):
            email = destination[0]
    detail = {k: section.get(k) for k in ("bounceType", "bounceSubType", "complaintFeedbackType")
              if isinstance(section.get(k), str)}
    address = email if isinstance(email, str) else None
    if email_kind != CAMPAIGN:
        detail["email_kind"] = email_kind
        rid = rid or _recipient_of(account_id, address)
        campaign_id = ""
    if campaign_id is None or rid is None:
        return None  # no recipient tag and no address to derive it from: nobody to act on
    return SesEvent(kind, account_id, campaign_id, rid, message_id or "", address, bounce_type, detail, email_kind)


def _recipient_of(account_id: str, address: str | None) -> str | None:
    try:
        return recipient_id(account_id, addresses.normalize(address))
    except addresses.InvalidAddress:
        return None


def _suppress(deps: SesEventDeps, event: SesEvent, reason: str, status: str) -> None:
    now = now_iso()
    deps.suppressions.add(
        SuppressionItem(pk=event.account_id, sk=event.recipient_id, email=event.email, reason=reason,
                        created_at=now, campaign_id=event.campaign_id or None),
        overwrite_reasons=("manual", "bounce") if reason == "complaint" else ("manual",),
    )
    contact = deps.contacts.get(event.account_id, event.recipient_id)
    if contact is not None and contact.status in ("subscribed", "bounced"):
        contact.update(actions=[ContactItem.status.set(status), ContactItem.updated_at.set(now)])
    deps.events.put(event.account_id, event.recipient_id, reason, now, epoch(),
                    campaign_id=event.campaign_id or None, detail=event.detail)


def apply(deps: SesEventDeps, event: SesEvent) -> None:
    if event.email_kind != CAMPAIGN:  # a confirmation email or a test send: only a suppression to make
        if event.kind == "Bounce" and event.bounce_type == "Permanent":
            _suppress(deps, event, "bounce", "bounced")
        elif event.kind == "Complaint":
            _suppress(deps, event, "complaint", "complained")
        return
    now = now_iso()
    ids = (event.account_id, event.campaign_id, event.recipient_id)
    if event.kind in ("Send", "Delivery"):
        # one read first: almost always the sender settled it already and SES reports it once, so
        # nothing is written (a failed conditional write or transaction would still be billed)
        found = deps.ledger.delivery(*ids)
        if found is None:
            return
        status, delivered = found
        if status == "sending" and event.message_id:
            deps.ledger.settle_by_event(*ids, event.message_id, now)
        if event.kind == "Delivery" and not delivered:
            deps.ledger.mark_delivered(*ids, now)
    elif event.kind == "Bounce":
        if event.bounce_type == "Permanent":
            if deps.ledger.mark(*ids, "bounced_at", "bounced", now):
                check_reputation(deps, event.account_id, event.campaign_id)
            _suppress(deps, event, "bounce", "bounced")
        else:
            deps.ledger.mark(*ids, "soft_bounced_at", "soft_bounced", now)
    elif event.kind == "Complaint":
        if deps.ledger.mark(*ids, "complained_at", "complained", now):
            check_reputation(deps, event.account_id, event.campaign_id)
        _suppress(deps, event, "complaint", "complained")
    elif event.kind == "Reject":
        deps.ledger.mark(*ids, "rejected_at", "rejected", now)
    elif event.kind in ("Rendering Failure", "RenderingFailure"):
        deps.ledger.mark(*ids, "rendering_failed_at", "rendering_failed", now)
    else:
        logger.debug("SES event ignored", extra={"kind": event.kind})


def check_reputation(deps: SesEventDeps, account_id: str, campaign_id: str) -> str | None:
    """Pause a sending campaign whose bounce or complaint rate passed the configured threshold after
    at least `pause_min_sends` sends (SES reviews an account at 5 % bounces, 0.1 % complaints).
    Returns the reason when it paused the campaign."""
    if deps.campaigns is None:
        return None
    c = deps.counters.read(account_id, campaign_id)
    sent = c.get("sent", 0)
    if sent < max(1, deps.pause_min_sends):
        return None
    bounce_rate, complaint_rate = c.get("bounced", 0) / sent, c.get("complained", 0) / sent
    if bounce_rate > deps.pause_bounce_rate:
        reason = (f"paused automatically: bounce rate {bounce_rate:.2%} passed {deps.pause_bounce_rate:.2%} "
                  f"after {sent} sends")
    elif complaint_rate > deps.pause_complaint_rate:
        reason = (f"paused automatically: complaint rate {complaint_rate:.3%} passed "
                  f"{deps.pause_complaint_rate:.3%} after {sent} sends")
    else:
        return None
    item = deps.campaigns.get(account_id, campaign_id, consistent=True)
    if item is None or item.status != "sending":
        return None
    if not deps.campaigns.transition(item, "sending", "paused", now_iso(), reason=reason):
        return None
    logger.warning("campaign auto-paused", extra={"campaign_id": campaign_id, "reason": reason})
    if deps.tenant_pace is not None:
        try:
            deps.tenant_pace.forget_queue(account_id)
        except Exception:  # paused either way; only the tenant's next dispatch may wait longer
            logger.warning("could not reset the tenant's dispatch projection", exc_info=True)
    return reason
