"""The campaign timeline (beacon.campaigns.timeline): each figure placed at the minute the ledger item
stores for it, nothing guessed, and points plus untimed adding up to the stats' own numbers; the
roll-up's per-minute counters give the same answer as the ledger items."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.campaigns.timeline import (
    AUTO_POINTS,
    BUCKETS,
    CLOCK_SLACK,
    MAX_POINTS,
    counted,
    derive,
    events,
    for_campaign,
    iso,
    parse_time,
    place,
)
from beacon.db.engagement import LINK_SHIFT
from beacon.db.models import CampaignItem
from beacon.shared.errors import Unprocessable
from beacon.tracking.classify import is_machine_class
from beacon.tracking.engagement_stats import contribution, summarize

T0 = 1_800_000_000  # the send began; a whole hour
N = lambda v: {"N": str(v)}  # noqa: E731
S = lambda v: {"S": v}  # noqa: E731


def item(**fields: Any) -> dict[str, Any]:
    return {"sk": S("r"), **fields}


def log(*entries: tuple[int, int]) -> dict[str, Any]:
    return {"L": [N(at * LINK_SHIFT + link) for at, link in entries]}


def totals(answer: dict[str, Any]) -> dict[str, int]:
    out = dict.fromkeys(("human_opens", "machine_opens", "human_clicks", "machine_clicks"), 0)
    for point in answer["points"]:
        for key in out:
            out[key] += point[key]
    return out


def test_a_human_open_is_placed_at_the_first_human_open() -> None:
    answer = derive([item(opens=N(3), human_opens=N(3), first_human_open=N(T0 + 125))], start=T0, now=T0 + 600,
                    active=False, bucket=60)
    placed = {p["at"]: p["human_opens"] for p in answer["points"] if p["human_opens"]}
    assert placed == {iso(T0 + 120): 1}  # one recipient, however many times they opened


def test_proxied_opens_count_as_a_person() -> None:
    timed, untimed = events([item(opens=N(1), proxied_opens=N(1), first_human_open=N(T0 + 5))])
    assert timed == [(T0, "human_opens", 1)] and not any(untimed.values())  # at its minute (T0 + 5 s)


def test_machine_opens_sit_at_the_latest_open_only_when_that_was_a_machine() -> None:
    mpp = item(opens=N(2), machine_opens=N(2), last_open_at=S(iso(T0 + 30)), open_client=S("apple_mpp"))
    later_human = item(opens=N(2), machine_opens=N(1), human_opens=N(1), first_human_open=N(T0 + 900),
                       last_open_at=S(iso(T0 + 900)), open_client=S("desktop_browser"))
    timed, untimed = events([mpp, later_human])
    assert (T0, "machine_opens", 2) in timed  # T0 + 30 s, at its minute
    assert (T0 + 900, "human_opens", 1) in timed
    assert untimed["machine_opens"] == 1  # its time is not stored: counted, not guessed


def test_clicks_in_the_log_are_judged_by_the_sweep_rules_at_their_own_time() -> None:
    delivered = iso(T0 + 10)
    scanner = item(clicks=N(2), delivered_at=S(delivered), human_click_log=log((T0 + 20, 0), (T0 + 21, 1)),
                   link_0=N(1), link_1=N(1))
    person = item(clicks=N(1), delivered_at=S(delivered), opens=N(1), human_opens=N(1),
                  first_human_open=N(T0 + 300), human_click_log=log((T0 + 400, 0)), link_0=N(1))
    timed, _untimed = events([scanner, person])
    assert (T0, "machine_clicks", 2) in timed  # T0 + 20 s and T0 + 21 s: one minute
    assert (T0 + 360, "human_clicks", 1) in timed


def test_request_machine_clicks_and_unlogged_clicks() -> None:
    burst = item(clicks=N(3), machine_clicks=N(3), link_0=N(3), last_click_at=S(iso(T0 + 40)),
                 click_client=S("scanner:proofpoint"))
    mixed = item(clicks=N(2), machine_clicks=N(1), human_click_log=log((T0 + 7200, 0)), link_0=N(2),
                 opens=N(1), human_opens=N(1), first_human_open=N(T0 + 7000),
                 last_click_at=S(iso(T0 + 7200)), click_client=S("mobile_browser"))
    busy = item(clicks=N(1), human_clicks_unlogged=N(1), link_0=N(1))
    timed, untimed = events([burst, mixed, busy])
    assert (T0, "machine_clicks", 3) in timed
    assert untimed["machine_clicks"] == 1  # the latest click was a person's: the machine one has no time
    assert untimed["human_clicks"] == 1  # past the click log: counted without a time


def test_the_automatic_bucket_keeps_the_points_few() -> None:
    for span in (0, 59, 3600, 86400, 30 * 86400, 400 * 86400):
        answer = derive([], start=T0, now=T0 + span, active=True)
        assert 1 <= len(answer["points"]) <= AUTO_POINTS or answer["bucket_seconds"] == BUCKETS[-1]
        assert answer["bucket_seconds"] in BUCKETS
        first, last = answer["points"][0]["at"], answer["points"][-1]["at"]
        assert parse_time(first) <= T0 and parse_time(last) + answer["bucket_seconds"] > T0 + span  # type: ignore[operator]


def test_points_run_to_now_while_sending_and_to_the_last_event_after() -> None:
    one = [item(opens=N(1), human_opens=N(1), first_human_open=N(T0 + 90))]
    assert len(derive(one, start=T0, now=T0 + 3599, active=True, bucket=60)["points"]) == 60
    assert len(derive(one, start=T0, now=T0 + 3599, active=False, bucket=60)["points"]) == 2


def test_not_sent_yet_has_no_points_and_keeps_the_counts() -> None:
    one = [item(opens=N(1), human_opens=N(1), first_human_open=N(T0 + 90))]
    for start in (None, T0 + 10_000):
        answer = derive(one, start=start, now=T0, active=False)
        assert answer["points"] == [] and answer["from"] is None and answer["untimed"]["human_opens"] == 1


def test_impossible_times_are_not_placed() -> None:
    early = item(opens=N(1), human_opens=N(1), first_human_open=N(T0 - CLOCK_SLACK - 1))
    future = item(opens=N(1), human_opens=N(1), first_human_open=N(T0 + 10**9))
    answer = derive([early, future], start=T0, now=T0 + 60, active=False)
    assert totals(answer)["human_opens"] == 0 and answer["untimed"]["human_opens"] == 2
    assert len(answer["points"]) <= 3


@pytest.mark.parametrize("bucket", [0, 1, 59, 61, 3599, -60, 10**7])
def test_a_bucket_that_is_not_offered_is_422(bucket: int) -> None:
    for start in (T0, None):  # before the send too (a draft answered the size it was given)
        with pytest.raises(Unprocessable) as caught:
            derive([], start=start, now=T0 + 60, active=False, bucket=bucket)
        assert "bucket_seconds" in caught.value.message


def test_a_bucket_giving_too_many_points_is_422() -> None:
    with pytest.raises(Unprocessable) as caught:
        derive([], start=T0, now=T0 + 60 * MAX_POINTS, active=True, bucket=60)
    assert "choose a larger bucket" in caught.value.message
    assert len(derive([], start=T0, now=T0 + 60 * MAX_POINTS, active=True, bucket=3600)["points"]) <= MAX_POINTS


@pytest.mark.parametrize("text", ["", "yesterday", "2030-13-01T00:00:00Z", "\x00", "9" * 40, None])
def test_unreadable_stored_times_are_none(text: str | None) -> None:
    assert parse_time(text) is None


def test_machine_client_classes() -> None:
    assert all(is_machine_class(c) for c in ("apple_mpp", "head_request", "no_user_agent", "prefetch_header",
                                              "scanner:proofpoint", "scanner:microsoft365"))
    assert not any(is_machine_class(c) for c in ("desktop_browser", "mobile_browser", "mail_client", "gmail_proxy",
                                                  "other", ""))


# ------------------------------------------------------------------ the timeline adds up to the stats
CLIENTS = st.sampled_from(["apple_mpp", "scanner:proofpoint", "desktop_browser", "mobile_browser", "gmail_proxy",
                           "head_request"])
SECONDS = st.integers(min_value=T0 - 30, max_value=T0 + 5 * 86400)


@st.composite
def ledger_items(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"sk": S("r"), "sent_at": S(iso(T0))}
    if draw(st.booleans()):
        out["delivered_at"] = S(iso(T0 + draw(st.integers(0, 120))))
    human, proxied, machine = (draw(st.integers(0, 3)) for _ in range(3))
    if human + proxied + machine:
        out["opens"] = N(human + proxied + machine)
        for name, n in (("human_opens", human), ("proxied_opens", proxied), ("machine_opens", machine)):
            if n:
                out[name] = N(n)
        if human + proxied:
            out["first_human_open"] = N(draw(SECONDS))
        out["last_open_at"] = S(iso(draw(SECONDS)))
        out["open_client"] = S(draw(CLIENTS))
    logged = draw(st.lists(st.tuples(SECONDS, st.integers(0, 2)), max_size=4))
    request_machine = draw(st.integers(0, 3))
    unlogged = draw(st.integers(0, 2))
    clicks = len(logged) + request_machine + unlogged
    if clicks:
        out["clicks"] = N(clicks)
        per_link = [0, 0, 0]
        for _at, link in logged:
            per_link[link] += 1
        per_link[0] += request_machine + unlogged
        for i, n in enumerate(per_link):
            if n:
                out[f"link_{i}"] = N(n)
        if logged:
            out["human_click_log"] = log(*logged)
        if request_machine:
            out["machine_clicks"] = N(request_machine)
        if unlogged:
            out["human_clicks_unlogged"] = N(unlogged)
        out["last_click_at"] = S(iso(draw(SECONDS)))
        out["click_client"] = S(draw(CLIENTS))
    if draw(st.booleans()):
        out["honeypot_hits"] = {"NS": [str(draw(SECONDS))]}
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(ledger_items(), max_size=12), st.integers(0, 6 * 86400), st.booleans())
def test_points_plus_untimed_are_the_stats(items: list[dict[str, Any]], age: int, active: bool) -> None:
    opens, clicks = summarize(items, 3)
    answer = derive(items, start=T0, now=T0 + age, active=active)
    placed = totals(answer)
    untimed = answer["untimed"]
    assert placed["human_opens"] + untimed["human_opens"] == opens["human_unique"]
    assert placed["machine_opens"] + untimed["machine_opens"] == opens["machine"]
    assert placed["human_clicks"] + untimed["human_clicks"] == clicks["total"] - clicks["machine"]
    assert placed["machine_clicks"] + untimed["machine_clicks"] == clicks["machine"]
    size = answer["bucket_seconds"]
    assert all(parse_time(b["at"]) - parse_time(a["at"]) == size  # type: ignore[operator]
               for a, b in zip(answer["points"], answer["points"][1:], strict=False))


@settings(max_examples=60, deadline=None)
@given(st.lists(ledger_items(), max_size=12), st.integers(0, 6 * 86400), st.sampled_from([None, 3600, 86400]))
def test_the_rollup_counters_give_the_ledger_items_timeline(items: list[dict[str, Any]], age: int,
                                                            bucket: int | None) -> None:
    summed: dict[str, int] = {}
    for ledger_item in items:  # what the stats roll-up holds: the sum of every item's contribution
        for name, n in contribution(ledger_item).items():
            summed[name] = summed.get(name, 0) + n
    kept = {name: n for name, n in summed.items() if name[0] in "tu"}  # what RollupStore.timeline reads
    assert counted(kept) == events(items)
    campaign = CampaignItem(pk="a" * 32, sk="c" * 32, campaign_id="c" * 32, status="sent", send_requested_at=iso(T0))

    class Store:
        def timeline(self, account_id: str, campaign_id: str) -> dict[str, int]:
            assert (account_id, campaign_id) == ("a" * 32, "c" * 32)
            return kept

    answer = for_campaign(campaign, Store(), T0 + age, bucket)
    assert answer == {"campaign_id": "c" * 32, "status": "sent",
                      **place(events(items), start=T0, now=T0 + age, active=False,
                              bucket=bucket)}
