"""A tenant's send schedule, shared by every send invocation: when its next batch may start.

One item per tenant in the stats table: pk={account_id}#pace sk=pace, `next_free` (epoch seconds).
A batch of n recipients at the tenant's rate r takes the window [start, start + n / r), where
start = max(now, next_free), and moves next_free to the window's end with a conditional write
(optimistic: a concurrent batch that moved it first makes this one read again). Windows never
overlap, so a tenant's batches, whichever invocations run them, stay at or under r emails/s.

The same item holds dispatch's projection, `queued_until`: when the recipients that dispatch has
queued for this tenant (all its campaigns) will have been sent at its rate. Dispatch gives each
batch an SQS delay up to shortly before its expected turn and stops queuing (continuing later)
once the projection is beacon.sending.send.DISPATCH_AHEAD_SECONDS ahead, so a big campaign's batches arrive about
when their windows come instead of all at once and each going back to the queue until its turn.
Plain botocore, like the rest of the send path's writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from beacon.db.conditions import applied, written

ATTEMPTS = 8


@dataclass(frozen=True)
class Window:
    start: float  # epoch seconds: the first SES call of the batch, not earlier
    reserved: bool  # False: the window starts too late for this invocation; nothing was written


class TenantPace:
    def __init__(self, client: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    @staticmethod
    def key(account_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"{account_id}#pace"}, "sk": {"S": "pace"}}

    def reserve(self, account_id: str, recipients: int, rate: float, max_wait: float) -> Window:
        """The window of a batch of `recipients` at `rate` emails/s. If it would start more than
        `max_wait` seconds from now, nothing is reserved (the caller puts the batch back on the
        queue until then and reserves again when it comes back)."""
        if recipients <= 0 or rate <= 0:
            raise ValueError("a window needs recipients and a positive rate")
        key = self.key(account_id)
        for _attempt in range(ATTEMPTS):
            now = self._clock()
            item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
            seen = item["next_free"]["N"] if item and "next_free" in item else None
            start = max(now, float(seen)) if seen is not None else now
            if start - now > max_wait:
                return Window(start, reserved=False)
            values: dict[str, Any] = {":next": {"N": f"{start + recipients / rate:.3f}"}}
            if seen is None:
                condition = "attribute_not_exists(next_free)"
            else:
                condition = "next_free = :seen"
                values[":seen"] = {"N": seen}
            if applied(self._client.update_item, TableName=self._table, Key=key,
                       UpdateExpression="SET next_free = :next", ConditionExpression=condition,
                       ExpressionAttributeValues=values):
                return Window(start, reserved=True)
            # another batch of this tenant took the window first: read again
        raise RuntimeError("could not reserve a send window (too many concurrent batches of one tenant)")

    def forget_queue(self, account_id: str) -> None:
        """A campaign of the tenant was paused or cancelled: its queued batches will not go out at
        their projected turns, so the projection restarts from now (another campaign's batches
        already queued may then meet a few newer ones early: the send windows still hold the rate,
        and a batch whose window is far goes back to the queue)."""
        now = {"N": f"{self._clock():.3f}"}
        applied(self._client.update_item, TableName=self._table, Key=self.key(account_id),  # False: none ahead
                UpdateExpression="SET queued_until = :now", ConditionExpression="queued_until > :now",
                ExpressionAttributeValues={":now": now})

    def plan(self, account_id: str, recipients: int, rate: float) -> float:
        """Add `recipients` at `rate` to what dispatch has queued for the tenant; return when they
        are expected to start (epoch seconds): the end of the tenant's queue, or now if it is empty.
        One write when the tenant has recipients queued, two when its queue had run empty."""
        if recipients <= 0 or rate <= 0:
            raise ValueError("a plan needs recipients and a positive rate")
        key = self.key(account_id)
        span = recipients / rate
        for _attempt in range(ATTEMPTS):
            now = f"{self._clock():.3f}"
            answer = written(  # behind what is queued
                self._client.update_item, TableName=self._table, Key=key, UpdateExpression="ADD queued_until :span",
                ConditionExpression="queued_until >= :now", ReturnValues="UPDATED_NEW",
                ExpressionAttributeValues={":span": {"N": f"{span:.3f}"}, ":now": {"N": now}},
            )
            if answer is not None:
                return float(answer["Attributes"]["queued_until"]["N"]) - float(f"{span:.3f}")
            if applied(  # nothing queued (or only what should have been sent by now): from now
                self._client.update_item, TableName=self._table, Key=key, UpdateExpression="SET queued_until = :end",
                ConditionExpression="attribute_not_exists(queued_until) OR queued_until < :now",
                ExpressionAttributeValues={":end": {"N": f"{float(now) + span:.3f}"}, ":now": {"N": now}},
            ):
                return float(now)
            # another dispatch queued meanwhile: behind it, then
        raise RuntimeError("could not plan the tenant's queue (too many concurrent dispatches of one tenant)")
