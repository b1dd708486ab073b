"""An automation's stats: enrolments from its sharded counters; per step, the step's delivery
counters and its opens and clicks (human and machine apart) from its send-ledger items, exactly as a
campaign's (beacon.campaigns.stats)."""

from __future__ import annotations

from typing import Any

from beacon.db.campaign_counters import Counters
from beacon.db.engagement import Engagement
from beacon.tracking.engagement_stats import summarize


def report(account_id: str, item: dict[str, Any], counters: Counters, engagement: Engagement) -> dict[str, Any]:
    c = counters.read(account_id, item["automation_id"])
    entered, completed, exited = c.get("entered", 0), c.get("completed", 0), c.get("exited", 0)
    steps = []
    for index, step in enumerate(item["steps"]):
        s = counters.read(account_id, step["id"])
        links = list(step.get("links") or [])
        opens, clicks = summarize(engagement.items(account_id, step["id"], len(links)), len(links))
        clicks["links"] = [{"url": url, **figures} for url, figures in zip(links, clicks["links"], strict=True)]
        steps.append({
            "step": index + 1, "id": step["id"], "subject": step["subject"], "after_seconds": step["after_seconds"],
            **{name: s.get(name, 0) for name in ("sent", "failed", "skipped_suppressed", "delivered", "bounced",
                                                 "complained", "unsubscribed")},
            "opens": opens, "clicks": clicks,
        })
    return {"status": item["status"], "entered": entered, "active": max(0, entered - completed - exited),
            "completed": completed, "exited": exited, "steps": steps}
