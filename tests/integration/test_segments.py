"""Segments, exclusions and resend over moto (issue 15).

One world for the module: a tenant with 2,000 contacts with attributes on a list, half of them on a
second list that got a prior campaign (sent through the real pipeline), 200 on a list to exclude;
the prior campaign's recipients opened and clicked through the real tracking handlers as people,
as Apple MPP, through Gmail's image proxy and as a link scanner; some unsubscribed or were
suppressed since. Every expectation is a brute-force Python filter over the data the world was
built from, independent of beacon.audience.
"""

from __future__ import annotations

import importlib.util
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from beacon import wiring
from beacon.accounts import access
from beacon.audience import contacts as contacts_mod
from beacon.audience import saved_segments, subscriptions, suppressions
from beacon.audience.segments import parse
from beacon.audience.targeting import Target
from beacon.campaigns import drafts, lifecycle
from beacon.db.accounts import AccountRepo, ListRepo
from beacon.db.audit_log import EventRepo
from beacon.db.campaigns import CampaignRepo
from beacon.db.contacts import ContactRepo
from beacon.db.models import ListItem
from beacon.db.segments import SegmentRepo
from beacon.db.suppressions import SuppressionRepo
from beacon.shared.clock import now_iso
from beacon.shared.ids import new_id, recipient_id
from beacon.shared.tokens import UNSUBSCRIBE
from beacon.tracking import opens_and_clicks as tracking
from beacon_local.moto_patches import fast_queries
from tests.integration.pipeline_world import BASE, DISPATCH_Q, HTML, World, make_world
from tests.integration.test_api import Client, assert_error

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 2000
BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0 Safari/537.36")
APPLE_MPP = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)", "17.58.63.2")
GMAIL_PROXY = ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
               "66.249.93.12")
SCANNER = ("python-requests/2.31", "203.0.113.9")
HOME = (BROWSER, "198.51.100.7")
# what each prior recipient did (by position), and whether it is human proof of reading / clicking
KINDS = ("human_open", "apple_mpp_only", "gmail_proxy_only", "mpp_then_human", "human_click_images_off",
         "scanner_click_and_mpp", "nothing", "nothing")
READ = {"human_open", "mpp_then_human", "human_click_images_off"}
CLICKED = {"human_click_images_off"}


@dataclass
class Person:
    email: str
    attributes: dict[str, Any]
    lists: set[str] = field(default_factory=set)
    kind: str | None = None  # what they did with the prior campaign; None: not a recipient of it
    status: str = "subscribed"


@dataclass
class Town:
    world: World
    people: list[Person]
    all_list: str
    prior_list: str
    excluded_list: str
    prior: str
    api: Client

    def by_email(self) -> dict[str, Person]:
        return {p.email: p for p in self.people}

    def sent_since(self, before: int) -> list[str]:
        return [e.to_address for e in self.world.ses.sent[before:]]


