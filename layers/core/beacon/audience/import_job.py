"""A CSV import of more than Settings.import_sync_rows records (or asked with `Prefer: respond-async`)
runs as a background job: one import writes all its contacts under one partition key and all its
memberships under another, and DynamoDB takes about 1,000 writes a second per partition, so 100,000
rows need ~100 s of writes, more than API Gateway's 30 s.

The API validates the file at once (the same 4xx as the synchronous import, nothing written on one),
stores it in chunks under the job (beacon.db.jobs.ImportFiles) and answers 202 with the job. The jobs
function imports it in steps of Settings.import_step_rows rows; each step

1. judges its rows as the synchronous import would (the addresses of the rows before it are judged
   again from the file, so a duplicate of an earlier step's row is skipped the same way);
2. records, before it writes, its time and counts and who is new to the list (sk=STEP);
3. writes the contacts and memberships (idempotent upserts);
4. commits in one transaction: the checkpoint (row offset, running counts), the list's count, the
   skipped rows it keeps; the step record goes.

A step that crashes or is throttled after writing is done again from its record: the same time and
the same newcomers, so what was written is written the same (a missing membership is written) and the
counts are the first attempt's: exact, never twice. Throttling re-queues the job with a growing delay
instead of failing it. When the last step is committed the file goes and the job's result carries the
synchronous import's summary, with the first MAX_KEPT_SKIPPED skipped rows and how many more there were.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from beacon.audience import contacts as contacts_mod
from beacon.audience import csv_import
from beacon.audience.job_records import JobDeps, new_job, view
from beacon.db.batch import is_throttling
from beacon.db.jobs import ImportFiles
from beacon.db.models import JobItem
from beacon.db.suppressions import SuppressionRepo
from beacon.shared.clock import epoch, now_iso
from beacon.shared.errors import BadRequest, NotFound
from beacon.shared.heap import collection_paused
from beacon.shared.observability import logger

TimeLeft = Callable[[], float]
MAX_KEPT_SKIPPED = 1000  # skipped rows a job's result lists (it counts them all)
STEP_SECONDS = 30.0  # a step starts only with this much time left: 2,000 rows at a throttled partition's
                     # 1,000 writes/s is ~2-4 s; the margin covers botocore's own backoff
MAX_DELAY = 900  # SQS's longest delay


def import_file(deps: JobDeps, account_id: str, list_id: str, data: bytes, consent_source: Any, *,
                trigger_automations: bool = False, prefer_async: bool = False) -> tuple[int, dict[str, Any]]:
    """POST /v1/lists/{id}/imports: (200, the summary) for a file of up to deps.sync_rows records,
    imported at once; else (202, the job). Every 4xx comes before anything is written."""
    if deps.lists.get(account_id, list_id) is None:
        raise NotFound("list not found")
    try:
        vouched = contacts_mod.clean_consent_source(consent_source)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_consent_source") from exc
    with collection_paused():
        parsed = contacts_mod.parse_csv(data)
        records = len(parsed.rows) + len(parsed.skipped)
        if records <= deps.sync_rows and not prefer_async:
            return 200, contacts_mod.import_parsed(deps.contacts, deps.lists, suppressions(deps), account_id,
                                                   list_id, parsed, vouched, trigger_automations=trigger_automations)
    job = new_job(account_id, "import_contacts", list_id, "rows")
    job.total, job.offset, job.created, job.updated, job.skipped_count = records, 0, 0, 0, 0
    job.options = json.dumps({"consent_source": vouched, "trigger_automations": trigger_automations})
    job.chunks = files(deps).store(account_id, job.job_id, data, epoch())
    deps.jobs.create(job)
    deps.queue.send(deps.queue_url, [{"job_id": job.job_id}])
    logger.info("import queued", extra={"job_id": job.job_id, "records": records, "bytes": len(data)})
    return 202, view(job)


def files(deps: JobDeps) -> ImportFiles:
    return deps.files if deps.files is not None else ImportFiles()


def suppressions(deps: JobDeps) -> SuppressionRepo:
    return deps.suppressions if deps.suppressions is not None else SuppressionRepo()


def result(deps: JobDeps, item: JobItem) -> dict[str, Any] | None:
    """A finished import's summary: the synchronous import's, with the kept skipped rows."""
    if item.status != "done":
        return None
    kept = files(deps).kept_skipped(item.job_id)
    count = int(item.skipped_count or 0)
    return {"created": int(item.created or 0), "updated": int(item.updated or 0), "skipped": kept,
            "skipped_count": count, "skipped_omitted": max(0, count - len(kept))}


# ------------------------------------------------------------------------------ running


def run_step(deps: JobDeps, job: JobItem, budget: TimeLeft) -> str:
    """Steps of the import while time is left (the caller holds the job's lease)."""
    store = files(deps)

    def fail(why: str) -> str:
        store.drop(job.job_id, int(job.chunks or 0))
        deps.jobs.finish(job, "failed", now_iso(), epoch(), error=why)
        logger.warning("import failed", extra={"job_id": job.job_id, "reason": why})
        return "failed"

    account = deps.accounts.get(job.account_id)
    if account is None or account.status == "deleting":
        return fail("the account is being erased")
    if deps.lists.get(job.account_id, str(job.target)) is None:
        return fail("the list was deleted")
    data = store.load(job.job_id, int(job.chunks or 0))
    if data is None:
        return fail("the file is gone (it expired before the import could run)")
    with collection_paused():
        try:
            parsed = csv_import.parse(data)
        except csv_import.CsvProblem as exc:
            return fail(str(exc))
        try:
            return _steps(deps, store, job, parsed, budget, fail)
        except Exception as exc:
            if not is_throttling(exc):
                raise
            return _slow_down(deps, job, exc)


def _steps(deps: JobDeps, store: ImportFiles, job: JobItem, parsed: csv_import.ParsedCsv, budget: TimeLeft,
           fail: Callable[[str], str]) -> str:
    account_id, list_id = job.account_id, str(job.target)
    options = json.loads(job.options or "{}")
    rows = parsed.rows
    offset = int(job.offset or 0)
    seen: dict[str, dict[str, int]] = {}
    if offset:  # the addresses before the checkpoint: a later duplicate of one is skipped as at once
        contacts_mod.sort_entries(account_id, contacts_mod.row_entries(rows[:offset]), seen=seen)
    stepped = False
    while True:
        if stepped and budget() < STEP_SECONDS:
            return _continue(deps, job)
        end = min(offset + deps.step_rows, len(rows))
        low = rows[offset][0] if 0 < offset < len(rows) else 0
        high = rows[end][0] if end < len(rows) else float("inf")
        step_skipped = [s for s in parsed.skipped if low <= (s.get("row") or 0) < high]
        judged = contacts_mod.sort_entries(account_id, contacts_mod.row_entries(rows[offset:end]), step_skipped,
                                           consent_source=options.get("consent_source"), seen=seen)
        judged.skipped.sort(key=lambda s: s.get("row") or 0)
        plan = store.step(job.job_id)
        if plan is not None and plan["offset"] != offset:
            plan = None  # a stale record (cannot outlive its commit, but be sure)
        at = plan["at"] if plan else now_iso()

        def record(w: contacts_mod.Written, start: int = offset, at: str = at) -> None:
            store.begin_step(job.job_id, start, at, w.created, w.updated, w.joined, epoch() + 86400)

        written = contacts_mod.write_sorted(
            deps.contacts, suppressions(deps), account_id, list_id, judged, source="import",
            trigger_automations=bool(options.get("trigger_automations")), at=at,
            joined_before=plan["joined"] if plan else None, before_write=None if plan else record)
        created, updated, joined = ((plan["created"], plan["updated"], len(plan["joined"])) if plan
                                    else (written.created, written.updated, len(written.joined)))
        kept_before = min(int(job.skipped_count or 0), MAX_KEPT_SKIPPED)
        kept = judged.skipped[:MAX_KEPT_SKIPPED - kept_before]
        done = end + sum(1 for s in parsed.skipped if (s.get("row") or 0) < high)
        outcome = store.commit_step(job, offset, end, done, created, updated, len(judged.skipped), kept, joined,
                                    now_iso(), epoch())
        if outcome == "list_gone":
            return fail("the list was deleted")
        if outcome == "moved":
            deps.jobs.release(job)
            return "busy"
        job.offset, job.done = end, done
        job.created = int(job.created or 0) + created
        job.updated = int(job.updated or 0) + updated
        job.skipped_count = int(job.skipped_count or 0) + len(judged.skipped)
        offset, stepped = end, True
        if end >= len(rows):
            store.drop(job.job_id, int(job.chunks or 0))
            deps.jobs.finish(job, "done", now_iso(), epoch())
            logger.info("import done", extra={"job_id": job.job_id, "contacts_created": job.created,
                                              "contacts_updated": job.updated, "rows_skipped": job.skipped_count})
            return "done"


def _continue(deps: JobDeps, job: JobItem, delay: int = 0) -> str:
    deps.jobs.release(job)
    deps.queue.send(deps.queue_url, [{"job_id": job.job_id}], delay_seconds=delay)
    return "continues"


def _slow_down(deps: JobDeps, job: JobItem, exc: BaseException) -> str:
    """Throttled (or another transient DynamoDB fault): the step is done again later, slower each time."""
    times = deps.jobs.throttled(job, now_iso())
    delay = min(MAX_DELAY, 5 * 2 ** min(times, 8))
    logger.warning("import throttled; continuing later",
                   extra={"job_id": job.job_id, "times": times, "delay": delay, "error": str(exc)[:200]})
    _continue(deps, job, delay)
    return "throttled"
