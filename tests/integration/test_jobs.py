"""Background jobs over moto: a list of 1,200 contacts deleted in several steps (each under its time
budget), one worker at a time, progress readable while it runs; odd job messages change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from beacon import wiring
from beacon.audience import jobs
from beacon.db.models import MembershipItem
from tests.integration.jobs_helper import countdown, drain_jobs_queue, run_job
from tests.integration.pipeline_world import make_world


@pytest.fixture
def world(clean_aws: object) -> Any:
    return make_world()


def test_a_big_list_is_deleted_in_steps_with_its_progress_readable(world: Any) -> None:
    people = [f"m{i:05d}@example.com" for i in range(1200)]
    doomed = world.new_list(people)
    kept = world.new_list(people[:3])
    deps = wiring.job_deps()
    job = jobs.start_list_deletion(deps, world.account_id, doomed)
    assert (job["status"], job["done"]) == ("queued", 0)
    first = jobs.run({"job_id": job["id"]}, deps, countdown(1))  # time for one page of 500 members
    assert first == "continues"
    midway = jobs.get(deps, world.account_id, job["id"])
    assert midway["status"] == "running" and midway["done"] == 500
    steps = run_job(job["id"], checks_per_step=1)
    assert steps == 2  # 500 more, then the last 200
    done = jobs.get(deps, world.account_id, job["id"])
    assert (done["status"], done["done"]) == ("done", 1200) and done["finished_at"]
    assert not list(MembershipItem.query(f"{world.account_id}#L#{doomed}", limit=1))
    assert len(list(MembershipItem.query(f"{world.account_id}#L#{kept}"))) == 3
    assert jobs.run({"job_id": job["id"]}, deps, countdown(5)) == "finished"  # SQS delivered it again


def test_one_worker_at_a_time(world: Any) -> None:
    doomed = world.new_list(["x@example.com"])
    deps = wiring.job_deps()
    job = jobs.start_list_deletion(deps, world.account_id, doomed)
    item = deps.jobs.get(job["id"], consistent=True)
    assert item is not None and deps.jobs.take(item, now=1_000, until=10**12)  # a worker holds it
    assert jobs.run({"job_id": job["id"]}, deps, countdown(5)) == "busy"
    deps.jobs.release(item)
    assert jobs.run({"job_id": job["id"]}, deps, countdown(5)) == "done"
    drain_jobs_queue()


@pytest.mark.parametrize("message", [None, [], "job", {}, {"job_id": 7}, {"job_id": "../../etc"},
                                     {"job_id": "0" * 31}, {"job_id": "g" * 32}, {"job_id": "0" * 32 + "0"}])
def test_odd_job_messages_are_refused(clean_aws: object, message: Any) -> None:
    assert jobs.run(message, wiring.job_deps(), countdown(5)) == "refused"


def test_an_unknown_job_is_finished_and_another_tenants_is_not_found(world: Any) -> None:
    deps = wiring.job_deps()
    assert jobs.run({"job_id": "0" * 32}, deps, countdown(5)) == "finished"
    job = jobs.start_list_deletion(deps, world.account_id, world.new_list(["y@example.com"]))
    with pytest.raises(Exception, match="job not found"):
        jobs.get(deps, "f" * 32, job["id"])
    with pytest.raises(Exception, match="job not found"):
        jobs.get(deps, world.account_id, "not-an-id")
    drain_jobs_queue()
