"""moto's DynamoDB streams as bounded as AWS's (beacon_local.moto_patches.bounded_streams, installed by
the `aws` fixture and by the local stack), and fast_transactions nested inside itself.

Without these, a test session (or a `beacon dev` day) kept every record the four streamed tables
ever had and every shard iterator moto ever handed out; and a test that entered fast_transactions
inside the session's put moto's own `copy` back when it left, so every later transaction deep-copied
each table once per item, with its whole stream (the integration suite grew past 3 GB after
test_send_faults and crawled).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError
from moto.core.utils import utcnow
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodbstreams.models import dynamodbstreams_backends

import beacon_local.moto_patches as patches
from beacon_local.resources import ACCOUNT_ID, Resources
from beacon_local.streams import StreamReader


@pytest.fixture
def contacts(clean_aws: Resources) -> Iterator[str]:
    yield clean_aws.tables["ContactsTable"]


def _streams(aws: Resources) -> Any:
    return boto3.client("dynamodbstreams", region_name=aws.region,
                        config=botocore.config.Config(account_id_endpoint_mode="disabled"))


def _shard(aws: Resources, table: str) -> Any:
    return dynamodb_backends[ACCOUNT_ID][aws.region].tables[table].stream_shard


def _put(aws: Resources, table: str, count: int, prefix: str = "p") -> None:
    dynamodb = aws.client("dynamodb")
    for i in range(count):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"A#streams#{prefix}"}, "sk": {"S": f"C#{i:05d}"},
                                                 "email": {"S": f"{prefix}{i}@example.com"}})


class Counting:
    """A streams client that counts its GetRecords calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.get_records_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get_records(self, **kwargs: Any) -> Any:
        self.get_records_calls += 1
        return self.client.get_records(**kwargs)


def test_a_reader_starts_at_the_end_without_reading_the_stream(clean_aws: Resources, contacts: str) -> None:
    _put(clean_aws, contacts, 300)
    streams = Counting(_streams(clean_aws))
    reader = StreamReader(clean_aws.client("dynamodb"), streams, contacts)
    assert streams.get_records_calls == 0
    assert reader.read() == []
    _put(clean_aws, contacts, 3, prefix="new")
    keys = [r["dynamodb"]["Keys"]["sk"]["S"] for r in reader.read()]
    assert keys == ["C#00000", "C#00001", "C#00002"]
    assert reader.read() == []


def test_records_beyond_the_cap_are_trimmed_and_a_reader_goes_on_from_the_horizon(
        clean_aws: Resources, contacts: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patches, "STREAM_MAX_RECORDS", 50)
    reader = StreamReader(clean_aws.client("dynamodb"), _streams(clean_aws), contacts)
    _put(clean_aws, contacts, 10, prefix="early")
    assert len(reader.read()) == 10
    _put(clean_aws, contacts, 200)
    shard = _shard(clean_aws, contacts)
    assert len(shard.items) <= 55
    read = reader.read()
    assert 50 <= len(read) <= 55  # what is left; the first ones were trimmed unread (a warning says so)
    assert read[-1]["dynamodb"]["Keys"]["sk"]["S"] == "C#00199"
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in read]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert numbers[0] == shard.starting_sequence_number


def test_records_older_than_24_hours_are_trimmed(clean_aws: Resources, contacts: str) -> None:
    _put(clean_aws, contacts, 5)
    shard = _shard(clean_aws, contacts)
    for record in shard.items:
        record.record["dynamodb"]["ApproximateCreationDateTime"] = utcnow() - timedelta(hours=25)
    _put(clean_aws, contacts, 1, prefix="today")
    assert len(shard.items) == 1


def test_shard_iterators_are_bounded_and_an_evicted_one_has_expired(
        clean_aws: Resources, contacts: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patches, "MAX_SHARD_ITERATORS", 20)
    streams = _streams(clean_aws)
    arn = clean_aws.client("dynamodb").describe_table(TableName=contacts)["Table"]["LatestStreamArn"]
    shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    made = [streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="LATEST")["ShardIterator"]
            for _ in range(100)]
    assert len(dynamodbstreams_backends[ACCOUNT_ID][clean_aws.region].shard_iterators) <= 22
    assert streams.get_records(ShardIterator=made[-1])["Records"] == []
    with pytest.raises(ClientError) as caught:
        streams.get_records(ShardIterator=made[0])
    assert caught.value.response["Error"]["Code"] == "ExpiredIteratorException"


def test_a_nested_fast_transactions_leaves_the_outer_one_installed(aws: Resources) -> None:
    import moto.dynamodb.models as models

    outer = models.copy
    assert isinstance(outer, patches._OncePerTransaction)  # the session's
    with patches.fast_transactions():
        pass
    assert models.copy is outer


def test_a_cancelled_transaction_leaves_the_stream_with_the_live_table(clean_aws: Resources, contacts: str) -> None:
    _put(clean_aws, contacts, 1)
    dynamodb = clean_aws.client("dynamodb")
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": contacts, "Item": {"pk": {"S": "A#streams#p"}, "sk": {"S": "C#00009"}}}},
            {"Put": {"TableName": contacts, "Item": {"pk": {"S": "A#streams#p"}, "sk": {"S": "C#00000"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    table = dynamodb_backends[ACCOUNT_ID][clean_aws.region].tables[contacts]
    assert table.stream_shard.table is table
    reader = StreamReader(dynamodb, _streams(clean_aws), contacts)
    _put(clean_aws, contacts, 1, prefix="after")
    assert [r["eventName"] for r in reader.read()] == ["INSERT"]


def test_a_cancelled_transaction_puts_back_what_it_changed_and_streams_nothing(
        clean_aws: Resources, contacts: str) -> None:
    _put(clean_aws, contacts, 2)
    dynamodb = clean_aws.client("dynamodb")
    reader = StreamReader(dynamodb, _streams(clean_aws), contacts)
    key = {"pk": {"S": "A#streams#p"}, "sk": {"S": "C#00000"}}
    with pytest.raises(ClientError) as caught:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": contacts, "Item": {"pk": {"S": "A#streams#p"}, "sk": {"S": "C#00005"}}}},
            {"Update": {"TableName": contacts, "Key": key, "UpdateExpression": "SET email = :e",
                        "ExpressionAttributeValues": {":e": {"S": "changed@example.com"}}}},
            {"Delete": {"TableName": contacts, "Key": {"pk": {"S": "A#streams#p"}, "sk": {"S": "C#00001"}}}},
            {"ConditionCheck": {"TableName": contacts, "Key": {"pk": {"S": "A#streams#p"}, "sk": {"S": "C#00009"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    items = dynamodb.query(TableName=contacts, KeyConditionExpression="pk = :p",
                           ExpressionAttributeValues={":p": {"S": "A#streams#p"}})["Items"]
    assert sorted((i["sk"]["S"], i["email"]["S"]) for i in items) == [
        ("C#00000", "p0@example.com"), ("C#00001", "p1@example.com")]
    assert reader.read() == []
    dynamodb.transact_write_items(TransactItems=[
        {"Update": {"TableName": contacts, "Key": key, "UpdateExpression": "SET email = :e",
                    "ExpressionAttributeValues": {":e": {"S": "changed@example.com"}}}}])
    assert [r["eventName"] for r in reader.read()] == ["MODIFY"]
