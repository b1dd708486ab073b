"""Run a background job (beacon.audience.jobs) to its end in-process, as the jobs function would, step
after step (each step queues the next on the jobs queue; here the steps run at once, the queue is
emptied)."""

from __future__ import annotations

from collections.abc import Callable

from beacon import wiring
from beacon.audience import jobs


def countdown(checks: int) -> Callable[[], float]:
    """A step's clock that has time for about `checks` looks at it (each look costs a second)."""
    left = [jobs.RESERVE_SECONDS + 2.0 + checks]

    def time_left() -> float:
        left[0] -= 1.0
        return left[0]

    return time_left


def run_job(job_id: str, checks_per_step: int = 10_000, limit: int = 500) -> int:
    """Steps until the job is done (or gone); returns how many steps it took."""
    for step in range(1, limit + 1):
        result = jobs.run({"job_id": job_id}, wiring.job_deps(), countdown(checks_per_step))
        if result in ("done", "finished"):
            drain_jobs_queue()
            return step
        assert result == "continues", result
    raise AssertionError(f"job {job_id} did not finish in {limit} steps")


def drain_jobs_queue() -> None:
    client, url = wiring.queue()._client, wiring.bound().jobs_queue_url
    client.purge_queue(QueueUrl=url)
