"""A tenant's long operations, run in the background by the jobs function (its own SQS queue):
deleting a list of any size, erasing the whole account and importing a big CSV file
(beacon.audience.import_job). Each is one API call that answers 202 with a job, whose progress
GET /v1/jobs/{id} reads (`done`: items removed or rows imported so far, `phase`; an import's `total`
and, once done, its `result`).

A job runs in steps: an invocation works while it has time (the function's timeout less a margin),
records its progress, and queues the job again to continue; one worker holds a job at a time (a
lease), and every step is idempotent, so a message SQS delivers twice or a crashed step changes
nothing twice.

- delete_list: the list is gone at once (no import or send can use it); the job takes it out of
  each member (their list_ids and memberships); the contacts stay.
- erase_account: the account becomes read-only at once (its keys and sessions answer GETs only,
  409 account_deleting otherwise; no new sign-in); the job deletes the sender domains' SES
  identities, then every send-ledger item, waits ROLLUP_SETTLE_SECONDS so the ledger's stream has
  reached the stats roll-up, then erases everything else (beacon.db.tenant_erasure), the profile
  last; the suppressions stay as hashes. Its own record goes with it: afterwards the account's
  keys no longer authenticate (401).
"""

from __future__ import annotations

from typing import Any

from beacon.audience import import_job
from beacon.audience.contacts import remove_list_members
from beacon.audience.job_records import JobDeps, TimeLeft, new_job, view
from beacon.db.models import JobItem
from beacon.db.tenant_erasure import OutOfTime
from beacon.shared.clock import epoch, now_iso
from beacon.shared.errors import Conflict, NotFound
from beacon.shared.ids import is_id
from beacon.shared.observability import logger

ACTIVE_CAMPAIGN = frozenset({"sending", "scheduled", "paused"})
RESERVE_SECONDS = 10.0  # left in an invocation for recording progress and queueing the next step


def get(deps: JobDeps, account_id: str, job_id: str) -> dict[str, Any]:
    """A job of this tenant (another tenant's, or an unknown id, is not found)."""
    item = deps.jobs.get(job_id, consistent=True) if is_id(job_id) else None
    if item is None or item.account_id != account_id:
        raise NotFound("job not found")
    if item.kind == "import_contacts":
        return view(item, import_job.result(deps, item))
    return view(item)


def start_list_deletion(deps: JobDeps, account_id: str, list_id: str) -> dict[str, Any]:
    """Delete the list now (404 if there is none) and its members in the background."""
    if not deps.lists.delete(account_id, list_id):
        raise NotFound("list not found")
    job = new_job(account_id, "delete_list", list_id, "members")
    deps.jobs.create(job)
    deps.queue.send(deps.queue_url, [{"job_id": job.job_id}])
    return view(job)


def start_account_erasure(deps: JobDeps, account_id: str) -> dict[str, Any]:
    """Make the account read-only and erase it in the background. 409 while a campaign is sending,
    scheduled or paused; asked again while it is being erased, the same job."""
    active = [cid for cid, status in deps.eraser(lambda: 60.0).campaigns(account_id) if status in ACTIVE_CAMPAIGN]
    if active:
        raise Conflict("a campaign is sending, scheduled or paused; cancel it (or let it finish) first",
                       code="campaign_active", details={"campaign_ids": active})
    job = new_job(account_id, "erase_account", None, "identities")
    deps.jobs.create(job)
    running = deps.accounts.start_deleting(account_id, job.job_id)
    if running != job.job_id:
        deps.jobs.delete(job)
        if running is None:
            raise NotFound("account not found")
        earlier = deps.jobs.get(running, consistent=True)
        if earlier is None:
            raise NotFound("account not found")
        return view(earlier)
    deps.credentials.flag_deleting(account_id)
    deps.queue.send(deps.queue_url, [{"job_id": job.job_id}])
    return view(job)


# ------------------------------------------------------------------------------ running


def run(message: Any, deps: JobDeps, time_left: TimeLeft) -> str:
    """One step of a job (an SQS message {"job_id"}). Returns what happened."""
    job_id = message.get("job_id") if isinstance(message, dict) else None
    if not isinstance(job_id, str) or not is_id(job_id):
        logger.warning("job message refused", extra={"body": str(message)[:200]})
        return "refused"
    job = deps.jobs.get(job_id, consistent=True)
    if job is None or job.status in ("done", "failed"):
        return "finished"
    now = epoch()
    if not deps.jobs.take(job, now, now + int(max(time_left(), 1.0)) + 5):
        return "busy"  # another worker holds it; it queues the next step itself

    def budget() -> float:
        return time_left() - RESERVE_SECONDS

    try:
        if job.kind == "delete_list":
            return _delete_list(deps, job, budget)
        if job.kind == "erase_account":
            return _erase_account(deps, job, budget)
        if job.kind == "import_contacts":
            return import_job.run_step(deps, job, budget)
    except Exception:
        deps.jobs.release(job)  # SQS delivers the step again (and its DLQ takes it after 5 tries)
        raise
    deps.jobs.finish(job, "failed", now_iso(), epoch(), error=f"unknown job kind {job.kind!r}")
    return "failed"


def _again(deps: JobDeps, job: JobItem, done: int, phase: str, delay: int = 0) -> str:
    deps.jobs.progress(job, done, phase, now_iso(), epoch())
    deps.jobs.release(job)
    deps.queue.send(deps.queue_url, [{"job_id": job.job_id}], delay_seconds=delay)
    return "continues"


def _delete_list(deps: JobDeps, job: JobItem, budget: TimeLeft) -> str:
    removed, finished = remove_list_members(deps.contacts, job.account_id, str(job.target), budget)
    if not finished:
        return _again(deps, job, removed, "members")
    deps.jobs.progress(job, removed, "members", now_iso(), epoch())
    deps.jobs.finish(job, "done", now_iso(), epoch())
    return "done"


def _erase_account(deps: JobDeps, job: JobItem, budget: TimeLeft) -> str:
    account_id = job.account_id
    eraser = deps.eraser(budget)
    phase = job.phase or "identities"
    try:
        if phase == "identities":
            for domain in deps.domains.all(account_id):
                deps.identities.delete(domain.domain)
            phase = "ledger"
        if phase == "ledger":
            eraser.erase_ledgers(account_id)
            return _again(deps, job, eraser.deleted, "rest", delay=deps.settle_seconds)
        eraser.erase(account_id)
    except OutOfTime:
        return _again(deps, job, eraser.deleted, phase)
    logger.info("account erased", extra={"account_id": account_id, "items": int(job.done or 0) + eraser.deleted})
    deps.jobs.delete(job)  # the tenant's last record
    return "done"
