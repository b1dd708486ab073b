"""moto's TransactWriteItems backs up a table once per item of the transaction (a deep copy of
the whole table each time), so a 51-item settle over a 2,000-item ledger costs seconds. This
copies each table once per transaction instead: the same rollback, linear cost."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import moto.dynamodb.models as _models

_memo = threading.local()


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


_installed = False


def install_fast_transactions() -> None:
    """For the local stack's whole life (a dev server never needs the slow original back)."""
    global _installed
    if not _installed:
        fast_transactions().__enter__()
        _installed = True
