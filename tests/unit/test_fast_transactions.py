"""moto's linear-transaction patch survives a test's own `with fast_transactions()` inside the
session's: an inner exit used to put moto's per-item table copy back for every later test (and with
the ledger's stream, each of those copies copied the whole stream)."""

from __future__ import annotations

import copy

import moto.dynamodb.models as models

from beacon_local.moto_patches import fast_transactions


def state() -> tuple[object, object]:
    return models.DynamoDBBackend.transact_write_items, models.copy


def test_nested_uses_keep_the_patch_until_the_outermost_ends() -> None:
    before = state()
    with fast_transactions():
        patched = state()
        assert patched[1] is not copy  # tables are copied once per transaction
        with fast_transactions(), fast_transactions():
            assert state() == patched
        assert state() == patched  # an inner exit left it in place
    assert state() == before
