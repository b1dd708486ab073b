"""Jobs (the accounts table, pk=J#{job_id} sk=JOB): a tenant's long operations and their progress."""

from __future__ import annotations

from beacon.db.conditions import applied
from beacon.db.models import JobItem

KEEP_SECONDS = 7 * 86400  # a job's record expires (TTL) this long after it was last written


class JobRepo:
    def create(self, item: JobItem) -> None:
        item.save(condition=JobItem.pk.does_not_exist())

    def get(self, job_id: str, consistent: bool = False) -> JobItem | None:
        try:
            return JobItem.get(f"J#{job_id}", "JOB", consistent_read=consistent)
        except JobItem.DoesNotExist:
            return None

    def take(self, item: JobItem, now: int, until: int) -> bool:
        """Run it: one worker at a time (a lease that ends when an invocation would have timed out)."""
        return applied(item.update, actions=[JobItem.status.set("running"), JobItem.lease_until.set(until)],
                       condition=(JobItem.lease_until < now) & JobItem.status.is_in("queued", "running"))

    def progress(self, item: JobItem, done: int, phase: str, now_iso: str, now: int) -> None:
        item.update(actions=[JobItem.done.add(done), JobItem.phase.set(phase), JobItem.updated_at.set(now_iso),
                             JobItem.expires_at.set(now + KEEP_SECONDS)])

    def release(self, item: JobItem) -> None:
        """Give the lease back (the next invocation continues at once)."""
        applied(item.update, actions=[JobItem.lease_until.set(0)], condition=JobItem.pk.exists())

    def finish(self, item: JobItem, status: str, now_iso: str, now: int, error: str | None = None) -> None:
        actions = [JobItem.status.set(status), JobItem.finished_at.set(now_iso), JobItem.updated_at.set(now_iso),
                   JobItem.lease_until.set(0), JobItem.expires_at.set(now + KEEP_SECONDS)]
        if error:
            actions.append(JobItem.error.set(error[:500]))
        applied(item.update, actions=actions, condition=JobItem.pk.exists())

    def delete(self, item: JobItem) -> None:
        item.delete()
