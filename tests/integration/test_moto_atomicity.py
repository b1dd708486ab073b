"""moto as atomic as DynamoDB (beacon_local.moto_patches.serialised_dynamodb, installed by the
`aws` fixture and by the local stack): concurrent conditional transactions on the same items let
exactly one pass, concurrent `ADD`s are all counted, and a transaction retried with its
ClientRequestToken is applied once.

Without the patch these fail: the ledger race below counted 21-25 settles of 20 sends (the
"sent 5 of 4 recipients" of the e2e campaign loop: the send batch's settle and ses_events'
settle_by_event both passing `status = sending`), and concurrent opens lost an `ADD` or two.
The threads switch every 100 µs here so that moto's request handling interleaves as much as it
can; the counts must still be exact.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from beacon.db.campaign_counters import Counters
from beacon.db.send_ledger import Outcome
from beacon.shared.config import get_settings
from beacon.shared.ids import new_id
from beacon.wiring import engagement, ledger
from beacon_local.resources import Resources

RECIPIENTS = 20
EVENTS_PER_RECIPIENT = 4  # concurrent ses_events deliveries per recipient, besides the batch's settle
NOW = "2026-01-01T00:00:00+00:00"


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Make the interpreter switch threads as often as it can (races show up at once)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def run_all(calls: list[Callable[[], Any]], threads: int = 32) -> list[Any]:
    """Run the calls on `threads` threads, all released at once; their results in order."""
    go = threading.Event()

    def wrapped(call: Callable[[], Any]) -> Any:
        go.wait(10)
        return call()

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(wrapped, call) for call in calls]
        go.set()
        return [f.result() for f in futures]


def test_each_send_settles_once_whoever_races(clean_aws: Resources, busy_switching: None) -> None:
    """The send batch's settle and ses_events' settle_by_event race on the same ledger items:
    each item is settled once, and the campaign's `sent` counter equals the recipients."""
    account, campaign = new_id(), new_id()
    book = ledger()
    people = [(new_id(), f"reader{i}@example.com") for i in range(RECIPIENTS)]
    claims = book.claim_many(account, campaign, people)
    assert all(c.won for c in claims.values())

    def batch_settle(chunk: list[tuple[str, str]]) -> Callable[[], int]:
        outcomes = [Outcome(rid, email, "sent", claims[rid].claim_id, f"ses-{rid}") for rid, email in chunk]
        return lambda: book.settle(account, campaign, outcomes, NOW)

    def by_event(rid: str) -> Callable[[], int]:
        return lambda: int(book.settle_by_event(account, campaign, rid, f"ses-{rid}", NOW))

    calls = [batch_settle(people[i:i + 5]) for i in range(0, RECIPIENTS, 5)]
    calls += [by_event(rid) for rid, _ in people for _ in range(EVENTS_PER_RECIPIENT)]
    settled = sum(run_all(calls))

    assert settled == RECIPIENTS
    assert Counters(book._client, get_settings().stats_table).read(account, campaign).get("sent") == RECIPIENTS
    assert {book.get(account, campaign, rid)["status"] for rid, _ in people} == {"sent"}  # type: ignore[index]


def test_claims_race_to_one_winner_per_recipient(clean_aws: Resources, busy_switching: None) -> None:
    """Eight attempts claim the same 20 recipients at once: each recipient is won exactly once."""
    account, campaign = new_id(), new_id()
    book = ledger()
    people = [(new_id(), f"reader{i}@example.com") for i in range(RECIPIENTS)]
    results = run_all([lambda: book.claim_many(account, campaign, people) for _ in range(8)], threads=8)
    wins: dict[str, int] = {}
    for claims in results:
        for rid, claim in claims.items():
            wins[rid] = wins.get(rid, 0) + claim.won
    assert wins == {rid: 1 for rid, _ in people}


def test_concurrent_opens_and_clicks_are_all_counted(clean_aws: Resources, busy_switching: None) -> None:
    account, campaign = new_id(), new_id()
    people = [(new_id(), f"reader{i}@example.com") for i in range(4)]
    ledger().claim_many(account, campaign, people)
    track = engagement()

    def open_(rid: str) -> Callable[[], bool]:
        return lambda: track.record_open(account, campaign, rid, kind="human", at=1_700_000_000,
                                         at_iso=NOW, client="desktop_browser")

    def click(rid: str) -> Callable[[], bool]:
        return lambda: track.record_click(account, campaign, rid, link_index=0, human=False, at=1_700_000_000,
                                          at_iso=NOW, client="scanner:test")

    calls = [open_(rid) for rid, _ in people for _ in range(30)] + [click(rid) for rid, _ in people for _ in range(15)]
    assert all(run_all(calls, threads=40))
    items = list(track.items(account, campaign, 1))
    assert sorted(int(i["opens"]["N"]) for i in items) == [30] * 4
    assert sorted(int(i["clicks"]["N"]) for i in items) == [15] * 4
    assert sorted(int(i["link_0"]["N"]) for i in items) == [15] * 4


def test_a_transaction_retried_with_its_token_is_applied_once(clean_aws: Resources) -> None:
    """What botocore does when a TransactWriteItems times out or its connection drops: the same
    request with the same ClientRequestToken. DynamoDB applies it once; so does the patched moto."""
    client = ledger()._client
    table = get_settings().stats_table
    add = {"Update": Counters.update_args(table, "acct", "camp", {"sent": 1}, shard=0)}
    for _ in range(3):
        client.transact_write_items(TransactItems=[add], ClientRequestToken="retry-of-one-call")
    assert Counters(client, table).read("acct", "camp") == {"sent": 1}

    other = {"Update": Counters.update_args(table, "acct", "camp", {"sent": 2}, shard=0)}
    with pytest.raises(client.exceptions.IdempotentParameterMismatchException):
        client.transact_write_items(TransactItems=[other], ClientRequestToken="retry-of-one-call")
    client.transact_write_items(TransactItems=[add], ClientRequestToken="another-call")
    client.transact_write_items(TransactItems=[add])  # botocore draws a fresh token for each call
    assert Counters(client, table).read("acct", "camp") == {"sent": 3}
