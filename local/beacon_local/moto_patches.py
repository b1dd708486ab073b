"""Patches that make moto behave like the AWS it stands in for, where Beacon relies on it.

- Atomic DynamoDB. moto's DynamoDB backend is not thread-safe: an UpdateItem reads the item,
  evaluates its condition and expressions and writes it back, and a TransactWriteItems checks each
  condition and then applies each item, with nothing held in between. Two threads (the local
  stack's HTTP server and pollers, or moto's threaded server) can both pass a condition that only
  one may pass, or lose one of two `ADD`s. DynamoDB serialises the writes to an item and applies a
  transaction atomically; `serialised_dynamodb` holds one lock around every DynamoDB request moto
  handles (reads too: a Query must not see half a transaction or a table being restored), so the
  requests run one at a time in arrival order. SQS, SNS and SES requests are not held by it (an
  SQS long poll waits up to seconds).
- Idempotent transactions. botocore gives every TransactWriteItems a ClientRequestToken (the
  model marks it an idempotency token) and sends the same one again when it retries the call
  (a timeout, a reset connection). DynamoDB applies a token once in 10 minutes and answers a
  retry as it answered the first call; moto ignores the token and applies the retry again.
  `serialised_dynamodb` remembers each token's successful answer for 10 minutes and gives it
  again to an identical request (a different request with the same token gets DynamoDB's
  IdempotentParameterMismatchException).
- Linear transactions. moto's TransactWriteItems backs up a table once per item of the
  transaction (a deep copy of the whole table each time), so a 51-item settle over a 2,000-item
  ledger costs seconds. `fast_transactions` keeps an undo log of the items the transaction touches
  instead (and drops the stream records of a cancelled one, which DynamoDB never streams): the
  same rollback, at the cost of the transaction's own items.
- Partition queries. moto's Table.query finds a Query's partition by walking every item of the
  table; `fast_queries` hands a base-table Query only its own partition (the same items, sorted,
  filtered and paged by moto as before), so a Query costs O(partition), not O(table).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any

import moto.dynamodb.models as _models
from moto.core.utils import utcnow
from moto.dynamodb.responses import DynamoHandler

_memo = threading.local()
DYNAMODB_LOCK = threading.Lock()


class _OncePerTransaction:
    """Stands in for the `copy` module inside moto.dynamodb.models: inside a transaction, the
    "backup" of a table is the live table itself (fast_transactions keeps an undo log instead)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        undo = getattr(_memo, "undo", None)
        if undo is None or not isinstance(obj, _models.Table):
            return copy.deepcopy(obj, memo)
        undo.stream_of(obj)
        return obj


class _Undo:
    """What a transaction changed: each item it touched as it was before (None: absent), and where
    each touched table's stream ended (the next sequence number)."""

    def __init__(self) -> None:
        self.items: dict[tuple[int, Any, Any], tuple[Any, Any]] = {}  # (table, hash, range) -> (table, item)
        self.streams: dict[int, tuple[Any, int]] = {}

    def stream_of(self, table: Any) -> None:
        shard = getattr(table, "stream_shard", None)
        if shard is not None and id(table) not in self.streams:
            self.streams[id(table)] = (shard, shard.starting_sequence_number + len(shard.items))

    def remember(self, table: Any, hash_key: Any, range_key: Any) -> None:
        marker = (id(table), hash_key, range_key)
        if marker not in self.items:
            current = table.get_item(hash_key, range_key) if range_key is not None or not table.has_range_key else None
            self.items[marker] = (table, copy.deepcopy(current))
            self.stream_of(table)

    def roll_back(self) -> None:
        for (_, hash_key, range_key), (table, before) in reversed(list(self.items.items())):
            if range_key is not None:
                partition = table.items[hash_key]
                if before is None:
                    partition.pop(range_key, None)
                    if not partition:
                        table.items.pop(hash_key, None)
                else:
                    partition[range_key] = before
            elif before is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = before
        for shard, next_sequence in self.streams.values():  # a cancelled transaction streams nothing
            keep = max(0, next_sequence - shard.starting_sequence_number)
            if len(shard.items) > keep:
                del shard.items[keep:]


_fast_depth = [0]  # fast_transactions() nests: only the outermost exit puts moto back


