"""A campaign's opens and clicks from its engaged send-ledger items: totals, uniques, human and
machine apart (the request rules ran when each was recorded; the sweep rules run here).

Two ways to the same numbers:

- `summarize(items)`: the brute-force count over every engaged ledger item of a campaign (what the
  stats read did before the roll-up; kept as the reference the roll-up is checked against).
- `contribution(item)`: what ONE ledger item adds to its campaign's figures, as flat integer
  counters. The stats roll-up (beacon.tracking.rollup) keeps, per campaign, the sum of
  contribution(item) over its ledger items: each change of an item (a DynamoDB Streams record with
  its old and new image) adds contribution(new) - contribution(old), so the roll-up equals the
  brute-force count by construction, whatever order the items change in. Every rule that looks at
  several attributes of one item (the sweep rules of human clicks: a click within 60 s of delivery
  before any human open, or within 120 s of a honeypot fetch) is inside the per-item function.
  `figures(totals, link_count)` turns summed counters into the stats' `opens` and `clicks`.

Counter names (short: they are attribute names of the roll-up items):
  dl                  delivered (the item has SES's Delivery: delivered_at)
  ot ou oh om op      opens total, unique, human_unique, machine, proxied
  ct cu ch cm cp      clicks total, unique, human_unique, machine, honeypot
  l{i}t l{i}u l{i}h l{i}m   per link i: total, unique, human_unique, machine
  u{series}           timeline counts that have no time (see below)
  t{minute}{series}   timeline counts of the epoch minute `minute`

Timeline series (the report's chart): ho human opens (a recipient's FIRST human or image-proxy open,
so their sum is opens.human_unique), mo machine opens (at the recipient's latest open when that open
was a machine's), hc human clicks and mc machine clicks (each logged click at its own time; clicks a
request rule called machine at the recipient's latest click when that click was a machine's). What
the item holds without a time is counted in u{series}: every series adds up to the stats exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from beacon.db.engagement import LINK_SHIFT
from beacon.tracking.classify import (
    ClickFacts,
    classify_click,
    is_machine_class,
)

SERIES = ("ho", "mo", "hc", "mc")
SERIES_NAMES = {"ho": "human_opens", "mo": "machine_opens", "hc": "human_clicks", "mc": "machine_clicks"}


def _n(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else 0


def _s(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    return str(value["S"]) if value and "S" in value else ""


def _epoch_of(item: Mapping[str, Any], name: str) -> int | None:
    return epoch((item.get(name) or {}).get("S"))


def epoch(text: str | None) -> int | None:
    """Seconds since the epoch of an ISO-8601 time as the ledger stores it; None if absent or unreadable."""
    if not text:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def human_clicks_by_link(item: Mapping[str, Any], honeypot_hits: list[int] | None = None) -> dict[int, int]:
    """The clicks of one ledger item that the request rules and the sweep rules both call human,
    per link index (the logged ones; `human_clicks_unlogged` counts those past the log's cap)."""
    hits = honeypot_hits if honeypot_hits is not None else _honeypot_hits(item)
    window_start = _epoch_of(item, "delivered_at") or _epoch_of(item, "sent_at")
    first_open = _n(item, "first_human_open") or None
    human_by_link: dict[int, int] = {}
    for entry in (item.get("human_click_log") or {}).get("L", []):
        at, link = divmod(int(entry["N"]), LINK_SHIFT)
        if classify_click(ClickFacts(at, window_start, first_open, hits)) is None:
            human_by_link[link] = human_by_link.get(link, 0) + 1
    return human_by_link


def _honeypot_hits(item: Mapping[str, Any]) -> list[int]:
    return sorted(int(x) for x in (item.get("honeypot_hits") or {}).get("NS", []))


# ------------------------------------------------------------ one person, for targeting
# What a segment rule (`campaign:<id>` opened / clicked) and a resend to non-openers or
# non-clickers ask of one ledger item. Stricter than the stats' `human_unique`, which counts a
# webmail-proxy open as a person's: here only proof of a person counts (DESIGN "Segments and
# targeting": a machine or proxy-only open is not an open), so a resend reaches everyone who may
# not have read it. They read an item's beacon.db.engagement.PERSON_FIELDS.
def received(item: Mapping[str, Any] | None) -> bool:
    """The campaign was sent to this person (SES accepted it): the ledger item is settled `sent`."""
    return item is not None and (item.get("status") or {}).get("S") == "sent"


def clicked_by_a_person(item: Mapping[str, Any] | None) -> bool:
    """At least one click that the request rules and the sweep rules both call human."""
    if item is None or not _n(item, "clicks"):
        return False
    return _n(item, "human_clicks_unlogged") > 0 or bool(human_clicks_by_link(item))


def read_by_a_person(item: Mapping[str, Any] | None) -> bool:
    """A human open (the pixel fetched by the person's own mail client), or a human click (a
    person who clicks has read it, even with images off). Apple MPP, scanners, prefetches and
    webmail image proxies alone are not proof of a reader."""
    if item is None:
        return False
    return _n(item, "human_opens") > 0 or clicked_by_a_person(item)


def summarize(items: Iterable[Mapping[str, Any]], link_count: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(opens, clicks) of the stats from a campaign's engaged ledger items (raw attribute values).

    opens:  total (a proxied recipient counts once), unique (recipients), human_unique (recipients
            with a human or proxied open: a later human open upgrades an MPP-only recipient),
            machine (machine opens), proxied (recipients seen through a webmail image proxy).
    clicks: total, unique, human_unique, machine (clicks that a request rule or a sweep rule
            called machine), honeypot (recipients whose hidden link was fetched), and per link
            total, unique, human_unique, machine.
    """
    o_total = o_unique = o_human = o_machine = o_proxied = 0
    c_total = c_unique = c_human = c_machine = c_honeypot = 0
    per_link = [{"total": 0, "unique": 0, "human_unique": 0, "machine": 0} for _ in range(link_count)]
    for item in items:
        human, proxied, machine = _n(item, "human_opens"), _n(item, "proxied_opens"), _n(item, "machine_opens")
        if human + proxied + machine:
            o_total += human + machine + (1 if proxied else 0)
            o_unique += 1
            o_human += 1 if human or proxied else 0
            o_machine += machine
            o_proxied += 1 if proxied else 0
        hits = _honeypot_hits(item)
        c_honeypot += 1 if hits else 0
        clicks = _n(item, "clicks")
        if not clicks:
            continue
        human_by_link = human_clicks_by_link(item, hits)
        human_clicks = sum(human_by_link.values()) + _n(item, "human_clicks_unlogged")
        c_total += clicks
        c_unique += 1
        c_human += 1 if human_clicks else 0
        c_machine += clicks - human_clicks
        for i, stat in enumerate(per_link):
            count = _n(item, f"link_{i}")
            if count:
                stat["total"] += count
                stat["unique"] += 1
                stat["human_unique"] += 1 if human_by_link.get(i) else 0
                stat["machine"] += count - min(count, human_by_link.get(i, 0))
    opens = {"total": o_total, "unique": o_unique, "human_unique": o_human, "machine": o_machine,
             "proxied": o_proxied}
    clicks_out: dict[str, Any] = {"total": c_total, "unique": c_unique, "human_unique": c_human,
                                  "machine": c_machine, "honeypot": c_honeypot, "links": per_link}
    return opens, clicks_out


# ------------------------------------------------------------------------------ one item


def contribution(item: Mapping[str, Any] | None) -> dict[str, int]:
    """What one ledger item (raw DynamoDB attribute values; None: no item) adds to its campaign's
    counters. Only non-zero counters are returned; an item neither delivered nor engaged with adds
    nothing."""
    out: Counter[str] = Counter()
    if not item:
        return {}
    if item.get("delivered_at"):
        out["dl"] += 1

    def timed(at: int | None, series: str, count: int) -> None:
        if count > 0:
            out[f"u{series}" if at is None else f"t{at // 60}{series}"] += count

    human, proxied, machine = _n(item, "human_opens"), _n(item, "proxied_opens"), _n(item, "machine_opens")
    first_human = _n(item, "first_human_open") or None
    if human + proxied + machine:
        out["ot"] += human + machine + (1 if proxied else 0)
        out["ou"] += 1
        if human or proxied:
            out["oh"] += 1
            timed(first_human, "ho", 1)
        out["om"] += machine
        out["op"] += 1 if proxied else 0
        if machine:
            timed(_epoch_of(item, "last_open_at") if is_machine_class(_s(item, "open_client")) else None, "mo", machine)
    hits = _honeypot_hits(item)
    if hits:
        out["cp"] += 1
    clicks = _n(item, "clicks")
    if clicks:
        window_start = _epoch_of(item, "delivered_at") or _epoch_of(item, "sent_at")
        human_by_link: dict[int, int] = {}
        for entry in (item.get("human_click_log") or {}).get("L", []):
            at, link = divmod(int(entry["N"]), LINK_SHIFT)
            if classify_click(ClickFacts(at, window_start, first_human, hits)) is None:
                human_by_link[link] = human_by_link.get(link, 0) + 1
                timed(at, "hc", 1)
            else:
                timed(at, "mc", 1)
        unlogged = _n(item, "human_clicks_unlogged")
        timed(None, "hc", unlogged)
        request_machine = _n(item, "machine_clicks")
        if request_machine:
            timed(_epoch_of(item, "last_click_at") if is_machine_class(_s(item, "click_client")) else None, "mc",
                  request_machine)
        human_clicks = sum(human_by_link.values()) + unlogged
        out["ct"] += clicks
        out["cu"] += 1
        out["ch"] += 1 if human_clicks else 0
        out["cm"] += clicks - human_clicks
        for name in item:
            if not name.startswith("link_") or not name[5:].isdigit():
                continue
            count = _n(item, name)
            if count:
                i = int(name[5:])
                out[f"l{i}t"] += count
                out[f"l{i}u"] += 1
                out[f"l{i}h"] += 1 if human_by_link.get(i) else 0
                out[f"l{i}m"] += count - min(count, human_by_link.get(i, 0))
    return {k: v for k, v in out.items() if v}


def change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> dict[str, int]:
    """contribution(new) - contribution(old): what one change of one item adds (non-zero only)."""
    delta = Counter(contribution(new))
    delta.subtract(contribution(old))
    return {k: v for k, v in delta.items() if v}


def figures(totals: Mapping[str, int], link_count: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(opens, clicks) of the stats from summed counters (the same shape as summarize's)."""

    def g(name: str) -> int:
        return int(totals.get(name, 0))

    opens = {"total": g("ot"), "unique": g("ou"), "human_unique": g("oh"), "machine": g("om"), "proxied": g("op")}
    links = [{"total": g(f"l{i}t"), "unique": g(f"l{i}u"), "human_unique": g(f"l{i}h"), "machine": g(f"l{i}m")}
             for i in range(link_count)]
    clicks: dict[str, Any] = {"total": g("ct"), "unique": g("cu"), "human_unique": g("ch"), "machine": g("cm"),
                              "honeypot": g("cp"), "links": links}
    return opens, clicks


def timeline_counts(totals: Mapping[str, int]) -> tuple[dict[int, dict[str, int]], dict[str, int]]:
    """({epoch minute: {series name: count}}, untimed {series name: count}) from summed counters."""
    minutes: dict[int, dict[str, int]] = {}
    untimed = {SERIES_NAMES[s]: int(totals.get(f"u{s}", 0)) for s in SERIES}
    for name, value in totals.items():
        if not value or not name.startswith("t") or len(name) < 4:
            continue
        minute, series = name[1:-2], name[-2:]
        if series in SERIES_NAMES and minute.isdigit():
            bucket = minutes.setdefault(int(minute), dict.fromkeys(SERIES_NAMES.values(), 0))
            bucket[SERIES_NAMES[series]] += int(value)
    return minutes, untimed
