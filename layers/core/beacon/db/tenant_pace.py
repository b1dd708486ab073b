"""A tenant's send schedule, shared by every send invocation: when its next batch may start.

One item per tenant in the stats table: pk={account_id}#pace sk=pace, `next_free` (epoch seconds).
A batch of n recipients at the tenant's rate r takes the window [start, start + n / r), where
start = max(now, next_free), and moves next_free to the window's end with a conditional write
(optimistic: a concurrent batch that moved it first makes this one read again). Windows never
overlap, so a tenant's batches, whichever invocations run them, stay at or under r emails/s.
Plain botocore, like the rest of the send path's writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
            seen = item["next_free"]["N"] if item else None
            start = max(now, float(seen)) if seen is not None else now
            if start - now > max_wait:
                return Window(start, reserved=False)
            values: dict[str, Any] = {":next": {"N": f"{start + recipients / rate:.3f}"}}
            if seen is None:
                condition = "attribute_not_exists(next_free)"
            else:
                condition = "next_free = :seen"
                values[":seen"] = {"N": seen}
            try:
                self._client.update_item(
                    TableName=self._table, Key=key, UpdateExpression="SET next_free = :next",
                    ConditionExpression=condition, ExpressionAttributeValues=values,
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                continue  # another batch of this tenant took the window first: read again
            return Window(start, reserved=True)
        raise RuntimeError("could not reserve a send window (too many concurrent batches of one tenant)")
