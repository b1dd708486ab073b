"""DynamoDB Streams as Lambda's event source mapping delivers them: reading a table's stream from moto,
the event filter patterns (FilterCriteria), and the Lambda event of a batch (with a tumbling window's
`shardId`, `window`, `state` and `isFinalInvokeForWindow` when the mapping has one).

Used by the local stack's stream poller (beacon_local.pollers.StreamPoller) and by tests that feed a
stream-triggered function the records of a table, possibly duplicated or regrouped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from beacon_local.template import TemplateError

# ------------------------------------------------------------------ filter patterns (FilterCriteria)
_OPERATORS = {"exists", "prefix", "suffix", "anything-but", "numeric", "equals-ignore-case"}


def parse_pattern(text: str) -> dict[str, Any]:
    """A FilterCriteria pattern (JSON text); the operators the local stack evaluates are checked now."""
    try:
        pattern = json.loads(text)
    except ValueError as exc:
        raise TemplateError(f"filter pattern is not JSON: {text[:80]!r}") from exc
    if not isinstance(pattern, dict):
        raise TemplateError("a filter pattern is a JSON object")
    _check(pattern)
    return pattern


def _check(pattern: Mapping[str, Any]) -> None:
    for value in pattern.values():
        if isinstance(value, dict):
            _check(value)
        elif isinstance(value, list):
            for rule in value:
                if isinstance(rule, dict) and not set(rule) <= _OPERATORS:
                    raise TemplateError(f"the local stack cannot evaluate the filter rule {rule!r}")
        else:
            raise TemplateError(f"a filter pattern's leaves are lists, got {value!r}")


_MISSING = object()


def _leaf_matches(rules: list[Any], value: Any) -> bool:
    for rule in rules:
        if isinstance(rule, dict):
            (op, arg), = rule.items()
            if op == "exists":
                if (value is not _MISSING) == bool(arg):
                    return True
            elif value is _MISSING:
                continue
            elif isinstance(value, str) and _text_rule(op, str(arg), value):
                return True
            elif op == "anything-but":
                excluded = arg if isinstance(arg, list) else [arg]
                if value not in excluded:
                    return True
            elif op == "numeric" and _numeric(arg, value):
                return True
        elif value is not _MISSING and (value == rule or (isinstance(value, list) and rule in value)):
            return True
    return False


def _text_rule(op: str, arg: str, value: str) -> bool:
    if op == "prefix":
        return value.startswith(arg)
    if op == "suffix":
        return value.endswith(arg)
    return op == "equals-ignore-case" and value.lower() == arg.lower()


def _numeric(conditions: list[Any], value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    checks = {"<": number.__lt__, "<=": number.__le__, "=": number.__eq__, ">": number.__gt__, ">=": number.__ge__}
    return all(checks[op](float(bound)) for op, bound in zip(conditions[::2], conditions[1::2], strict=True))


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge pattern semantics (the subset Lambda filters use): every key of the pattern must
    match; a list is "any of" these values or rules."""
    for key, rule in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(rule, dict):
            if not isinstance(value, Mapping) or not matches(rule, value):
                return False
        elif not _leaf_matches(rule, value):
            return False
    return True


def passes(filters: list[dict[str, Any]], record: Mapping[str, Any]) -> bool:
    """A record passes when no filter is set or any filter matches (Lambda ORs the filters)."""
    return not filters or any(matches(f, record) for f in filters)


