"""Contacts and list memberships (the contacts table).

Contact:    pk={account_id}            sk=C#{recipient_id}
Membership: pk={account_id}#L#{list_id} sk={recipient_id}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from pynamodb.exceptions import AttributeNullError
from pynamodb.models import Model

from beacon.db.batch import client as _client
from beacon.db.batch import parallel_batch_get, parallel_batch_put, run_parallel
from beacon.db.conditions import applied
from beacon.db.models import ContactItem, MembershipItem


@dataclass(frozen=True, slots=True)
class ContactRow:
    """What targeting and dispatch read of a contact, decoded straight from the raw item (a fifth of
    PynamoDB's from_raw_data: this runs once per contact of every page a segment reads)."""

    recipient_id: str
    email: str
    attributes: dict[str, Any]
    status: str
    list_ids: frozenset[str]
    subscribed_at: str | None  # when the contact was added (its created_at)

    FIELDS = ("sk", "email", "attributes", "status", "list_ids", "created_at")

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> ContactRow:
        attributes = raw.get("attributes", {}).get("S")
        return cls(raw["sk"]["S"][2:], raw["email"]["S"], json.loads(attributes) if attributes else {},
                   raw.get("status", {}).get("S", "subscribed"), frozenset(raw.get("list_ids", {}).get("SS", ())),
                   raw.get("created_at", {}).get("S"))


def raw_item(item: Model) -> dict[str, Any]:
    """`item.serialize()` in a fifth of its CPU (an import writes 100,000 of them): the same
    attributes, each serialised by its own PynamoDB attribute, None and empty sets left out, a
    missing required attribute refused as PynamoDB refuses it."""
    values = item.attribute_values
    out: dict[str, Any] = {}
    for name, attr in item.get_attributes().items():
        value = values.get(name)
        serialized = None if value is None else attr.serialize(value)
        if serialized is None:
            if not attr.null:
                raise AttributeNullError(name)
            continue
        out[attr.attr_name] = {attr.attr_type: serialized}
    return out


@dataclass(slots=True)
class NewContact:
    """A contact an import or upsert creates, before it is written: the fields of a ContactItem
    without PynamoDB's per-attribute machinery (building 100,000 ContactItems is seconds of CPU)."""

    pk: str
    sk: str
    email: str
    attributes: dict[str, Any]
    status: str
    list_ids: set[str]
    created_at: str
    updated_at: str
    consent_source: str | None = None

    def raw(self) -> dict[str, Any]:
        """What `ContactItem(**fields).serialize()` gives (tests/unit/test_raw_items.py holds them equal)."""
        out: dict[str, Any] = {"attributes": {"S": json.dumps(self.attributes)}, "created_at": {"S": self.created_at},
                               "email": {"S": self.email}, "pk": {"S": self.pk}, "sk": {"S": self.sk},
                               "status": {"S": self.status}, "updated_at": {"S": self.updated_at}}
        if self.list_ids:
            out["list_ids"] = {"SS": list(self.list_ids)}
        if self.consent_source is not None:
            out["consent_source"] = {"S": self.consent_source}
        return out

    def item(self) -> ContactItem:
        return ContactItem(pk=self.pk, sk=self.sk, email=self.email, attributes=self.attributes, status=self.status,
                           list_ids=self.list_ids, created_at=self.created_at, updated_at=self.updated_at,
                           consent_source=self.consent_source)


def membership_raw(pk: str, recipient_id: str, email: str, at: str, status: str | None, source: str | None,
                   trigger_automations: bool | None = None) -> dict[str, Any]:
    """A MembershipItem's raw item (what `MembershipItem(...).serialize()` gives for these fields)."""
    out: dict[str, Any] = {"created_at": {"S": at}, "email": {"S": email}, "pk": {"S": pk}, "sk": {"S": recipient_id}}
    if source is not None:
        out["source"] = {"S": source}
    if status is not None:
        out["status"] = {"S": status}
    if trigger_automations is not None:
        out["trigger_automations"] = {"BOOL": trigger_automations}
    return out


class ContactRepo:
    def get(self, account_id: str, recipient_id: str) -> ContactItem | None:
        try:
            return ContactItem.get(account_id, f"C#{recipient_id}")
        except ContactItem.DoesNotExist:
            return None

    def get_many(self, account_id: str, recipient_ids: Iterable[str]) -> dict[str, ContactItem]:
        """The contacts that exist among `recipient_ids` (BatchGetItem, 100 keys a call, in parallel)."""
        keys = [{"pk": {"S": account_id}, "sk": {"S": f"C#{rid}"}} for rid in dict.fromkeys(recipient_ids)]
        found: dict[str, ContactItem] = {}
        for raw in parallel_batch_get(ContactItem, keys):
            item = ContactItem.from_raw_data(raw)
            found[item.sk[2:]] = item
        return found

    def rows(self, account_id: str, recipient_ids: Iterable[str]) -> dict[str, ContactRow]:
        """get_many for targeting: the same BatchGetItem calls, decoded without PynamoDB."""
        keys = [{"pk": {"S": account_id}, "sk": {"S": f"C#{rid}"}} for rid in dict.fromkeys(recipient_ids)]
        rows = (ContactRow.from_raw(raw) for raw in parallel_batch_get(ContactItem, keys, ContactRow.FIELDS))
        return {row.recipient_id: row for row in rows}

    def save(self, item: ContactItem) -> None:
        item.save()

    def save_many(self, items: list[ContactItem | NewContact], joined: set[str], list_id: str, at: str,
                  source: str = "api", *, trigger_automations: bool = True,
                  members_only: Iterable[tuple[str, str, str]] = ()) -> None:
        """Write contacts, and the membership of `list_id` for those in `joined` (BatchWriteItem,
        25 a call, in parallel). `source`: how they got on the list (api | import); a pending form
        signup's membership is replaced by a subscribed one (the account vouches for the person).
        An import's memberships may start the list's automations only if asked (`trigger_automations`,
        kept on the item for the event layer). `members_only`: (account id, recipient id, email) whose membership
        alone is written (an import step done again: their contact was written the first time)."""
        puts: list[dict[str, Any]] = []
        trigger = True if source == "import" and trigger_automations else None
        for item in items:
            puts.append(item.raw() if isinstance(item, NewContact) else raw_item(item))
            if item.sk[2:] in joined:
                puts.append(membership_raw(f"{item.pk}#L#{list_id}", item.sk[2:], item.email, at, "subscribed", source,
                                           trigger))
        for account_id, rid, email in members_only:
            puts.append(membership_raw(f"{account_id}#L#{list_id}", rid, email, at, "subscribed", source, trigger))
        parallel_batch_put(ContactItem, puts)

    def add_membership(self, account_id: str, list_id: str, recipient_id: str, email: str, at: str) -> bool:
        """True when the contact was not on the list before."""
        return applied(MembershipItem(
            pk=f"{account_id}#L#{list_id}", sk=recipient_id, email=email, created_at=at
        ).save, condition=MembershipItem.sk.does_not_exist())

    def members_page(
        self, account_id: str, list_id: str, limit: int, cursor: dict[str, str] | None
    ) -> tuple[list[MembershipItem], dict[str, str] | None]:
        """Up to `limit` members after `cursor`, and the cursor of the next page (None on the last)."""
        pk = f"{account_id}#L#{list_id}"
        if cursor is not None and cursor.get("pk") != pk:
            raise ValueError("cursor is not one this API gave out")
        items = list(
            MembershipItem.query(pk, limit=limit + 1,
                last_evaluated_key={k: {"S": v} for k, v in cursor.items()} if cursor else None,
                page_size=limit + 1)
        )
        if len(items) <= limit:
            return items, None
        items = items[:limit]
        return items, {"pk": pk, "sk": items[-1].sk}

    def member_ids(self, account_id: str, list_id: str) -> Iterator[list[str]]:
        """The recipient ids on a list, a page (up to 500) at a time."""
        page: list[str] = []
        for item in MembershipItem.query(f"{account_id}#L#{list_id}", attributes_to_get=["sk"], page_size=500):
            page.append(item.sk)
            if len(page) == 500:
                yield page
                page = []
        if page:
            yield page

    def delete_memberships(self, account_id: str, list_id: str, recipient_ids: Iterable[str]) -> None:
        with MembershipItem.batch_write() as batch:
            for rid in recipient_ids:
                batch.delete(MembershipItem(pk=f"{account_id}#L#{list_id}", sk=rid))

    def drop_list(self, account_id: str, recipient_ids: list[str], list_id: str) -> None:
        """Take a list out of each contact's list_ids (UpdateItem each, in parallel; an erased
        contact is left alone)."""
        client = _client()
        table = ContactItem.Meta.table_name

        def one(rid: str) -> None:
            applied(client.update_item, TableName=table, Key={"pk": {"S": account_id}, "sk": {"S": f"C#{rid}"}},
                UpdateExpression="DELETE list_ids :gone", ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":gone": {"SS": [list_id]}})

        run_parallel([partial(one, rid) for rid in recipient_ids])

    def set_status(self, account_id: str, recipient_id: str, status: str, at: str,
                   only_from: Iterable[str] | None = None) -> bool:
        """Set a contact's status (only when it is one of `only_from`, if given). True if changed."""
        condition = ContactItem.pk.exists()
        if only_from is not None:
            condition = condition & ContactItem.status.is_in(*only_from)
        return applied(ContactItem(pk=account_id, sk=f"C#{recipient_id}").update,
                       actions=[ContactItem.status.set(status), ContactItem.updated_at.set(at)], condition=condition)

    def erase(self, account_id: str, recipient_id: str) -> ContactItem | None:
        """Delete the contact and every membership it had; the deleted item (None if there was none)."""
        item = self.get(account_id, recipient_id)
        if item is None:
            return None
        if not applied(item.delete, condition=ContactItem.pk.exists()):
            return None  # erased by a concurrent call, which fixes the memberships and counts
        self.delete_memberships_of(account_id, recipient_id, item.list_ids or set())
        return item

    def delete_memberships_of(self, account_id: str, recipient_id: str, list_ids: Iterable[str]) -> None:
        with MembershipItem.batch_write() as batch:
            for list_id in list_ids:
                batch.delete(MembershipItem(pk=f"{account_id}#L#{list_id}", sk=recipient_id))
