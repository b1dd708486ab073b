"""DynamoDB Streams in the local stack: read a table's stream from moto and invoke the functions
subscribed to it (`Type: DynamoDB` events), as Lambda's event source mapping does.

`StreamReader` reads new records of one table's stream (every shard), shaped as a Lambda DynamoDB
event's records (`eventSourceARN`, `ApproximateCreationDateTime` in epoch seconds); the integration
tests use it too. `StreamPoller` polls one reader and invokes the function with up to BatchSize
records; a failed batch (the handler raised) is retried from where it failed, up to
MaximumRetryAttempts times (3 locally when unbounded), then dropped with an error log (in AWS it goes
to the OnFailure destination); a `batchItemFailures` answer retries from the first named record.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from beacon_local.template import StreamEventSource

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
LOCAL_MAX_RETRIES = 3


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    body = dict(record.get("dynamodb") or {})
    when = body.get("ApproximateCreationDateTime")
    if isinstance(when, datetime):
        body["ApproximateCreationDateTime"] = when.timestamp()
    return {**record, "dynamodb": body, "eventSourceARN": stream_arn}


class StreamReader:
    """New records of one table's stream, from where it was when the reader was made (LATEST).

    A reader that has read a record asks for a fresh iterator after the last sequence number it
    returned (a sequence number stays valid; an iterator expires after 15 minutes, and moto keeps only
    the newest, beacon_local.moto_patches.bounded_streams); before its first record it goes on from
    the iterator its last empty read handed back. Starting costs one call whatever the stream holds.
    """

    def __init__(self, dynamodb: Any, streams: Any, table: str) -> None:
        self.table = table
        self._streams = streams
        self.stream_arn = str(dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"])
        self._last: dict[str, str | None] = {}
        self._next: dict[str, str] = {}
        for shard in self._shards():
            self._last[shard] = None
            self._next[shard] = self._iterator(shard, "LATEST")

    def _shards(self) -> list[str]:
        return [s["ShardId"] for s in self._streams.describe_stream(StreamArn=self.stream_arn)
                ["StreamDescription"]["Shards"]]

    def _iterator(self, shard: str, kind: str, **after: str) -> str:
        return str(self._streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard,
                                                    ShardIteratorType=kind, **after)["ShardIterator"])

    def _fetch(self, shard: str, limit: int) -> list[dict[str, Any]]:
        last = self._last.get(shard)
        if last is not None:
            iterator = self._iterator(shard, "AFTER_SEQUENCE_NUMBER", SequenceNumber=last)
        else:  # no record read yet: where the last empty read left off (a new shard: its beginning)
            iterator = self._next.get(shard) or self._iterator(shard, "TRIM_HORIZON")
        try:
            answer = self._streams.get_records(ShardIterator=iterator, Limit=max(1, min(limit, 1000)))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExpiredIteratorException" or last is not None:
                raise
            log.warning("%s stream: the reader's iterator expired; going on from the latest record", self.table)
            self._next[shard] = self._iterator(shard, "LATEST")
            return []
        records = list(answer.get("Records", []))
        if records:
            first = int(records[0]["dynamodb"]["SequenceNumber"])
            if last is not None and first > int(last) + 1:
                log.warning("%s stream: %d record(s) were trimmed before this reader read them",
                            self.table, first - int(last) - 1)
            self._last[shard] = str(records[-1]["dynamodb"]["SequenceNumber"])
            self._next.pop(shard, None)
        elif last is None and answer.get("NextShardIterator"):
            self._next[shard] = str(answer["NextShardIterator"])
        return records

    def read(self, limit: int = 1000) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for shard in self._shards():
            self._last.setdefault(shard, None)
            found.extend(lambda_record(r, self.stream_arn) for r in self._fetch(shard, limit))
        return found


class StreamPoller:
    def __init__(self, source: StreamEventSource, reader: StreamReader, invoke: Any, stop: threading.Event) -> None:
        self.source = source
        self.reader = reader
        self.invoke = invoke
        self.stop = stop
        self.name = f"{source.table} stream->{source.function}"
        self.pending: list[dict[str, Any]] = []

    def poll_once(self) -> int:
        if len(self.pending) < self.source.batch_size:
            self.pending.extend(self.reader.read(self.source.batch_size))
        if not self.pending:
            return 0
        batch = self.pending[: self.source.batch_size]
        retries = self.source.maximum_retry_attempts
        limit = LOCAL_MAX_RETRIES if retries < 0 else min(retries, LOCAL_MAX_RETRIES)
        for attempt in range(limit + 1):
            try:
                answer = self.invoke(self.source.function, {"Records": batch})
            except Exception:
                log.exception("%s: the handler raised (attempt %d)", self.name, attempt + 1)
                self.stop.wait(0.5)
                continue
            failed = self._first_failed(answer, batch)
            if failed is None:
                self.pending = self.pending[len(batch):]
                return len(batch)
            self.pending = self.pending[failed:]
            batch = self.pending[: self.source.batch_size]
            self.stop.wait(0.5)
        log.error("%s: %d record(s) dropped after their retries (AWS: to the OnFailure destination)",
                  self.name, len(batch))
        self.pending = self.pending[len(batch):]
        return len(batch)

    def _first_failed(self, answer: Any, batch: list[dict[str, Any]]) -> int | None:
        if not self.source.reports_batch_item_failures or not isinstance(answer, dict):
            return None
        names = [f.get("itemIdentifier") for f in answer.get("batchItemFailures") or [] if isinstance(f, dict)]
        numbers = [(r.get("dynamodb") or {}).get("SequenceNumber") for r in batch]
        positions = [numbers.index(n) for n in names if n in numbers]
        return min(positions) if positions else None

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if not self.poll_once():
                    self.stop.wait(POLL_SECONDS)
            except Exception:
                if self.stop.is_set():
                    return
                log.exception("%s: polling failed; retrying", self.name)
                self.stop.wait(1)