def _handler(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"fn_{name}_segments", ROOT / f"functions/{name}/handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _event(token: str, who: tuple[str, str]) -> dict[str, Any]:
    return {"version": "2.0", "pathParameters": {"token": token}, "headers": {"user-agent": who[0]},
            "requestContext": {"http": {"method": "GET", "sourceIp": who[1], "path": "/x"}}, "body": None,
            "isBase64Encoded": False}


def _attributes(rng: random.Random, i: int) -> dict[str, Any]:
    today = datetime.now(UTC)
    attrs: dict[str, Any] = {
        "first_name": f"P{i}",
        "plan": rng.choice(["free", "free", "pro", "Pro", "PRO", "team"]),
        "country": rng.choice(["LV", "lv", "LT", "EE", "DE", "FR"]),
        "city": rng.choice(["Rīga", "RĪGA", "Hauptstraße", "Tallinn", "Cafe\u0301 Town", "Vilnius"]),
    }
    age = rng.choice(["int", "text", "missing", "junk"])
    if age == "int":
        attrs["age"] = rng.randint(18, 70)
    elif age == "text":
        attrs["age"] = f" {rng.randint(18, 70)} "
    elif age == "junk":
        attrs["age"] = "n/a"
    if rng.random() < 0.8:
        attrs["joined"] = (today - timedelta(days=rng.randint(0, 400), hours=rng.randint(0, 23))).date().isoformat()
    vip = rng.choice([True, False, "true", "TRUE", None, "missing"])
    if vip != "missing":
        attrs["vip"] = vip
    if rng.random() < 0.5:
        attrs["score"] = round(rng.uniform(0, 10), 2)
    return attrs


def _new_list(world: World, name: str) -> str:
    list_id = new_id()
    ListRepo().create(ListItem(pk=f"A#{world.account_id}", sk=f"LIST#{list_id}", list_id=list_id, name=name,
                               created_at=now_iso(), contact_count=0))
    return list_id


def _put(world: World, list_id: str, people: list[Person]) -> None:
    for start in range(0, len(people), 1000):
        body = [{"email": p.email, "attributes": p.attributes} for p in people[start:start + 1000]]
        result = contacts_mod.upsert_json(ContactRepo(), ListRepo(), SuppressionRepo(), world.account_id, list_id,
                                          body)
        assert not result["skipped"], result["skipped"][:3]
    for p in people:
        p.lists.add(list_id)


def _engage(world: World, prior: str, people: list[Person]) -> None:
    """The prior campaign's recipients open and click through the real tracking handlers."""
    signer = wiring.signer()
    track_open, track_click = _handler("track_open"), _handler("track_click")
    issued = int(time.time())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tracking, "epoch", lambda: int(time.time()) + 3600)  # an hour after the send
        for p in people:
            rid = recipient_id(world.account_id, p.email)
            opened = signer.open_token(world.account_id, prior, rid, issued)
            clicked = signer.click_token(world.account_id, prior, rid, issued, 0, "https://shop.example.com/a")
            steps: list[tuple[Callable[..., Any], str, tuple[str, str]]] = {
                "human_open": [(track_open, opened, HOME)],
                "apple_mpp_only": [(track_open, opened, APPLE_MPP), (track_open, opened, APPLE_MPP)],
                "gmail_proxy_only": [(track_open, opened, GMAIL_PROXY)],
                "mpp_then_human": [(track_open, opened, APPLE_MPP), (track_open, opened, HOME)],
                "human_click_images_off": [(track_click, clicked, HOME)],
                "scanner_click_and_mpp": [(track_open, opened, APPLE_MPP), (track_click, clicked, SCANNER)],
            }.get(str(p.kind), [])
            for handler, token, who in steps:
                answer = handler(_event(token, who), None)
                assert answer["statusCode"] in (200, 302), answer


@pytest.fixture(scope="module")
def town(aws: Any) -> Iterator[Town]:
    with fast_queries():
        yield from _town(aws)


def _town(aws: Any) -> Iterator[Town]:
    aws.clean()
    world = make_world()
    rng = random.Random(15)
    people = [Person(f"p{i:04d}@{'shop.lv' if i % 9 == 0 else 'example.com'}", _attributes(rng, i))
              for i in range(PEOPLE)]
    all_list, prior_list, excluded_list = (_new_list(world, n) for n in ("All", "Prior", "Excluded"))
    _put(world, all_list, people)
    prior_people = people[::2]
    _put(world, prior_list, prior_people)
    _put(world, excluded_list, [p for i, p in enumerate(people) if i % 10 == 3])
    prior = world.campaign([prior_list])
    world.run_all()
    assert sorted(e.to_address for e in world.ses.sent) == sorted(p.email for p in prior_people)
    for n, p in enumerate(prior_people):
        p.kind = KINDS[n % len(KINDS)]
    _engage(world, prior, prior_people)
    # since then: 16 unsubscribed through the prior campaign's link, 8 suppressed by hand
    signer = wiring.signer()
    for p in prior_people[5:5 + 16 * 7:7]:
        token = signer.unsubscribe_token(world.account_id, prior, recipient_id(world.account_id, p.email), 0)
        subscriptions.unsubscribe(wiring.subscription_deps(), signer.verify(token, UNSUBSCRIBE), via="one-click")
        p.status = "unsubscribed"
    deps = suppressions.SuppressionDeps(SuppressionRepo(), ContactRepo(), EventRepo(30))
    for p in people[1:1 + 8 * 11:11]:
        suppressions.add(deps, world.account_id, p.email, "manual")
        p.status = "suppressed"
    key = access.create_key(AccountRepo(), world.account_id, "segments")["key"]
    spec = importlib.util.spec_from_file_location("fn_account_segments", ROOT / "functions/account/handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield Town(world, people, all_list, prior_list, excluded_list, prior, Client(module.handler, key))
    wiring.reset()


# ------------------------------------------------------------------------------ brute force
def _age(p: Person) -> float | None:
    value = p.attributes.get("age")
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str) and value.strip().isdigit():
        return float(value.strip())
    return None


