"""The send queue's messages: a campaign's recipients in batches of up to 50, each under SQS's 256 KB."""

from __future__ import annotations

import json
from typing import Any

BATCH_SIZE = 50  # recipients per send message


MAX_MESSAGE_BYTES = 240 * 1024


# ------------------------------------------------------------------------------------- dispatch
def split(recipients: list[dict[str, Any]], head: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages of at most BATCH_SIZE recipients, each halved until it fits SQS's 256 KB."""
    if len(recipients) > BATCH_SIZE:
        return [m for i in range(0, len(recipients), BATCH_SIZE) for m in split(recipients[i:i + BATCH_SIZE], head)]
    body = {**head, "recipients": recipients}
    if len(recipients) <= 1 or len(json.dumps(body, separators=(",", ":"))) <= MAX_MESSAGE_BYTES:
        return [body]
    mid = len(recipients) // 2
    return split(recipients[:mid], head) + split(recipients[mid:], head)
