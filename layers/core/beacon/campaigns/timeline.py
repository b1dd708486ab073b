"""A campaign's engagement over time (the report's chart): human and machine opens and clicks per
time bucket, read from the stats roll-up's per-minute counts (beacon.tracking.rollup keeps them from
the send ledger's stream, beacon.db.stats_rollup stores them an hour an item). Nothing is written for
it on the pixel or click path, and the read does not grow with the campaign's recipients: one Query
of the campaign's roll-up items (an item per hour with engagement and stream shard).

What each ledger item contributes is beacon.tracking.engagement_stats.contribution (the function the
roll-up sums), so the timeline of the roll-up equals `derive(items)` over the ledger items exactly:

  human_opens     recipients whose FIRST human (or image-proxy) open falls in the bucket;
                  their sum is the stats' opens.human_unique
  machine_opens   machine opens (Apple MPP, scanners, prefetches), placed at the recipient's latest
                  open when that open was a machine's;  sum + untimed = opens.machine
  human_clicks    clicks on campaign links that the request and sweep rules call human, each at
                  its own time;  sum + untimed = clicks.total - clicks.machine
  machine_clicks  clicks the sweep rules call machine (at their own time) and clicks a request rule
                  called machine (at the recipient's latest click when that click was a machine's);
                  sum + untimed = clicks.machine

The resolution is one minute (the roll-up counts per epoch minute; every bucket is whole minutes).
What the ledger holds without a time (machine opens of a recipient whose latest open was human,
request-machine clicks followed by a human click, a person's clicks past the 100-entry click log) and
times that cannot be right (a minute before the send began or after now, beyond CLOCK_SLACK) are
counted in `untimed`: never dropped, never guessed. So the chart adds up to the stats' numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from beacon.db.models import CampaignItem
from beacon.shared.errors import Unprocessable
from beacon.tracking.engagement_stats import contribution, timeline_counts

SERIES = ("human_opens", "machine_opens", "human_clicks", "machine_clicks")
BUCKETS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)  # seconds: 1 min ... 1 week
AUTO_POINTS = 120  # the automatic bucket is the smallest that gives at most this many points
MAX_POINTS = 2000  # an explicit bucket_seconds may give at most this many
CLOCK_SLACK = 3600  # a time this much before the send began or after now is not placed
ACTIVE = frozenset({"sending", "paused"})  # the chart runs up to now while these last

Events = tuple[list[tuple[int, str, int]], dict[str, int]]  # ([(minute's epoch second, series, count)], untimed)


class TimelineCounters(Protocol):
    """beacon.db.stats_rollup.RollupStore: a campaign's summed t{minute}{series} and u{series} counters."""

    def timeline(self, account_id: str, campaign_id: str) -> dict[str, int]: ...


def parse_time(text: str | None) -> int | None:
    """Epoch seconds of an ISO 8601 time (a trailing Z allowed); None if absent or unreadable."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def iso(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def counted(counters: Mapping[str, int]) -> Events:
    """The timed events (at the start of their minute) and the untimed counts of summed counters."""
    minutes, untimed = timeline_counts(counters)
    timed = [(minute * 60, series, n) for minute, counts in sorted(minutes.items())
             for series, n in counts.items() if n]
    return timed, {name: untimed.get(name, 0) for name in SERIES}


def events(items: Iterable[Mapping[str, Any]]) -> Events:
    """counted() of the sum of contribution(item) over ledger items (raw attribute values): what the
    roll-up holds for them."""
    total: Counter[str] = Counter()
    for item in items:
        total.update({k: v for k, v in contribution(item).items() if k[0] in "tu"})
    return counted(total)


def _points(first: int, last: int, size: int) -> int:
    return (last - first // size * size) // size + 1


def _check_bucket(bucket: int | None) -> None:
    if bucket is not None and bucket not in BUCKETS:
        raise Unprocessable(f"bucket_seconds must be one of {', '.join(map(str, BUCKETS))}",
                            details=[{"field": "bucket_seconds", "allowed": list(BUCKETS)}])


def _bucket_for(first: int, last: int, bucket: int | None) -> int:
    if bucket is not None:
        points = _points(first, last, bucket)
        if points > MAX_POINTS:
            raise Unprocessable(f"bucket_seconds={bucket} gives {points} points over this campaign's time; at "
                                f"most {MAX_POINTS}: choose a larger bucket",
                                details=[{"field": "bucket_seconds", "points": points}])
        return bucket
    return next((b for b in BUCKETS if _points(first, last, b) <= AUTO_POINTS), BUCKETS[-1])


def place(found: Events, *, start: int | None, now: int, active: bool, bucket: int | None = None) -> dict[str, Any]:
    """The timeline of a campaign whose send began at `start` (None or later than now: not sent yet,
    no points), from its events.
    The points run from the first bucket of the send (or of an earlier event within CLOCK_SLACK) to
    the last event, or to `now` while `active` (sending or paused)."""
    _check_bucket(bucket)  # before the send too: a draft's answer names a size the API has
    timed, untimed = found[0], dict(found[1])
    if start is None or start > now:
        for _at, series, count in timed:
            untimed[series] += count
        return {"bucket_seconds": bucket or BUCKETS[0], "from": None, "to": None, "points": [],
                "untimed": untimed}
    placed: list[tuple[int, str, int]] = []
    for at, series, count in timed:
        if start - CLOCK_SLACK <= at <= now + CLOCK_SLACK:
            placed.append((at, series, count))
        else:
            untimed[series] += count
    first = min([start, *(at for at, _, _ in placed)])
    last = max([start, *(at for at, _, _ in placed), *([now] if active else [])])
    size = _bucket_for(first, last, bucket)
    origin = first // size * size
    count = (last - origin) // size + 1
    counts = [dict.fromkeys(SERIES, 0) for _ in range(count)]
    for at, series, n in placed:
        counts[(at - origin) // size][series] += n
    points = [{"at": iso(origin + i * size), **c} for i, c in enumerate(counts)]
    return {"bucket_seconds": size, "from": iso(origin), "to": iso(origin + count * size), "points": points,
            "untimed": untimed}


def derive(items: Iterable[Mapping[str, Any]], *, start: int | None, now: int, active: bool,
           bucket: int | None = None) -> dict[str, Any]:
    """The timeline straight from a campaign's engaged ledger items (the brute force the roll-up's
    answer equals)."""
    return place(events(items), start=start, now=now, active=active, bucket=bucket)


def for_campaign(item: CampaignItem, rollup: TimelineCounters, now: int, bucket: int | None = None
                 ) -> dict[str, Any]:
    """GET /v1/campaigns/{id}/timeline: the campaign's status and its timeline from the roll-up."""
    start = parse_time(item.send_at) if item.send_at else parse_time(item.send_requested_at)
    if item.status in ("draft", "scheduled"):
        start = None  # not sending yet: nothing to chart (a scheduled campaign starts at its send_at)
    found = counted(rollup.timeline(item.pk, item.campaign_id))
    return {"campaign_id": item.campaign_id, "status": item.status,
            **place(found, start=start, now=now, active=item.status in ACTIVE, bucket=bucket)}
