"""Batched DynamoDB reads and writes, several calls in flight: what makes a 50,000-row import
a few seconds of I/O instead of a minute (1,000 BatchGetItem + 4,000 BatchWriteItem calls).
Plain botocore on raw items (Model.serialize / Model.from_raw_data); unprocessed keys and items are
retried with backoff."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from pynamodb.models import Model

from beacon.db.models import ContactItem

T = TypeVar("T")


class Throttled(RuntimeError):
    """DynamoDB kept refusing (throttling, unprocessed items) after the retries: slow down and try again."""


def is_throttling(exc: BaseException) -> bool:
    """A refusal for throughput (ours, botocore's after its retries, a transaction cancelled for it) or
    another transient fault: the same work, later, should go through."""
    from beacon.db.conditions import cancellation_codes, transient

    return isinstance(exc, Throttled) or transient(exc) or "ThrottlingError" in cancellation_codes(exc)

BATCH_WORKERS = 16  # concurrent batch calls: a 50,000-row import must fit the API's 30 s


def client() -> Any:
    """The raw DynamoDB client the models are bound to (thread-safe; pooled for BATCH_WORKERS)."""
    from beacon.shared.aws import client as aws_client

    return aws_client("dynamodb", ContactItem.Meta.region, getattr(ContactItem.Meta, "host", None), 32)


def run_parallel(calls: list[Callable[[], T]]) -> list[T]:
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(BATCH_WORKERS, len(calls))) as pool:
        return list(pool.map(lambda call: call(), calls))


def parallel_batch_get(model: type[Model], keys: list[dict[str, Any]], attributes: tuple[str, ...] = ()
                       ) -> list[dict[str, Any]]:
    """Raw items for `keys` of `model`'s table: BatchGetItem 100 at a time, unprocessed keys retried.
    `attributes`: only these (a ProjectionExpression; the read costs the same, the answer is smaller)."""
    table = model.Meta.table_name
    dynamodb = client()
    projection: dict[str, Any] = {}
    if attributes:
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        projection = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}

    def one(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        request: dict[str, Any] = {table: {"Keys": chunk, **projection}}
        for attempt in range(10):
            answer = dynamodb.batch_get_item(RequestItems=request)
            out.extend(answer.get("Responses", {}).get(table, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return out
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise Throttled("DynamoDB kept keys unprocessed")

    chunks = [keys[i : i + 100] for i in range(0, len(keys), 100)]
    return [item for part in run_parallel([partial(one, c) for c in chunks]) for item in part]


def parallel_batch_put(model: type[Model], items: list[dict[str, Any]]) -> None:
    """Put raw items into `model`'s table: BatchWriteItem 25 at a time, unprocessed items retried."""
    table = model.Meta.table_name
    dynamodb = client()

    def one(chunk: list[dict[str, Any]]) -> None:
        request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in chunk]}
        for attempt in range(10):
            answer = dynamodb.batch_write_item(RequestItems=request)
            request = answer.get("UnprocessedItems") or {}
            if not request:
                return
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise Throttled("DynamoDB kept items unprocessed")

    run_parallel([partial(one, items[i : i + 25]) for i in range(0, len(items), 25)])
