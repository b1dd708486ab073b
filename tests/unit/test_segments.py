"""The segment rule language (beacon.audience.segments): every op, the type rules, missing
attributes, Unicode, match all/any, human engagement, and hostile segments (a SegmentProblem that
names the rule by index and field, never another exception)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.audience.segments import MAX_ENGAGEMENT_CAMPAIGNS, Contact, Segment, SegmentProblem, parse
from beacon.db.engagement import LINK_SHIFT

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
CAMPAIGN = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


def seg(*rules: dict[str, Any], match: str = "all") -> Segment:
    return parse({"match": match, "rules": list(rules)})


def rule(field: str, op: str, value: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"field": field, "op": op}
    if value is not None:
        out["value"] = value
    return out


def who(attributes: dict[str, Any] | None = None, email: str = "ann@example.com",
        subscribed_at: str | None = "2025-06-01T08:00:00.000Z") -> Contact:
    return Contact(email, attributes or {}, subscribed_at)


def hit(r: dict[str, Any], attributes: dict[str, Any] | None = None, **kw: Any) -> bool:
    return seg(r).matches(who(attributes, **kw), {}, NOW)


# ------------------------------------------------------------------------------ eq / ne / in
@pytest.mark.parametrize(("value", "attribute", "expected"), [
    ("pro", "pro", True), ("pro", "PRO", True), ("pro", " pro", False), ("pro", "professional", False),
    ("42", 42, True), ("4.5", 4.5, True), ("true", True, True), ("42", "42", True),
    (42, 42, True), (42, 42.0, True), (42, "42", True), (42, " 42 ", True), (42, "42.0", True),
    (42, "4.2e1", True), (42, "forty-two", False), (42, True, False), (42, "1_000", False), (42, "0x2a", False),
    (1000, "1_000", False), (42, "nan", False), (42, "inf", False),
    (True, True, True), (True, "TRUE", True), (True, "true ", True), (True, 1, False), (False, False, True),
    (False, True, False), (True, "yes", False), ("abc", None, False),
])
def test_eq_compares_by_the_values_type(value: Any, attribute: Any, expected: bool) -> None:
    assert hit(rule("attributes.a", "eq", value), {"a": attribute}) is expected
    assert hit(rule("attributes.a", "ne", value), {"a": attribute}) is (not expected)


def test_a_missing_attribute_matches_only_ne_and_not_exists() -> None:
    every = [rule("attributes.a", "eq", "x"), rule("attributes.a", "eq", 1), rule("attributes.a", "eq", True),
             rule("attributes.a", "in", ["x", 1]), rule("attributes.a", "contains", "x"),
             rule("attributes.a", "starts_with", "x"), rule("attributes.a", "ends_with", "x"),
             rule("attributes.a", "gt", 1), rule("attributes.a", "lt", 1), rule("attributes.a", "gt", "2020-01-01"),
             rule("attributes.a", "lt", "2030-01-01T00:00:00Z"), rule("attributes.a", "exists"),
             rule("attributes.a", "within_days", 10_000), rule("attributes.a", "before_days", 0)]
    for r in every:
        assert hit(r, {}) is False, r
        assert hit(r, {"a": None}) is False, r
    assert hit(rule("attributes.a", "ne", "x"), {}) is True
    assert hit(rule("attributes.a", "not_exists"), {}) is True


def test_in_matches_any_value_each_by_its_type() -> None:
    r = rule("attributes.country", "in", ["LV", "lt", 7, True])
    assert [hit(r, {"country": c}) for c in ("lv", "LT", "EE", "7", 7.0, "true", False)] == [
        True, True, False, True, True, True, False]


# ------------------------------------------------------------------------------ text ops and Unicode
@pytest.mark.parametrize(("op", "value", "attribute", "expected"), [
    ("contains", "strasse", "Hauptstraße 5", True),
    ("contains", "STRASSE", "hauptstrasse", True),
    ("contains", "é", "Cafe\u0301 Noir", True),  # decomposed é in the data, composed in the rule
    ("contains", "e\u0301", "Café", True),
    ("starts_with", "pro", "\uff30\uff32\uff2f plan", True),  # fullwidth PRO is NFKC-equal to ASCII
    ("ends_with", "RĪGA", "Rīga", True),
    ("contains", "riga", "Rīga", False),  # ī is not i
    ("starts_with", "\u03c3", "\u03a3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2", True),  # final/medial sigma fold alike
    ("ends_with", "\u03bf\u03c2", "\u03a3\u038a\u03a3\u03a5\u03a6\u039f\u03a3", True),
    ("contains", "42", 1420, True), ("starts_with", "tr", True, True), ("ends_with", ".5", 2.5, True),
    ("contains", "x", None, False), ("contains", "a", "", False),
])
def test_text_ops_fold_case_and_unicode(op: str, value: str, attribute: Any, expected: bool) -> None:
    assert hit(rule("attributes.city", op, value), {"city": attribute}) is expected


def test_eq_text_folds_too() -> None:
    assert hit(rule("attributes.street", "eq", "STRASSE"), {"street": "straße"})
    assert hit(rule("attributes.name", "eq", "Zoë"), {"name": "ZOE\u0308"})


def test_email_ops() -> None:
    assert hit(rule("email", "ends_with", "@EXAMPLE.com"))
    assert hit(rule("email", "eq", "Ann@Example.com"))
    assert hit(rule("email", "in", ["bob@example.com", "ann@example.com"]))
    assert not hit(rule("email", "ne", "ann@example.com"))
    assert hit(rule("email", "contains", "nn@"))
    assert not hit(rule("email", "starts_with", "bob"))


# ------------------------------------------------------------------------------ order, dates, days
@pytest.mark.parametrize(("op", "value", "attribute", "expected"), [
    ("gt", 30, 31, True), ("gt", 30, 30, False), ("gt", 30, "30.5", True), ("lt", 30, "29", True),
    ("lt", 30, "n/a", False), ("gt", 30, True, False), ("lt", -1.5, -2, True), ("gt", 30, [31], False),
    ("gt", "2025-05-01", "2025-05-02", True), ("gt", "2025-05-01", "2025-05-01T23:59:59Z", False),
    ("gt", "2025-05-01", "2025-05-02T00:30:00+02:00", False),  # that is May 1 in UTC
    ("lt", "2025-05-01", "2025-04-30T23:59:59Z", True), ("lt", "2025-05-01", "2025-05-01", False),
    ("gt", "2025-05-01T12:00:00Z", "2025-05-01T12:00:01Z", True),
    ("gt", "2025-05-01T12:00:00Z", "2025-05-01T12:00:00", False),  # a time without a zone is UTC
    ("lt", "2025-05-01T12:00:00+02:00", "2025-05-01T10:30:00Z", False),
    ("lt", "2025-05-01T12:00:00+02:00", "2025-05-01T09:59:00Z", True),
    ("gt", "2025-05-01", "yesterday", False), ("gt", "2025-05-01", "2025-13-01", False), ("gt", "2025-05-01", 20250502,
                                                                                      False),
])
def test_gt_and_lt(op: str, value: Any, attribute: Any, expected: bool) -> None:
    assert hit(rule("attributes.x", op, value), {"x": attribute}) is expected


@pytest.mark.parametrize(("op", "days", "ago", "expected"), [
    ("within_days", 7, timedelta(days=6), True), ("within_days", 7, timedelta(days=7, seconds=1), False),
    ("within_days", 7, timedelta(days=-1), False),  # in the future: not within the last 7 days
    ("within_days", 0, timedelta(0), True),
    ("before_days", 30, timedelta(days=31), True), ("before_days", 30, timedelta(days=29), False),
    ("before_days", 0, timedelta(days=-2), False),
])
def test_within_and_before_days(op: str, days: int, ago: timedelta, expected: bool) -> None:
    when = (NOW - ago).isoformat()
    assert hit(rule("attributes.joined", op, days), {"joined": when}) is expected
    assert hit(rule("subscribed_at", op, days), subscribed_at=when) is expected


def test_subscribed_at_compares_dates() -> None:
    assert hit(rule("subscribed_at", "gt", "2025-05-31"))
    assert not hit(rule("subscribed_at", "lt", "2025-06-01"))
    assert hit(rule("subscribed_at", "lt", "2025-06-02"))
    assert not hit(rule("subscribed_at", "gt", "2025-01-01"), subscribed_at=None)


@pytest.mark.parametrize(("attribute", "expected"), [
    ("x", True), (0, True), (False, True), (0.0, True), ("", False), ("   ", False), (None, False)])
def test_exists(attribute: Any, expected: bool) -> None:
    assert hit(rule("attributes.a", "exists"), {"a": attribute}) is expected
    assert hit(rule("attributes.a", "not_exists"), {"a": attribute}) is (not expected)


# ------------------------------------------------------------------------------ match all / any
def test_match_all_and_any() -> None:
    rules = (rule("attributes.plan", "eq", "pro"), rule("attributes.country", "eq", "LV"))
    people = [{"plan": "pro", "country": "LV"}, {"plan": "pro", "country": "EE"}, {"plan": "free", "country": "LV"},
              {}]
    assert [seg(*rules).matches(who(p), {}, NOW) for p in people] == [True, False, False, False]
    assert [seg(*rules, match="any").matches(who(p), {}, NOW) for p in people] == [True, True, True, False]


def test_match_defaults_to_all() -> None:
    assert parse({"rules": [rule("email", "contains", "@")]}).match == "all"


# ------------------------------------------------------------------------------ engagement
SENT_AT = "2025-06-10T09:00:00.000Z"
SENT_EPOCH = int(datetime(2025, 6, 10, 9, tzinfo=UTC).timestamp())


def ledger(status: str = "sent", **numbers: int | list[int]) -> dict[str, Any]:
    item: dict[str, Any] = {"sk": {"S": "r"}, "status": {"S": status}, "sent_at": {"S": SENT_AT}}
    for name, value in numbers.items():
        if name == "human_click_log":
            item[name] = {"L": [{"N": str(v)} for v in value]}  # type: ignore[union-attr]
        elif name == "honeypot_hits":
            item[name] = {"NS": [str(v) for v in value]}  # type: ignore[union-attr]
        else:
            item[name] = {"N": str(value)}
    return item


def human_click(after_seconds: int, link: int = 0) -> int:
    return (SENT_EPOCH + after_seconds) * LINK_SHIFT + link


PEOPLE: dict[str, dict[str, Any] | None] = {
    "never_sent": None,
    "failed": ledger("failed"),
    "suppressed": ledger("suppressed"),
    "no_engagement": ledger(),
    "human_open": ledger(opens=1, human_opens=1, first_human_open=SENT_EPOCH + 600),
    "apple_mpp_only": ledger(opens=3, machine_opens=3),
    "gmail_proxy_only": ledger(opens=1, proxied_opens=1, first_human_open=SENT_EPOCH + 50),
    "mpp_then_human": ledger(opens=2, machine_opens=1, human_opens=1, first_human_open=SENT_EPOCH + 900),
    "human_click_images_off": ledger(clicks=1, link_0=1, human_click_log=[human_click(3600)]),
    "scanner_click_only": ledger(clicks=2, link_0=2, machine_clicks=2),
    "click_inside_scan_window": ledger(clicks=1, link_0=1, human_click_log=[human_click(5)]),
    "click_next_to_honeypot": ledger(clicks=1, link_0=1, human_click_log=[human_click(3600)],
                                     honeypot_hits=[SENT_EPOCH + 3590]),
    "clicks_past_the_log_cap": ledger(clicks=150, link_0=150, human_clicks_unlogged=50,
                                      human_click_log=[human_click(5)]),
}
OPENED = {"human_open", "mpp_then_human", "human_click_images_off", "clicks_past_the_log_cap"}
CLICKED = {"human_click_images_off", "clicks_past_the_log_cap"}
RECEIVED = {k for k, v in PEOPLE.items() if v is not None and v["status"]["S"] == "sent"}


@pytest.mark.parametrize(("op", "expected"), [
    ("opened", OPENED), ("not_opened", RECEIVED - OPENED), ("clicked", CLICKED), ("not_clicked", RECEIVED - CLICKED)])
def test_engagement_is_human_only_and_needs_a_received_email(op: str, expected: set[str]) -> None:
    s = seg(rule(f"campaign:{CAMPAIGN}", op))
    got = {name for name, item in PEOPLE.items() if s.matches(who(), {CAMPAIGN: item}, NOW)}
    assert got == expected


def test_engagement_of_two_campaigns() -> None:
    s = seg(rule(f"campaign:{CAMPAIGN}", "opened"), rule(f"campaign:{OTHER}", "not_clicked"))
    assert s.campaigns() == [CAMPAIGN, OTHER]
    assert s.matches(who(), {CAMPAIGN: PEOPLE["human_open"], OTHER: PEOPLE["scanner_click_only"]}, NOW)
    assert not s.matches(who(), {CAMPAIGN: PEOPLE["human_open"], OTHER: None}, NOW)  # OTHER never sent to them
    assert not s.matches(who(), {CAMPAIGN: PEOPLE["apple_mpp_only"], OTHER: PEOPLE["no_engagement"]}, NOW)


def test_decide_needs_engagement_only_when_the_other_rules_do_not_settle_it() -> None:
    both = (rule("attributes.plan", "eq", "pro"), rule(f"campaign:{CAMPAIGN}", "opened"))
    assert seg(*both).decide(who({"plan": "free"}), NOW) is False
    assert seg(*both).decide(who({"plan": "pro"}), NOW) is None
    assert seg(*both, match="any").decide(who({"plan": "pro"}), NOW) is True
    assert seg(*both, match="any").decide(who({"plan": "free"}), NOW) is None
    assert seg(both[0]).decide(who({"plan": "free"}), NOW) is False
    assert seg(both[0]).decide(who({"plan": "pro"}), NOW) is True


# ------------------------------------------------------------------------------ stored form
def test_the_stored_definition_parses_to_itself() -> None:
    body = {"match": "any", "rules": [
        rule("attributes.First Name", "starts_with", "An"), rule("attributes.age", "gt", 30),
        rule("attributes.vip", "eq", True), rule("attributes.tags", "in", ["a", 1]), rule("attributes.x", "exists"),
        rule("subscribed_at", "within_days", 30), rule(f"campaign:{CAMPAIGN}", "not_opened")]}
    definition = parse(body).definition()
    assert definition["rules"][0]["field"] == "attributes.first_name"  # names as the import stores them
    assert parse(definition).definition() == definition
    assert json.loads(json.dumps(definition)) == definition


# ------------------------------------------------------------------------------ hostile segments
@pytest.mark.parametrize(("body", "where", "index"), [
    (None, "segment", None), ([], "segment", None), ("all", "segment", None),
    ({"match": "some", "rules": [rule("email", "eq", "a")]}, "match", None),
    ({"match": ["all"], "rules": [rule("email", "eq", "a")]}, "match", None),
    ({"rules": []}, "rules", None), ({"rules": {}}, "rules", None), ({}, "rules", None),
    ({"rules": [rule("email", "contains", "@")] * 51}, "rules", None),
    ({"rules": ["email eq a"]}, "rules[0]", 0),
    ({"rules": [rule("email", "eq", "a"), {"field": "email", "op": "eq", "value": "a", "extra": 1}]},
     "rules[1].extra", 1),
    ({"rules": [{"op": "eq", "value": 1}]}, "rules[0].field", 0),
    ({"rules": [rule(7, "eq", 1)]}, "rules[0].field", 0),  # type: ignore[arg-type]
    ({"rules": [rule("name", "eq", "x")]}, "rules[0].field", 0),
    ({"rules": [rule("attributes.", "eq", "x")]}, "rules[0].field", 0),
    ({"rules": [rule("attributes.email", "eq", "x")]}, "rules[0].field", 0),
    ({"rules": [rule("attributes.a.b", "eq", "x")]}, "rules[0].field", 0),
    ({"rules": [rule("attributes." + "a" * 65, "eq", "x")]}, "rules[0].field", 0),
    ({"rules": [rule("attributes.__class__\x00", "eq", "x")]}, "rules[0].field", 0),
    ({"rules": [rule("campaign:nope", "opened")]}, "rules[0].field", 0),
    ({"rules": [rule("campaign:" + CAMPAIGN.upper(), "opened")]}, "rules[0].field", 0),
    ({"rules": [rule("x" * 5000, "eq", 1)]}, "rules[0].field", 0),
    ({"rules": [rule("email", "like", "a")]}, "rules[0].op", 0),
    ({"rules": [rule("email", None, "a")]}, "rules[0].op", 0),  # type: ignore[arg-type]
    ({"rules": [rule("email", "gt", "a")]}, "rules[0].op", 0),
    ({"rules": [rule("email", "exists")]}, "rules[0].op", 0),
    ({"rules": [rule("subscribed_at", "eq", "2025-01-01")]}, "rules[0].op", 0),
    ({"rules": [rule("attributes.a", "opened")]}, "rules[0].op", 0),
    ({"rules": [rule(f"campaign:{CAMPAIGN}", "eq", "x")]}, "rules[0].op", 0),
    ({"rules": [rule(f"campaign:{CAMPAIGN}", "opened", True)]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "exists", "yes")]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "eq")]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "eq", {"$ne": 1})]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "eq", [1])]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "eq", math.inf)]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "eq", math.nan)]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "eq", "x" * 1001)]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "eq", "a\x00b")]}, "rules[0].value", 0),
    ({"rules": [rule("email", "eq", 5)]}, "rules[0].value", 0),
    ({"rules": [rule("email", "in", ["a", True])]}, "rules[0].value[1]", 0),
    ({"rules": [rule("attributes.a", "in", [])]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "in", "abc")]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "in", list(range(101)))]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "in", [1, [2]])]}, "rules[0].value[1]", 0),
    ({"rules": [rule("attributes.a", "contains", "")]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "contains", 5)]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "gt", "abc")]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "gt", True)]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "lt", "2025-02-30")]}, "rules[0].value", 0),
    ({"rules": [rule("subscribed_at", "gt", 5)]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "within_days", -1)]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "within_days", 1.5)]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "within_days", True)]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "before_days", 10**9)]}, "rules[0].value", 0),
    ({"rules": [rule("attributes.a", "before_days", "7")]}, "rules[0].value", 0),
])
def test_a_bad_segment_names_the_rule_and_field(body: Any, where: str, index: int | None) -> None:
    with pytest.raises(SegmentProblem) as caught:
        parse(body)
    assert caught.value.where == where
    assert caught.value.rule == index
    assert str(caught.value).startswith(f"{where}: ")
    detail = caught.value.details()[0]
    assert detail["field"] == where and detail.get("rule") == index and detail["message"]


def test_at_most_five_campaigns_per_segment() -> None:
    ids = [f"{i:032x}" for i in range(MAX_ENGAGEMENT_CAMPAIGNS + 1)]
    parse({"rules": [rule(f"campaign:{c}", "opened") for c in ids[:-1]]})
    with pytest.raises(SegmentProblem) as caught:
        parse({"rules": [rule(f"campaign:{c}", "opened") for c in ids]})
    assert caught.value.where == "rules"


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
RULE = st.fixed_dictionaries({
    "field": st.sampled_from(["email", "subscribed_at", "attributes.a", "attributes.Plan", f"campaign:{CAMPAIGN}"])
    | st.text(max_size=20),
    "op": st.sampled_from(["eq", "ne", "in", "contains", "starts_with", "ends_with", "gt", "lt", "exists",
                           "not_exists", "within_days", "before_days", "opened", "clicked"]) | JSON,
}, optional={"value": JSON})
ATTRIBUTES = st.dictionaries(st.sampled_from(["a", "plan"]),
                             st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20))


@settings(max_examples=400, deadline=None)
@given(body=st.fixed_dictionaries({"match": st.sampled_from(["all", "any"]) | JSON,
                                   "rules": st.lists(RULE, min_size=1, max_size=4) | JSON}),
       attributes=ATTRIBUTES, email=st.text(max_size=30))
def test_any_input_is_a_segment_or_a_segment_problem(body: Any, attributes: dict[str, Any], email: str) -> None:
    try:
        segment = parse(body)
    except SegmentProblem as exc:
        assert exc.where and exc.message
        return
    contact = Contact(email, attributes, "2025-06-01T00:00:00Z")
    result = segment.matches(contact, {CAMPAIGN: PEOPLE["human_open"]}, NOW)
    assert isinstance(result, bool)
    assert parse(segment.definition()).matches(contact, {CAMPAIGN: PEOPLE["human_open"]}, NOW) is result
