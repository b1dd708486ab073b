"""A campaign's opens and clicks from its engaged send-ledger items: totals, uniques, human and
machine apart (the request rules ran when each was recorded; the sweep rules run here)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from beacon.db.engagement import LINK_SHIFT
from beacon.tracking.classify import (
    ClickFacts,
    classify_click,
)


def _n(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else 0


def epoch(text: str | None) -> int | None:
    """Seconds since the epoch of an ISO-8601 time as the ledger stores it; None if absent or unreadable."""
    if not text:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def human_clicks_by_link(item: dict[str, Any], honeypot_hits: list[int] | None = None) -> dict[int, int]:
    """The clicks of one ledger item that the request rules and the sweep rules both call human,
    per link index (the logged ones; `human_clicks_unlogged` counts those past the log's cap)."""
    hits = honeypot_hits if honeypot_hits is not None else _honeypot_hits(item)
    window_start = epoch((item.get("delivered_at") or {}).get("S")) or epoch((item.get("sent_at") or {}).get("S"))
    first_open = _n(item, "first_human_open") or None
    human_by_link: dict[int, int] = {}
    for entry in (item.get("human_click_log") or {}).get("L", []):
        at, link = divmod(int(entry["N"]), LINK_SHIFT)
        if classify_click(ClickFacts(at, window_start, first_open, hits)) is None:
            human_by_link[link] = human_by_link.get(link, 0) + 1
    return human_by_link


def _honeypot_hits(item: dict[str, Any]) -> list[int]:
    return sorted(int(x) for x in (item.get("honeypot_hits") or {}).get("NS", []))


# ------------------------------------------------------------ one person, for targeting
# What a segment rule (`campaign:<id>` opened / clicked) and a resend to non-openers or
# non-clickers ask of one ledger item. Stricter than the stats' `human_unique`, which counts a
# webmail-proxy open as a person's: here only proof of a person counts (DESIGN "Segments and
# targeting": a machine or proxy-only open is not an open), so a resend reaches everyone who may
# not have read it. They read an item's beacon.db.engagement.PERSON_FIELDS.
def received(item: dict[str, Any] | None) -> bool:
    """The campaign was sent to this person (SES accepted it): the ledger item is settled `sent`."""
    return item is not None and (item.get("status") or {}).get("S") == "sent"


def clicked_by_a_person(item: dict[str, Any] | None) -> bool:
    """At least one click that the request rules and the sweep rules both call human."""
    if item is None or not _n(item, "clicks"):
        return False
    return _n(item, "human_clicks_unlogged") > 0 or bool(human_clicks_by_link(item))


def read_by_a_person(item: dict[str, Any] | None) -> bool:
    """A human open (the pixel fetched by the person's own mail client), or a human click (a
    person who clicks has read it, even with images off). Apple MPP, scanners, prefetches and
    webmail image proxies alone are not proof of a reader."""
    if item is None:
        return False
    return _n(item, "human_opens") > 0 or clicked_by_a_person(item)


def summarize(items: Iterable[dict[str, Any]], link_count: int) -> tuple[dict[str, Any], dict[str, Any]]:
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