def _joined_days_ago(p: Person) -> float | None:
    joined = p.attributes.get("joined")
    if joined is None:
        return None
    day = datetime.fromisoformat(joined).replace(tzinfo=UTC)
    return (datetime.now(UTC) - day).total_seconds() / 86400


def _vip(p: Person) -> bool:
    value = p.attributes.get("vip")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def rules_and_filters(prior: str) -> list[tuple[dict[str, Any], Callable[[Person], bool]]]:
    opened = f"campaign:{prior}"
    return [
        ({"match": "all", "rules": [{"field": "attributes.plan", "op": "eq", "value": "pro"},
                                    {"field": "attributes.country", "op": "in", "value": ["LV", "LT"]}]},
         lambda p: p.attributes["plan"].lower() == "pro" and p.attributes["country"].upper() in ("LV", "LT")),
        ({"match": "any", "rules": [{"field": "attributes.city", "op": "eq", "value": "rīga"},
                                    {"field": "attributes.city", "op": "contains", "value": "STRASSE"},
                                    {"field": "attributes.city", "op": "starts_with", "value": "café"}]},
         lambda p: p.attributes["city"] in ("Rīga", "RĪGA", "Hauptstraße", "Cafe\u0301 Town")),
        ({"rules": [{"field": "attributes.age", "op": "gt", "value": 40}]},
         lambda p: (_age(p) or 0) > 40),
        ({"rules": [{"field": "attributes.joined", "op": "within_days", "value": 90},
                    {"field": "attributes.vip", "op": "eq", "value": True}]},
         lambda p: (d := _joined_days_ago(p)) is not None and d <= 90 and _vip(p)),
        ({"rules": [{"field": "attributes.score", "op": "not_exists"},
                    {"field": "email", "op": "ends_with", "value": ".LV"}]},
         lambda p: "score" not in p.attributes and p.email.endswith(".lv")),
        ({"rules": [{"field": opened, "op": "opened"}, {"field": "attributes.plan", "op": "ne", "value": "free"}]},
         lambda p: p.kind in READ and p.attributes["plan"] != "free"),
        ({"rules": [{"field": opened, "op": "not_opened"}]},
         lambda p: p.kind is not None and p.kind not in READ),
        ({"match": "any", "rules": [{"field": opened, "op": "clicked"},
                                    {"field": "attributes.age", "op": "lt", "value": 25}]},
         lambda p: p.kind in CLICKED or ((a := _age(p)) is not None and a < 25)),
    ]


def expected(town: Town, keep: Callable[[Person], bool], lists: tuple[str, ...], excluded: tuple[str, ...] = ()
             ) -> set[str]:
    return {p.email for p in town.people
            if p.status == "subscribed" and p.lists & set(lists) and not p.lists & set(excluded) and keep(p)}


# ------------------------------------------------------------------------------ counts
def test_counts_equal_a_brute_force_filter(town: Town) -> None:
    targeting = wiring.targeting()
    lists, excluded = (town.all_list,), (town.excluded_list,)
    for definition, keep in rules_and_filters(town.prior):
        got = targeting.count(town.world.account_id, Target(lists, frozenset(excluded), parse(definition)))
        want = len(expected(town, keep, lists, excluded))
        assert got == {"count": want, "complete": True, "next_cursor": None}, definition
        assert want > 5, definition  # every segment picks some and leaves some
        assert want < len(expected(town, lambda p: True, lists, excluded)), definition


