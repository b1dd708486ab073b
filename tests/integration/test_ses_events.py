"""SES event notifications, from real-shaped SNS samples in tests/events/, over moto."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from beacon.db.audit_log import EventRepo
from beacon.db.contacts import ContactRepo
from beacon.db.suppressions import SuppressionRepo
from beacon.shared.ids import recipient_id
from beacon.tracking.ses_events import BadNotification, parse
from tests.integration.conftest import load_function
from tests.integration.pipeline_world import World, make_world

EVENTS = Path(__file__).resolve().parents[1] / "events"
ROOT = Path(__file__).resolve().parents[2]


def _handler() -> Any:
    return load_function("functions/ses_events", "fn_ses_events_test")


class Ctx:
    function_name = "ses_events"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ses_events"
    aws_request_id = "req"


def sample(name: str, account: str, campaign: str, email: str) -> dict[str, Any]:
    event = json.loads((EVENTS / name).read_text())
    doc = json.loads(event["Records"][0]["Sns"]["Message"])
    doc["mail"]["tags"].update(account=[account], campaign=[campaign], recipient=[recipient_id(account, email)])
    doc["mail"]["destination"] = [email]
    for section in ("bounce", "complaint"):
        if section in doc:
            key = "bouncedRecipients" if section == "bounce" else "complainedRecipients"
            doc[section][key][0]["emailAddress"] = email
    event["Records"][0]["Sns"]["Message"] = json.dumps(doc)
    return event


@pytest.fixture
def sent(clean_aws: object) -> tuple[World, str, list[str]]:
    world = make_world()
    people = ["ann@example.com", "bob@example.com", "cy@example.com"]
    campaign = world.campaign([world.new_list(people)])
    world.run_all()
    return world, campaign, people


def test_delivery_is_counted_once_even_when_sns_repeats_it(sent: tuple[World, str, list[str]]) -> None:
    world, campaign, people = sent
    handler = _handler()
    event = sample("ses_delivery.json", world.account_id, campaign, people[0])
    assert handler(event, Ctx()) == {"handled": 1, "ignored": 0}
    handler(event, Ctx())
    assert world.stats(campaign)["delivered"] == 1
    assert world.stats(campaign)["sent"] == 3  # a Delivery never adds a send the ledger already has


def test_hard_bounce_suppresses_and_counts(sent: tuple[World, str, list[str]]) -> None:
    world, campaign, people = sent
    _handler()(sample("ses_bounce_permanent.json", world.account_id, campaign, people[1]), Ctx())
    rid = recipient_id(world.account_id, people[1])
    assert SuppressionRepo().suppressed(world.account_id, [rid]) == {rid}
    contact = ContactRepo().get(world.account_id, rid)
    assert contact is not None and contact.status == "bounced"
    assert world.stats(campaign)["bounced"] == 1
    # the next campaign skips them
    before = len(world.ses.sent)
    later = world.campaign([world.lists[0]])
    world.run_all()
    assert people[1] not in world.recipients_sent()[before:]
    # a bounced contact is no recipient of a later campaign (recipients are the subscribed contacts)
    assert (world.stats(later)["recipients"], world.stats(later)["skipped_suppressed"]) == (len(people) - 1, 0)


def test_soft_bounce_is_counted_but_does_not_suppress(sent: tuple[World, str, list[str]]) -> None:
    world, campaign, people = sent
    _handler()(sample("ses_bounce_transient.json", world.account_id, campaign, people[1]), Ctx())
    rid = recipient_id(world.account_id, people[1])
    assert SuppressionRepo().suppressed(world.account_id, [rid]) == set()
    assert world.stats(campaign)["bounced"] == 0


def test_complaint_suppresses_and_beats_an_earlier_bounce(sent: tuple[World, str, list[str]]) -> None:
    world, campaign, people = sent
    handler = _handler()
    handler(sample("ses_bounce_permanent.json", world.account_id, campaign, people[2]), Ctx())
    handler(sample("ses_complaint.json", world.account_id, campaign, people[2]), Ctx())
    rid = recipient_id(world.account_id, people[2])
    found = SuppressionRepo().get(world.account_id, rid)
    assert found is not None and found.reason == "complaint"
    assert world.stats(campaign)["complained"] == 1


def test_foreign_and_hostile_notifications_change_nothing(sent: tuple[World, str, list[str]]) -> None:
    world, campaign, people = sent
    handler = _handler()
    good = sample("ses_complaint.json", world.account_id, campaign, people[0])
    hostile: list[str] = ["", "not json", "[]", "null", json.dumps({"eventType": "Bounce"}), "x" * 300_000]
    doc = json.loads(good["Records"][0]["Sns"]["Message"])
    for tags in ({}, {"account": ["../../etc"], "campaign": [campaign], "recipient": ["x"]},
                 {"account": "not-a-list"}, {"account": [1], "campaign": [None], "recipient": [{}]}):
        bad = copy.deepcopy(doc)
        bad["mail"]["tags"] = tags
        hostile.append(json.dumps(bad))
    for message in hostile:
        event = copy.deepcopy(good)
        event["Records"][0]["Sns"]["Message"] = message
        result = handler(event, Ctx())
        assert result == {"handled": 0, "ignored": 1}
    stats = world.stats(campaign)
    assert (stats["complained"], stats["bounced"], stats["delivered"]) == (0, 0, 0)
    assert SuppressionRepo().suppressed(world.account_id, [recipient_id(world.account_id, p) for p in people]) == set()


@pytest.mark.parametrize("message", ["", "{", "[1]", '{"mail": {}}', '{"eventType": 1, "mail": {}}',
                                     '{"eventType": "Bounce", "mail": {"tags": []}}'])
def test_parse_refuses_malformed(message: str) -> None:
    with pytest.raises(BadNotification):
        parse(message)


# ------------------------------------------------------------- a tenant's emails that are not a campaign
@pytest.fixture
def listed(clean_aws: object) -> tuple[World, list[str]]:
    """Subscribed contacts of a tenant, nothing sent yet (a confirmation or test email needs no campaign)."""
    world = make_world()
    people = ["ann@example.com", "bob@example.com", "cy@example.com"]
    world.new_list(people)
    return world, people


def other_sample(name: str, account: str, email: str, kind: str, recipient_tag: bool = True) -> dict[str, Any]:
    """A notification of a confirmation email or a test send: the tenant and the kind, no campaign
    (emails sent before the recipient tag carry no recipient either)."""
    event = sample(name, account, "0" * 32, email)
    doc = json.loads(event["Records"][0]["Sns"]["Message"])
    del doc["mail"]["tags"]["campaign"]
    if not recipient_tag:
        del doc["mail"]["tags"]["recipient"]
    doc["mail"]["tags"]["kind"] = [kind]
    event["Records"][0]["Sns"]["Message"] = json.dumps(doc)
    return event


@pytest.mark.parametrize(("name", "kind", "recipient_tag", "reason", "status"), [
    ("ses_bounce_permanent.json", "confirmation", True, "bounce", "bounced"),
    ("ses_complaint.json", "confirmation", True, "complaint", "complained"),
    ("ses_bounce_permanent.json", "confirmation", False, "bounce", "bounced"),  # sent before the recipient tag
    ("ses_bounce_permanent.json", "test", True, "bounce", "bounced"),
    ("ses_complaint.json", "test", False, "complaint", "complained"),
])
def test_a_hard_bounce_or_complaint_on_a_confirmation_or_test_email_suppresses(
        listed: tuple[World, list[str]], name: str, kind: str, recipient_tag: bool, reason: str, status: str) -> None:
    world, people = listed
    address = people[0] if recipient_tag else people[0].upper()  # as the receiving server spelled it
    result = _handler()(other_sample(name, world.account_id, address, kind, recipient_tag), Ctx())
    assert result == {"handled": 1, "ignored": 0}
    rid = recipient_id(world.account_id, people[0])
    found = SuppressionRepo().get(world.account_id, rid)
    assert found is not None and found.reason == reason and found.campaign_id is None
    contact = ContactRepo().get(world.account_id, rid)
    assert contact is not None and contact.status == status
    (event,) = [e for e in EventRepo(30).for_person(world.account_id, rid) if e.kind == reason]
    assert event.campaign_id is None and event.detail["email_kind"] == kind


def test_other_events_of_a_confirmation_email_change_nothing(listed: tuple[World, list[str]]) -> None:
    world, people = listed
    handler = _handler()
    for name in ("ses_delivery.json", "ses_bounce_transient.json", "ses_send.json"):
        handler(other_sample(name, world.account_id, people[1], "confirmation"), Ctx())
    rid = recipient_id(world.account_id, people[1])
    assert SuppressionRepo().suppressed(world.account_id, [rid]) == set()
    contact = ContactRepo().get(world.account_id, rid)
    assert contact is not None and contact.status == "subscribed"


def test_a_non_campaign_email_without_a_known_kind_or_recipient_is_ignored(listed: tuple[World, list[str]]) -> None:
    world, people = listed
    handler = _handler()
    unknown_kind = other_sample("ses_complaint.json", world.account_id, people[2], "newsletter")
    no_address = other_sample("ses_complaint.json", world.account_id, "not an address", "confirmation",
                              recipient_tag=False)
    for event in (unknown_kind, no_address):
        assert handler(event, Ctx()) == {"handled": 0, "ignored": 1}
    rid = recipient_id(world.account_id, people[2])
    assert SuppressionRepo().suppressed(world.account_id, [rid]) == set()
