"""The send pipeline: dispatch pages through a campaign's recipients into send batches; send
renders and sends each batch through SES exactly once per recipient (see beacon.db.send_ledger).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from beacon.campaigns.drafts import content_of
from beacon.db.accounts import AccountRepo
from beacon.db.campaign_counters import Counters
from beacon.db.campaigns import CampaignRepo
from beacon.db.contacts import ContactRepo, decode_cursor, encode_cursor
from beacon.db.models import CampaignItem
from beacon.db.send_ledger import Claim, Ledger, Outcome
from beacon.db.suppressions import SuppressionRepo
from beacon.db.tenant_pace import TenantPace
from beacon.message import rendering
from beacon.message.compose import CampaignContent, compose
from beacon.ports.queue import Queue
from beacon.ports.ses import EmailSender, OutgoingEmail, SesRejected, SesThrottled
from beacon.shared.clock import epoch, now_iso
from beacon.shared.observability import logger
from beacon.shared.tokens import TokenSigner

BATCH_SIZE = 50  # recipients per send message
PAGE_SIZE = 100  # recipients read per dispatch step (one Query, one BatchGetItem, one SendMessageBatch)
FINALIZE_DELAYS = (2, 5, 10, 30, 60)  # seconds between checks for "every recipient settled"
MAX_MESSAGE_BYTES = 240 * 1024
SEND_WORKERS = 50  # = BATCH_SIZE: a whole batch in flight at once (the SES and DynamoDB pools match)
PAUSED_RETRY_SECONDS = 60  # a batch of a paused campaign comes back this much later
THROTTLE_RETRIES = 3  # SES throttling: retries inside the invocation (jittered backoff) before requeueing
THROTTLE_BASE_SECONDS = 0.2
# A batch whose tenant window starts later than this goes back to the queue until then (the send
# function's timeout is 60 s: the wait plus 50 emails at the lowest tenant rate, 2/s, fit in it).
MAX_TENANT_WAIT_SECONDS = 20.0
# At a slow pace (an SES sandbox sends 1 email/s) 50 emails would outlast the invocation: a batch
# sends what its pace fits in this many seconds and queues the rest as a message of its own.
SEND_BUDGET_SECONDS = 30.0
# With a tenant rate, dispatch queues at most about this much of the tenant's sending ahead (each
# batch delayed until shortly before its turn: SQS delays go up to 900 s); then it continues later.
# So a campaign of up to ~14 minutes at its tenant's rate (8,400 recipients at 10/s) is queued at
# once, and a bigger one as it sends (its stats say `recipients_final: false` until then).
DISPATCH_AHEAD_SECONDS = 840.0
DISPATCH_LEAD_SECONDS = 5.0  # a batch becomes visible this much before its turn


class Pacer:
    """At most `rate` SES calls per second from this container (thread-safe; None = unlimited).

    The template caps the send function at MaximumConcurrency invocations, so a per-invocation pace
    of BEACON_SEND_RATE / MaximumConcurrency keeps the whole send at or below BEACON_SEND_RATE.
    A batch also gets its own Pacer at its tenant's rate (see beacon.db.tenant_pace).
    """

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)


@dataclass
class SendDeps:
    campaigns: CampaignRepo
    accounts: AccountRepo
    contacts: ContactRepo
    suppressions: SuppressionRepo
    ledger: Ledger
    counters: Counters
    queue: Queue
    ses: EmailSender
    signer: TokenSigner
    send_queue_url: str
    dispatch_queue_url: str
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(SEND_WORKERS))
    pacer: Pacer = field(default_factory=lambda: Pacer(None))
    throttle_sleep: Callable[[float], None] = time.sleep
    # per-tenant rate (emails/s) and the shared schedule that enforces it; None = no tenant cap
    tenant_pace: TenantPace | None = None
    tenant_rate: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def tenant_schedule(self) -> tuple[TenantPace, float] | None:
        """The shared schedule and the rate it holds each tenant to, when there is a tenant rate."""
        if self.tenant_pace is not None and self.tenant_rate:
            return self.tenant_pace, self.tenant_rate
        return None


# ------------------------------------------------------------------------------------- dispatch
def _split(recipients: list[dict[str, Any]], head: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages of at most BATCH_SIZE recipients, each halved until it fits SQS's 256 KB."""
    if len(recipients) > BATCH_SIZE:
        return [m for i in range(0, len(recipients), BATCH_SIZE) for m in _split(recipients[i:i + BATCH_SIZE], head)]
    body = {**head, "recipients": recipients}
    if len(recipients) <= 1 or len(json.dumps(body, separators=(",", ":"))) <= MAX_MESSAGE_BYTES:
        return [body]
    mid = len(recipients) // 2
    return _split(recipients[:mid], head) + _split(recipients[mid:], head)