def test_count_through_the_api_in_steps(town: Town, monkeypatch: pytest.MonkeyPatch) -> None:
    definition, keep = rules_and_filters(town.prior)[5]  # opened by a person, not on the free plan
    body = {**definition, "list_ids": [town.prior_list], "exclude_list_ids": [town.excluded_list]}
    want = len(expected(town, keep, (town.prior_list,), (town.excluded_list,)))
    monkeypatch.setattr(saved_segments, "COUNT_BUDGET", 400)  # at most 400 contacts read per request
    status, first = town.api.post("/v1/segments/count", body)
    assert status == 200 and first["complete"] is False and first["next_cursor"], first
    answer, steps = first, 1
    while not answer["complete"]:
        status, answer = town.api.post("/v1/segments/count", {**body, "cursor": answer["next_cursor"]})
        assert status == 200, answer
        steps += 1
    assert (answer["count"], answer["next_cursor"], steps) == (want, None, 3)
    other = {**body, "rules": [{"field": "attributes.plan", "op": "eq", "value": "team"}]}
    assert_error(*town.api.post("/v1/segments/count", {**other, "cursor": first["next_cursor"]}), 422,
                 "invalid_segment", "cursor")


def test_count_without_rules_counts_the_subscribed(town: Town) -> None:
    status, body = town.api.post("/v1/segments/count", {"list_ids": [town.prior_list]})
    assert status == 200 and body["count"] == len(expected(town, lambda p: True, (town.prior_list,))), body


# ------------------------------------------------------------------------------ campaigns
def _campaign(town: Town, list_ids: list[str], **extra: Any) -> str:
    view = drafts.create(CampaignRepo(), ListRepo(), wiring.signer(), town.world.account_id, "Acme",
                         {"name": "Targeted", "subject": "Hi {{ contact.first_name }}",
                          "from_email": f"news@{town.world.sender_domain}", "list_ids": list_ids, "html": HTML,
                          "text": "Hi", **extra}, BASE, senders=wiring.sender_check())
    return str(view["id"])


def _send(town: Town, campaign_id: str) -> list[str]:
    before = len(town.world.ses.sent)
    lifecycle.start_send(CampaignRepo(), town.world.queue, DISPATCH_Q, town.world.account_id, campaign_id, BASE,
                         senders=wiring.sender_check())
    town.world.run_all()
    return town.sent_since(before)


def test_a_segmented_campaign_reaches_exactly_that_set_once_each(town: Town) -> None:
    definition, keep = rules_and_filters(town.prior)[5]
    segment = saved_segments.create(SegmentRepo(), CampaignRepo(), town.world.account_id,
                                    {"name": "Readers not on free", **definition})
    lists = [town.prior_list, town.all_list]  # overlapping lists: still one email per person
    campaign = _campaign(town, lists, segment_id=segment["id"], exclude_list_ids=[town.excluded_list])
    sent = _send(town, campaign)
    want = expected(town, keep, tuple(lists), (town.excluded_list,))
    assert len(want) > 50
    counts = Counter(sent)
    assert set(counts) == want and max(counts.values()) == 1
    stats = town.world.stats(campaign)
    assert (stats["recipients"], stats["sent"], stats["status"]) == (len(want), len(want), "sent")
    # the campaign records the definition it was sent with; a later edit changes only the segment
    status, changed = town.api.patch(f"/v1/segments/{segment['id']}",
                                     {"rules": [{"field": "attributes.plan", "op": "eq", "value": "team"}]})
    assert status == 200 and changed["rules"][0]["value"] == "team"
    status, view = town.api.get(f"/v1/campaigns/{campaign}")
    assert status == 200
    assert (view["segment_id"], view["exclude_list_ids"]) == (segment["id"], [town.excluded_list])
    assert view["segment"]["rules"] == definition["rules"] and view["segment"]["match"] == "all"
    assert view["segment"]["id"] == segment["id"]


