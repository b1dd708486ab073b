"""Dispatch: page through a campaign's recipients into send batches, start scheduled campaigns
when due, and mark a campaign sent once every recipient is settled."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from beacon.db.paging import decode_cursor, encode_cursor
from beacon.sending.batches import split
from beacon.sending.deps import DispatchDeps
from beacon.shared.clock import now_iso
from beacon.shared.observability import logger

if TYPE_CHECKING:
    from beacon.db.models import CampaignItem

PAGE_SIZE = 100  # recipients read per dispatch step (one Query, one BatchGetItem, one SendMessageBatch)


FINALIZE_DELAYS = (2, 5, 10, 30, 60)  # seconds between checks for "every recipient settled"


# With a tenant rate, dispatch queues at most about this much of the tenant's sending ahead (each
# batch delayed until shortly before its turn: SQS delays go up to 900 s); then it continues later.
# So a campaign of up to ~14 minutes at its tenant's rate (8,400 recipients at 10/s) is queued at
# once, and a bigger one as it sends (its stats say `recipients_final: false` until then).
DISPATCH_AHEAD_SECONDS = 840.0


# A batch becomes visible at most this much before its turn (its SQS delay is rounded up to whole
# seconds: 1 to 2 s early). The send function waits out the rest, billed: enough to absorb the
# queue's delivery lag, no more.
DISPATCH_LEAD_SECONDS = 2.0


def dispatch(job: dict[str, Any], deps: DispatchDeps, time_left: Callable[[], float]) -> str:
    """Enqueue the campaign's recipients from its checkpoint on; continue in a new job if time runs out.

    The checkpoint (list index, cursor, recipients so far) is written only after a page's messages
    are enqueued, conditional on the sequence number it started from, so a redelivered or
    duplicated job can re-enqueue at most one page (which the ledger then deduplicates) and never
    counts a recipient twice.
    """
    if job.get("kind") == "sweep":
        return sweep(deps)
    account_id, campaign_id = str(job["account_id"]), str(job["campaign_id"])
    if job.get("kind") == "finalize":
        return finalize(job, deps)
    item = deps.campaigns.get(account_id, campaign_id, consistent=True)
    if item is not None and item.status == "scheduled" and (item.send_at or "9") <= now_utc():
        if not deps.campaigns.start_scheduled(item, now_iso()):
            item = deps.campaigns.get(account_id, campaign_id, consistent=True)
        else:
            logger.info("scheduled campaign started", extra={"campaign_id": campaign_id})
    if item is None or item.status not in ("sending",):
        logger.info("dispatch dropped", extra={"campaign_id": campaign_id,
                                               "status": item.status if item else None})
        return "dropped"
    if item.segment_id and item.segment_snapshot is None:
        item = _record_segment(deps, item)
        if item is None:
            return "dropped"
    head = {"account_id": account_id, "campaign_id": campaign_id}
    tenant = deps.tenant_schedule()
    ahead = 0.0  # seconds of this tenant's sending queued ahead of now (with a tenant rate)
    while not item.dispatched_at:
        seq = int(item.dispatch_seq or 0)
        index = int(item.dispatch_list_index or 0)
        # the campaign's audience: its lists (or the original of a resend) minus the excluded
        # lists, subscribed (a form signup not confirmed yet is not: promise 5), matching its
        # segment; a contact of an earlier list is skipped
        contacts, position = deps.audience.recipients_page(item, index, decode_cursor(item.dispatch_cursor),
                                                           PAGE_SIZE)
        recipients: list[dict[str, Any]] = [
            {"rid": c.recipient_id, "email": c.email, "attributes": c.attributes} for c in contacts]
        if recipients:
            # a page is one list's (a resend's come from the original's ledger: no list): their List-Id
            through = item.list_ids[index] if not item.resend_of and index < len(item.list_ids or []) else ""
            messages = split(recipients, {**head, "list_id": through} if through else head)
            delays: int | list[int] = 0
            if tenant is not None:
                schedule, rate = tenant
                start = schedule.plan(account_id, len(recipients), rate)
                now = deps.clock()
                delays, before = [], 0
                for message in messages:  # each visible shortly before its own turn
                    turn = start + before / rate - now - DISPATCH_LEAD_SECONDS
                    delays.append(min(900, max(0, math.ceil(turn))))
                    before += len(message["recipients"])
                ahead = start + len(recipients) / rate - now
            deps.queue.send(deps.send_queue_url, messages, delay_seconds=delays)
        done = position is None
        new_index, next_key = position if position is not None else (index + 1, None)
        if not deps.campaigns.checkpoint(item, seq, new_index, encode_cursor(next_key), len(recipients),
                                         done, now_iso()):
            logger.info("dispatch superseded by another job", extra={"campaign_id": campaign_id})
            return "superseded"
        if done:
            logger.info("dispatch complete", extra={"campaign_id": campaign_id,
                                                    "recipients": int(item.recipients or 0)})
            _schedule_finalize(deps, head, 0)
            return "done"
        if ahead > DISPATCH_AHEAD_SECONDS:  # enough of the tenant's sending is queued: continue later
            later = min(900, max(1, int(ahead - DISPATCH_AHEAD_SECONDS / 2)))
            deps.queue.send(deps.dispatch_queue_url, [head], delay_seconds=later)
            logger.info("dispatch paced to the tenant's rate", extra={"campaign_id": campaign_id, "delay": later})
            return "paced"
        if time_left() < 10.0:
            deps.queue.send(deps.dispatch_queue_url, [head])
            return "continued"
    _schedule_finalize(deps, head, 0)
    return "done"


def _record_segment(deps: DispatchDeps, item: CampaignItem) -> CampaignItem | None:
    """Record on the campaign the segment definition it is sent with (the first job does; the
    campaign is read again, so every job uses what was recorded). A segment deleted before its
    campaign was dispatched cancels the campaign (None)."""
    definition = deps.audience.segment_definition(item.pk, str(item.segment_id))
    if definition is None:
        deps.campaigns.transition(item, "sending", "cancelled", now_iso(),
                                  reason="its segment was deleted before it was sent")
        logger.warning("campaign cancelled: its segment is gone", extra={"campaign_id": item.campaign_id})
        return None
    deps.campaigns.record_segment(item, definition)
    return deps.campaigns.get(item.pk, item.campaign_id, consistent=True)


def now_utc() -> str:
    """Now in the format of CampaignItem.send_at (ISO 8601 UTC, seconds), so strings compare."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def sweep(deps: DispatchDeps) -> str:
    """The one-minute schedule: a dispatch job for every scheduled campaign that is due. The job
    itself moves the campaign to "sending" (a duplicate job is harmless: the checkpoint dedupes);
    a campaign stays in the index until then, so a lost job is sent again by the next sweep."""
    due = deps.campaigns.due(now_utc())
    if due:
        deps.queue.send(deps.dispatch_queue_url, [{"account_id": a, "campaign_id": c} for a, c in due])
        logger.info("scheduled campaigns due", extra={"count": len(due)})
    return f"swept {len(due)}"


