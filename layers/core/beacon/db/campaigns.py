"""Campaigns (the campaigns table), including the dispatch checkpoint."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from beacon.db.models import CampaignItem


class CampaignRepo:
    def create(self, item: CampaignItem) -> None:
        item.save(condition=CampaignItem.sk.does_not_exist())

    def get(self, account_id: str, campaign_id: str, consistent: bool = False) -> CampaignItem | None:
        try:
            return CampaignItem.get(account_id, campaign_id, consistent_read=consistent)
        except CampaignItem.DoesNotExist:
            return None

    def all(self, account_id: str) -> list[CampaignItem]:
        return list(CampaignItem.query(account_id, scan_index_forward=False))

    def save(self, item: CampaignItem) -> None:
        item.save()

    def transition(self, item: CampaignItem, from_status: str, to_status: str, now: str,
                   extra: list[Any] | None = None) -> bool:
        """Move the status only if it is still `from_status` (another invocation may have moved it)."""
        try:
            item.update(
                actions=[CampaignItem.status.set(to_status), CampaignItem.updated_at.set(now), *(extra or [])],
                condition=CampaignItem.status == from_status,
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def checkpoint(self, item: CampaignItem, expected_seq: int, list_index: int, cursor: str | None,
                   added: int, done: bool, now: str) -> bool:
        """Record dispatch progress after its messages are enqueued; False if another job moved it."""
        actions: list[Action] = [
            CampaignItem.dispatch_seq.set(expected_seq + 1),
            CampaignItem.dispatch_list_index.set(list_index),
            CampaignItem.recipients.add(added),
            CampaignItem.batches.add(1 if added else 0),
            CampaignItem.updated_at.set(now),
        ]
        actions.append(CampaignItem.dispatch_cursor.set(cursor) if cursor else CampaignItem.dispatch_cursor.remove())
        if done:
            actions.append(CampaignItem.dispatched_at.set(now))
        condition = (CampaignItem.dispatch_seq == expected_seq) if expected_seq else (
            CampaignItem.dispatch_seq.does_not_exist() | (CampaignItem.dispatch_seq == 0)
        )
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def due(self, now: str, limit: int = 500) -> list[tuple[str, str]]:
        """(account_id, campaign_id) of scheduled campaigns whose send_at is at or before `now`
        (the sparse by_send_at index holds only scheduled campaigns)."""
        found = CampaignItem.by_send_at.query("scheduled", CampaignItem.send_at <= now, limit=limit)
        return [(i.pk, i.sk) for i in found]
