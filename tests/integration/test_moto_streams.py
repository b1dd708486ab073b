"""moto's DynamoDB transactions and the tables' streams (beacon_local.moto_patches.fast_transactions,
installed by the `aws` fixture and by the local stack); the streams' bounds are
tests/integration/test_bounded_streams.py's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends

from beacon_local.resources import ACCOUNT_ID, Resources
from beacon_local.streams import TableStream


@pytest.fixture
def contacts(clean_aws: Resources) -> Iterator[str]:
    yield clean_aws.tables["ContactsTable"]


def _streams(aws: Resources) -> Any:
    return boto3.client("dynamodbstreams", region_name=aws.region,
                        config=botocore.config.Config(account_id_endpoint_mode="disabled"))


def _put(aws: Resources, table: str, count: int, prefix: str = "p") -> None:
    dynamodb = aws.client("dynamodb")
    for i in range(count):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"A#streams#{prefix}"}, "sk": {"S": f"C#{i:05d}"},
                                                 "email": {"S": f"{prefix}{i}@example.com"}})


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
    reader = TableStream(dynamodb, _streams(clean_aws), contacts)
    _put(clean_aws, contacts, 1, prefix="after")
    assert [r["eventName"] for r in reader.read()] == ["INSERT"]


def test_a_cancelled_transaction_puts_back_what_it_changed_and_streams_nothing(
        clean_aws: Resources, contacts: str) -> None:
    _put(clean_aws, contacts, 2)
    dynamodb = clean_aws.client("dynamodb")
    reader = TableStream(dynamodb, _streams(clean_aws), contacts)
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


@pytest.mark.parametrize("count", [0, 1, 2, 37, 300])
def test_a_new_reader_starts_after_the_newest_record_found_by_search(clean_aws: Resources, contacts: str,
                                                                     count: int) -> None:
    """StreamReader.end finds the newest record by a search over sequence numbers: whatever the backlog
    (none, one, a few hundred), a reader made now sees exactly what is written after it."""
    _put(clean_aws, contacts, count, prefix=f"backlog{count}-")
    dynamodb = clean_aws.client("dynamodb")
    reader = TableStream(dynamodb, _streams(clean_aws), contacts)
    assert reader.read() == []
    _put(clean_aws, contacts, 3, prefix=f"new{count}-")
    assert [r["dynamodb"]["NewImage"]["email"]["S"] for r in reader.read()] == [
        f"new{count}-{i}@example.com" for i in range(3)]
