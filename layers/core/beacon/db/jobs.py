"""Jobs (the accounts table, pk=J#{job_id} sk=JOB): a tenant's long operations and their progress;
an import job's file, step and kept skipped rows (ImportFiles)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

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

    def throttled(self, item: JobItem, now_iso: str) -> int:
        """Count one more step slowed down by throttling; returns how many so far."""
        item.update(actions=[JobItem.throttles.add(1), JobItem.updated_at.set(now_iso)])
        return int(item.throttles or 0)


# ------------------------------------------------------------------------------ an import's file and steps
CHUNK_BYTES = 350_000  # a chunk of the file per item, well under DynamoDB's 400 KB
FILE_KEEP_SECONDS = 4 * 86400  # a file's chunks expire (TTL) after the jobs queue's retention at the latest


def _table() -> str:
    return JobItem.Meta.table_name


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(int(value))}


class ImportFiles:
    """An import job's CSV file and checkpoint (accounts table, raw items):
      pk=J#{job_id}#{n} sk=CSV          chunk n of the file (its own partition: a 9 MB file is 27 writes
                                        of 350 units at once, not 9 s against one partition's 1,000/s)
      pk=A#{account_id} sk=IMPORT#{job}  a pointer under the tenant: its erasure finds the job's items
      pk=J#{job_id} sk=STEP             the step in progress (its time, counts, who joined the list)
      pk=J#{job_id} sk=SKIP#{offset}    the skipped rows a step keeps for the summary
    Chunks and pointer carry a TTL; the job's record, step and kept rows expire with the job."""

    def __init__(self) -> None:
        from beacon.db.batch import client

        self._c = client()

    def store(self, account_id: str, job_id: str, data: bytes, now: int) -> int:
        """Write the file in chunks (in parallel) and the tenant's pointer; returns the number of chunks."""
        from beacon.db.batch import run_parallel

        parts = [data[i:i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
        expires = _n(now + FILE_KEEP_SECONDS)
        self._c.put_item(TableName=_table(), Item={"pk": _s(f"A#{account_id}"), "sk": _s(f"IMPORT#{job_id}"),
                                                   "chunks": _n(len(parts)), "expires_at": _n(now + KEEP_SECONDS)})
        run_parallel([partial(self._c.put_item, TableName=_table(), Item={
            "pk": _s(f"J#{job_id}#{n}"), "sk": _s("CSV"), "data": {"B": part}, "expires_at": expires})
            for n, part in enumerate(parts)])
        return len(parts)

    def load(self, job_id: str, chunks: int) -> bytes | None:
        """The file, or None when a chunk is gone (expired or erased)."""
        from beacon.db.batch import run_parallel

        answers = run_parallel([partial(self._c.get_item, TableName=_table(), ConsistentRead=True,
                                        Key={"pk": _s(f"J#{job_id}#{n}"), "sk": _s("CSV")}) for n in range(chunks)])
        parts = [a.get("Item", {}).get("data", {}).get("B") for a in answers]
        if any(p is None for p in parts):
            return None
        return b"".join(bytes(p) for p in parts)

    def drop(self, job_id: str, chunks: int) -> None:
        """The file's chunks go (the pointer stays until the job's record expires: the kept rows hold emails)."""
        from beacon.db.batch import run_parallel

        run_parallel([partial(self._c.delete_item, TableName=_table(), Key={"pk": _s(f"J#{job_id}#{n}"),
                                                                             "sk": _s("CSV")})
                      for n in range(chunks)])

    def step(self, job_id: str) -> dict[str, Any] | None:
        """The step in progress: {offset, at, created, updated, joined}, or None."""
        item = self._c.get_item(TableName=_table(), Key={"pk": _s(f"J#{job_id}"), "sk": _s("STEP")},
                                ConsistentRead=True).get("Item")
        if not item:
            return None
        return {"offset": int(item["offset"]["N"]), "at": item["at"]["S"], "created": int(item["created"]["N"]),
                "updated": int(item["updated"]["N"]), "joined": set(json.loads(item["joined"]["S"]))}

    def begin_step(self, job_id: str, offset: int, at: str, created: int, updated: int, joined: set[str],
                   expires_at: int) -> None:
        """Record what a step is about to write, before it writes (a step done again reuses it)."""
        self._c.put_item(TableName=_table(), Item={
            "pk": _s(f"J#{job_id}"), "sk": _s("STEP"), "offset": _n(offset), "at": _s(at), "created": _n(created),
            "updated": _n(updated), "joined": _s(json.dumps(sorted(joined))), "expires_at": _n(expires_at)})

    def commit_step(self, job: JobItem, start: int, end: int, done: int, created: int, updated: int,
                    skipped: int, kept: list[dict[str, Any]], joined: int, now_iso: str, now: int) -> str:
        """One transaction: the job's checkpoint moves from `start` to `end` with its counts, the list's
        contact_count grows by `joined`, the step's kept skipped rows are stored and its record goes.
        Returns "ok", "list_gone" (the list was deleted) or "moved" (the checkpoint is not at `start`)."""
        from beacon.db.conditions import cancellation_codes

        job_key = {"pk": _s(f"J#{job.job_id}"), "sk": _s("JOB")}
        items: list[dict[str, Any]] = [{"Update": {
            "TableName": _table(), "Key": job_key,
            "UpdateExpression": "SET #o = :end, #d = :done, updated_at = :at, expires_at = :exp "
                                "ADD created :c, updated :u, skipped_count :s",
            "ConditionExpression": "attribute_exists(pk) AND #o = :start",
            "ExpressionAttributeNames": {"#o": "offset", "#d": "done"},
            "ExpressionAttributeValues": {":end": _n(end), ":done": _n(done), ":at": _s(now_iso),
                                          ":exp": _n(now + KEEP_SECONDS), ":c": _n(created), ":u": _n(updated),
                                          ":s": _n(skipped), ":start": _n(start)}}},
            {"Delete": {"TableName": _table(), "Key": {"pk": _s(f"J#{job.job_id}"), "sk": _s("STEP")}}}]
        if joined:
            items.append({"Update": {
                "TableName": _table(), "Key": {"pk": _s(f"A#{job.account_id}"), "sk": _s(f"LIST#{job.target}")},
                "UpdateExpression": "ADD contact_count :j", "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":j": _n(joined)}}})
        if kept:
            items.append({"Put": {"TableName": _table(), "Item": {
                "pk": _s(f"J#{job.job_id}"), "sk": _s(f"SKIP#{start:06d}"), "rows": _s(json.dumps(kept)),
                "expires_at": _n(now + KEEP_SECONDS)}}})
        try:
            self._c.transact_write_items(TransactItems=items)
        except Exception as exc:
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return "moved"
            if len(codes) > 2 and codes[2] == "ConditionalCheckFailed" and joined:
                return "list_gone"
            raise
        return "ok"

    def kept_skipped(self, job_id: str) -> list[dict[str, Any]]:
        """The skipped rows the steps kept, in file order."""
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": _table(), "KeyConditionExpression": "pk = :pk AND begins_with(sk, :skip)",
            "ExpressionAttributeValues": {":pk": _s(f"J#{job_id}"), ":skip": _s("SKIP#")}, "ConsistentRead": True}
        while True:
            page = self._c.query(**kwargs)
            for item in page.get("Items", []):
                rows.extend(json.loads(item["rows"]["S"]))
            if "LastEvaluatedKey" not in page:
                return rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
