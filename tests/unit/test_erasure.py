"""Erasing a tenant pages through every partition, retries unprocessed deletes, keeps suppressions
without their address and stops cleanly when its time runs out (against an in-memory DynamoDB)."""

from __future__ import annotations

from typing import Any

import pytest

from beacon.db.keys import ledger_pk
from beacon.db.tenant_erasure import OutOfTime, TenantEraser
from beacon.shared.config import Settings

SETTINGS = Settings(
    stage="t", token_secret=b"x" * 16, public_base_url="", sender_email="a@b.c", configuration_set="",
    send_rate=1, event_retention_days=1, accounts_table="accounts", contacts_table="contacts",
    campaigns_table="campaigns", messages_table="messages", suppressions_table="suppressions",
    stats_table="stats", events_table="events", dispatch_queue_url="", send_queue_url="", region="us-east-1",
    endpoint_url=None,
)


class FakeDynamo:
    """Tables of {(pk, sk): item}; Query answers pages of `page` items; BatchWriteItem leaves the
    last request of every other call unprocessed."""

    def __init__(self, page: int = 3) -> None:
        self.tables: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self.page = page
        self.calls = 0
        self.queries = 0

    def put(self, table: str, pk: str, sk: str, **attrs: Any) -> None:
        item = {"pk": {"S": pk}, "sk": {"S": sk}}
        for name, value in attrs.items():
            item[name] = {"SS": sorted(value)} if isinstance(value, set) else {"S": value}
        self.tables.setdefault(table, {})[(pk, sk)] = item

    def query(self, **kw: Any) -> dict[str, Any]:
        self.queries += 1
        pk = kw["ExpressionAttributeValues"][":pk"]["S"]
        rows = sorted((k, v) for k, v in self.tables.get(kw["TableName"], {}).items() if k[0] == pk)
        start = kw.get("ExclusiveStartKey")
        if start:
            rows = [r for r in rows if r[0][1] > start["sk"]["S"]]
        names = set(kw["ExpressionAttributeNames"].values())
        items = [{n: v for n, v in item.items() if n in names} for _, item in rows[: self.page]]
        answer: dict[str, Any] = {"Items": items}
        if len(rows) > self.page:
            answer["LastEvaluatedKey"] = {"pk": items[-1]["pk"], "sk": items[-1]["sk"]}
        return answer

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        self.calls += 1
        (table, requests), = RequestItems.items()
        assert len(requests) <= 25
        keep = requests[-1:] if self.calls % 2 and len(requests) > 1 else []
        for request in requests[: len(requests) - len(keep)]:
            key = request["DeleteRequest"]["Key"]
            self.tables.get(table, {}).pop((key["pk"]["S"], key["sk"]["S"]), None)
        return {"UnprocessedItems": {table: keep} if keep else {}}

    def update_item(self, TableName: str, Key: dict[str, Any], UpdateExpression: str, **kw: Any) -> None:
        item = self.tables[TableName][(Key["pk"]["S"], Key["sk"]["S"])]
        if UpdateExpression == "REMOVE email":
            item.pop("email", None)
        else:
            assert UpdateExpression == "SET ledger_erased = :one"
            item["ledger_erased"] = kw["ExpressionAttributeValues"][":one"]