def test_the_segment_is_read_when_the_campaign_is_dispatched(town: Town) -> None:
    status, segment = town.api.post("/v1/segments", {"name": "Latvia", "rules": [
        {"field": "attributes.country", "op": "eq", "value": "lv"}]})
    assert status == 201, segment
    campaign = _campaign(town, [town.prior_list], segment_id=segment["id"])
    assert_error(*town.api.delete(f"/v1/segments/{segment['id']}"), 409, "segment_in_use")
    rules = [{"field": "attributes.country", "op": "eq", "value": "ee"}]
    assert town.api.patch(f"/v1/segments/{segment['id']}", {"rules": rules})[0] == 200
    sent = _send(town, campaign)  # the draft is sent with the segment as it is now: Estonia
    assert set(sent) == expected(town, lambda p: p.attributes["country"] == "EE", (town.prior_list,))
    assert town.api.delete(f"/v1/segments/{segment['id']}")[0] == 204  # no draft uses it any more
    assert town.api.get(f"/v1/campaigns/{campaign}")[1]["segment"]["rules"] == rules


def test_a_segment_deleted_before_dispatch_cancels_its_campaign(town: Town) -> None:
    made = saved_segments.create(SegmentRepo(), CampaignRepo(), town.world.account_id, {
        "name": "Gone", "rules": [{"field": "attributes.plan", "op": "eq", "value": "team"}]})
    campaign = _campaign(town, [town.all_list], segment_id=made["id"])
    assert SegmentRepo().delete(town.world.account_id, made["id"])  # a race past the 409 of the API
    assert _send(town, campaign) == []
    item = CampaignRepo().get(town.world.account_id, campaign, consistent=True)
    assert item is not None and item.status == "cancelled" and "segment" in item.status_reason


# ------------------------------------------------------------------------------ resend
@pytest.mark.parametrize("audience", ["non_openers", "non_clickers"])
def test_resend_reaches_the_recipients_without_a_human_open(town: Town, audience: str) -> None:
    status, draft = town.api.post(f"/v1/campaigns/{town.prior}/resend",
                                  {"audience": audience, "subject": "In case you missed it"})
    assert status == 201, draft
    assert (draft["status"], draft["list_ids"], draft["subject"]) == ("draft", [], "In case you missed it")
    assert draft["resend_of"] == {"campaign_id": town.prior, "audience": audience}
    assert draft["html"] == CampaignRepo().get(town.world.account_id, town.prior).html  # type: ignore[union-attr]
    if audience == "non_openers":
        sent = _send(town, draft["id"])
    else:  # what dispatch queued (sending ~900 emails again through moto proves nothing more)
        lifecycle.start_send(CampaignRepo(), town.world.queue, DISPATCH_Q, town.world.account_id, draft["id"], BASE,
                             senders=wiring.sender_check())
        town.world.run_dispatch()
        sent = [r["email"] for body in town.world.send_messages() for r in body["recipients"]]
    engaged = READ if audience == "non_openers" else CLICKED
    want = {p.email for p in town.people if p.kind is not None and p.kind not in engaged and p.status == "subscribed"}
    counts = Counter(sent)
    assert set(counts) == want and max(counts.values()) == 1
    kinds = Counter(town.by_email()[e].kind for e in sent)
    assert kinds["apple_mpp_only"] > 0 and kinds["gmail_proxy_only"] > 0 and kinds["scanner_click_and_mpp"] > 0
    if audience == "non_openers":
        assert not kinds.keys() & READ  # human openers (and human clickers) are not resent
    else:
        assert kinds["human_open"] > 0 and not kinds.keys() & CLICKED
    gone = {p.email for p in town.people if p.kind is not None and p.status != "subscribed"}
    assert gone and not gone & set(sent)  # unsubscribed or suppressed since: not resent
    stats = town.world.stats(draft["id"])
    assert stats["recipients"] == len(want)
    assert stats["sent"] == (len(want) if audience == "non_openers" else 0)


