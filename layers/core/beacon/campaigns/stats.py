"""A campaign's stats: sends, failures, bounces, complaints and unsubscribes from the sharded counters
(written with the ledger), deliveries, opens and clicks from the stats roll-up (beacon.tracking.rollup):
one Query of at most 48 small items (db.stats_rollup), whatever the campaign's size."""

from __future__ import annotations

from typing import Any, Protocol

from beacon.db.models import CampaignItem
from beacon.tracking.engagement_stats import figures


class CampaignTotals(Protocol):
    """beacon.db.stats_rollup.RollupStore: (delivery counters, roll-up counters) of a campaign."""

    def campaign(self, account_id: str, campaign_id: str) -> tuple[dict[str, int], dict[str, int]]: ...


def report(item: CampaignItem, totals: CampaignTotals) -> dict[str, Any]:
    """Delivery figures from the counters written with the ledger; opens and clicks from the roll-up
    of the ledger's stream (up to a few seconds behind the pixel and the click)."""
    c, rollup = totals.campaign(item.pk, item.campaign_id)
    link_urls = list(item.links or [])
    opens, clicks = figures(rollup, len(link_urls))
    clicks["links"] = [{"url": url, **f} for url, f in zip(link_urls, clicks["links"], strict=True)]
    return {
        "status": item.status,
        "recipients": int(item.recipients or 0),
        # False while dispatch is still counting and queuing recipients: a campaign bigger than
        # ~14 minutes of its tenant's rate is queued as it sends, and `recipients` grows until then
        "recipients_final": bool(item.dispatched_at),
        "sent": c.get("sent", 0),
        "failed": c.get("failed", 0),
        "skipped_suppressed": c.get("skipped_suppressed", 0),
        # recipients not settled: still to go while sending/paused; never sent once cancelled
        "not_sent": max(0, int(item.recipients or 0) - c.get("sent", 0) - c.get("failed", 0)
                        - c.get("skipped_suppressed", 0)),
        "delivered": rollup.get("dl", 0),  # delivered_at on the ledger items (one write per Delivery event)
        "bounced": c.get("bounced", 0),
        "complained": c.get("complained", 0),
        "rejected": c.get("rejected", 0),
        "rendering_failed": c.get("rendering_failed", 0),
        "unsubscribed": c.get("unsubscribed", 0),
        "opens": opens,
        "clicks": clicks,
    }
