"""What a send batch reads, and reads again while it sends: its campaign (the whole item at the start,
then only its status) and which of its recipients are suppressed, in ONE strongly consistent
BatchGetItem over the campaigns and suppressions tables (DESIGN promise 2: an unsubscribe,
suppression, pause or cancel that has been answered is seen by the next read).

Plain botocore: the two tables in one call are simpler to write raw. A batch holds at most 50
recipients, so one call (100 keys) carries the campaign and every recipient; more keys take more calls.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from beacon.db.models import CampaignItem

MAX_KEYS = 100  # BatchGetItem's limit per call


@dataclass(frozen=True)
class BatchView:
    """status None: the campaign is gone. campaign: the whole item, when it was asked for."""

    status: str | None
    suppressed: frozenset[str]
    campaign: CampaignItem | None = None


class BatchStateReader:
    def __init__(self, client: Any, campaigns_table: str, suppressions_table: str) -> None:
        if campaigns_table == suppressions_table:
            raise ValueError("the campaigns and suppressions tables must differ")
        self._client = client
        self._campaigns = campaigns_table
        self._suppressions = suppressions_table

    def read(self, account_id: str, campaign_id: str, recipient_ids: Collection[str], *,
             full: bool = False, with_campaign: bool = True) -> BatchView:
        """The campaign's status (and the whole item with `full`) and the suppressed subset of
        `recipient_ids`, read strongly consistent, in one call per 99 recipients. `with_campaign`
        False: only the suppressions (an automation step is no item of the campaigns table, and the
        automation steps function may not read that table); the status is then None."""
        rids = list(dict.fromkeys(recipient_ids))
        campaign_keys: dict[str, Any] = {
            "Keys": [{"pk": {"S": account_id}, "sk": {"S": campaign_id}}], "ConsistentRead": True,
        }
        if not full:
            campaign_keys.update(ProjectionExpression="#s", ExpressionAttributeNames={"#s": "status"})
        raw_campaign: dict[str, Any] | None = None
        suppressed: set[str] = set()
        chunks = [rids[i:i + MAX_KEYS - 1] for i in range(0, len(rids), MAX_KEYS - 1)] or [[]]
        for n, chunk in enumerate(chunks):
            request: dict[str, Any] = {}
            if n == 0 and with_campaign:
                request[self._campaigns] = campaign_keys
            if chunk:
                request[self._suppressions] = {
                    "Keys": [{"pk": {"S": account_id}, "sk": {"S": rid}} for rid in chunk],
                    "ConsistentRead": True, "ProjectionExpression": "sk",
                }
            if not request:  # no campaign asked for and no recipient: nothing to read
                continue
            for item_table, item in self._get(request):
                if item_table == self._campaigns:
                    raw_campaign = item
                else:
                    suppressed.add(item["sk"]["S"])
        if raw_campaign is None:
            return BatchView(None, frozenset(suppressed))
        status = raw_campaign.get("status", {}).get("S", "draft")
        campaign = CampaignItem.from_raw_data(raw_campaign) if full else None
        return BatchView(status, frozenset(suppressed), campaign)

    def _get(self, request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = []
        for attempt in range(10):
            answer = self._client.batch_get_item(RequestItems=request)
            for table, items in (answer.get("Responses") or {}).items():
                found.extend((table, item) for item in items)
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return found
            time.sleep(min(0.02 * 2**attempt, 0.2))
        raise RuntimeError("DynamoDB kept keys unprocessed")
