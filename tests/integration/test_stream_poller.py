"""The local stack's DynamoDB stream event source (beacon_local.pollers.StreamPoller) on moto's stream:
filters, batch sizes, partial batch failures, bisecting a batch whose handler raised, and records
dropped after MaximumRetryAttempts, as Lambda's event source mapping does. Any function's
`Type: DynamoDB` event in template.yaml is served by it; here a synthetic source on the ledger table's
stream and a recording handler stand in for one."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import dynamodb_backends

from beacon_local.pollers import StreamPoller
from beacon_local.resources import ACCOUNT_ID, Resources
from beacon_local.template import StreamEventSource

PREFIX = "poller-test#"


def _source(**overrides: Any) -> StreamEventSource:
    fields: dict[str, Any] = {
        "function": "RecorderFunction", "table": "MessagesTable", "batch_size": 4, "batching_window_seconds": 0,
        "starting_position": "TRIM_HORIZON", "tumbling_window_seconds": 0,
        "function_response_types": ("ReportBatchItemFailures",), "maximum_retry_attempts": -1,
        "filters": (json.dumps({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": PREFIX}]}}}}),),
        "bisect_on_error": False,
    }
    fields.update(overrides)
    return StreamEventSource(**fields)


def _poller(aws: Resources, source: StreamEventSource, handler: Callable[[list[str]], Any]
            ) -> tuple[StreamPoller, list[list[str]]]:
    """A poller positioned after every record already in the stream (earlier tests'), whose function
    records the sort keys of each batch and answers what `handler` says."""
    delivered: list[list[str]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        assert function == "RecorderFunction"
        keys = [r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"]]
        delivered.append(keys)
        return handler(keys)

    poller = StreamPoller(source, aws, invoke, threading.Event())
    poller.MAX_BACKOFF_SECONDS = 0.0  # type: ignore[misc]  # retry at once (a test never waits)
    shard = dynamodb_backends[ACCOUNT_ID][aws.region].get_table(aws.tables["MessagesTable"]).stream_shard
    last = shard.starting_sequence_number + len(shard.items) - 1
    poller.positions[shard.id] = ("AFTER_SEQUENCE_NUMBER", str(last))
    return poller, delivered


def _write(aws: Resources, keys: list[str], pk: str = PREFIX + "a") -> None:
    dynamodb = aws.client("dynamodb")
    for key in keys:
        dynamodb.put_item(TableName=aws.tables["MessagesTable"], Item={"pk": {"S": pk}, "sk": {"S": key}})


def _drain(poller: StreamPoller, polls: int = 30) -> None:
    for _ in range(polls):
        poller.poll_once()


def test_filtered_batches_and_partial_failures(clean_aws: Resources) -> None:
    failed_once: list[str] = []

    def handler(keys: list[str]) -> dict[str, Any]:
        if "k2" in keys and not failed_once:  # k2 fails once: k0, k1 are done, k2 on comes again
            failed_once.append("k2")
            return {"batchItemFailures": [{"itemIdentifier": _sequence_of(clean_aws, "k2")}]}
        return {"batchItemFailures": []}

    poller, delivered = _poller(clean_aws, _source(), handler)
    _write(clean_aws, ["k0", "k1"])
    _write(clean_aws, ["other"], pk="not-for-this-function")  # the filter leaves it out
    _write(clean_aws, ["k2", "k3", "k4"])
    _drain(poller)
    # a read of BatchSize records (k0, k1, other, k2) less the one the filter leaves out; then from k2 on
    assert delivered == [["k0", "k1", "k2"], ["k2", "k3", "k4"]]


def _sequence_of(aws: Resources, key: str) -> str:
    shard = dynamodb_backends[ACCOUNT_ID][aws.region].get_table(aws.tables["MessagesTable"]).stream_shard
    return str(next(r.record["dynamodb"]["SequenceNumber"] for r in reversed(shard.items)
                    if r.record["dynamodb"]["Keys"]["sk"]["S"] == key))


def test_a_batch_that_raised_is_bisected_until_it_goes_through(clean_aws: Resources) -> None:
    def handler(keys: list[str]) -> dict[str, Any]:
        if "poison" in keys and len(keys) > 1:  # it only goes through alone
            raise RuntimeError("a record this function cannot take in company")
        return {"batchItemFailures": []}

    poller, delivered = _poller(clean_aws, _source(bisect_on_error=True), handler)
    _write(clean_aws, ["a", "b", "c", "poison", "d", "e", "f"])
    _drain(poller)
    assert delivered == [["a", "b", "c", "poison"], ["a", "b"], ["c", "poison", "d", "e"], ["c", "poison"],
                         ["c"], ["poison", "d", "e", "f"], ["poison", "d"], ["poison"], ["d", "e", "f"]]


def test_without_bisect_a_failing_batch_is_dropped_after_the_retries(clean_aws: Resources) -> None:
    def handler(keys: list[str]) -> dict[str, Any]:
        if "poison" in keys:
            raise RuntimeError("never goes through")
        return {"batchItemFailures": []}

    poller, delivered = _poller(clean_aws, _source(maximum_retry_attempts=2, batch_size=2), handler)
    _write(clean_aws, ["a", "poison", "b"])
    _drain(poller)
    assert delivered == [["a", "poison"]] * 3 + [["b"]]  # the first try and 2 retries, then the next records


def test_a_batch_out_of_retries_is_described_to_the_on_failure_queue(clean_aws: Resources) -> None:
    """As Lambda's OnFailure destination of a stream mapping: which shard and sequence numbers were
    given up on (the template's StreamEventsFunction names StreamEventsDLQ)."""
    [declared] = {s.on_failure for s in clean_aws.template.stream_event_sources if s.function == "StreamEventsFunction"}
    assert declared == "StreamEventsDLQ"

    def handler(keys: list[str]) -> dict[str, Any]:
        raise RuntimeError("never goes through")

    poller, _delivered = _poller(clean_aws, _source(maximum_retry_attempts=1, batch_size=2, on_failure=declared),
                                 handler)
    _write(clean_aws, ["x", "y"])
    _drain(poller, polls=4)
    sqs = clean_aws.client("sqs")
    got = sqs.receive_message(QueueUrl=clean_aws.queues[declared].url, MaxNumberOfMessages=10).get("Messages", [])
    [info] = [json.loads(m["Body"]) for m in got]
    batch = info["DDBStreamBatchInfo"]
    assert batch["batchSize"] == 2 and batch["streamArn"] == poller.stream_arn
    assert int(batch["endSequenceNumber"]) == int(batch["startSequenceNumber"]) + 1
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
