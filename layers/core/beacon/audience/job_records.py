"""What every background job shares (beacon.audience.jobs runs them, beacon.audience.import_job is
one kind): the dependencies, a new job's item and a job's answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from beacon.db.accounts import AccountRepo, ListRepo
from beacon.db.contacts import ContactRepo
from beacon.db.credentials import CredentialRepo
from beacon.db.domains import DomainRepo
from beacon.db.jobs import KEEP_SECONDS, ImportFiles, JobRepo
from beacon.db.models import JobItem
from beacon.db.suppressions import SuppressionRepo
from beacon.db.tenant_erasure import TenantEraser
from beacon.ports.identities import Identities
from beacon.ports.queue import Queue
from beacon.shared.clock import epoch, now_iso
from beacon.shared.ids import new_id

TimeLeft = Callable[[], float]
ROLLUP_SETTLE_SECONDS = 60  # > the stats roll-up's lag: no stream record of a deleted ledger item is left


@dataclass
class JobDeps:
    jobs: JobRepo
    queue: Queue
    queue_url: str
    accounts: AccountRepo
    credentials: CredentialRepo
    contacts: ContactRepo
    lists: ListRepo
    domains: DomainRepo
    identities: Identities
    eraser: Callable[[TimeLeft], TenantEraser]
    settle_seconds: int = ROLLUP_SETTLE_SECONDS  # between the ledger's erasure and the stats'
    suppressions: SuppressionRepo | None = None  # an import's new contacts keep a suppressed status
    files: ImportFiles | None = None  # an import's file and steps (None: the real one)
    sync_rows: int = 5000  # an import of more records runs as a job (Settings.import_sync_rows)
    step_rows: int = 2000  # rows an import job writes between two checkpoints


def view(item: JobItem, result: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": item.job_id, "kind": item.kind, "status": item.status, "phase": item.phase or None,
            "target": item.target, "done": int(item.done or 0),
            "total": int(item.total) if item.total is not None else None, "created_at": item.created_at,
            "updated_at": item.updated_at, "finished_at": item.finished_at, "error": item.error,
            "result": result}


def new_job(account_id: str, kind: str, target: str | None, phase: str) -> JobItem:
    job_id, now = new_id(), now_iso()
    return JobItem(pk=f"J#{job_id}", sk="JOB", job_id=job_id, account_id=account_id, kind=kind, target=target,
                   status="queued", phase=phase, done=0, created_at=now, updated_at=now, lease_until=0,
                   expires_at=epoch() + KEEP_SECONDS)
