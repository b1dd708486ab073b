"""A campaign's stats: delivery figures from the sharded counters, opens and clicks from the ledger."""

from __future__ import annotations

from typing import Any

from beacon.db.campaign_counters import Counters
from beacon.db.engagement import Engagement
from beacon.db.models import CampaignItem
from beacon.tracking.engagement_stats import summarize

PARALLEL_STATS_FROM = 20_000  # recipients from which the engagement read runs 16 Queries at once


def report(item: CampaignItem, counters: Counters, engagement: Engagement) -> dict[str, Any]:
    """Delivery figures from the sharded counters; opens and clicks derived from the ledger items
    (beacon.db.engagement explains why: one write per open or click, exact uniques)."""
    c = counters.read(item.pk, item.campaign_id)
    link_urls = list(item.links or [])
    opens, clicks = summarize(
        engagement.items(item.pk, item.campaign_id, len(link_urls),
                         parallel=int(item.recipients or 0) >= PARALLEL_STATS_FROM),
        len(link_urls))
    clicks["links"] = [{"url": url, **figures} for url, figures in zip(link_urls, clicks["links"], strict=True)]
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
        "delivered": c.get("delivered", 0),
        "bounced": c.get("bounced", 0),
        "complained": c.get("complained", 0),
        "rejected": c.get("rejected", 0),
        "rendering_failed": c.get("rendering_failed", 0),
        "unsubscribed": c.get("unsubscribed", 0),
        "opens": opens,
        "clicks": clicks,
    }