def dispatch(job: dict[str, Any], deps: SendDeps, time_left: Callable[[], float]) -> str:
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
        if not deps.campaigns.transition(item, "scheduled", "sending", now_iso(),
                                         extra=[CampaignItem.schedule_key.remove()]):
            item = deps.campaigns.get(account_id, campaign_id, consistent=True)
        else:
            logger.info("scheduled campaign started", extra={"campaign_id": campaign_id})
    if item is None or item.status not in ("sending",):
        logger.info("dispatch dropped", extra={"campaign_id": campaign_id,
                                               "status": item.status if item else None})
        return "dropped"
    list_ids = list(item.list_ids or [])
    head = {"account_id": account_id, "campaign_id": campaign_id}
    tenant = deps.tenant_schedule()
    ahead = 0.0  # seconds of this tenant's sending queued ahead of now (with a tenant rate)
    while not item.dispatched_at:
        seq = int(item.dispatch_seq or 0)
        index = int(item.dispatch_list_index or 0)
        recipients: list[dict[str, Any]] = []
        next_key = None
        if index < len(list_ids):
            members, next_key = deps.contacts.members_page(
                account_id, list_ids[index], PAGE_SIZE, decode_cursor(item.dispatch_cursor)
            )
            found = deps.contacts.get_many(account_id, [m.sk for m in members])
            earlier = set(list_ids[:index])
            for m in members:
                contact = found.get(m.sk)
                if contact is None or (set(contact.list_ids or ()) & earlier):
                    continue  # erased meanwhile, or already a recipient through an earlier list
                recipients.append({"rid": m.sk, "email": contact.email, "attributes": contact.attributes or {}})
            if recipients:
                messages = _split(recipients, head)
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
        new_index = index if next_key else index + 1
        done = next_key is None and new_index >= len(list_ids)
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


