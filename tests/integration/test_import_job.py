"""A CSV import above the synchronous threshold, through the account handler (202 with a job) and the
jobs handler (synthetic SQS events), over moto: progress while it runs, the same summary as a
synchronous import of the same file once done, a step that crashes after writing and is redone, a
throttled step that slows down, hostile files refused with nothing written, and an erased account
leaving no file behind. The threshold is set small (BEACON_IMPORT_SYNC_ROWS) to keep it fast."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from beacon import wiring
from beacon.audience import contacts as contacts_mod
from beacon.db.batch import Throttled
from beacon.db.models import ContactItem, JobItem, MembershipItem
from beacon_local.runtime import LambdaContext
from tests.integration.conftest import load_function
from tests.integration.jobs_helper import drain_jobs_queue
from tests.integration.test_api import Client, _load_handler, all_members, assert_error, import_csv
from tests.integration.test_contacts_api import _sign_up

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

SYNC_ROWS, STEP_ROWS = 20, 7


@pytest.fixture(scope="module", autouse=True)
def api(aws: Any) -> Iterator[Client]:
    mp = pytest.MonkeyPatch()
    mp.setenv("BEACON_IMPORT_SYNC_ROWS", str(SYNC_ROWS))
    mp.setenv("BEACON_IMPORT_STEP_ROWS", str(STEP_ROWS))
    wiring.reset()
    aws.clean()
    yield Client(_load_handler().handler)
    mp.undo()
    wiring.reset()


@pytest.fixture(scope="module")
def jobs_handler() -> Any:
    return load_function("functions/jobs", "beacon_jobs_handler_under_test_import")


@dataclass
class SteppingContext(LambdaContext):
    """The runtime's context whose clock runs a step's worth (20 s) each time the job looks at it."""

    seconds: float = 60.0

    def get_remaining_time_in_millis(self) -> int:
        self.seconds -= 20.0
        return int(self.seconds * 1000)


def _context(seconds: float) -> SteppingContext:
    return SteppingContext("jobs", 1024, "arn:aws:lambda:us-east-1:123456789012:function:jobs", 60, seconds=seconds)


def deliver(handler: Any, job_id: str, seconds: float = 300.0) -> dict[str, Any]:
    """One SQS delivery of the job's step message to the jobs function."""
    event = {"Records": [{"messageId": "m1", "receiptHandle": "rh", "body": json.dumps({"job_id": job_id}),
                          "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}]}
    answer: dict[str, Any] = handler(event, _context(seconds))
    return answer


def queued_steps() -> int:
    client, url = wiring.queue()._client, wiring.bound().jobs_queue_url
    attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                      "ApproximateNumberOfMessagesDelayed"])
    return sum(int(v) for v in attrs["Attributes"].values())


def big_file() -> bytes:
    """50 records: valid rows, a bad address and a row missing its email column in the middle, a
    duplicate of an earlier step's row, a quoted newline."""
    lines = ["email,first_name"]
    for i in range(50):
        if i == 17:
            lines.append("not-an-address,Bad")
        elif i == 23:
            lines.append("")  # blank: not a record
        elif i == 30:
            lines.append("p00002@example.com,Again")  # a duplicate of row 4 (another step)
        elif i == 35:
            lines.append('p00035@example.com,"two\nlines"')
        else:
            lines.append(f"p{i:05d}@example.com,P{i}")
    return ("\r\n".join(lines) + "\r\n").encode()


def counts(account_id: str, list_id: str) -> tuple[int, int]:
    contacts = sum(1 for _ in ContactItem.query(account_id, ContactItem.sk.startswith("C#")))
    members = sum(1 for _ in MembershipItem.query(f"{account_id}#L#{list_id}"))
    return contacts, members


def new_list(client: Client) -> str:
    status, body = client.post("/v1/lists", {"name": "Big"})
    assert status == 201, body
    return str(body["id"])


def test_a_big_file_is_imported_by_a_job_with_the_sync_summary(api: Client, jobs_handler: Any) -> None:
    tenant = _sign_up(api, "Importer")
    big = new_list(tenant.client)
    answer = import_csv(tenant.client, big, big_file())
    assert answer.status == 202, answer.body
    job = answer.body
    assert answer.headers["location"] == f"/v1/jobs/{job['id']}"
    assert (job["kind"], job["status"], job["target"], job["done"], job["total"], job["result"]) == (
        "import_contacts", "queued", big, 0, 49, None)
    assert counts(tenant.account["id"], big) == (0, 0)  # nothing written before the job runs

    deliver(jobs_handler, job["id"], seconds=90.0)  # time for two steps only (each look at the clock: 20 s)
    status, midway = tenant.client.get(f"/v1/jobs/{job['id']}")
    assert status == 200 and midway["status"] == "running" and midway["result"] is None
    assert 0 < midway["done"] < midway["total"] == 49
    for _ in range(10):
        deliver(jobs_handler, job["id"])
        status, done = tenant.client.get(f"/v1/jobs/{job['id']}")
        if done["status"] == "done":
            break
    drain_jobs_queue()
    assert done["status"] == "done" and done["done"] == 49, done

    # the same file imported at once onto another list of a fresh tenant gives the same summary
    other = _sign_up(api, "Syncer")
    ref = new_list(other.client)
    parsed = contacts_mod.parse_csv(big_file())
    expected = contacts_mod.import_parsed(wiring.job_deps().contacts, wiring.job_deps().lists,
                                          wiring.job_deps().suppressions or pytest.fail(), other.account["id"],
                                          ref, parsed, None)
    result = done["result"]
    assert (result["created"], result["updated"]) == (expected["created"], expected["updated"]) == (47, 0)
    assert result["skipped"] == expected["skipped"] and result["skipped_count"] == 2
    assert result["skipped_omitted"] == 0
    assert [s["row"] for s in result["skipped"]] == [19, 32]
    assert "duplicate of row 4" in result["skipped"][1]["reason"]
    status, listed = tenant.client.get(f"/v1/lists/{big}")
    assert listed["contact_count"] == 47
    assert counts(tenant.account["id"], big) == (47, 47)
    members = all_members(tenant.client, big)
    assert {m["attributes"]["first_name"] for m in members if m["email"] == "p00035@example.com"} == {"two\nlines"}
    assert JobItem.get(f"J#{job['id']}", "JOB").chunks  # the record remains; its file does not:
    assert wiring.job_deps().files.load(job["id"], 1) is None  # type: ignore[union-attr]


def test_a_step_that_crashes_after_writing_is_redone_with_exact_counts(api: Client, jobs_handler: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = _sign_up(api, "Crasher")
    big = new_list(tenant.client)
    status, _ = tenant.client.put(f"/v1/lists/{big}/contacts", [{"email": "p00001@example.com"},
                                                                 {"email": "p00040@example.com"}])
    assert status == 200
    answer = import_csv(tenant.client, big, big_file())
    assert answer.status == 202
    job_id = answer.body["id"]

    from beacon.db.contacts import ContactRepo

    real = ContactRepo.save_many
    calls = {"n": 0}

    def crash_on_second_step(self: Any, items: Any, *args: Any, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # write half of the step (contacts without some memberships), then die
            half = items[: len(items) // 2]
            real(self, half, *args, **kw)
            raise RuntimeError("the function died mid-step")
        real(self, items, *args, **kw)

    monkeypatch.setattr(ContactRepo, "save_many", crash_on_second_step)
    with pytest.raises(BatchProcessingError, match="died mid-step"):  # the batch failed: SQS delivers it again
        deliver(jobs_handler, job_id)
    monkeypatch.setattr(ContactRepo, "save_many", real)
    for _ in range(10):
        deliver(jobs_handler, job_id)  # the redelivery, then the next steps
        status, done = tenant.client.get(f"/v1/jobs/{job_id}")
        if done["status"] == "done":
            break
    deliver(jobs_handler, job_id)  # delivered once more after the end: nothing changes
    drain_jobs_queue()
    result = done["result"]
    assert (result["created"], result["updated"], result["skipped_count"]) == (45, 2, 2), result
    status, listed = tenant.client.get(f"/v1/lists/{big}")
    assert listed["contact_count"] == 47
    assert counts(tenant.account["id"], big) == (47, 47)  # no membership lost


def test_throttling_slows_the_job_down_and_does_not_fail_it(api: Client, jobs_handler: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = _sign_up(api, "Throttled")
    big = new_list(tenant.client)
    job_id = import_csv(tenant.client, big, big_file()).body["id"]
    drain_jobs_queue()  # the API's message: delivered below by hand
    from beacon.db.contacts import ContactRepo

    real = ContactRepo.save_many

    def throttled(self: Any, items: Any, *args: Any, **kw: Any) -> None:
        real(self, items[:3], *args, **kw)
        raise Throttled("DynamoDB kept items unprocessed")

    monkeypatch.setattr(ContactRepo, "save_many", throttled)
    answer = deliver(jobs_handler, job_id)
    assert answer["batchItemFailures"] == []  # not a failure: queued again, later
    assert queued_steps() == 1  # the step again, delayed
    item = JobItem.get(f"J#{job_id}", "JOB", consistent_read=True)
    assert (item.status, int(item.throttles or 0), int(item.offset or 0)) == ("running", 1, 0)
    monkeypatch.setattr(ContactRepo, "save_many", real)
    drain_jobs_queue()
    for _ in range(10):
        deliver(jobs_handler, job_id)
        _status, done = tenant.client.get(f"/v1/jobs/{job_id}")
        if done["status"] == "done":
            break
    drain_jobs_queue()
    assert (done["result"]["created"], done["result"]["updated"]) == (47, 0)
    assert counts(tenant.account["id"], big) == (47, 47)


def test_prefer_respond_async_makes_even_a_small_file_a_job(api: Client, jobs_handler: Any) -> None:
    tenant = _sign_up(api, "Preferrer")
    small = new_list(tenant.client)
    answer = import_csv(tenant.client, small, b"email\na@example.com\nb@example.com\n",
                        headers={"Prefer": "wait=5, respond-async"})
    assert answer.status == 202 and answer.headers["preference-applied"] == "respond-async"
    assert deliver(jobs_handler, answer.body["id"])["batchItemFailures"] == []
    drain_jobs_queue()
    _status, done = tenant.client.get(f"/v1/jobs/{answer.body['id']}")
    assert done["status"] == "done" and done["result"]["created"] == 2
    sync = import_csv(tenant.client, small, b"email\nc@example.com\n")
    assert sync.status == 200 and sync.body == {"created": 1, "updated": 0, "skipped": []}


@pytest.mark.parametrize(("data", "mentions"), [
    (b"\x00\x01\x02binary" * 10, "binary"),
    (b"name,city\n" + b"Ann,Paris\n" * 30, "email"),
    (b"email\n" + b"x@example.com\n" * 100_001, "100000 rows"),
    (b"email\n" + b"a" * (9 * 1024 * 1024), "larger than 9 MB"),
])
def test_hostile_files_are_refused_at_once_with_nothing_written(api: Client, data: bytes, mentions: str) -> None:
    tenant = _sign_up(api, "Hostile")
    big = new_list(tenant.client)
    answer = import_csv(tenant.client, big, data)
    assert_error(answer.status, answer.body, 422, "invalid_csv", mentions)
    assert counts(tenant.account["id"], big) == (0, 0)
    assert queued_steps() == 0
    from beacon.db.batch import client  # the tenant's partition holds no import pointer

    items = client().query(TableName=JobItem.Meta.table_name, KeyConditionExpression="pk = :pk",
                           ExpressionAttributeValues={":pk": {"S": f"A#{tenant.account['id']}"}})["Items"]
    assert not [i for i in items if i["sk"]["S"].startswith("IMPORT#")]


def test_an_erased_account_leaves_no_file_behind(api: Client, jobs_handler: Any) -> None:
    tenant = _sign_up(api, "Eraser")
    big = new_list(tenant.client)
    job_id = import_csv(tenant.client, big, big_file()).body["id"]
    from beacon.db.batch import client

    def leftovers() -> list[str]:
        found = []
        for pk in [f"J#{job_id}", f"J#{job_id}#0", f"A#{tenant.account['id']}"]:
            found += [f"{pk} {i['sk']['S']}" for i in client().query(
                TableName=JobItem.Meta.table_name, KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}})["Items"]]
        return found

    assert f"J#{job_id}#0 CSV" in leftovers()
    status, erasure = tenant.client.delete("/v1/account")
    assert status == 202, erasure
    monkey = pytest.MonkeyPatch()
    monkey.setattr(wiring.job_deps(), "settle_seconds", 1)
    try:
        for _ in range(20):
            deliver(jobs_handler, erasure["id"])
            if JobItem.count(f"J#{erasure['id']}") == 0:
                break
    finally:
        monkey.undo()
    assert deliver(jobs_handler, job_id)["batchItemFailures"] == []  # the import's step: finished, nothing written
    drain_jobs_queue()
    assert leftovers() == []
