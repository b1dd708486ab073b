"""Campaign lifecycle: send now or at a time (draft -> sending | scheduled), pause, resume, cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from beacon.accounts.sender_domains import SenderCheck, require_verified
from beacon.campaigns.drafts import require
from beacon.db.campaigns import CampaignRepo
from beacon.db.tenant_pace import TenantPace
from beacon.ports.queue import Queue
from beacon.shared.clock import now_iso
from beacon.shared.errors import Conflict, Unprocessable, invalid
from beacon.shared.observability import logger

MAX_SCHEDULE_AHEAD = timedelta(days=365)


def parse_send_at(value: Any, now: datetime) -> datetime:
    """An ISO 8601 time with a timezone, in the future and at most a year away (UTC)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise invalid("send_at", "must be an ISO 8601 date and time with a timezone")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise invalid("send_at", "must be an ISO 8601 date and time with a timezone") from exc
    if when.tzinfo is None or when.utcoffset() is None:
        raise invalid("send_at", "needs a timezone, for example 2030-01-01T09:00:00Z")
    when = when.astimezone(UTC)
    if when <= now:
        raise invalid("send_at", "is in the past")
    if when > now + MAX_SCHEDULE_AHEAD:
        raise invalid("send_at", "is more than a year away")
    return when


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_send(repo: CampaignRepo, queue: Queue, dispatch_queue_url: str, account_id: str,
               campaign_id: str, base_url: str, send_at: Any = None, *, senders: SenderCheck) -> dict[str, Any]:
    """Send now (status "sending", a dispatch job enqueued) or at `send_at` (status "scheduled";
    the one-minute sweep enqueues the dispatch job once it is due). 409 sender_unverified unless
    the from address is on a verified domain the account owns (every send batch checks it again)."""
    when = parse_send_at(send_at, datetime.now(UTC)) if send_at is not None else None
    item = require(repo, account_id, campaign_id, consistent=True)
    if item.status != "draft":
        raise Conflict(f"only a draft can be sent; this campaign is {item.status}", code="not_draft")
    if not item.list_ids and not item.resend_of:
        raise Unprocessable("the campaign has no lists to send to", details=[{"field": "list_ids"}])
    require_verified(senders, account_id, item.from_email)
    now = now_iso()
    if when is not None:
        if not repo.schedule(item, base_url, now, _iso(when)):
            raise Conflict("the campaign is no longer a draft", code="not_draft")
        return {"id": campaign_id, "status": "scheduled", "send_at": _iso(when)}
    if not repo.start(item, base_url, now):
        raise Conflict("the campaign is no longer a draft", code="not_draft")
    try:
        queue.send(dispatch_queue_url, [{"account_id": account_id, "campaign_id": campaign_id}])
    except Exception:
        repo.transition(item, "sending", "draft", now_iso())
        raise
    return {"id": campaign_id, "status": "sending"}




_CONTROL: dict[str, tuple[tuple[str, ...], str]] = {
    "pause": (("sending",), "paused"),
    "resume": (("paused",), "sending"),
    "cancel": (("scheduled", "sending", "paused"), "cancelled"),
}


def control(repo: CampaignRepo, queue: Queue, dispatch_queue_url: str, account_id: str, campaign_id: str,
            action: str, tenant_pace: TenantPace | None = None, *, senders: SenderCheck) -> dict[str, Any]:
    """pause (sending -> paused), resume (paused -> sending), cancel (scheduled|sending|paused ->
    cancelled, final). The send function checks the status before every email (at most 0.75 s
    old, beacon.sending.gate): a paused campaign's unsent recipients go back to the queue, a
    cancelled one's are dropped. 409 from any other status; resume is 409 sender_unverified unless
    the from address is on a verified domain the account owns. Pausing or cancelling also restarts
    the tenant's dispatch projection from now (beacon.db.tenant_pace), so its next campaign is not
    queued behind batches that will not be sent."""
    allowed, target = _CONTROL[action]
    for _attempt in range(3):
        item = require(repo, account_id, campaign_id, consistent=True)
        if item.status not in allowed:
            raise Conflict(f"a campaign that is {item.status} cannot be {action}d; it must be "
                           f"{' or '.join(allowed)}", code="invalid_status")
        if action == "resume":
            require_verified(senders, account_id, item.from_email)
        reason = "paused by the user" if action == "pause" else ""
        if repo.transition(item, item.status, target, now_iso(), reason=reason):
            if action in ("pause", "cancel") and tenant_pace is not None:
                try:
                    tenant_pace.forget_queue(account_id)
                except Exception:  # the campaign is paused/cancelled either way; only later dispatch waits
                    logger.warning("could not reset the tenant's dispatch projection", exc_info=True,
                                   extra={"campaign_id": campaign_id})
            if action == "resume":
                # dispatch and the finalize checks stop while paused: start them again (a dispatch
                # job continues from its checkpoint, or only schedules the finalize check)
                queue.send(dispatch_queue_url, [{"account_id": account_id, "campaign_id": campaign_id}])
            return {"id": campaign_id, "status": target}
    raise Conflict("the campaign changed meanwhile; try again", code="invalid_status")
