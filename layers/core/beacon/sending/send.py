"""Send one batch: render each recipient's email and send it through SES exactly once (the send
ledger, beacon.db.send_ledger, guards against doubles and losses), at the deployment's and the
tenant's pace. Each email passes the gate (beacon.sending.gate) right before its SES call: the
campaign still sending and the recipient not suppressed, as read at most 0.75 s before. A paused
campaign's unsent recipients go back to the queue, a cancelled one's are dropped, a newly
suppressed one settles as `suppressed`."""

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
from beacon.sending import gate as verdicts
from beacon.sending.batches import split
from beacon.sending.deps import SendDeps
from beacon.sending.gate import Gate
from beacon.sending.pacing import MAX_TENANT_WAIT_SECONDS, Pacer, beyond_budget
from beacon.shared.clock import epoch, now_iso
from beacon.shared.observability import logger

PAUSED_RETRY_SECONDS = 60  # a batch of a paused campaign comes back this much later
UNCHECKED_RETRY_SECONDS = 5  # recipients whose re-check failed come back this much later
THROTTLE_RETRIES = 3  # SES throttling: retries inside the invocation (jittered backoff) before requeueing
THROTTLE_BASE_SECONDS = 0.2
SENDER_UNVERIFIED = "sender_unverified"


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
    deferred: int  # back on the queue: throttled, paused, beyond this invocation's budget
    dropped: bool = False  # the whole batch: its campaign is not sending
    stopped: int = 0  # recipients not sent because the campaign was cancelled (or erased) while the batch ran
    outcomes: tuple[Outcome, ...] = ()  # each settled recipient (automation steps advance on them)