def _schedule_finalize(deps: DispatchDeps, head: dict[str, Any], check: int) -> None:
    delay = FINALIZE_DELAYS[min(check, len(FINALIZE_DELAYS) - 1)]
    deps.queue.send(deps.dispatch_queue_url, [{**head, "kind": "finalize", "check": check}], delay_seconds=delay)


def finalize(job: dict[str, Any], deps: DispatchDeps) -> str:
    """A delayed job that marks the campaign sent once every recipient is settled, and otherwise
    looks again later (so send batches never have to read the counters)."""
    account_id, campaign_id = str(job["account_id"]), str(job["campaign_id"])
    if maybe_finish(deps, account_id, campaign_id):
        return "finished"
    item = deps.campaigns.get(account_id, campaign_id, consistent=True)
    if item is None or item.status != "sending":
        return "dropped"
    _schedule_finalize(deps, {"account_id": account_id, "campaign_id": campaign_id}, int(job.get("check", 0)) + 1)
    return "waiting"


def maybe_finish(deps: DispatchDeps, account_id: str, campaign_id: str) -> bool:
    """Mark the campaign sent once dispatch is complete and every recipient is settled."""
    item = deps.campaigns.get(account_id, campaign_id, consistent=True)
    if item is None or item.status != "sending" or not item.dispatched_at:
        return False
    c = deps.counters.read(account_id, campaign_id)
    settled = c.get("sent", 0) + c.get("failed", 0) + c.get("skipped_suppressed", 0)
    if settled < int(item.recipients or 0):
        return False
    return deps.campaigns.transition(item, "sending", "sent", now_iso())
