"""The gate every email of a send batch passes just before its SES call (DESIGN promise 2).

A batch reads its campaign and its recipients' suppressions once at the start (beacon.db.batch_state),
but then may wait for its tenant's window and send at the tenant's pace for many seconds. So each
email asks the gate first, and the gate answers from a read made at most RECHECK_SECONDS before:
when the last read is older, it reads again (one strongly consistent BatchGetItem: the campaign's
status and the suppressions of the recipients still to go), holding the other emails of the batch
until it has the answer. With the time the SES call itself takes, no email leaves more than a
second after an unsubscribe, suppression, pause or cancel was answered.

Verdicts: "send"; "suppressed" (settle it so); "paused" (give the claim back and put the recipient
back on the queue); "stopped" (cancelled or gone: give the claim back, send nothing); "deferred"
(the re-check failed: try the recipient again later rather than send unchecked).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable
from typing import Protocol

from beacon.shared.observability import logger

RECHECK_SECONDS = 0.75  # how old the state an email goes out on may be; the rest of the second is SES's call

SEND, SUPPRESSED, PAUSED, STOPPED, DEFERRED = "send", "suppressed", "paused", "stopped", "deferred"


class View(Protocol):
    """What a read gives the gate (beacon.db.batch_state.BatchView is one)."""

    @property
    def status(self) -> str | None: ...

    @property
    def suppressed(self) -> frozenset[str]: ...


class Gate:
    def __init__(self, read: Callable[[Collection[str]], View], clock: Callable[[], float], first: View,
                 read_at: float, recipients: Iterable[str]) -> None:
        """`read(recipient_ids)` reads the state again; `first` is the batch's first read, made at `read_at`."""
        self._read = read
        self._clock = clock
        self._lock = threading.Lock()
        self._status: str | None = first.status
        self._suppressed = set(first.suppressed)
        self._read_at = read_at
        self._open = set(recipients)  # the recipients not finished yet: the ones a re-check reads
        self._closed = threading.Event()
        self.reads = 0  # re-checks made (the first read is not one)

    @property
    def status(self) -> str | None:
        return self._status

    def closed(self) -> bool:
        """Nothing more goes out of this batch (paused, cancelled, gone or unreadable)."""
        return self._closed.is_set()

    def refresh(self) -> None:
        """Read again if the last read is stale (e.g. after the wait for the tenant's window)."""
        with self._lock:
            self._refresh_if_stale()

    def admit(self, recipient_id: str) -> str:
        """May this recipient's email go out now? Call it right before the SES call, after any wait."""
        with self._lock:
            self._refresh_if_stale()
            if self._status == "sending":
                return SUPPRESSED if recipient_id in self._suppressed else SEND
            return self._verdict()

    def finished(self, recipient_id: str) -> None:
        """This recipient is decided (sent, failed, settled, given back): later re-checks skip it."""
        with self._lock:
            self._open.discard(recipient_id)

    def verdict(self) -> str:
        """What a closed gate says to every email still waiting (SEND while it is open)."""
        with self._lock:
            return SEND if self._status == "sending" else self._verdict()

    def _verdict(self) -> str:
        if self._status == "paused":
            return PAUSED
        if self._status == "unknown":
            return DEFERRED
        return STOPPED

    def _refresh_if_stale(self) -> None:
        if self._status != "sending" or self._clock() - self._read_at < RECHECK_SECONDS:
            return
        at = self._clock()  # the read sees every change answered before it was sent
        self.reads += 1
        try:
            view = self._read(sorted(self._open))
        except Exception:
            logger.exception("send batch: the re-check failed; its unsent recipients go back to the queue")
            self._status = "unknown"  # not sure they may go out: they go out later, never unchecked
            self._closed.set()
            return
        self._status, self._read_at = view.status, at
        self._suppressed |= view.suppressed
        if self._status != "sending":
            self._closed.set()
