"""beacon.db.contacts.raw_item / membership_raw: what an import writes is exactly what PynamoDB's
serialize() gives for the same items (the import builds raw items for speed)."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.exceptions import AttributeNullError

from beacon.db.contacts import NewContact, membership_raw, raw_item
from beacon.db.models import ContactItem, MembershipItem

CONTACTS: list[dict[str, Any]] = [
    {"email": "ann@example.com", "attributes": {"first_name": "Ann", "city": "Zürich"}, "status": "subscribed",
     "list_ids": {"l1"}, "created_at": "2031-01-01T00:00:00Z", "updated_at": "2031-01-01T00:00:00Z"},
    {"email": "bo@example.com", "attributes": {}, "status": "unsubscribed", "list_ids": {"l1", "l2"},
     "created_at": "t0", "updated_at": "t1", "consent_source": "trade fair 2031, paper form"},
    {"email": "cy@example.com", "created_at": "t0", "updated_at": "t1"},  # defaults: {}, subscribed, no lists
    {"email": "di@example.com", "attributes": {"n": "1", "q": "\"quoted\" \\ \u2603"}, "status": "pending",
     "list_ids": set(), "created_at": "t0", "updated_at": "t1", "expires_at": 1_900_000_000},
    {"email": "", "attributes": {"e": ""}, "created_at": "", "updated_at": "t1", "consent_source": ""},
]


@pytest.mark.parametrize("fields", CONTACTS)
def test_a_contact_serialises_as_pynamodb_does(fields: dict[str, Any]) -> None:
    item = ContactItem(pk="a" * 32, sk="C#" + "b" * 32, **fields)
    assert raw_item(item) == item.serialize()


def test_an_existing_contact_changed_serialises_as_pynamodb_does() -> None:
    item = ContactItem.from_raw_data(ContactItem(pk="a", sk="C#r", email="e@x.com", created_at="t", updated_at="t",
                                                 list_ids={"l1"}, expires_at=5, status="pending").serialize())
    item.status, item.expires_at, item.list_ids = "subscribed", None, {"l1", "l2"}
    item.attributes = {"a": "b"}
    assert raw_item(item) == item.serialize()


def test_a_missing_required_attribute_is_refused_as_pynamodb_refuses_it() -> None:
    item = ContactItem(pk="a", sk="C#r", email="e@x.com", created_at="t")
    with pytest.raises(AttributeNullError):
        item.serialize()
    with pytest.raises(AttributeNullError):
        raw_item(item)


@pytest.mark.parametrize(("status", "source", "trigger"), [
    ("subscribed", "import", True), ("subscribed", "import", None), ("subscribed", "api", None),
    (None, None, None), ("subscribed", "import", False)])
def test_a_membership_serialises_as_pynamodb_does(status: str | None, source: str | None,
                                                   trigger: bool | None) -> None:
    expected = MembershipItem(pk="a#L#l", sk="r", email="e@x.com", created_at="t", status=status, source=source,
                              trigger_automations=trigger).serialize()
    assert membership_raw("a#L#l", "r", "e@x.com", "t", status, source, trigger) == expected


NEW = [c for c in CONTACTS if {"attributes", "status", "list_ids"} <= set(c) and "expires_at" not in c]


@pytest.mark.parametrize("fields", NEW)
def test_a_new_contact_serialises_as_its_contact_item_does(fields: dict[str, Any]) -> None:
    new = NewContact(pk="a" * 32, sk="C#" + "b" * 32, **fields)
    assert new.raw() == new.item().serialize()
    assert new.raw() == ContactItem(pk="a" * 32, sk="C#" + "b" * 32, **fields).serialize()