@contextmanager
def fast_transactions() -> Iterator[None]:
    """TransactWriteItems at the cost of its own items: moto backs up every table the transaction
    touches (a deep copy of the whole table, with its stream) to restore it on a cancellation; here
    each touched item is remembered as it was (moto reads it before each operation) and put back,
    and the stream records a cancelled transaction wrote are dropped, as DynamoDB streams none."""
    if _fast_depth[0]:  # already installed (a test's own `with` inside the session's): leave it so
        _fast_depth[0] += 1
        try:
            yield
        finally:
            _fast_depth[0] -= 1
        return
    original_transact = _models.DynamoDBBackend.transact_write_items
    original_get_item = _models.DynamoDBBackend.get_item

    def transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        undo = _Undo()
        _memo.undo = undo
        try:
            original_transact(self, transact_items)
        except BaseException:
            undo.roll_back()
            raise
        finally:
            _memo.undo = None

    def get_item(self: Any, table_name: str, keys: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        undo = getattr(_memo, "undo", None)
        if undo is not None:
            table = self.get_table(table_name)
            hash_key, range_key = self.get_keys_value(table, keys)
            undo.remember(table, hash_key, range_key)
        return original_get_item(self, table_name, keys, *args, **kwargs)

    _models.DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
    _models.DynamoDBBackend.get_item = get_item  # type: ignore[method-assign]
    _models.copy = _OncePerTransaction()  # type: ignore[assignment]
    _fast_depth[0] = 1
    try:
        yield
    finally:
        _fast_depth[0] = 0
        _models.DynamoDBBackend.transact_write_items = original_transact  # type: ignore[method-assign]
        _models.DynamoDBBackend.get_item = original_get_item  # type: ignore[method-assign]
        _models.copy = copy


TOKEN_SECONDS = 600.0  # how long DynamoDB keeps a ClientRequestToken


class _Tokens:
    """ClientRequestToken -> (expiry, the request without its token, the answer), under DYNAMODB_LOCK."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], tuple[float, str, Any]] = {}

    def answer(self, handler: DynamoHandler, call: Callable[[], Any]) -> Any:
        params = dict(getattr(handler, "params", None) or {})
        token = params.pop("ClientRequestToken", None)
        if not isinstance(token, str) or not token:
            return call()
        now = time.monotonic()
        if len(self._seen) > 10_000:
            self._seen = {k: v for k, v in self._seen.items() if v[0] > now}
        key = (handler.current_account, handler.region, token)
        # a digest of the request, not the request: a settle's request is tens of KB, and a test session
        # keeps ten minutes of them
        request = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
        seen = self._seen.get(key)
        if seen is not None and seen[0] > now:
            if seen[1] != request:
                return _error(400, "IdempotentParameterMismatchException",
                              "the ClientRequestToken was used before with a different request")
            return seen[2]
        answer = call()
        if isinstance(answer, tuple) and answer and answer[0] == 200:
            self._seen[key] = (now + TOKEN_SECONDS, request, answer)
        return answer


def _error(status: int, code: str, message: str) -> Any:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
    return status, {"Content-Type": "application/x-amz-json-1.0"}, body


@contextmanager
def serialised_dynamodb() -> Iterator[None]:
    """Every DynamoDB request moto handles (server or in-process `mock_aws`) runs alone, and a
    TransactWriteItems retried with its ClientRequestToken is applied once."""
    original = DynamoHandler.call_action
    tokens = _Tokens()

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        with DYNAMODB_LOCK:
            if self._get_action() == "TransactWriteItems":
                return tokens.answer(self, lambda: original(self))
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]


# ------------------------------------------------------------------ streams
STREAM_RETENTION_SECONDS = 24 * 3600  # DynamoDB Streams keeps a record 24 hours
STREAM_MAX_RECORDS = 10_000  # per shard: moto's records are Python dicts of both images (~5 KB each)
MAX_SHARD_ITERATORS = 1_000  # a reader asks for a fresh iterator per read and uses it at once


def _trim(shard: Any) -> None:
    """Drop a shard's records older than the retention, and the oldest beyond STREAM_MAX_RECORDS
    (in steps of a tenth, so a busy shard is not trimmed on every record). The sequence numbers of
    the records kept do not change: the shard's first sequence number moves up by what was dropped."""
    items = shard.items
    drop = len(items) - STREAM_MAX_RECORDS if len(items) > STREAM_MAX_RECORDS + STREAM_MAX_RECORDS // 10 else 0
    oldest = utcnow() - timedelta(seconds=STREAM_RETENTION_SECONDS)
    while drop < len(items) and items[drop].record["dynamodb"]["ApproximateCreationDateTime"] < oldest:
        drop += 1
    if drop:
        del items[:drop]
        shard.starting_sequence_number += drop


def _forget_old_iterators(backend: Any) -> None:
    iterators = backend.shard_iterators
    if len(iterators) > MAX_SHARD_ITERATORS + MAX_SHARD_ITERATORS // 10:
        for arn in list(iterators)[: len(iterators) - MAX_SHARD_ITERATORS]:  # oldest first (insertion order)
            del iterators[arn]


@contextmanager
def bounded_streams() -> Iterator[None]:
    """moto's DynamoDB Streams as bounded as AWS's: a shard keeps its records 24 hours (and at most
    about STREAM_MAX_RECORDS), the streams backend its newest MAX_SHARD_ITERATORS iterators. moto
    keeps every record (with both images) and every iterator it ever made, for the life of the
    process: a test session or a `beacon dev` day grows by gigabytes. A reader whose position was
    trimmed goes on from the oldest record kept (AWS's TRIM_HORIZON after TrimmedDataAccessException);
    an iterator that was forgotten is ExpiredIteratorException, as after AWS's 15 minutes."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    original_add, original_get = StreamShard.add, StreamShard.get
    original_records = DynamoDBStreamsBackend.get_records

    def add(self: Any, old: Any, new: Any) -> None:
        original_add(self, old, new)
        _trim(self)

    def get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
        return original_get(self, max(start, self.starting_sequence_number), quantity)

    def get_records(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        if iterator_arn not in self.shard_iterators:
            raise JsonRESTError("ExpiredIteratorException", "the shard iterator expired or is unknown")
        answer = original_records(self, iterator_arn, limit)
        _forget_old_iterators(self)
        return answer

    StreamShard.add = add  # type: ignore[method-assign]
    StreamShard.get = get  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]
    try:
        yield
    finally:
        StreamShard.add = original_add  # type: ignore[method-assign]
        StreamShard.get = original_get  # type: ignore[method-assign]
        DynamoDBStreamsBackend.get_records = original_records  # type: ignore[method-assign]


# The entered context managers, kept for the process's life: a generator-based context manager
# that is entered and then dropped is closed by the garbage collector, and its `finally` would
# undo the patch at once.
_installed: dict[str, AbstractContextManager[None]] = {}


def _install(name: str, patch: AbstractContextManager[None]) -> None:
    if name not in _installed:
        patch.__enter__()
        _installed[name] = patch


def install_fast_transactions() -> None:
    """For the local stack's whole life (a dev server never needs the slow original back)."""
    _install("fast_transactions", fast_transactions())


def install_serialised_dynamodb() -> None:
    """For the local stack's whole life: DynamoDB as atomic as AWS's."""
    _install("serialised_dynamodb", serialised_dynamodb())


def install_bounded_streams() -> None:
    """For the local stack's whole life: stream records and iterators as bounded as in AWS's."""
    _install("bounded_streams", bounded_streams())


# ------------------------------------------------------------------ queries
# moto's Table.query looks for a Query's partition by walking every item of the table and comparing
# DynamoTypes, so one Query of a 100-item page costs O(table): a dispatch or a segment count over a
# 10,000-contact list (a Query per page) takes minutes. fast_queries() hands a base-table Query
# only its own partition (the same items, which moto then sorts, filters and pages as before).
_partition = threading.local()


@contextmanager
def fast_queries() -> Iterator[None]:
    import inspect

    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)

    def all_items(self: Any) -> Any:
        hint = getattr(_partition, "hint", None)
        if hint is None or hint[0] is not self:
            return original_all_items(self)
        found = self.items.get(hint[1])
        if found is None:
            return []
        return list(found.values()) if self.range_key_attr else [found]

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs)
        hash_key = call.arguments.get("hash_key")
        if call.arguments.get("index_name") or hash_key is None:
            return original_query(self, *args, **kwargs)
        previous = getattr(_partition, "hint", None)
        _partition.hint = (self, hash_key)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _partition.hint = previous

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query = original_query  # type: ignore[method-assign]
        Table.all_items = original_all_items  # type: ignore[method-assign]
