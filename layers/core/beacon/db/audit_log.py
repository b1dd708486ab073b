"""Audit and engagement events (the events table), removed by DynamoDB TTL after the retention."""

from __future__ import annotations

import secrets
from typing import Any

from beacon.db.models import EventItem


class EventRepo:
    def __init__(self, retention_days: int) -> None:
        self._retention = retention_days * 86400

    def put(self, account_id: str, recipient_id: str, kind: str, at_iso: str, at_epoch: int,
            campaign_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
        EventItem(
            pk=f"{account_id}#{recipient_id}",
            sk=f"{at_iso}#{kind}#{secrets.token_hex(4)}",
            kind=kind,
            campaign_id=campaign_id,
            detail=detail or {},
            received_at=at_iso,
            expires_at=at_epoch + self._retention,
        ).save()

    def for_person(self, account_id: str, recipient_id: str) -> list[EventItem]:
        return list(EventItem.query(f"{account_id}#{recipient_id}"))

    def erase_person(self, account_id: str, recipient_id: str) -> int:
        """Delete every event of one person (contact erasure); how many there were."""
        count = 0
        with EventItem.batch_write() as batch:
            for item in EventItem.query(f"{account_id}#{recipient_id}", attributes_to_get=["pk", "sk"]):
                batch.delete(item)
                count += 1
        return count