def send_batch(body: dict[str, Any], deps: SendDeps) -> BatchResult:
    """Send one message's recipients. The campaign and the recipients' suppressions are read first
    (one consistent read): a paused campaign's batch goes back to the queue (delayed), a cancelled
    one's is dropped (its recipients are never sent; the stats show them as `not_sent`); a campaign
    whose sender domain is no longer a verified domain of its account is paused (status_reason
    `sender_unverified: ...`) and the batch goes back. Then every email passes the gate."""
    account_id, campaign_id = str(body["account_id"]), str(body["campaign_id"])
    recipients: list[dict[str, Any]] = list(body["recipients"])
    head = {k: v for k, v in body.items() if k != "recipients"}
    read_at = deps.clock()
    first = deps.batch_state.read(account_id, campaign_id, [r["rid"] for r in recipients], full=True)
    item = first.campaign
    if item is None or item.status in ("draft", "cancelled", "scheduled"):
        logger.info("send batch dropped", extra={"campaign_id": campaign_id,
                                                 "status": item.status if item else None})
        return BatchResult(0, 0, 0, 0, 0, dropped=True)
    if item.status == "paused":
        deps.queue.send(deps.send_queue_url, [body], delay_seconds=PAUSED_RETRY_SECONDS)
        logger.info("campaign paused; batch put back", extra={"campaign_id": campaign_id})
        return BatchResult(0, 0, 0, 0, len(recipients))
    if not deps.senders(account_id, item.from_email):
        _pause_for_sender(deps, item)
        deps.queue.send(deps.send_queue_url, [body], delay_seconds=PAUSED_RETRY_SECONDS)
        return BatchResult(0, 0, 0, 0, len(recipients))
    company, postal_address = _sender(deps, account_id)
    content = content_of(item, company, postal_address=postal_address)
    # the list these recipients are sent through (dispatch pages one list at a time): their List-Id
    list_id = str(body.get("list_id") or (item.list_ids[0] if len(item.list_ids or []) == 1 else ""))
    gate = Gate(lambda rids: deps.batch_state.read(account_id, campaign_id, rids), deps.clock, first, read_at,
                [r["rid"] for r in recipients])
    outcomes: list[Outcome] = [
        Outcome(r["rid"], r["email"], "suppressed") for r in recipients if r["rid"] in first.suppressed
    ]
    todo = [r for r in recipients if r["rid"] not in first.suppressed]
    tenant = deps.tenant_schedule()
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
    if todo:
        gate.refresh()  # after the wait: before anything is claimed
        if gate.closed():
            return _closed_before_claims(deps, gate.verdict(), head, outcomes, todo, later)
        newly = [r for r in todo if gate.admit(r["rid"]) == verdicts.SUPPRESSED]
        outcomes += [Outcome(r["rid"], r["email"], "suppressed") for r in newly]
        todo = [r for r in todo if r not in newly]
    issued = epoch()
    slow_down = threading.Event()  # set once SES kept throttling: the rest of the batch goes back to SQS
    claims = deps.ledger.claim_many(account_id, campaign_id, [(r["rid"], r["email"]) for r in todo]) if todo else {}
    # Rendering is CPU work: done here, in one thread; the pool only waits on SES (the GIL stays quiet).
    prepared = [_prepare(deps, content, r, issued, claims[r["rid"]], list_id) for r in todo]
    results = list(deps.pool.map(lambda job: _send_one(deps, content, job[0], claims[job[0]["rid"]], job[1],
                                                       slow_down, tenant_pacer, gate),
                                 zip(todo, prepared, strict=True)))
    deferred = [r for r, res in zip(todo, results, strict=True) if res == verdicts.DEFERRED]
    paused = [r for r, res in zip(todo, results, strict=True) if res == verdicts.PAUSED]
    stopped = sum(1 for res in results if res == verdicts.STOPPED)
    already = sum(1 for res in results if res is None)
    outcomes += [res for res in results if isinstance(res, Outcome)]
    deps.ledger.settle(account_id, campaign_id, outcomes, now_iso())
    if deferred:
        attempt = int(body.get("attempt", 0)) + 1
        delay = min(900, int(2 ** min(attempt, 9) + random.uniform(0, 2 ** min(attempt, 9))))
        deps.queue.send(deps.send_queue_url, split(deferred, {**head, "attempt": attempt}), delay_seconds=delay)
        logger.warning("recipients deferred", extra={"campaign_id": campaign_id, "count": len(deferred),
                                                     "delay": delay})
    if paused:
        deps.queue.send(deps.send_queue_url, split(paused, head), delay_seconds=PAUSED_RETRY_SECONDS)
        logger.info("campaign paused while its batch was sending; the rest put back",
                    extra={"campaign_id": campaign_id, "count": len(paused)})
    if stopped:
        logger.info("campaign cancelled while its batch was sending; the rest dropped",
                    extra={"campaign_id": campaign_id, "count": stopped})
    return BatchResult(
        sent=sum(1 for o in outcomes if o.status == "sent"),
        failed=sum(1 for o in outcomes if o.status == "failed"),
        suppressed=sum(1 for o in outcomes if o.status == "suppressed"),
        already=already, deferred=len(deferred) + len(later) + len(paused), stopped=stopped,
        outcomes=tuple(outcomes),
    )


def _closed_before_claims(deps: SendDeps, verdict: str, head: dict[str, Any], outcomes: list[Outcome],
                          todo: list[dict[str, Any]], later: list[dict[str, Any]]) -> BatchResult:
    """The campaign stopped sending during the wait for the tenant's window (nothing is claimed yet):
    cancelled, the batch is dropped; paused (or not readable), it goes back to the queue."""
    account_id, campaign_id = str(head["account_id"]), str(head["campaign_id"])
    if verdict == verdicts.STOPPED:
        logger.info("campaign cancelled during the batch's wait; batch dropped", extra={"campaign_id": campaign_id})
        return BatchResult(0, 0, 0, 0, len(later), dropped=True, stopped=len(todo))
    deps.ledger.settle(account_id, campaign_id, outcomes, now_iso())  # the suppressed: decided either way
    delay = PAUSED_RETRY_SECONDS if verdict == verdicts.PAUSED else UNCHECKED_RETRY_SECONDS
    deps.queue.send(deps.send_queue_url, split(todo, head), delay_seconds=delay)
    logger.info("campaign paused during the batch's wait; batch put back", extra={"campaign_id": campaign_id})
    return BatchResult(0, 0, len(outcomes), 0, len(todo) + len(later))


