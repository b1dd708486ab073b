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
  ledger costs seconds. `fast_transactions` copies each table once per transaction instead: the
  same rollback, linear cost.
- Partition queries. moto's Table.query finds a Query's partition by walking every item of the
  table; `fast_queries` hands a base-table Query only its own partition (the same items, sorted,
  filtered and paged by moto as before), so a Query costs O(partition), not O(table).
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import moto.dynamodb.models as _models
from moto.dynamodb.responses import DynamoHandler

_memo = threading.local()
DYNAMODB_LOCK = threading.Lock()


class _OncePerTransaction:
    """Stands in for the `copy` module inside moto.dynamodb.models."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        backups = getattr(_memo, "backups", None)
        if backups is None or not isinstance(obj, _models.Table):
            return copy.deepcopy(obj, memo)
        if id(obj) not in backups:
            # the stream shard (every record the table ever streamed) is shared, not copied: copying it
            # made each transaction slower as the stream grew, and a rollback would swap the shard
            # readers iterate for a copy (beacon_local.streams)
            shard = getattr(obj, "stream_shard", None)
            obj.stream_shard = None
            try:
                backup = copy.deepcopy(obj, memo)
            finally:
                obj.stream_shard = shard
            backup.stream_shard = shard
            backups[id(obj)] = backup
        return backups[id(obj)]


@contextmanager
def fast_transactions() -> Iterator[None]:
    original_transact = _models.DynamoDBBackend.transact_write_items

    def transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        _memo.backups = {}
        try:
            original_transact(self, transact_items)
        finally:
            _memo.backups = None

    _models.DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
    _models.copy = _OncePerTransaction()  # type: ignore[assignment]
    try:
        yield
    finally:
        _models.DynamoDBBackend.transact_write_items = original_transact  # type: ignore[method-assign]
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
        request = json.dumps(params, sort_keys=True, default=str)
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