def tenant(db: FakeDynamo, aid: str, contacts: int = 40) -> None:
    db.put("accounts", f"A#{aid}", "PROFILE", email=f"owner@{aid}.com")
    db.put("accounts", f"E#owner@{aid}.com", "CLAIM")
    db.put("accounts", f"A#{aid}", "KEY#k1", key_hash=f"h{aid}")
    db.put("accounts", f"K#h{aid}", "KEY")
    db.put("accounts", f"A#{aid}", "SESSION#s1", ref=f"S#t{aid}")
    db.put("accounts", f"S#t{aid}", "SESSION")
    db.put("accounts", f"A#{aid}", "DOMAIN#{aid}.com", domain=f"{aid}.com")
    db.put("accounts", f"D#{aid}.com", "CLAIM")
    db.put("accounts", f"A#{aid}", "LIST#l1")
    db.put("campaigns", aid, "c1", status="sent")
    for i in range(contacts):
        rid = f"{i:032x}"
        db.put("contacts", aid, f"C#{rid}", list_ids={"l1", "l2"})
        db.put("contacts", f"{aid}#L#l1", rid)
        db.put("contacts", f"{aid}#L#l2", rid)  # a list id known only from the contact
        db.put("messages", ledger_pk(aid, "c1", rid), rid)
        db.put("events", f"{aid}#{rid}", f"2026-01-01#open#{i}")
    for shard in range(16):
        db.put("stats", f"{aid}#c1", f"s{shard:02d}")
    db.put("suppressions", aid, "rgone", email="gone@example.com")
    db.put("events", f"{aid}#rgone", "2026-01-01#unsubscribe#x")


def remaining(db: FakeDynamo, aid: str) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for table, rows in db.tables.items():
        for key, item in rows.items():
            if aid in str(item) or aid in key[0]:
                out.setdefault(table, []).append(key)
    return out


def test_erase_pages_through_everything_and_keeps_hashed_suppressions() -> None:
    db = FakeDynamo(page=7)
    tenant(db, "aaa")
    tenant(db, "bbb", contacts=5)
    before_b = remaining(db, "bbb")
    eraser = TenantEraser(db, SETTINGS, lambda: 60.0)
    assert [c for c, _ in eraser.campaigns("aaa")] == ["c1"]
    eraser.erase("aaa")
    left = remaining(db, "aaa")
    assert left == {"suppressions": [("aaa", "rgone")]}
    assert "email" not in db.tables["suppressions"][("aaa", "rgone")]
    assert remaining(db, "bbb") == before_b
    eraser.erase("aaa")  # idempotent
    assert remaining(db, "aaa") == left


def test_erase_out_of_time_leaves_the_account_usable_and_finishes_later() -> None:
    db = FakeDynamo(page=5)
    tenant(db, "aaa")
    budget = iter([60.0] * 10 + [0.0])
    with pytest.raises(OutOfTime):
        TenantEraser(db, SETTINGS, lambda: next(budget, 0.0)).erase("aaa")
    assert ("A#aaa", "PROFILE") in db.tables["accounts"]
    assert ("K#haaa", "KEY") in db.tables["accounts"]  # the key still works: the owner can ask again
    TenantEraser(db, SETTINGS, lambda: 60.0).erase("aaa")
    assert set(remaining(db, "aaa")) == {"suppressions"}



def test_ledgers_first_then_the_rest_and_a_resumed_phase_skips_what_is_done() -> None:
    db = FakeDynamo(page=10)
    tenant(db, "aaa", contacts=30)
    TenantEraser(db, SETTINGS, lambda: 60.0).erase_ledgers("aaa")
    assert not [k for k in db.tables["messages"] if k[0].startswith("aaa#")]
    assert db.tables["stats"] and ("aaa", "c1") in db.tables["campaigns"]  # stats wait for the roll-up's lag
    db.queries = 0
    TenantEraser(db, SETTINGS, lambda: 60.0).erase_ledgers("aaa")
    assert db.queries == 1  # the campaign is marked: its 16 ledger partitions are not read again
    TenantEraser(db, SETTINGS, lambda: 60.0).erase("aaa")
    assert set(remaining(db, "aaa")) == {"suppressions"}


def test_a_big_tenant_is_erased_in_steps_that_each_make_progress() -> None:
    """Every call has time for 20 queries only: what a call deleted is never read again, so the
    number of calls grows with the tenant's size, not with its square."""
    db = FakeDynamo(page=25)
    tenant(db, "aaa", contacts=400)
    calls = 0
    while True:
        calls += 1
        budget = iter([60.0] * 20)
        try:
            TenantEraser(db, SETTINGS, lambda b=budget: next(b, 0.0)).erase("aaa")
            break
        except OutOfTime:
            assert calls < 200
    assert set(remaining(db, "aaa")) == {"suppressions"}
    assert calls < 120
