"""Segments: the rule language. Parse and validate a segment (a 422 names the bad rule by index and
field), then decide whether one contact matches. Pure: no AWS here (the reads are in
beacon.audience.targeting).

A segment is `{match: "all" | "any", rules: [{field, op, value}]}`.

Fields
  email                 the contact's address (text)
  attributes.<name>     a contact attribute (text, number, boolean; a date is text in ISO 8601)
  subscribed_at         when the contact was added (a date and time)
  campaign:<id>         engagement with one campaign of the tenant: ops opened, not_opened,
                        clicked, not_clicked and no value

Ops and their values
  eq, ne                text, number or boolean (ne is exactly "not eq": a missing attribute is ne)
  in                    a list of 1-100 such values: eq any of them
  contains, starts_with, ends_with   non-empty text
  gt, lt                a number, or a date (YYYY-MM-DD) or date and time (ISO 8601)
  exists, not_exists    no value: an attribute that is absent, null or blank text does not exist
  within_days, before_days   a whole number of days N: within the last N days (now - N days <= t
                        <= now), or longer ago than that (t < now - N days)
  opened, not_opened, clicked, not_clicked   engagement (below)

Types decide, never guesses: the rule's value says how to compare.
  - A number value compares numbers: a number attribute, or text that reads as one (" 42 ", "4.50",
    "1e3"); anything else (text, boolean, missing) does not match eq/gt/lt.
  - A text value compares text: Unicode-normalised (NFKC) and case-folded, so "STRASSE" eq
    "straße" and "É" written composed or decomposed are the same; a number or boolean attribute
    is compared as its JSON text (42, 4.5, true).
  - A boolean value matches a boolean attribute, or the text "true" / "false" in any case.
  - A date value compares dates: the attribute must be an ISO 8601 date or date and time (a time
    without a zone is UTC). Against a date-only value the attribute's UTC day is compared (gt
    "2024-05-01" is from May 2 on); against a date and time, the instants.
  - A missing (or null) attribute matches only ne and not_exists.

Engagement is human engagement only (beacon.tracking.engagement_stats.read_by_a_person):
`opened` means the campaign was sent to the contact and a person opened it (a human open, or a
human click); an Apple MPP open, a scanner, a prefetch or a webmail image proxy alone is not an open.
`not_opened` means it was sent to them and nobody human opened it. A contact the campaign was never
sent to matches neither (likewise clicked / not_clicked).
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any, Protocol

from beacon.audience.attributes import attribute_name, is_attribute_name
from beacon.shared.ids import is_id
from beacon.tracking.engagement_stats import clicked_by_a_person, read_by_a_person, received

MATCHES = ("all", "any")
TEXT_OPS = ("contains", "starts_with", "ends_with")
ORDER_OPS = ("gt", "lt")
DAY_OPS = ("within_days", "before_days")
PRESENCE_OPS = ("exists", "not_exists")
VALUE_OPS = ("eq", "ne", "in", *TEXT_OPS, *ORDER_OPS, *PRESENCE_OPS, *DAY_OPS)
ENGAGEMENT_OPS = ("opened", "not_opened", "clicked", "not_clicked")
FIELD_OPS: dict[str, tuple[str, ...]] = {
    "email": ("eq", "ne", "in", *TEXT_OPS),
    "subscribed_at": (*ORDER_OPS, *DAY_OPS),
    "attributes": VALUE_OPS,
    "campaign": ENGAGEMENT_OPS,
}
MAX_RULES = 50
MAX_ENGAGEMENT_CAMPAIGNS = 5  # each one costs a ledger read per page of contacts
MAX_IN_VALUES = 100
MAX_TEXT = 1000
MAX_DAYS = 36_500
MAX_NAME = 200
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Scalar = str | float | bool


class SegmentProblem(ValueError):
    """A segment that cannot be used: `where` is the JSON path of the problem (rules[2].value)."""

    def __init__(self, where: str, message: str, rule: int | None = None) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message
        self.rule = rule

    def details(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {"field": self.where, "message": self.message}
        if self.rule is not None:
            entry["rule"] = self.rule
        return [entry]


# ------------------------------------------------------------------------------ values
def fold(text: str) -> str:
    """Text as compared: NFKC-normalised and case-folded (then normalised again, as folding can
    leave a sequence NFKC would change)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def as_number(value: Any) -> float | None:
    """A finite number from a number or from text that reads as one; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and len(value) <= 100 and _NUMBER.match(value.strip()):
        number = float(value.strip())
    else:
        return None
    return number if math.isfinite(number) else None


def as_text(value: Any) -> str | None:
    """An attribute as text (a number or boolean as its JSON text); None when missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


