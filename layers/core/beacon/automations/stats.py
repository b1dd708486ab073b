"""An automation's stats, read in 1 + (number of steps) small Queries whatever its engagement:

- enrolments (entered, completed, exited; `active` derived) from the automation's sharded counters
  (beacon.db.campaign_counters, keyed by the automation id): one Query of at most 16 items;
- per step, ONE Query of the step's counter partition in the stats table (RollupStore.campaign, as a
  campaign's stats read it): sent, failed, skipped_suppressed, bounced, complained and unsubscribed
  from the step's sharded counters (written with the send ledger), and delivered, opens and clicks
  (human and machine apart, uniques, per link) from the stats roll-up (beacon.tracking.rollup). A
  step's emails are send-ledger items whose pk is {account}#{step id}#{shard} (a step id is an id
  like a campaign's, beacon.automations.definitions.step_campaign), so the roll-up keeps a step's
  counters exactly as a campaign's: at most 48 small items (s00..s15, r00..r15, l00..l15; as many as
  stream shards wrote), whatever the step's size. Like a campaign's, the roll-up's figures lag the
  pixel, the click and SES's Delivery by about 5 seconds (at most 10).

`delivered` is the roll-up's count of ledger items with delivered_at (SES's Delivery event writes
only that, no counter), as for a campaign. The per-link figures are by link index against the step's
current links, as before the roll-up. The brute-force count over the step's ledger items
(beacon.tracking.engagement_stats.summarize) is what the integration tests hold these figures to.
"""

from __future__ import annotations

from typing import Any, Protocol

from beacon.tracking.engagement_stats import figures

DELIVERY_COUNTERS = ("sent", "failed", "skipped_suppressed", "bounced", "complained", "unsubscribed")


class EnrolmentCounters(Protocol):
    """beacon.db.campaign_counters.Counters: the automation's summed counters."""

    def read(self, account_id: str, campaign_id: str) -> dict[str, int]: ...


class StepTotals(Protocol):
    """beacon.db.stats_rollup.RollupStore: (delivery counters, roll-up counters) of a step, one Query."""

    def campaign(self, account_id: str, campaign_id: str) -> tuple[dict[str, int], dict[str, int]]: ...


def step_report(index: int, step: dict[str, Any], counters: dict[str, int], rollup: dict[str, int]) -> dict[str, Any]:
    """One step's figures from its delivery counters and its roll-up counters."""
    links = list(step.get("links") or [])
    opens, clicks = figures(rollup, len(links))
    clicks["links"] = [{"url": url, **f} for url, f in zip(links, clicks["links"], strict=True)]
    return {
        "step": index + 1, "id": step["id"], "subject": step["subject"], "after_seconds": step["after_seconds"],
        **{name: counters.get(name, 0) for name in DELIVERY_COUNTERS},
        "delivered": rollup.get("dl", 0),  # delivered_at on the ledger items (one write per Delivery event)
        "opens": opens, "clicks": clicks,
    }


def report(account_id: str, item: dict[str, Any], counters: EnrolmentCounters, totals: StepTotals) -> dict[str, Any]:
    c = counters.read(account_id, item["automation_id"])
    entered, completed, exited = c.get("entered", 0), c.get("completed", 0), c.get("exited", 0)
    steps = [step_report(index, step, *totals.campaign(account_id, step["id"]))
             for index, step in enumerate(item["steps"])]
    return {"status": item["status"], "entered": entered, "active": max(0, entered - completed - exited),
            "completed": completed, "exited": exited, "steps": steps}