def now_utc() -> str:
    """Now in the format of CampaignItem.send_at (ISO 8601 UTC, seconds), so strings compare."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def sweep(deps: SendDeps) -> str:
    """The one-minute schedule: a dispatch job for every scheduled campaign that is due. The job
    itself moves the campaign to "sending" (a duplicate job is harmless: the checkpoint dedupes);
    a campaign stays in the index until then, so a lost job is sent again by the next sweep."""
    due = deps.campaigns.due(now_utc())
    if due:
        deps.queue.send(deps.dispatch_queue_url, [{"account_id": a, "campaign_id": c} for a, c in due])
        logger.info("scheduled campaigns due", extra={"count": len(due)})
    return f"swept {len(due)}"


def _schedule_finalize(deps: SendDeps, head: dict[str, Any], check: int) -> None:
    delay = FINALIZE_DELAYS[min(check, len(FINALIZE_DELAYS) - 1)]
    deps.queue.send(deps.dispatch_queue_url, [{**head, "kind": "finalize", "check": check}], delay_seconds=delay)


def finalize(job: dict[str, Any], deps: SendDeps) -> str:
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


def maybe_finish(deps: SendDeps, account_id: str, campaign_id: str) -> bool:
    """Mark the campaign sent once dispatch is complete and every recipient is settled."""
    item = deps.campaigns.get(account_id, campaign_id, consistent=True)
    if item is None or item.status != "sending" or not item.dispatched_at:
        return False
    c = deps.counters.read(account_id, campaign_id)
    settled = c.get("sent", 0) + c.get("failed", 0) + c.get("skipped_suppressed", 0)
    if settled < int(item.recipients or 0):
        return False
    now = now_iso()
    return deps.campaigns.transition(item, "sending", "sent", now, extra=[CampaignItem.finished_at.set(now)])


# ------------------------------------------------------------------------------------- send
_company_cache: dict[str, tuple[float, str]] = {}


def _company(deps: SendDeps, account_id: str) -> str:
    hit = _company_cache.get(account_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    account = deps.accounts.get(account_id)
    company = account.company if account else ""
    _company_cache[account_id] = (time.monotonic() + 300, company)
    return company


@dataclass(frozen=True)
class BatchResult:
    sent: int
    failed: int
    suppressed: int
    already: int
    deferred: int
    dropped: bool = False


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
    content = content_of(item, _company(deps, account_id))
    suppressed = deps.suppressions.suppressed(account_id, [r["rid"] for r in recipients])
    outcomes: list[Outcome] = [
        Outcome(r["rid"], r["email"], "suppressed") for r in recipients if r["rid"] in suppressed
    ]
    todo = [r for r in recipients if r["rid"] not in suppressed]
    tenant = deps.tenant_schedule()
    head = {k: v for k, v in body.items() if k != "recipients"}
    later = _beyond_budget(todo, max(deps.pacer.interval, 1.0 / tenant[1] if tenant else 0.0))
    if later:
        todo = todo[: len(todo) - len(later)]
        deps.queue.send(deps.send_queue_url, _split(later, head))
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
            deps.queue.send(deps.send_queue_url, _split(back, head), delay_seconds=delay)
            logger.info("tenant send rate: batch put back", extra={"campaign_id": campaign_id, "delay": delay})
            return BatchResult(0, 0, 0, 0, len(recipients))
        if wait > 0:
            deps.sleep(wait)
        tenant_pacer = Pacer(tenant_rate, clock=deps.clock, sleep=deps.sleep)  # the window's clock
    issued = epoch()
    slow_down = threading.Event()  # set once SES kept throttling: the rest of the batch goes back to SQS
    claims = deps.ledger.claim_many(account_id, campaign_id, [(r["rid"], r["email"]) for r in todo]) if todo else {}
    # Rendering is CPU work: done here, in one thread; the pool only waits on SES (the GIL stays quiet).
    prepared = [_prepare(deps, content, r, issued, claims[r["rid"]]) for r in todo]
    results = list(deps.pool.map(lambda job: _send_one(deps, content, job[0], claims[job[0]["rid"]], job[1],
                                                       slow_down, tenant_pacer), zip(todo, prepared, strict=True)))
    deferred = [r for r, res in zip(todo, results, strict=True) if res == "deferred"]
    already = sum(1 for res in results if res is None)
    outcomes += [res for res in results if isinstance(res, Outcome)]
    deps.ledger.settle(account_id, campaign_id, outcomes, now_iso())
    if deferred:
        attempt = int(body.get("attempt", 0)) + 1
        delay = min(900, int(2 ** min(attempt, 9) + random.uniform(0, 2 ** min(attempt, 9))))
        deps.queue.send(deps.send_queue_url, _split(deferred, {
            "account_id": account_id, "campaign_id": campaign_id, "attempt": attempt,
        }), delay_seconds=delay)
        logger.warning("recipients deferred", extra={"campaign_id": campaign_id, "count": len(deferred),
                                                     "delay": delay})
    return BatchResult(
        sent=sum(1 for o in outcomes if o.status == "sent"),
        failed=sum(1 for o in outcomes if o.status == "failed"),
        suppressed=sum(1 for o in outcomes if o.status == "suppressed"),
        already=already, deferred=len(deferred) + len(later),
    )


def _beyond_budget(todo: list[dict[str, Any]], interval: float) -> list[dict[str, Any]]:
    """The recipients a pace of one email per `interval` seconds cannot reach within SEND_BUDGET_SECONDS."""
    if not interval:
        return []
    fits = max(1, int(SEND_BUDGET_SECONDS / interval))
    return todo[fits:]


def _prepare(deps: SendDeps, content: CampaignContent, r: dict[str, Any], issued: int,
             claim: Claim) -> OutgoingEmail | Outcome | None:
    """The email for a claimed recipient; an Outcome "failed" if it cannot be rendered; None if the
    recipient is someone else's (the claim was lost)."""
    if not claim.won:
        return None
    try:
        composed = compose(content, deps.signer, email=r["email"], recipient_id=r["rid"],
                           attributes=r.get("attributes") or {}, issued_at=issued)
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
