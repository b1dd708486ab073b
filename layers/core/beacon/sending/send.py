"""Send one batch: render each recipient's email and send it through SES exactly once (the send
ledger, beacon.db.send_ledger, guards against doubles and losses), at the deployment's and the
tenant's pace; a paused campaign's batch waits, a cancelled one's is dropped."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from beacon.db.send_ledger import Claim, Outcome
from beacon.message import rendering
from beacon.message.compose import CampaignContent, compose, content_of
from beacon.ports.ses import OutgoingEmail, SesRejected, SesThrottled
from beacon.sending.batches import split
from beacon.sending.deps import SendDeps
from beacon.sending.pacing import MAX_TENANT_WAIT_SECONDS, Pacer, beyond_budget
from beacon.shared.clock import epoch, now_iso
from beacon.shared.observability import logger

PAUSED_RETRY_SECONDS = 60  # a batch of a paused campaign comes back this much later
THROTTLE_RETRIES = 3  # SES throttling: retries inside the invocation (jittered backoff) before requeueing
THROTTLE_BASE_SECONDS = 0.2




















# ------------------------------------------------------------------------------------- send
_company_cache: dict[str, tuple[float, str, str]] = {}


def _sender(deps: SendDeps, account_id: str) -> tuple[str, str]:
    """The account's company and postal address (every email's footer), read once per 5 minutes."""
    hit = _company_cache.get(account_id)
    if hit and hit[0] > time.monotonic():
        return hit[1], hit[2]
    account = deps.accounts.get(account_id)
    company, postal = (account.company, account.postal_address or "") if account else ("", "")
    _company_cache[account_id] = (time.monotonic() + 300, company, postal)
    return company, postal


@dataclass(frozen=True)
class BatchResult:
    sent: int
    failed: int
    suppressed: int
    already: int
    deferred: int
    dropped: bool = False
    outcomes: tuple[Outcome, ...] = ()  # each settled recipient (automation steps advance on them)


def send_batch(body: dict[str, Any], deps: SendDeps) -> BatchResult:
    """Send one message's recipients. The campaign's status is read first: a paused campaign's
    batch goes back to the queue (delayed), a cancelled one's is dropped (its recipients are never
    sent; the stats show them as `not_sent`)."""
    account_id, campaign_id = str(body["account_id"]), str(body["campaign_id"])
    recipients: list[dict[str, Any]] = list(body["recipients"])
    item = deps.campaigns.get(account_id, campaign_id)
    if item is None or item.status in ("draft", "cancelled", "scheduled"):
        logger.info("send batch dropped", extra={"campaign_id": campaign_id,
                                                 "status": item.status if item else None})
        return BatchResult(0, 0, 0, 0, 0, dropped=True)
    if item.status == "paused":
        deps.queue.send(deps.send_queue_url, [body], delay_seconds=PAUSED_RETRY_SECONDS)
        logger.info("campaign paused; batch put back", extra={"campaign_id": campaign_id})
        return BatchResult(0, 0, 0, 0, len(recipients))
    company, postal_address = _sender(deps, account_id)
    content = content_of(item, company, postal_address=postal_address)
    # the list these recipients are sent through (dispatch pages one list at a time): their List-Id
    list_id = str(body.get("list_id") or (item.list_ids[0] if len(item.list_ids or []) == 1 else ""))
    suppressed = deps.suppressions.suppressed(account_id, [r["rid"] for r in recipients])
    outcomes: list[Outcome] = [
        Outcome(r["rid"], r["email"], "suppressed") for r in recipients if r["rid"] in suppressed
    ]
    todo = [r for r in recipients if r["rid"] not in suppressed]
    tenant = deps.tenant_schedule()
    head = {k: v for k, v in body.items() if k != "recipients"}
    later = beyond_budget(todo, max(deps.pacer.interval, 1.0 / tenant[1] if tenant else 0.0))
    if later:
        todo = todo[: len(todo) - len(later)]
        deps.queue.send(deps.send_queue_url, split(later, head))
        logger.info("slow pace: part of the batch queued on its own",
                    extra={"campaign_id": campaign_id, "sent_now": len(todo), "queued": len(later)})
    tenant_pacer: Pacer | None = None
    if todo and tenant is not None:
        schedule, tenant_rate = tenant
        window = schedule.reserve(account_id, len(todo), tenant_rate, MAX_TENANT_WAIT_SECONDS)
        wait = window.start - deps.clock()
        if not window.reserved:  # the tenant's schedule is full for now: come back at its turn
            queued = {r["rid"] for r in later}
            back = [r for r in recipients if r["rid"] not in queued]  # the suppressed ones are settled later
            delay = min(900, max(1, math.ceil(wait)))
            deps.queue.send(deps.send_queue_url, split(back, head), delay_seconds=delay)
            logger.info("tenant send rate: batch put back", extra={"campaign_id": campaign_id, "delay": delay})
            return BatchResult(0, 0, 0, 0, len(recipients))
        if wait > 0:
            deps.sleep(wait)
        tenant_pacer = Pacer(tenant_rate, clock=deps.clock, sleep=deps.sleep)  # the window's clock
    issued = epoch()
    slow_down = threading.Event()  # set once SES kept throttling: the rest of the batch goes back to SQS
    claims = deps.ledger.claim_many(account_id, campaign_id, [(r["rid"], r["email"]) for r in todo]) if todo else {}
    # Rendering is CPU work: done here, in one thread; the pool only waits on SES (the GIL stays quiet).
    prepared = [_prepare(deps, content, r, issued, claims[r["rid"]], list_id) for r in todo]
    results = list(deps.pool.map(lambda job: _send_one(deps, content, job[0], claims[job[0]["rid"]], job[1],
                                                       slow_down, tenant_pacer), zip(todo, prepared, strict=True)))
    deferred = [r for r, res in zip(todo, results, strict=True) if res == "deferred"]
    already = sum(1 for res in results if res is None)
    outcomes += [res for res in results if isinstance(res, Outcome)]
    deps.ledger.settle(account_id, campaign_id, outcomes, now_iso())
    if deferred:
        attempt = int(body.get("attempt", 0)) + 1
        delay = min(900, int(2 ** min(attempt, 9) + random.uniform(0, 2 ** min(attempt, 9))))
        deps.queue.send(deps.send_queue_url, split(deferred, {**head, "attempt": attempt}), delay_seconds=delay)
        logger.warning("recipients deferred", extra={"campaign_id": campaign_id, "count": len(deferred),
                                                     "delay": delay})
    return BatchResult(
        sent=sum(1 for o in outcomes if o.status == "sent"),
        failed=sum(1 for o in outcomes if o.status == "failed"),
        suppressed=sum(1 for o in outcomes if o.status == "suppressed"),
        already=already, deferred=len(deferred) + len(later), outcomes=tuple(outcomes),
    )




def _prepare(deps: SendDeps, content: CampaignContent, r: dict[str, Any], issued: int,
             claim: Claim, list_id: str = "") -> OutgoingEmail | Outcome | None:
    """The email for a claimed recipient; an Outcome "failed" if it cannot be rendered; None if the
    recipient is someone else's (the claim was lost)."""
    if not claim.won:
        return None
    try:
        composed = compose(content, deps.signer, email=r["email"], recipient_id=r["rid"],
                           attributes=r.get("attributes") or {}, issued_at=issued, list_id=list_id)
    except (rendering.TemplateProblem, ValueError) as exc:
        return Outcome(r["rid"], r["email"], "failed", claim.claim_id, error=f"render: {exc}")
    return OutgoingEmail(
        from_address=content.from_email, to_address=r["email"], raw=composed.raw,
        tags={"account": content.account_id, "campaign": content.campaign_id, "recipient": r["rid"]},
    )


