"""beacon.ports.queue.SqsQueue on moto: batches of ten, one delay for all or one per message."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from beacon.ports.queue import FakeQueue, SqsQueue


@pytest.fixture
def queue_url(aws: Any) -> str:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="port-test")["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    return str(url)


def _attributes(url: str) -> dict[str, int]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                  "ApproximateNumberOfMessagesDelayed"])
    return {k: int(v) for k, v in got["Attributes"].items()}


def test_each_message_may_have_its_own_delay(queue_url: str) -> None:
    bodies = [{"n": i} for i in range(12)]  # two SendMessageBatch calls
    SqsQueue(boto3.client("sqs", region_name="us-east-1")).send(queue_url, bodies,
                                                               delay_seconds=[0] * 5 + [60] * 7)
    assert _attributes(queue_url) == {"ApproximateNumberOfMessages": 5, "ApproximateNumberOfMessagesDelayed": 7}
    got = boto3.client("sqs", region_name="us-east-1").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    assert sorted(json.loads(m["Body"])["n"] for m in got["Messages"]) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("delays", [[0] * 3, [0, 0, 0, 901], [-1, 0, 0, 0], 901])
def test_a_wrong_delay_enqueues_nothing(queue_url: str, delays: Any) -> None:
    bodies = [{"n": i} for i in range(4)]
    for port in (SqsQueue(boto3.client("sqs", region_name="us-east-1")), FakeQueue()):
        with pytest.raises(ValueError, match="delay"):
            port.send(queue_url, bodies, delay_seconds=delays)
    assert _attributes(queue_url) == {"ApproximateNumberOfMessages": 0, "ApproximateNumberOfMessagesDelayed": 0}
