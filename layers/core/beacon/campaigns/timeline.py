"""A campaign's engagement over time (the report's chart): human and machine opens and clicks per
time bucket, derived from what the send-ledger items already store. Nothing is written for it: the
pixel and the click stay one UpdateItem each (beacon.db.engagement).

The contract, which a stream-fed roll-up (issue 18) can answer instead of the ledger items:

    derive(items, start=..., now=..., active=..., bucket=None) -> dict

`items` are a campaign's engaged ledger items as raw DynamoDB attribute maps (Engagement.items
with extra=FIELDS). The answer has `points`, one per bucket [at, at + bucket_seconds), each with:

  human_opens     recipients whose FIRST human (or image-proxy) open falls in the bucket;
                  their sum is the stats' opens.human_unique
  machine_opens   machine opens (Apple MPP, scanners, prefetches), placed at the recipient's latest
                  open when that open was a machine's;  sum + untimed = opens.machine
  human_clicks    clicks on campaign links that the request and sweep rules call human, each at
                  its own time;  sum + untimed = clicks.total - clicks.machine
  machine_clicks  clicks the sweep rules call machine (at their own time) and clicks a request rule
                  called machine (at the recipient's latest click when that click was a machine's);
                  sum + untimed = clicks.machine

What the ledger holds without a time (machine opens of a recipient whose latest open was human,
request-machine clicks followed by a human click, a person's clicks past the 100-entry click log) and
times that cannot be right (before the send began or in the future, beyond CLOCK_SLACK) are counted
in `untimed`: never dropped, never guessed. So the chart adds up to the stats' numbers exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from beacon.db.engagement import LINK_SHIFT
from beacon.db.models import CampaignItem
from beacon.shared.errors import Unprocessable
from beacon.tracking.classify import ClickFacts, classify_click, is_machine_class

FIELDS = ("last_open_at", "open_client", "last_click_at", "click_client")
SERIES = ("human_opens", "machine_opens", "human_clicks", "machine_clicks")
BUCKETS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)  # seconds: 1 min ... 1 week
AUTO_POINTS = 120  # the automatic bucket is the smallest that gives at most this many points
MAX_POINTS = 2000  # an explicit bucket_seconds may give at most this many
CLOCK_SLACK = 3600  # a time this much before the send began or after now is not placed
ACTIVE = frozenset({"sending", "paused"})  # the chart runs up to now while these last


class EngagementItems(Protocol):
    def items(self, account_id: str, campaign_id: str, link_count: int, *, parallel: bool = False,
              extra: tuple[str, ...] = ()) -> Iterable[dict[str, Any]]: ...


def _n(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else 0


def _s(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    return str(value["S"]) if value and "S" in value else ""


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


def events(items: Iterable[dict[str, Any]]) -> tuple[list[tuple[int, str, int]], dict[str, int]]:
    """(timed events as (at, series, count), untimed counts per series) of the ledger items."""
    timed: list[tuple[int, str, int]] = []
    untimed = dict.fromkeys(SERIES, 0)

    def put(at: int | None, series: str, count: int) -> None:
        if count <= 0:
            return
        if at is None:
            untimed[series] += count
        else:
            timed.append((at, series, count))

    for item in items:
        first_human = _n(item, "first_human_open") or None
        if _n(item, "human_opens") or _n(item, "proxied_opens"):
            put(first_human, "human_opens", 1)
        machine_opens = _n(item, "machine_opens")
        if machine_opens:
            latest_was_machine = is_machine_class(_s(item, "open_client"))
            put(parse_time(_s(item, "last_open_at")) if latest_was_machine else None, "machine_opens",
                machine_opens)
        if not _n(item, "clicks"):
            continue
        window_start = parse_time(_s(item, "delivered_at")) or parse_time(_s(item, "sent_at"))
        hits = sorted(int(x) for x in (item.get("honeypot_hits") or {}).get("NS", []))
        for entry in (item.get("human_click_log") or {}).get("L", []):
            at = int(entry["N"]) // LINK_SHIFT
            machine = classify_click(ClickFacts(at, window_start, first_human, hits)) is not None
            put(at, "machine_clicks" if machine else "human_clicks", 1)
        put(None, "human_clicks", _n(item, "human_clicks_unlogged"))
        request_machine = _n(item, "machine_clicks")
        if request_machine:
            latest_was_machine = is_machine_class(_s(item, "click_client"))
            put(parse_time(_s(item, "last_click_at")) if latest_was_machine else None, "machine_clicks",
                request_machine)
    return timed, untimed


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


def derive(items: Iterable[dict[str, Any]], *, start: int | None, now: int, active: bool,
           bucket: int | None = None) -> dict[str, Any]:
    """The timeline of a campaign whose send began at `start` (None or later than now: not sent yet,
    no points).
    The points run from the first bucket of the send (or of an earlier event within CLOCK_SLACK) to
    the last event, or to `now` while `active` (sending or paused)."""
    _check_bucket(bucket)  # before the send too: a draft's answer names a size the API has
    timed, untimed = events(items)
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


PARALLEL_FROM = 20_000  # recipients from which the ledger read runs its 16 Queries at once (as the stats)


def for_campaign(item: CampaignItem, engagement: EngagementItems, now: int, bucket: int | None = None
                 ) -> dict[str, Any]:
    """GET /v1/campaigns/{id}/timeline: the campaign's status and its derive() answer."""
    start = parse_time(item.send_at) if item.send_at else parse_time(item.send_requested_at)
    if item.status in ("draft", "scheduled"):
        start = None  # not sending yet: nothing to chart (a scheduled campaign starts at its send_at)
    items = engagement.items(item.pk, item.campaign_id, len(item.links or []),
                             parallel=int(item.recipients or 0) >= PARALLEL_FROM, extra=FIELDS)
    return {"campaign_id": item.campaign_id, "status": item.status,
            **derive(items, start=start, now=now, active=item.status in ACTIVE, bucket=bucket)}