def _send_one(deps: SendDeps, content: CampaignContent, r: dict[str, Any], claim: Claim,
              outgoing: OutgoingEmail | Outcome | None, slow_down: threading.Event | None = None,
              tenant_pacer: Pacer | None = None) -> Outcome | str | None:
    """Send a prepared email. None: someone else has it; "deferred": try again later.

    SES throttling is retried here a few times with jittered exponential backoff; if it persists,
    the claim is released, `slow_down` is set and every recipient not yet started is deferred too.
    """
    if outgoing is None or isinstance(outgoing, Outcome):
        return outgoing
    if slow_down is not None and slow_down.is_set():
        deps.ledger.release(content.account_id, content.campaign_id, r["rid"], claim.claim_id)
        return "deferred"
    for attempt in range(THROTTLE_RETRIES + 1):
        if tenant_pacer is not None:
            tenant_pacer.wait()
        deps.pacer.wait()
        try:
            message_id = deps.ses.send(outgoing)
        except SesThrottled:
            if attempt < THROTTLE_RETRIES and not (slow_down is not None and slow_down.is_set()):
                deps.throttle_sleep(random.uniform(0.5, 1.0) * THROTTLE_BASE_SECONDS * 2 ** attempt)
                continue
            if slow_down is not None:
                slow_down.set()
            deps.ledger.release(content.account_id, content.campaign_id, r["rid"], claim.claim_id)
            return "deferred"
        except SesRejected as exc:
            return Outcome(r["rid"], r["email"], "failed", claim.claim_id, error=str(exc))
        except Exception:
            logger.exception("SES call failed; the recipient will be retried", extra={"recipient": r["rid"]})
            deps.ledger.release(content.account_id, content.campaign_id, r["rid"], claim.claim_id)
            return "deferred"
        return Outcome(r["rid"], r["email"], "sent", claim.claim_id, ses_message_id=message_id)
    raise AssertionError("unreachable")
