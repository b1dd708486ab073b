"""The gate of a send batch (beacon.sending.gate) with a fake clock and a fake reader, and the
briefly cached sender check (beacon.accounts.sender_domains.cached)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import pytest

from beacon.accounts.sender_domains import SENDER_CHECK_TTL_SECONDS, cached
from beacon.sending import gate as g
from beacon.sending.pacing import Pacer


@dataclass(frozen=True)
class View:
    status: str | None
    suppressed: frozenset[str] = frozenset()


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Store:
    """What DynamoDB holds: the campaign's status and the suppressed ids; every read is recorded."""

    status: str | None = "sending"
    suppressed: set[str] = field(default_factory=set)
    reads: list[list[str]] = field(default_factory=list)
    broken: bool = False

    def read(self, rids: Collection[str]) -> View:
        self.reads.append(list(rids))
        if self.broken:
            raise RuntimeError("no answer")
        return View(self.status, frozenset(self.suppressed & set(rids)))


def gate(store: Store, clock: Clock, rids: list[str]) -> g.Gate:
    return g.Gate(store.read, clock, View("sending"), clock(), rids)


def test_a_fresh_read_is_trusted_and_a_stale_one_is_read_again_once_for_all_open_recipients() -> None:
    store, clock = Store(), Clock()
    gt = gate(store, clock, ["a", "b", "c"])
    store.suppressed.add("b")
    assert gt.admit("b") == g.SEND  # the first read is still fresh: the change is not seen yet
    clock.now += g.RECHECK_SECONDS - 0.01
    assert gt.admit("b") == g.SEND and store.reads == []
    gt.finished("a")
    clock.now += 0.02
    assert gt.admit("b") == g.SUPPRESSED
    assert store.reads == [["b", "c"]], "one read, of the recipients still open"
    assert gt.admit("c") == g.SEND and len(store.reads) == 1 and gt.reads == 1


@pytest.mark.parametrize(("status", "verdict"), [("paused", g.PAUSED), ("cancelled", g.STOPPED),
                                                 (None, g.STOPPED), ("draft", g.STOPPED)])
def test_a_campaign_that_stopped_sending_closes_the_gate(status: str | None, verdict: str) -> None:
    store, clock = Store(), Clock()
    gt = gate(store, clock, ["a", "b"])
    store.status = status
    clock.now += 1
    assert gt.admit("a") == verdict and gt.closed() and gt.verdict() == verdict
    clock.now += 5
    assert gt.admit("b") == verdict and len(store.reads) == 1, "a closed gate reads nothing more"


def test_a_failed_read_defers_instead_of_sending_unchecked() -> None:
    store, clock = Store(broken=True), Clock()
    gt = gate(store, clock, ["a"])
    clock.now += 1
    assert gt.admit("a") == g.DEFERRED and gt.closed()


def test_a_suppression_once_seen_stays_seen() -> None:
    store, clock = Store(suppressed={"a"}), Clock()
    gt = gate(store, clock, ["a", "b"])
    clock.now += 1
    gt.refresh()
    store.suppressed.clear()  # lifted again: this batch still does not mail them
    clock.now += 1
    assert gt.admit("a") == g.SUPPRESSED


def test_a_paced_wait_ends_as_soon_as_the_gate_closes() -> None:
    store, clock = Store(), Clock()
    gt = gate(store, clock, ["a"])
    pacer = Pacer(0.5, clock=clock, sleep=clock.sleep)  # a slot every 2 s
    pacer.wait(gt.closed)
    pacer.wait(gt.closed)
    assert clock.now == pytest.approx(102.0)  # the second slot: waited for in naps, on the pacer's clock
    store.status = "paused"
    clock.now += 1
    gt.refresh()
    start = clock.now
    pacer.wait(gt.closed)  # its slot is at 104: it does not wait for it
    assert clock.now == start


def test_the_sender_check_is_kept_briefly_then_asked_again() -> None:
    clock = Clock()
    answers = {"a": True}
    asked: list[str] = []

    def check(account_id: str, from_email: str) -> bool:
        asked.append(account_id)
        return answers[account_id]

    senders = cached(check, clock=clock)
    assert senders("a", "x@d.test") and senders("a", "x@d.test") and asked == ["a"]
    answers["a"] = False
    clock.now += SENDER_CHECK_TTL_SECONDS - 1
    assert senders("a", "x@d.test")
    clock.now += 2
    assert not senders("a", "x@d.test") and asked == ["a", "a"]
