"""Event source mappings: SQS queues and SNS topics that invoke the template's functions.

SQS: for each `Type: SQS` event, `ScalingConfig.MaximumConcurrency` threads (2 if unset)
long-poll the queue (WaitTimeSeconds=1), receive up to BatchSize messages and invoke the
function with a Lambda SQS event. With `ReportBatchItemFailures` exactly the records not named
in `batchItemFailures` are deleted (all if the answer names none; none if the handler raised;
the whole batch is failed if an item identifier is empty or unknown, like Lambda).
Failed records become visible again after 2 s: **the local stack shortens the visibility
timeout** (ChangeMessageVisibility) instead of waiting out the queue's VisibilityTimeout, so a
retry happens at once; receive counts, maxReceiveCount and the DLQ still behave as in AWS.

DynamoDB Streams: for each `Type: DynamoDB` event, one thread reads the table's stream shard by
shard in order (beacon_local.streams): records that pass the FilterCriteria are delivered in batches
of up to BatchSize (waiting up to MaximumBatchingWindowInSeconds for a batch to fill; the local stack
reads BatchSize records and delivers those the filters pass, so a local batch can be smaller than
Lambda's); with ReportBatchItemFailures the next batch starts at the named record, otherwise after the batch; a
handler that raises gets the same batch again (backing off), up to MaximumRetryAttempts (-1: for
ever). With TumblingWindowInSeconds the event carries `shardId`, `window` and the `state` the
previous invocation of the window returned, and a window that ended gets its final invocation.
With BisectBatchOnFunctionError a batch whose handler raised is delivered again as its first half
(then a quarter, ... down to one record) until it succeeds; the batch after that is full size again.
Any function's `Type: DynamoDB` event in template.yaml is served this way (StreamEventSource).

SNS: for each `Type: SNS` event, a local SQS queue is subscribed to the topic in moto and
polled; each notification invokes the function with a Lambda SNS event (one record). A failed
invocation is retried twice (Lambda's asynchronous retries), then sent, as Lambda's destination
record, to the function's OnFailure queue (EventInvokeConfig) if it has one, else dropped with an
error log.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from beacon_local.replay import destination_record
from beacon_local.resources import ACCOUNT_ID, Queue, Resources
from beacon_local.streams import StreamReader, failed_sequence, lambda_record, parse_pattern, passes, stream_event
from beacon_local.template import QueueSchedule, SnsEventSource, SqsEventSource, StreamEventSource

log = logging.getLogger(__name__)

RETRY_VISIBILITY_SECONDS = 2
WAIT_SECONDS = 1
DEFAULT_CONCURRENCY = 2
SNS_MAX_ATTEMPTS = 3

Invoke = Callable[[str, dict[str, Any]], Any]


def lambda_message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """SQS API message attributes -> the Lambda event's camelCase shape."""
    out = {}
    for name, value in attributes.items():
        item: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            item["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
        out[name] = item
    return out


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": lambda_message_attributes(message.get("MessageAttributes") or {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def sns_record(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """An SNS->SQS envelope (moto's JSON) -> a Lambda SNS event record."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope.get("Type", "Notification"),
            "MessageId": envelope.get("MessageId", ""),
            "TopicArn": envelope.get("TopicArn", ""),
            "Subject": envelope.get("Subject"),
            "Message": envelope.get("Message", ""),
            "Timestamp": envelope.get("Timestamp", ""),
            "SignatureVersion": envelope.get("SignatureVersion", "1"),
            "Signature": envelope.get("Signature", ""),
            "SigningCertUrl": envelope.get("SigningCertURL", ""),
            "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
            "MessageAttributes": envelope.get("MessageAttributes") or {},
        },
    }


