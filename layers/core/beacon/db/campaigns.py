"""Campaigns (the campaigns table), including the dispatch checkpoint."""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.update import Action

from beacon.db.conditions import applied
from beacon.db.models import CampaignItem
from beacon.db.paging import query_page

SCHEDULED = "scheduled"  # the value of schedule_key while a campaign waits for its send_at


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

    def page(self, account_id: str, limit: int, cursor: str | None) -> tuple[list[CampaignItem], str | None]:
        """Newest first (campaign ids begin with their creation time)."""
        return query_page(CampaignItem, account_id, "", limit, cursor, newest_first=True)

    def save(self, item: CampaignItem) -> None:
        item.save()

    def transition(self, item: CampaignItem, from_status: str, to_status: str, now: str, *,
                   reason: str | None = None) -> bool:
        """Move the status only if it is still `from_status` (another invocation may have moved it).
        `reason` sets status_reason; a cancelled campaign is finished and leaves the schedule index."""
        extra: list[Action] = []
        if reason is not None:
            extra.append(CampaignItem.status_reason.set(reason))
        if to_status == "cancelled":
            extra += [CampaignItem.finished_at.set(now), CampaignItem.schedule_key.remove()]
        if to_status == "sent":
            extra.append(CampaignItem.finished_at.set(now))
        return self._move(item, from_status, to_status, now, extra)

    def start(self, item: CampaignItem, base_url: str, now: str) -> bool:
        """draft -> sending: the send was asked for now, its tracking links on `base_url`."""
        return self._move(item, "draft", "sending", now, [
            CampaignItem.base_url.set(base_url), CampaignItem.send_requested_at.set(now)])

    def schedule(self, item: CampaignItem, base_url: str, now: str, send_at: str) -> bool:
        """draft -> scheduled at `send_at`: the campaign enters the sparse by_send_at index."""
        return self._move(item, "draft", "scheduled", now, [
            CampaignItem.base_url.set(base_url), CampaignItem.send_requested_at.set(now),
            CampaignItem.send_at.set(send_at), CampaignItem.schedule_key.set(SCHEDULED)])

    def start_scheduled(self, item: CampaignItem, now: str) -> bool:
        """scheduled -> sending once due: the campaign leaves the schedule index."""
        return self._move(item, "scheduled", "sending", now, [CampaignItem.schedule_key.remove()])

    def _move(self, item: CampaignItem, from_status: str, to_status: str, now: str, extra: list[Action]) -> bool:
        return applied(item.update, condition=CampaignItem.status == from_status,
                       actions=[CampaignItem.status.set(to_status), CampaignItem.updated_at.set(now), *extra])

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
        return applied(item.update, actions=actions, condition=condition)

    def record_segment(self, item: CampaignItem, definition: dict[str, Any]) -> bool:
        """Record the segment definition a campaign is dispatched with, once: the first dispatch job
        writes it before its first page and every later job uses that (False: already recorded)."""
        return applied(item.update, actions=[CampaignItem.segment_snapshot.set(definition)],
                       condition=CampaignItem.segment_snapshot.does_not_exist())

    def due(self, now: str, limit: int = 500) -> list[tuple[str, str]]:
        """(account_id, campaign_id) of scheduled campaigns whose send_at is at or before `now`
        (the sparse by_send_at index holds only scheduled campaigns)."""
        found = CampaignItem.by_send_at.query(SCHEDULED, CampaignItem.send_at <= now, limit=limit)
        return [(i.pk, i.sk) for i in found]