def test_resend_narrowed_by_a_segment_and_an_exclusion(town: Town) -> None:
    status, draft = town.api.post(f"/v1/campaigns/{town.prior}/resend", {"audience": "non_openers"})
    assert status == 201 and draft["subject"] == "Hi {{ contact.first_name }}", draft
    segment = saved_segments.create(SegmentRepo(), CampaignRepo(), town.world.account_id, {
        "name": "Pro", "rules": [{"field": "attributes.plan", "op": "eq", "value": "pro"}]})
    status, patched = town.api.patch(f"/v1/campaigns/{draft['id']}",
                                     {"segment_id": segment["id"], "exclude_list_ids": [town.excluded_list]})
    assert status == 200, patched
    assert_error(*town.api.patch(f"/v1/campaigns/{draft['id']}", {"list_ids": [town.all_list]}), 422,
                 mentions="list_ids")
    sent = _send(town, draft["id"])
    want = {p.email for p in town.people if p.kind is not None and p.kind not in READ and p.status == "subscribed"
            and p.attributes["plan"].lower() == "pro" and town.excluded_list not in p.lists}
    assert sorted(sent) == sorted(want) and want


def test_resend_refuses_a_draft_and_a_bad_audience(town: Town) -> None:
    draft = _campaign(town, [town.all_list])
    assert_error(*town.api.post(f"/v1/campaigns/{draft}/resend", {"audience": "non_openers"}), 409, "not_sent")
    for bad in ({"audience": "everyone"}, {"audience": ""}, {}, {"audience": "non_openers", "subject": ""},
                {"audience": "non_openers", "subject": "a\r\nBcc: x@y.z"}, {"audience": "non_openers", "x": 1}):
        assert town.api.post(f"/v1/campaigns/{town.prior}/resend", bad)[0] == 422, bad
    assert_error(*town.api.post(f"/v1/campaigns/{'0' * 32}/resend", {"audience": "non_openers"}), 404)


def test_campaign_targeting_is_checked_at_save(town: Town) -> None:
    base = {"name": "X", "subject": "S", "from_email": f"news@{town.world.sender_domain}", "html": "<p>x</p>",
            "list_ids": [town.all_list]}
    for extra, mentions in (({"segment_id": "0" * 32}, "segment_id"), ({"segment_id": "nope"}, "segment_id"),
                            ({"exclude_list_ids": ["0" * 32]}, "exclude_list_ids"),
                            ({"exclude_list_ids": [town.all_list]}, "exclude_list_ids")):
        assert_error(*town.api.post("/v1/campaigns", {**base, **extra}), 422, mentions=mentions)
    status, made = town.api.post("/v1/campaigns", {**base, "exclude_list_ids": [town.excluded_list]})
    assert status == 201 and made["exclude_list_ids"] == [town.excluded_list] and made["segment"] is None
    status, segment = town.api.post("/v1/segments", {"name": "Any", "rules": [
        {"field": "email", "op": "contains", "value": "@"}]})
    status, patched = town.api.patch(f"/v1/campaigns/{made['id']}", {"segment_id": segment["id"]})
    assert status == 200 and patched["segment_id"] == segment["id"]
    status, cleared = town.api.patch(f"/v1/campaigns/{made['id']}", {"segment_id": None})
    assert status == 200 and cleared["segment_id"] is None and cleared["exclude_list_ids"] == [town.excluded_list]