def _pause_for_sender(deps: SendDeps, item: Any) -> None:
    """The campaign's from address is no longer on a verified domain of its account (deleted, or
    lost its verification): pause it, saying why, instead of sending from a domain it does not own.
    Pausing (not failing the recipients) keeps every recipient: the tenant verifies the domain
    again and resumes, or cancels."""
    domain = str(item.from_email).rpartition("@")[2]
    reason = (f"{SENDER_UNVERIFIED}: {domain} is no longer a verified sender domain of this account; "
              "verify it again (POST /v1/domains) and resume, or cancel")
    if deps.campaigns.transition(item, "sending", "paused", now_iso(), reason=reason):
        logger.warning("campaign paused: its sender domain is not verified", extra={
            "campaign_id": item.campaign_id, "domain": domain})
        tenant = deps.tenant_schedule()
        if tenant is not None:
            try:
                tenant[0].forget_queue(item.pk)
            except Exception:  # the campaign is paused either way; only later dispatch waits
                logger.warning("could not reset the tenant's dispatch projection", exc_info=True)


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
              outgoing: OutgoingEmail | Outcome | None, slow_down: threading.Event | None,
              tenant_pacer: Pacer | None, gate: Gate) -> Outcome | str | None:
    """Send a prepared email. None: someone else has it; "deferred": try again later; "paused" /
    "stopped": the campaign was paused / cancelled meanwhile (the claim is given back).

    After the waits for the pace, the gate decides whether it still goes out (beacon.sending.gate).
    SES throttling is retried here a few times with jittered exponential backoff; if it persists,
    the claim is released, `slow_down` is set and every recipient not yet started is deferred too.
    """
    if outgoing is None or isinstance(outgoing, Outcome):
        gate.finished(r["rid"])
        return outgoing
    try:
        return _attempts(deps, content, r, claim, outgoing, slow_down, tenant_pacer, gate)
    finally:
        gate.finished(r["rid"])


def _attempts(deps: SendDeps, content: CampaignContent, r: dict[str, Any], claim: Claim, outgoing: OutgoingEmail,
              slow_down: threading.Event | None, tenant_pacer: Pacer | None, gate: Gate) -> Outcome | str:
    def give_back(verdict: str) -> str:
        deps.ledger.release(content.account_id, content.campaign_id, r["rid"], claim.claim_id)
        return verdict

    if slow_down is not None and slow_down.is_set():
        return give_back(verdicts.DEFERRED)
    for attempt in range(THROTTLE_RETRIES + 1):
        if gate.closed():
            return give_back(gate.verdict())
        if tenant_pacer is not None:
            tenant_pacer.wait(gate.closed)  # the waits end early once the gate closes
        deps.pacer.wait(gate.closed)
        verdict = gate.admit(r["rid"])
        if verdict == verdicts.SUPPRESSED:
            return Outcome(r["rid"], r["email"], "suppressed", claim.claim_id)
        if verdict != verdicts.SEND:
            return give_back(verdict)
        try:
            message_id = deps.ses.send(outgoing)
        except SesThrottled:
            if attempt < THROTTLE_RETRIES and not (slow_down is not None and slow_down.is_set()):
                deps.throttle_sleep(random.uniform(0.5, 1.0) * THROTTLE_BASE_SECONDS * 2 ** attempt)
                continue
            if slow_down is not None:
                slow_down.set()
            return give_back(verdicts.DEFERRED)
        except SesRejected as exc:
            return Outcome(r["rid"], r["email"], "failed", claim.claim_id, error=str(exc))
        except Exception:
            logger.exception("SES call failed; the recipient will be retried", extra={"recipient": r["rid"]})
            return give_back(verdicts.DEFERRED)
        return Outcome(r["rid"], r["email"], "sent", claim.claim_id, ses_message_id=message_id)
    raise AssertionError("unreachable")
