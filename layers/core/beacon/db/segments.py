"""Saved segments (the accounts table, next to the tenant's lists): pk=A#{account_id} sk=SEGMENT#{id}."""

from __future__ import annotations

from typing import Any

from beacon.db.conditions import applied
from beacon.db.models import CampaignItem, SegmentItem
from beacon.db.paging import query_page


class SegmentRepo:
    def create(self, item: SegmentItem) -> None:
        item.save(condition=SegmentItem.sk.does_not_exist())

    def get(self, account_id: str, segment_id: str, consistent: bool = False) -> SegmentItem | None:
        try:
            return SegmentItem.get(f"A#{account_id}", f"SEGMENT#{segment_id}", consistent_read=consistent)
        except SegmentItem.DoesNotExist:
            return None

    def all(self, account_id: str) -> list[SegmentItem]:
        return list(SegmentItem.query(f"A#{account_id}", SegmentItem.sk.startswith("SEGMENT#")))

    def page(self, account_id: str, limit: int, cursor: str | None) -> tuple[list[SegmentItem], str | None]:
        """A page of the tenant's segments, oldest first (ids sort by age)."""
        return query_page(SegmentItem, f"A#{account_id}", "SEGMENT#", limit, cursor)

    def update(self, account_id: str, segment_id: str, name: str, definition: dict[str, Any],
               now: str) -> bool:
        """Replace name and definition; False when the segment does not exist (never creates one)."""
        return applied(SegmentItem(pk=f"A#{account_id}", sk=f"SEGMENT#{segment_id}").update,
                       actions=[SegmentItem.name.set(name), SegmentItem.definition.set(definition),
                                SegmentItem.updated_at.set(now)],
                       condition=SegmentItem.pk.exists())

    def delete(self, account_id: str, segment_id: str) -> bool:
        return applied(SegmentItem(pk=f"A#{account_id}", sk=f"SEGMENT#{segment_id}").delete,
                       condition=SegmentItem.pk.exists())

    def used_by(self, account_id: str, segment_id: str) -> list[str]:
        """The tenant's draft or scheduled campaigns aimed at this segment (one Query of the
        tenant's campaigns, keys and three attributes)."""
        found = CampaignItem.query(
            account_id,
            filter_condition=(CampaignItem.segment_id == segment_id)
            & CampaignItem.status.is_in("draft", "scheduled"),
            attributes_to_get=["sk", "segment_id", "status"],
        )
        return [item.sk for item in found]