# ------------------------------------------------------------------ the Lambda event
def lambda_record(record: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record (boto3 shape) -> a record of Lambda's DynamoDB Streams event."""
    body = dict(record.get("dynamodb") or {})
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        body["ApproximateCreationDateTime"] = created.timestamp()
    return {
        "eventID": record.get("eventID") or uuid.uuid4().hex,
        "eventName": record.get("eventName"),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stream_event(records: Iterable[Mapping[str, Any]], *, shard_id: str, stream_arn: str,
                 window_seconds: int = 0, now: float = 0.0, state: Mapping[str, Any] | None = None,
                 final: bool = False) -> dict[str, Any]:
    """The event of one invocation. With a tumbling window (window_seconds > 0) it carries the
    window, its state, the shard id and whether this is the window's final invocation."""
    event: dict[str, Any] = {"Records": list(records)}
    if window_seconds > 0:
        start = now // window_seconds * window_seconds
        event.update({"window": {"start": _iso(start), "end": _iso(start + window_seconds)},
                      "state": dict(state or {}), "shardId": shard_id, "eventSourceARN": stream_arn,
                      "isFinalInvokeForWindow": final, "isWindowTerminatedEarly": False})
    return event


def failed_sequence(answer: Any, sequence_numbers: list[str]) -> str | None:
    """The first record to deliver again by ReportBatchItemFailures (streams: the lowest sequence
    number named); an identifier that is not in the batch fails the whole batch, like Lambda."""
    if not isinstance(answer, dict):
        return None
    failures = answer.get("batchItemFailures")
    if not failures:
        return None
    named = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in sequence_numbers:
            return sequence_numbers[0] if sequence_numbers else None
        named.append(identifier)
    return min(named, key=int)


# ------------------------------------------------------------------ reading moto's stream
class StreamReader:
    """Reads one table's stream through the DynamoDB Streams API, a shard position at a time.

    A fresh iterator is asked for on every read: moto replaces a table object when it rolls a
    transaction back, and an older iterator would keep reading the replaced one."""

    def __init__(self, streams_client: Any, stream_arn: str) -> None:
        self.client = streams_client
        self.stream_arn = stream_arn

    def shards(self) -> list[str]:
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [s["ShardId"] for s in description.get("Shards", [])]

    def read(self, shard_id: str, position: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` records from `position`: ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER",
        sequence number), or None for the oldest record kept (TRIM_HORIZON)."""
        args: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard_id}
        if position is None:
            args["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            args.update(ShardIteratorType=position[0], SequenceNumber=position[1])
        iterator = self.client.get_shard_iterator(**args)["ShardIterator"]
        return list(self.client.get_records(ShardIterator=iterator, Limit=max(1, min(limit, 1000)))
                    .get("Records", []))

    def end(self, shard_id: str) -> tuple[str, str] | None:
        """The position just after the newest record (where a reader that skips the past starts).
        The newest record is found by a search over sequence numbers (a few dozen one-record reads)
        rather than by reading the shard through (up to ~10,000 records of both images a shard: seconds
        of every test that starts a reader); the reads after it then make sure nothing is left."""
        position: tuple[str, str] | None = self._newest(shard_id)
        while True:
            records = self.read(shard_id, position, 1000)
            if not records:
                return position
            position = ("AFTER_SEQUENCE_NUMBER", str(records[-1]["dynamodb"]["SequenceNumber"]))


    def _first_from(self, shard_id: str, sequence: int) -> int | None:
        """The sequence number of the first record at or after `sequence`, if any."""
        records = self.read(shard_id, ("AT_SEQUENCE_NUMBER", str(sequence)), 1)
        return int(records[0]["dynamodb"]["SequenceNumber"]) if records else None

    def _newest(self, shard_id: str) -> tuple[str, str] | None:
        oldest = self.read(shard_id, None, 1)
        if not oldest:
            return None
        try:
            found = int(oldest[0]["dynamodb"]["SequenceNumber"])
            step = 1
            while (later := self._first_from(shard_id, found + step)) is not None:  # double until past the end
                found, step = later, step * 2
            low, high = found, found + step  # a record at low; none at or after high
            while high - low > 1:
                middle = (low + high) // 2
                if (later := self._first_from(shard_id, middle)) is not None:
                    low = max(middle, later)
                else:
                    high = middle
            return ("AFTER_SEQUENCE_NUMBER", str(low))
        except ClientError:  # a stream whose numbers cannot be searched: read it through from the start
            return None


class TableStream:
    """New records of one table's stream in Lambda's record shape, from where the stream ended when
    it was made: for tests and benchmarks that hand a stream-triggered function its records
    themselves (the local stack's StreamPoller does it for `beacon dev`)."""

    def __init__(self, dynamodb: Any, streams_client: Any, table: str) -> None:
        self.stream_arn = str(dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"])
        self.region = str(dynamodb.meta.region_name)
        self.reader = StreamReader(streams_client, self.stream_arn)
        self.positions: dict[str, tuple[str, str] | None] = {
            shard: self.reader.end(shard) for shard in self.reader.shards()}

    def read(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Up to `limit` new records of each shard (in order), and remember where they ended."""
        found: list[dict[str, Any]] = []
        for shard in self.reader.shards():
            raw = self.reader.read(shard, self.positions.get(shard), limit)
            if raw:
                self.positions[shard] = ("AFTER_SEQUENCE_NUMBER", str(raw[-1]["dynamodb"]["SequenceNumber"]))
                found.extend(lambda_record(r, self.stream_arn, self.region) for r in raw)
        return found
