"""moto's DynamoDB Streams bounded as AWS's (beacon_local.moto_patches.bounded_streams, installed by
the session's `aws` fixture and by the local stack): a shard keeps its records 24 hours and at most
about STREAM_MAX_RECORDS, the streams backend its newest iterators. Without it the test session kept
every ledger record with both images (and every iterator) and grew past 3 GB."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.core.utils import utcnow
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodbstreams.models import dynamodbstreams_backends

import beacon_local.moto_patches as patches
from beacon_local.resources import ACCOUNT_ID, Resources
from beacon_local.streams import StreamReader


def _shard(aws: Resources) -> Any:
    return dynamodb_backends[ACCOUNT_ID][aws.region].get_table(aws.tables["MessagesTable"]).stream_shard


def _put(aws: Resources, count: int, tag: str) -> None:
    dynamodb = aws.client("dynamodb")
    for i in range(count):  # not ledger keys, no engagement: the roll-up's filter passes none of them
        dynamodb.put_item(TableName=aws.tables["MessagesTable"],
                          Item={"pk": {"S": f"streams-test#{tag}"}, "sk": {"S": f"{i:05d}"}})


def test_a_shard_keeps_the_newest_records_with_their_sequence_numbers(
        clean_aws: Resources, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patches, "STREAM_MAX_RECORDS", 50)
    shard = _shard(clean_aws)
    _put(clean_aws, 60, "a")
    first = shard.starting_sequence_number
    _put(clean_aws, 40, "b")
    assert 50 <= len(shard.items) <= 55  # trimmed in steps of a tenth
    assert shard.starting_sequence_number > first
    sequence = [int(r.record["dynamodb"]["SequenceNumber"]) for r in shard.items]
    assert sequence == list(range(shard.starting_sequence_number, shard.starting_sequence_number + len(sequence)))
    assert shard.items[-1].record["dynamodb"]["Keys"]["sk"]["S"] == "00039"  # the newest is kept

    reader = StreamReader(clean_aws.client("dynamodbstreams"), clean_aws.stream_arn("MessagesTable"))
    oldest = reader.read(shard.id, None, 1000)  # TRIM_HORIZON: the oldest record kept
    assert int(oldest[0]["dynamodb"]["SequenceNumber"]) == shard.starting_sequence_number
    trimmed = reader.read(shard.id, ("AFTER_SEQUENCE_NUMBER", str(first)), 1000)  # a position trimmed away
    assert [r["dynamodb"]["SequenceNumber"] for r in trimmed] == [r["dynamodb"]["SequenceNumber"] for r in oldest]
    _put(clean_aws, 2, "c")
    newest = reader.read(shard.id, ("AFTER_SEQUENCE_NUMBER", oldest[-1]["dynamodb"]["SequenceNumber"]), 1000)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in newest] == ["streams-test#c"] * 2


def test_records_older_than_a_day_are_dropped(clean_aws: Resources) -> None:
    shard = _shard(clean_aws)
    _put(clean_aws, 3, "old")
    for record in shard.items:
        record.record["dynamodb"]["ApproximateCreationDateTime"] = utcnow() - timedelta(hours=25)
    _put(clean_aws, 1, "new")
    assert [r.record["dynamodb"]["Keys"]["pk"]["S"] for r in shard.items] == ["streams-test#new"]


def test_old_shard_iterators_are_forgotten(clean_aws: Resources, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patches, "MAX_SHARD_ITERATORS", 10)
    streams = clean_aws.client("dynamodbstreams")
    arn = clean_aws.stream_arn("MessagesTable")
    shard_id = _shard(clean_aws).id
    first = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="LATEST")["ShardIterator"]
    for _ in range(30):
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id,
                                              ShardIteratorType="LATEST")["ShardIterator"]
        streams.get_records(ShardIterator=iterator)
    assert len(dynamodbstreams_backends[ACCOUNT_ID][clean_aws.region].shard_iterators) <= 11
    with pytest.raises(ClientError) as caught:
        streams.get_records(ShardIterator=first)
    assert caught.value.response["Error"]["Code"] == "ExpiredIteratorException"
