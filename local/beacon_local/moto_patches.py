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
- Linear transactions. moto's TransactWriteItems backs up a table once per item of the
  transaction (a deep copy of the whole table each time), so a 51-item settle over a 2,000-item
  ledger costs seconds. `fast_transactions` copies each table once per transaction instead: the
  same rollback, linear cost.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Iterator
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
            backups[id(obj)] = copy.deepcopy(obj, memo)
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


@contextmanager
def serialised_dynamodb() -> Iterator[None]:
    """Every DynamoDB request moto handles (server or in-process `mock_aws`) runs alone."""
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        with DYNAMODB_LOCK:
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