def as_instant(value: Any) -> datetime | None:
    """An ISO 8601 date (midnight UTC) or date and time (UTC if it names no zone); None otherwise."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    try:
        if _DATE.match(text):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


# ------------------------------------------------------------------------------ rules
class Facts(Protocol):
    """What a rule can see of one contact (beacon.db.contacts.ContactRow is one)."""

    @property
    def email(self) -> str: ...

    @property
    def attributes(self) -> Mapping[str, Any]: ...

    @property
    def subscribed_at(self) -> str | None: ...


@dataclass(frozen=True)
class Contact:
    """Facts given by hand (tests, previews)."""

    email: str
    attributes: Mapping[str, Any]
    subscribed_at: str | None = None  # ISO 8601


Engagement = Mapping[str, dict[str, Any] | None]  # campaign id -> the contact's ledger item (raw), if any
Test = Callable[[Facts, datetime], bool]


@dataclass(frozen=True)
class Rule:
    field: str  # as stored: email | subscribed_at | attributes.<name> | campaign:<id>
    op: str
    value: Any  # as stored (JSON)
    kind: str  # email | subscribed_at | attributes | campaign
    name: str  # the attribute name or the campaign id ("" otherwise)
    test: Test | None = dataclasses.field(default=None, compare=False, repr=False)  # value rules

    def stored(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "op": self.op}
        if self.value is not None:
            out["value"] = self.value
        return out

    def engaged(self, engagement: Engagement) -> bool:
        item = engagement.get(self.name)
        if not received(item):
            return False
        if self.op in ("opened", "not_opened"):
            return read_by_a_person(item) == (self.op == "opened")
        return clicked_by_a_person(item) == (self.op == "clicked")


@dataclass(frozen=True)
class Segment:
    match: str
    rules: tuple[Rule, ...]

    def definition(self) -> dict[str, Any]:
        """The stored form (what a campaign records as the definition it was sent with)."""
        return {"match": self.match, "rules": [r.stored() for r in self.rules]}

    def campaigns(self) -> list[str]:
        """The campaigns whose engagement the segment reads, in rule order."""
        return list(dict.fromkeys(r.name for r in self.rules if r.kind == "campaign"))

    @cached_property
    def _tests(self) -> tuple[Test, ...]:
        return tuple(r.test for r in self.rules if r.test is not None)

    @cached_property
    def _engagement_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.test is None)

    def decide(self, contact: Facts, now: datetime) -> bool | None:
        """The answer from the contact alone, or None when it needs the engagement rules."""
        if self.match == "all":
            if not all(test(contact, now) for test in self._tests):
                return False
            return None if self._engagement_rules else True
        if any(test(contact, now) for test in self._tests):
            return True
        return None if self._engagement_rules else False

    def matches(self, contact: Facts, engagement: Engagement, now: datetime) -> bool:
        decided = self.decide(contact, now)
        if decided is not None:
            return decided
        if self.match == "all":
            return all(r.engaged(engagement) for r in self._engagement_rules)
        return any(r.engaged(engagement) for r in self._engagement_rules)


# ------------------------------------------------------------------------------ parsing
def parse(body: Any) -> Segment:
    """A segment from `{match, rules}` (JSON), or SegmentProblem naming what is wrong."""
    if not isinstance(body, Mapping):
        raise SegmentProblem("segment", "must be an object with match and rules")
    match = body.get("match", "all")
    if match not in MATCHES:
        raise SegmentProblem("match", 'must be "all" or "any"')
    rules = body.get("rules")
    if not isinstance(rules, list) or not 1 <= len(rules) <= MAX_RULES:
        raise SegmentProblem("rules", f"must list 1 to {MAX_RULES} rules")
    parsed = tuple(_rule(i, raw) for i, raw in enumerate(rules))
    campaigns = {r.name for r in parsed if r.kind == "campaign"}
    if len(campaigns) > MAX_ENGAGEMENT_CAMPAIGNS:
        raise SegmentProblem("rules", f"may read the engagement of at most {MAX_ENGAGEMENT_CAMPAIGNS} campaigns")
    return Segment(str(match), parsed)


def parse_name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_NAME:
        raise SegmentProblem("name", f"must be 1 to {MAX_NAME} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise SegmentProblem("name", "must not contain control characters")
    return raw.strip()


def _rule(index: int, raw: Any) -> Rule:
    at = f"rules[{index}]"

    def problem(part: str, message: str) -> SegmentProblem:
        return SegmentProblem(f"{at}.{part}" if part else at, message, index)

    if not isinstance(raw, Mapping):
        raise problem("", "must be an object {field, op, value}")
    unknown = sorted(str(k) for k in raw if k not in ("field", "op", "value"))
    if unknown:
        raise problem(unknown[0][:40], "is not part of a rule (field, op, value)")
    field_name = raw.get("field")
    if not isinstance(field_name, str) or not field_name or len(field_name) > 100:
        raise problem("field", "must be email, subscribed_at, attributes.<name> or campaign:<id>")
    kind, name, stored_field = _field(field_name, problem)
    op = raw.get("op")
    if not isinstance(op, str) or op not in VALUE_OPS + ENGAGEMENT_OPS:
        raise problem("op", f"must be one of {', '.join(VALUE_OPS + ENGAGEMENT_OPS)}")
    if op not in FIELD_OPS[kind]:
        raise problem("op", f"{op} does not apply to {kind if kind != 'attributes' else 'an attribute'}; "
                            f"use {', '.join(FIELD_OPS[kind])}")
    value = raw.get("value")
    if kind == "campaign" or op in PRESENCE_OPS:
        if value is not None:
            raise problem("value", f"{op} takes no value")
        test = None if kind == "campaign" else _presence(name, op == "exists")
        return Rule(stored_field, op, None, kind, name, test)
    get = _getter(kind, name)
    test, stored = _value_test(op, value, kind, get, problem)
    return Rule(stored_field, op, stored, kind, name, test)


def _field(raw: str, problem: Callable[[str, str], SegmentProblem]) -> tuple[str, str, str]:
    if raw in ("email", "subscribed_at"):
        return raw, "", raw
    if raw.startswith("attributes."):
        name = attribute_name(raw.removeprefix("attributes."))
        if not is_attribute_name(name):
            raise problem("field", "an attribute name is letters, digits and _ (at most 64), not email")
        return "attributes", name, f"attributes.{name}"
    if raw.startswith("campaign:"):
        campaign_id = raw.removeprefix("campaign:")
        if not is_id(campaign_id):
            raise problem("field", "campaign:<id> needs the id of one of this account's campaigns")
        return "campaign", campaign_id, raw
    raise problem("field", "must be email, subscribed_at, attributes.<name> or campaign:<id>")


def _getter(kind: str, name: str) -> Callable[[Facts], Any]:
    if kind == "email":
        return lambda c: c.email
    if kind == "subscribed_at":
        return lambda c: c.subscribed_at
    return lambda c: c.attributes.get(name)


def _presence(name: str, wanted: bool) -> Test:
    def test(contact: Facts, _now: datetime) -> bool:
        value = contact.attributes.get(name)
        present = value is not None and not (isinstance(value, str) and not value.strip())
        return present == wanted

    return test


def _scalar(value: Any, kind: str, where: str, problem: Callable[[str, str], SegmentProblem]) -> Scalar:
    if isinstance(value, bool):
        if kind == "email":
            raise problem(where, "an email compares with text")
        return value
    if isinstance(value, int | float):
        if kind == "email":
            raise problem(where, "an email compares with text")
        if not math.isfinite(value) or abs(value) > 1e300:
            raise problem(where, "must be a finite number")
        return float(value)
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise problem(where, f"text is at most {MAX_TEXT} characters")
        if "\x00" in value:
            raise problem(where, "must not contain a NUL character")
        return value
    raise problem(where, "must be text, a number or a boolean")


def _equals(expected: Scalar) -> Callable[[Any], bool]:
    """eq against one value, by the value's type (see the module's type rules)."""
    if isinstance(expected, bool):
        wanted = "true" if expected else "false"

        def eq_bool(actual: Any) -> bool:
            if isinstance(actual, bool):
                return actual is expected
            return isinstance(actual, str) and fold(actual.strip()) == wanted

        return eq_bool
    if isinstance(expected, float):
        def eq_number(actual: Any) -> bool:
            number = as_number(actual)
            return number is not None and number == expected

        return eq_number
    folded = fold(expected)

    def eq_text(actual: Any) -> bool:
        text = as_text(actual)
        return text is not None and fold(text) == folded

    return eq_text


def _value_test(op: str, value: Any, kind: str, get: Callable[[Facts], Any],
                problem: Callable[[str, str], SegmentProblem]) -> tuple[Test, Any]:
    """The predicate of a value rule and the value as stored."""
    if op in ("eq", "ne"):
        if value is None:
            raise problem("value", f"{op} needs a value (text, number or boolean); for a missing attribute "
                                   "use not_exists")
        equals = _equals(_scalar(value, kind, "value", problem))
        stored: Any = value
        if op == "eq":
            return (lambda c, _n: equals(get(c))), stored
        return (lambda c, _n: not equals(get(c))), stored
    if op == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN_VALUES:
            raise problem("value", f"in needs a list of 1 to {MAX_IN_VALUES} values")
        tests = [_equals(_scalar(v, kind, f"value[{i}]", problem)) for i, v in enumerate(value)]

        def in_test(contact: Facts, _now: datetime) -> bool:
            actual = get(contact)
            return any(t(actual) for t in tests)

        return in_test, list(value)
    if op in TEXT_OPS:
        if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
            raise problem("value", f"{op} needs non-empty text (at most {MAX_TEXT} characters)")
        needle = fold(value)
        method = {"contains": str.__contains__, "starts_with": str.startswith, "ends_with": str.endswith}[op]

        def text_test(contact: Facts, _now: datetime) -> bool:
            text = as_text(get(contact))
            return text is not None and method(fold(text), needle)

        return text_test, value
    if op in ORDER_OPS:
        return _order_test(op, value, kind, get, problem), value
    # within_days / before_days
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise problem("value", f"{op} needs a whole number of days from 0 to {MAX_DAYS}")
    span = timedelta(days=value)

    def day_test(contact: Facts, now: datetime) -> bool:
        when = as_instant(get(contact))
        if when is None:
            return False
        if op == "within_days":
            return now - span <= when <= now
        return when < now - span

    return day_test, value


def _order_test(op: str, value: Any, kind: str, get: Callable[[Facts], Any],
                problem: Callable[[str, str], SegmentProblem]) -> Test:
    greater = op == "gt"
    if isinstance(value, int | float) and not isinstance(value, bool) and kind == "attributes":
        bound = float(_scalar(value, kind, "value", problem))

        def number_test(contact: Facts, _now: datetime) -> bool:
            number = as_number(get(contact))
            return number is not None and (number > bound if greater else number < bound)

        return number_test
    instant = as_instant(value) if isinstance(value, str) else None
    if instant is None:
        what = "a date (YYYY-MM-DD) or date and time (ISO 8601)" if kind == "subscribed_at" else \
            "a number, or a date (YYYY-MM-DD) or date and time (ISO 8601)"
        raise problem("value", f"{op} compares with {what}")
    if _DATE.match(str(value).strip()):
        day = instant.date()

        def day_order(contact: Facts, _now: datetime) -> bool:
            when = as_instant(get(contact))
            return when is not None and (when.date() > day if greater else when.date() < day)

        return day_order

    def instant_order(contact: Facts, _now: datetime) -> bool:
        when = as_instant(get(contact))
        return when is not None and (when > instant if greater else when < instant)

    return instant_order
