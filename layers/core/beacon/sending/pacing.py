"""Pacing: at most N SES calls a second from this container, and each tenant's own rate within it
(its shared schedule is beacon.db.tenant_pace)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

# A batch whose tenant window starts later than this goes back to the queue until then (the send
# function's timeout is 60 s: the wait plus 50 emails at the lowest tenant rate, 2/s, fit in it).
MAX_TENANT_WAIT_SECONDS = 20.0


# At a slow pace (an SES sandbox sends 1 email/s) 50 emails would outlast the invocation: a batch
# sends what its pace fits in this many seconds and queues the rest as a message of its own.
SEND_BUDGET_SECONDS = 30.0

NAP_SECONDS = 0.25  # a wait that may end early (Pacer.wait's `stop`) looks every this often


class Pacer:
    """At most `rate` SES calls per second from this container (thread-safe; None = unlimited).

    The template caps the send function at MaximumConcurrency invocations, so a per-invocation pace
    of BEACON_SEND_RATE / MaximumConcurrency keeps the whole send at or below BEACON_SEND_RATE.
    A batch also gets its own Pacer at its tenant's rate (see beacon.db.tenant_pace).
    """

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self, stop: Callable[[], bool] | None = None) -> None:
        """Wait for this caller's slot; with `stop`, in naps of at most NAP_SECONDS, ending early
        once stop() is true (a paused batch's waiting emails need not sleep until their turns)."""
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot <= now:
            return
        if stop is None:
            self._sleep(slot - now)
            return
        while not stop():
            left = slot - self._clock()
            if left <= 0:
                return
            self._sleep(min(left, NAP_SECONDS))


def beyond_budget(todo: list[dict[str, Any]], interval: float) -> list[dict[str, Any]]:
    """The recipients a pace of one email per `interval` seconds cannot reach within SEND_BUDGET_SECONDS."""
    if not interval:
        return []
    fits = max(1, int(SEND_BUDGET_SECONDS / interval))
    return todo[fits:]