# ------------------------------------------------------------------------------ segments API
def test_segments_crud_and_the_422_that_names_the_rule(town: Town) -> None:
    rules = [{"field": "attributes.Plan", "op": "eq", "value": "pro"},
             {"field": f"campaign:{town.prior}", "op": "opened"}]
    status, made = town.api.post("/v1/segments", {"name": " Pro readers ", "match": "all", "rules": rules})
    assert status == 201, made
    assert (made["name"], made["match"], made["rules"][0]["field"]) == ("Pro readers", "all", "attributes.plan")
    assert town.api.get(f"/v1/segments/{made['id']}") == (200, made)
    assert made["id"] in {s["id"] for s in town.api.get("/v1/segments")[1]["items"]}
    err = assert_error(*town.api.post("/v1/segments", {"name": "x", "rules": [
        rules[0], {"field": "attributes.age", "op": "gt", "value": "old"}]}), 422, "invalid_segment", "rules[1].value")
    assert err["details"] == [{"field": "rules[1].value", "rule": 1, "message": err["details"][0]["message"]}]
    err = assert_error(*town.api.post("/v1/segments", {"name": "x", "rules": [
        {"field": f"campaign:{'0' * 32}", "op": "opened"}]}), 422, "invalid_segment", "rules[0].field")
    assert "not found" in err["message"]
    assert_error(*town.api.patch(f"/v1/segments/{made['id']}", {"match": "most"}), 422, "invalid_segment", "match")
    assert town.api.get(f"/v1/segments/{made['id']}")[1]["match"] == "all"  # a refused change changes nothing
    status, changed = town.api.patch(f"/v1/segments/{made['id']}", {"match": "any", "name": "Either"})
    assert status == 200 and (changed["match"], changed["name"], changed["rules"]) == ("any", "Either", made["rules"])
    assert town.api.delete(f"/v1/segments/{made['id']}")[0] == 204
    assert_error(*town.api.get(f"/v1/segments/{made['id']}"), 404)
    assert_error(*town.api.delete(f"/v1/segments/{made['id']}"), 404)


@pytest.mark.parametrize("body", [
    {"name": "", "rules": [{"field": "email", "op": "contains", "value": "@"}]},
    {"name": "x", "rules": "email contains @"},
    {"name": "x", "rules": []},
    {"name": "x", "rules": [{"field": "email", "op": "contains", "value": "@"}], "owner": "someone"},
    {"name": "x\u0000", "rules": [{"field": "email", "op": "contains", "value": "@"}]},
    {"name": "x", "rules": [{"field": "attributes.a", "op": "in", "value": [[1]]}]},
    {"name": "x", "rules": [None]},
])
def test_hostile_segment_bodies_are_refused(town: Town, body: dict[str, Any]) -> None:
    before = len(town.api.get("/v1/segments")[1]["items"])
    assert town.api.post("/v1/segments", body)[0] == 422
    assert len(town.api.get("/v1/segments")[1]["items"]) == before


@pytest.mark.parametrize("change", [
    {"list_ids": []}, {"list_ids": ["0" * 32]}, {"list_ids": ["../x"]}, {"exclude_list_ids": ["0" * 32]},
    {"cursor": "garbage"}, {"rules": [{"field": "x", "op": "eq", "value": 1}]}, {"match": "none"},
])
def test_hostile_counts_are_refused(town: Town, change: dict[str, Any]) -> None:
    body = {"rules": [{"field": "email", "op": "contains", "value": "@"}], "list_ids": [town.all_list], **change}
    assert town.api.post("/v1/segments/count", body)[0] == 422


def test_another_tenants_segments_and_lists_are_not_found(town: Town) -> None:
    status, mine = town.api.post("/v1/segments", {"name": "Mine", "rules": [
        {"field": "email", "op": "contains", "value": "@"}]})
    assert status == 201
    other = make_world()  # a second tenant (make_world resets wiring; the town's data stays)
    key = access.create_key(AccountRepo(), other.account_id, "other")["key"]
    them = town.api.as_(key)
    assert_error(*them.get(f"/v1/segments/{mine['id']}"), 404)
    assert_error(*them.patch(f"/v1/segments/{mine['id']}", {"name": "taken"}), 404)
    assert_error(*them.delete(f"/v1/segments/{mine['id']}"), 404)
    assert mine["id"] not in {s["id"] for s in them.get("/v1/segments")[1]["items"]}
    assert_error(*them.post("/v1/segments/count", {"list_ids": [town.all_list]}), 422, mentions="not found")
    assert_error(*them.post(f"/v1/campaigns/{town.prior}/resend", {"audience": "non_openers"}), 404)
    assert town.api.get(f"/v1/segments/{mine['id']}")[1]["name"] == "Mine"
    assert re.fullmatch(r"[0-9a-f]{32}", mine["id"])