def failed_ids(answer: Any, message_ids: list[str]) -> set[str]:
    """Which records failed, by the ReportBatchItemFailures rules."""
    if not isinstance(answer, dict):
        return set()
    failures = answer.get("batchItemFailures")
    if not failures:
        return set()
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            log.warning("batchItemFailures names %r, not a record of the batch: the whole batch fails", identifier)
            return set(message_ids)
        failed.add(identifier)
    return failed


class _Poller(ABC):
    def __init__(self, name: str, resources: Resources, invoke: Invoke, stop: threading.Event) -> None:
        self.name = name
        self.resources = resources
        self.invoke = invoke
        self.stop = stop
        self.sqs = resources.client("sqs")

    def receive(self, queue: Queue, count: int) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=max(1, min(count, 10)),
            WaitTimeSeconds=WAIT_SECONDS,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages", []))

    def delete(self, queue: Queue, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            answer = self.sqs.delete_message_batch(
                QueueUrl=queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in answer.get("Failed", []):
                log.warning("%s: could not delete a message: %s", self.name, failure)

    def retry_soon(self, queue: Queue, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=RETRY_VISIBILITY_SECONDS,
                )
            except Exception:
                log.debug("%s: could not shorten the visibility of %s", self.name, message["MessageId"], exc_info=True)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self.stop.is_set():
                    return
                log.exception("%s: polling failed; retrying", self.name)
                self.stop.wait(1)

    @abstractmethod
    def poll_once(self) -> int:
        """Receive and deliver one round of messages; how many were delivered."""


class SqsPoller(_Poller):
    def __init__(self, source: SqsEventSource, resources: Resources, invoke: Invoke, stop: threading.Event) -> None:
        super().__init__(f"{source.queue}->{source.function}", resources, invoke, stop)
        self.source = source
        self.queue = resources.queues[source.queue]

    def poll_once(self) -> int:
        """One receive (or several, for a BatchSize above 10) and one invocation."""
        messages = self.receive(self.queue, self.source.batch_size)
        while messages and len(messages) < self.source.batch_size and len(messages) % 10 == 0:
            more = self.receive(self.queue, self.source.batch_size - len(messages))
            if not more:
                break
            messages.extend(more)
        if not messages:
            return 0
        event = {"Records": [sqs_record(m, self.queue.arn, self.resources.region) for m in messages]}
        ids = [m["MessageId"] for m in messages]
        try:
            answer = self.invoke(self.source.function, event)
        except Exception:
            log.exception("%s: the handler raised; %d record(s) will be retried", self.name, len(messages))
            self.retry_soon(self.queue, messages)
            return len(messages)
        failed = failed_ids(answer, ids) if self.source.reports_batch_item_failures else set()
        self.delete(self.queue, [m for m in messages if m["MessageId"] not in failed])
        if failed:
            log.info("%s: %d of %d record(s) reported as failed; retrying", self.name, len(failed), len(ids))
            self.retry_soon(self.queue, [m for m in messages if m["MessageId"] in failed])
        return len(messages)


class SnsPoller(_Poller):
    def __init__(
        self,
        source: SnsEventSource,
        resources: Resources,
        invoke: Invoke,
        stop: threading.Event,
        queue: Queue,
        subscription_arn: str,
    ) -> None:
        super().__init__(f"{source.topic}->{source.function}", resources, invoke, stop)
        self.source = source
        self.queue = queue
        self.subscription_arn = subscription_arn

    def poll_once(self) -> int:
        messages = self.receive(self.queue, 10)
        for message in messages:
            try:
                envelope = json.loads(message.get("Body") or "{}")
            except ValueError:
                log.error("%s: not an SNS envelope: %.200s", self.name, message.get("Body"))
                self.delete(self.queue, [message])
                continue
            event = {"Records": [sns_record(envelope, self.subscription_arn)]}
            try:
                self.invoke(self.source.function, event)
            except Exception:
                attempts = int((message.get("Attributes") or {}).get("ApproximateReceiveCount", "1"))
                if attempts >= SNS_MAX_ATTEMPTS:
                    self.give_up(event, attempts, envelope)
                    self.delete(self.queue, [message])
                else:
                    log.exception("%s: failed; notification %s will be retried", self.name, envelope.get("MessageId"))
                    self.retry_soon(self.queue, [message])
                continue
            self.delete(self.queue, [message])
        return len(messages)

    def give_up(self, event: dict[str, Any], attempts: int, envelope: dict[str, Any]) -> None:
        """After Lambda's retries: to the function's OnFailure queue if it has one, as in AWS."""
        destination = self.resources.template.on_failure_queue(self.source.function)
        if destination is None:
            log.exception("%s: failed %d times; dropping notification %s", self.name, attempts,
                          envelope.get("MessageId"))
            return
        error = sys.exc_info()[1] or RuntimeError("failed")
        arn = f"arn:aws:lambda:{self.resources.region}:{ACCOUNT_ID}:function:" \
              f"beacon-{self.resources.stage}-{self.source.function}"
        record = destination_record(event, arn, error, attempts)
        self.sqs.send_message(QueueUrl=self.resources.queues[destination].url, MessageBody=json.dumps(record))
        log.exception("%s: failed %d times; notification %s sent to %s (beacon replay-ses-events)",
                      self.name, attempts, envelope.get("MessageId"), destination)


class StreamPoller:
    """One `Type: DynamoDB` event source: the table's stream, shard by shard, into the function."""

    IDLE_SECONDS = 0.5
    MAX_BACKOFF_SECONDS = 5.0

    def __init__(self, source: StreamEventSource, resources: Resources, invoke: Invoke, stop: threading.Event,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = f"{source.table} stream->{source.function}"
        self.source = source
        self.resources = resources
        self.invoke = invoke
        self.stop = stop
        self.clock = clock
        self.stream_arn = resources.stream_arn(source.table)
        self.reader = StreamReader(resources.client("dynamodbstreams"), self.stream_arn)
        self.filters = [parse_pattern(p) for p in source.filters]
        self.positions: dict[str, tuple[str, str] | None] = {}
        self.waiting_since: dict[str, float] = {}
        self.failures: dict[str, int] = {}
        self.windows: dict[str, tuple[float, dict[str, Any]]] = {}  # shard -> (window start, state)
        self.limits: dict[str, int] = {}  # shard -> the bisected batch size its next delivery may have
        self.invocations = 0
        if source.starting_position == "LATEST":
            for shard in self.reader.shards():
                self.positions[shard] = self.reader.end(shard)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                delivered = self.poll_once()
            except Exception:
                if self.stop.is_set():
                    return
                log.exception("%s: polling failed; retrying", self.name)
                delivered = 0
            if not delivered:
                self.stop.wait(self.IDLE_SECONDS)

    def poll_once(self) -> int:
        """One read (and at most one invocation) per shard; how many records were delivered."""
        return sum(self._shard(shard) for shard in self.reader.shards())

    def _window(self, shard: str, now: float) -> tuple[float, dict[str, Any]]:
        """The shard's tumbling window at `now`; a window that ended gets its final invocation first."""
        size = self.source.tumbling_window_seconds
        start = now // size * size
        previous = self.windows.get(shard)
        if previous is not None and previous[0] < start:
            event = stream_event([], shard_id=shard, stream_arn=self.stream_arn, window_seconds=size, now=previous[0],
                                 state=previous[1], final=True)
            self.invoke(self.source.function, event)  # raising: the window is finalised on the next poll
            previous = None
        current = previous or (start, {})
        self.windows[shard] = current
        return current

    def _shard(self, shard: str) -> int:
        now = self.clock()
        position = self.positions.get(shard)
        limit = self.limits.get(shard, self.source.batch_size)
        raw = self.reader.read(shard, position, limit)
        if self.source.tumbling_window_seconds and (raw or shard in self.windows):
            self._window(shard, now)
        if not raw:
            return 0
        since = self.waiting_since.setdefault(shard, now)
        if len(raw) < limit and now - since < self.source.batching_window_seconds:
            return 0  # the batching window: wait for more records
        self.waiting_since.pop(shard, None)
        records = [lambda_record(r, self.stream_arn, self.resources.region) for r in raw]
        batch = [r for r in records if passes(self.filters, r)]
        after = ("AFTER_SEQUENCE_NUMBER", str(records[-1]["dynamodb"]["SequenceNumber"]))
        if not batch:
            self.positions[shard] = after
            return 0
        size = self.source.tumbling_window_seconds
        window = self.windows.get(shard, (now, {}))
        event = stream_event(batch, shard_id=shard, stream_arn=self.stream_arn, window_seconds=size,
                             now=window[0], state=window[1])
        sequence_numbers = [str(r["dynamodb"]["SequenceNumber"]) for r in batch]
        self.invocations += 1
        try:
            answer = self.invoke(self.source.function, event)
        except Exception:
            if self.source.bisect_on_error and len(raw) > 1:
                self.limits[shard] = (len(raw) + 1) // 2  # the same records from the same position, halved
            self._failed(shard, after, batch, "the handler raised")
            return len(batch)
        failed = failed_sequence(answer, sequence_numbers) if self.source.reports_batch_item_failures else None
        if size and isinstance(answer, dict):
            state = answer.get("state")
            self.windows[shard] = (window[0], dict(state) if isinstance(state, dict) else {})
        if failed is not None:
            log.info("%s: records from %s reported as failed; delivering them again", self.name, failed)
            self._failed(shard, after, batch, "batchItemFailures", ("AT_SEQUENCE_NUMBER", failed))
            return len(batch)
        self.failures.pop(shard, None)
        self.limits.pop(shard, None)
        self.positions[shard] = after
        return len(batch)

    def _failed(self, shard: str, after: tuple[str, str], batch: list[dict[str, Any]], why: str,
                resume: tuple[str, str] | None = None) -> None:
        attempts = self.failures.get(shard, 0) + 1
        limit = self.source.maximum_retry_attempts
        if limit >= 0 and attempts > limit:
            log.error("%s: %s %d times; %d record(s) dropped", self.name, why, attempts, len(batch))
            self._describe_to_on_failure(shard, batch, attempts)
            self.failures.pop(shard, None)
            self.limits.pop(shard, None)
            self.positions[shard] = after
            return
        self.failures[shard] = attempts
        if resume is not None:
            self.positions[shard] = resume
        else:
            log.exception("%s: %s; the batch will be delivered again", self.name, why)
        self.stop.wait(min(self.MAX_BACKOFF_SECONDS, 0.25 * 2 ** min(attempts, 5)))


    def _describe_to_on_failure(self, shard: str, batch: list[dict[str, Any]], attempts: int) -> None:
        """As Lambda does for a stream mapping with an OnFailure destination: a record naming the
        shard and the sequence numbers of the batch it gave up on (not the records themselves)."""
        queue = self.resources.queues.get(self.source.on_failure or "")
        if queue is None or not batch:
            return
        created = [r["dynamodb"].get("ApproximateCreationDateTime") for r in batch]
        info = {
            "requestContext": {"requestId": "local", "functionArn": self.source.function,
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "DDBStreamBatchInfo": {
                "shardId": shard, "streamArn": self.stream_arn, "batchSize": len(batch),
                "startSequenceNumber": str(batch[0]["dynamodb"]["SequenceNumber"]),
                "endSequenceNumber": str(batch[-1]["dynamodb"]["SequenceNumber"]),
                "approximateArrivalOfFirstRecord": created[0], "approximateArrivalOfLastRecord": created[-1],
            },
        }
        try:
            self.resources.client("sqs").send_message(QueueUrl=queue.url, MessageBody=json.dumps(info, default=str))
        except Exception:
            log.exception("%s: could not describe the dropped batch to %s", self.name, self.source.on_failure)


def _concurrency(source: SqsEventSource, resources: Resources) -> int:
    if source.maximum_concurrency is None:
        return DEFAULT_CONCURRENCY
    return max(1, int(resources.resolve(source.maximum_concurrency)))


class ScheduleTimer:
    """An EventBridge rate() rule whose target is a queue: its Input is sent to the queue on every
    tick, as EventBridge does. Locally the period is BEACON_LOCAL_SCHEDULE_SECONDS (default 10 s)
    if that is shorter than the rule's rate, so a scheduled campaign starts soon after its time."""

    def __init__(self, schedule: QueueSchedule, resources: Resources, stop: threading.Event) -> None:
        self.schedule = schedule
        self.resources = resources
        self.stop = stop
        local = float(os.environ.get("BEACON_LOCAL_SCHEDULE_SECONDS", "10"))
        self.period = max(0.5, min(float(schedule.seconds), local))

    def tick(self) -> None:
        self.resources.client("sqs").send_message(
            QueueUrl=self.resources.queues[self.schedule.queue].url, MessageBody=self.schedule.body)

    def run(self) -> None:
        while not self.stop.wait(self.period):
            try:
                self.tick()
            except Exception:
                log.exception("schedule %s failed", self.schedule.rule)


class Pollers:
    """Every event source mapping of the template, as threads."""

    def __init__(self, resources: Resources, invoke: Invoke) -> None:
        self.resources = resources
        self.invoke = invoke
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.pollers: list[_Poller] = []
        self.stream_pollers: list[StreamPoller] = []

    def _subscribe(self, source: SnsEventSource) -> tuple[Queue, str]:
        """A local queue subscribed to the topic: how SNS reaches a function in the local stack."""
        topic_arn = self.resources.topics[source.topic]
        name = f"beacon-{self.resources.stage}-local-{source.function}"[:80]
        sqs = self.resources.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = Queue(name=name, url=url, arn=arn)
        self.resources.local_queues[f"{source.function}:{source.topic}"] = queue
        subscription = self.resources.client("sns").subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True
        )["SubscriptionArn"]
        return queue, str(subscription)

    def start(self) -> None:
        for sqs_source in self.resources.template.sqs_event_sources:
            if not sqs_source.enabled:
                continue
            for index in range(_concurrency(sqs_source, self.resources)):
                self._spawn(SqsPoller(sqs_source, self.resources, self.invoke, self._stop), index)
        for sns_source in self.resources.template.sns_event_sources:
            queue, subscription = self._subscribe(sns_source)
            for index in range(DEFAULT_CONCURRENCY):
                poller = SnsPoller(sns_source, self.resources, self.invoke, self._stop, queue, subscription)
                self._spawn(poller, index)
        for stream_source in self.resources.template.stream_event_sources:
            if not stream_source.enabled:
                continue
            stream_poller = StreamPoller(stream_source, self.resources, self.invoke, self._stop)
            self.stream_pollers.append(stream_poller)
            thread = threading.Thread(target=stream_poller.run, name=f"poll {stream_poller.name}", daemon=True)
            self._threads.append(thread)
            thread.start()
            log.info("polling %s", stream_poller.name)
        for schedule in self.resources.template.queue_schedules:
            timer = ScheduleTimer(schedule, self.resources, self._stop)
            thread = threading.Thread(target=timer.run, name=f"schedule {schedule.rule}", daemon=True)
            self._threads.append(thread)
            thread.start()
            log.info("schedule %s every %ss locally (rate %ss deployed)", schedule.rule, timer.period,
                     schedule.seconds)

    def _spawn(self, poller: _Poller, index: int) -> None:
        thread = threading.Thread(target=poller.run, name=f"poll {poller.name} #{index}", daemon=True)
        self.pollers.append(poller)
        self._threads.append(thread)
        thread.start()
        if index == 0:
            log.info("polling %s", poller.name)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
