"""Form signups and consent records (the contacts table, with a few items of the accounts,
suppressions and events tables), in plain botocore: the public confirm page writes them without
loading PynamoDB (its cold start), and the signup function uses the same code.

Consent record: pk={account_id} sk=CONSENT#{recipient_id}#{signup_id}
    one per form signup: form, lists, consent text exactly as shown, submitted and confirmed times,
    the /24 or /48 network and client class of each step (never a raw IP). Pending ones carry
    `expires_at` (the table's TTL): unconfirmed, they disappear with the pending contact and
    memberships they made. Confirmed ones stay as long as the person: erasure deletes them.
Pending contact:    the ContactItem with status "pending" and `expires_at` (a new person only).
Pending membership: the MembershipItem with status "pending", source "form", `expires_at` and
    `pending_key` ({account_id}#L#{list_id}: the table's sparse `pending` index, which counts a
    list's pending signups).
Per-address limit:  pk=T#confirm#{recipient_id} sk=COUNT (accounts table, TTL): the times of the
    last confirmation emails, replaced with a version check.
Per-network limit:  pk=T#signup-net#{hash} sk=H#{hour} (accounts table, TTL): a counter per hour.

Every multi-item change is one TransactWriteItems whose conditions hold the state it was planned
on, so a signup or a confirmation is all or nothing, and a concurrent change makes it plan again.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from beacon.db.conditions import TRANSACTION_CANCELED, applied, cancellation_codes, error_code

PENDING_INDEX = "pending"


@dataclass
class ConsentRecord:
    account_id: str
    recipient_id: str
    signup_id: str
    email: str
    form_id: str
    form_name: str
    company: str
    list_ids: list[str]
    consent_text: str
    attributes: dict[str, Any]
    submitted_at: str
    network: str
    client: str
    status: str = "pending"  # pending | confirmed
    expires_at: int | None = None
    emailed_at: str | None = None
    confirmed_at: str | None = None
    confirm_network: str = ""
    confirm_client: str = ""


@dataclass(frozen=True)
class Membership:
    status: str  # subscribed | pending
    source: str  # api | import | form | "" (written before sources were recorded)
    joined_at: str


@dataclass
class ContactState:
    """A contact as the signup and confirm steps need it."""

    email: str
    status: str
    list_ids: set[str]
    attributes: dict[str, Any]
    updated_at: str


@dataclass
class ConfirmPlan:
    record: ConsentRecord
    at: str
    network: str
    client: str
    contact: ContactState | None  # as read; None: create it
    attributes: dict[str, Any]  # the contact's attributes after the confirmation
    join: list[str]  # lists the person is not on yet: a subscribed membership (source "form")
    flip: list[str]  # lists with a pending membership: pending -> subscribed
    lift_unsubscribe: bool  # the person's own earlier unsubscribe is lifted (their choice again)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (kind, detail) audit events


def _s(item: dict[str, Any], name: str) -> str:
    return str(item.get(name, {}).get("S", ""))


def _record_key(account_id: str, recipient_id: str, signup_id: str) -> dict[str, Any]:
    return {"pk": {"S": account_id}, "sk": {"S": f"CONSENT#{recipient_id}#{signup_id}"}}


def _record_item(r: ConsentRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_record_key(r.account_id, r.recipient_id, r.signup_id),
        "kind": {"S": "consent"}, "email": {"S": r.email}, "form_id": {"S": r.form_id},
        "form_name": {"S": r.form_name}, "company": {"S": r.company},
        "list_ids": {"L": [{"S": i} for i in r.list_ids]}, "consent_text": {"S": r.consent_text},
        "attributes": {"S": json.dumps(r.attributes)}, "submitted_at": {"S": r.submitted_at},
        "network": {"S": r.network}, "client": {"S": r.client}, "status": {"S": r.status},
    }
    if r.expires_at is not None:
        item["expires_at"] = {"N": str(r.expires_at)}
    return item


def _record(item: dict[str, Any]) -> ConsentRecord:
    _, recipient_id, signup_id = _s(item, "sk").split("#", 2)
    expires = item.get("expires_at", {}).get("N")
    return ConsentRecord(
        account_id=_s(item, "pk"), recipient_id=recipient_id, signup_id=signup_id, email=_s(item, "email"),
        form_id=_s(item, "form_id"), form_name=_s(item, "form_name"), company=_s(item, "company"),
        list_ids=[v["S"] for v in item.get("list_ids", {}).get("L", [])], consent_text=_s(item, "consent_text"),
        attributes=json.loads(_s(item, "attributes") or "{}"), submitted_at=_s(item, "submitted_at"),
        network=_s(item, "network"), client=_s(item, "client"), status=_s(item, "status") or "pending",
        expires_at=int(float(expires)) if expires else None, emailed_at=_s(item, "emailed_at") or None,
        confirmed_at=_s(item, "confirmed_at") or None, confirm_network=_s(item, "confirm_network"),
        confirm_client=_s(item, "confirm_client"),
    )


class SignupStore:
    def __init__(self, client: Any, accounts_table: str, contacts_table: str, suppressions_table: str,
                 events_table: str, retention_days: int) -> None:
        self._c = client
        self._accounts = accounts_table
        self._contacts = contacts_table
        self._suppressions = suppressions_table
        self._events = events_table
        self._retention = retention_days * 86400

    # ------------------------------------------------------------------ reads
    def account(self, account_id: str) -> tuple[str, str] | None:
        """(company, postal address) of the account; None if there is none."""
        item = self._c.get_item(TableName=self._accounts, Key={"pk": {"S": f"A#{account_id}"}, "sk": {"S": "PROFILE"}},
                                ProjectionExpression="company, postal_address").get("Item")
        return (_s(item, "company"), _s(item, "postal_address")) if item else None

    def suppression_reason(self, account_id: str, recipient_id: str) -> str | None:
        item = self._c.get_item(TableName=self._suppressions,
                                Key={"pk": {"S": account_id}, "sk": {"S": recipient_id}},
                                ProjectionExpression="reason", ConsistentRead=True).get("Item")
        return (_s(item, "reason") or "unknown") if item else None

    def contact(self, account_id: str, recipient_id: str) -> ContactState | None:
        item = self._c.get_item(TableName=self._contacts,
                                Key={"pk": {"S": account_id}, "sk": {"S": f"C#{recipient_id}"}},
                                ConsistentRead=True).get("Item")
        if not item:
            return None
        return ContactState(email=_s(item, "email"), status=_s(item, "status") or "subscribed",
                            list_ids=set(item.get("list_ids", {}).get("SS", [])),
                            attributes=json.loads(_s(item, "attributes") or "{}"), updated_at=_s(item, "updated_at"))

    def _batch_get(self, table: str, keys: list[dict[str, Any]], projection: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        aliases = {k: v for k, v in (("#s", "status"), ("#src", "source")) if k in projection}
        names = {"ExpressionAttributeNames": aliases} if aliases else {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {table: {"Keys": keys[start:start + 100], "ConsistentRead": True,
                                               "ProjectionExpression": projection, **names}}
            for _attempt in range(8):
                answer = self._c.batch_get_item(RequestItems=request)
                found += answer.get("Responses", {}).get(table, [])
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    def memberships(self, account_id: str, recipient_id: str, list_ids: list[str]) -> dict[str, Membership]:
        """list id -> the person's membership, for the lists among `list_ids` they have one of."""
        keys = [{"pk": {"S": f"{account_id}#L#{i}"}, "sk": {"S": recipient_id}} for i in dict.fromkeys(list_ids)]
        found = self._batch_get(self._contacts, keys, "pk, #s, #src, created_at")
        return {_s(i, "pk").rpartition("#L#")[2]: Membership(_s(i, "status") or "subscribed", _s(i, "source"),
                                                            _s(i, "created_at")) for i in found}

    def existing_lists(self, account_id: str, list_ids: list[str]) -> list[str]:
        """The lists among `list_ids` that the tenant still has, in the given order."""
        keys = [{"pk": {"S": f"A#{account_id}"}, "sk": {"S": f"LIST#{i}"}} for i in dict.fromkeys(list_ids)]
        there = {_s(i, "sk")[5:] for i in self._batch_get(self._accounts, keys, "sk")}
        return [i for i in dict.fromkeys(list_ids) if i in there]

    def record(self, account_id: str, recipient_id: str, signup_id: str) -> ConsentRecord | None:
        item = self._c.get_item(TableName=self._contacts, Key=_record_key(account_id, recipient_id, signup_id),
                                ConsistentRead=True).get("Item")
        return _record(item) if item else None

    def records_of(self, account_id: str, recipient_id: str) -> list[ConsentRecord]:
        """Every consent record of one person, oldest first."""
        args: dict[str, Any] = {
            "TableName": self._contacts, "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": {"S": account_id}, ":p": {"S": f"CONSENT#{recipient_id}#"}},
            "ConsistentRead": True,
        }
        found: list[ConsentRecord] = []
        while True:
            page = self._c.query(**args)
            found += [_record(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return sorted(found, key=lambda r: r.submitted_at)
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def pending_count(self, account_id: str, list_id: str, now: int) -> int:
        """Signups waiting for their confirmation on a list (expired ones not yet removed excluded)."""
        args: dict[str, Any] = {
            "TableName": self._contacts, "IndexName": PENDING_INDEX, "Select": "COUNT",
            "KeyConditionExpression": "pending_key = :k AND expires_at > :now",
            "ExpressionAttributeValues": {":k": {"S": f"{account_id}#L#{list_id}"}, ":now": {"N": str(now)}},
        }
        count = 0
        while True:
            page = self._c.query(**args)
            count += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                return count
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def sent_times(self, recipient_id: str) -> tuple[list[int], int]:
        """(epoch times of the recent confirmation emails to this person, the item's version; 0 if none)."""
        item = self._c.get_item(TableName=self._accounts, Key={"pk": {"S": f"T#confirm#{recipient_id}"},
                                                               "sk": {"S": "COUNT"}}, ConsistentRead=True).get("Item")
        if not item:
            return [], 0
        times = [int(float(v["N"])) for v in item.get("sent_at", {}).get("L", [])]
        return times, int(float(item.get("version", {}).get("N", "0")))

    # ------------------------------------------------------------------ writes
    def count_network(self, key: str, hour: int, limit: int, expires_at: int) -> bool:
        """One more signup from a network in this hour, unless it had `limit` already. True if counted."""
        return applied(self._c.update_item, TableName=self._accounts,
                       Key={"pk": {"S": f"T#signup-net#{key}"}, "sk": {"S": f"H#{hour}"}},
                       UpdateExpression="ADD hits :one SET expires_at = :exp",
                       ConditionExpression="attribute_not_exists(hits) OR hits < :max",
                       ExpressionAttributeValues={":one": {"N": "1"}, ":max": {"N": str(limit)},
                                                  ":exp": {"N": str(expires_at)}})

    def begin(self, record: ConsentRecord, contact: ContactState | None, pending_lists: list[str],
              sent_times: list[int], version: int, now_iso: str) -> bool:
        """Record a pending signup in one transaction: the consent record (new), the pending contact
        (a new person; a pending one's expiry moves on), a pending membership of each list in
        `pending_lists`, and the per-address limit's item (`sent_times` with this email, if it is
        still at `version`). False when a condition failed (a redelivered signup, or a concurrent one)."""
        assert record.expires_at is not None
        expires = {"N": str(record.expires_at)}
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self._contacts, "Item": _record_item(record),
            "ConditionExpression": "attribute_not_exists(sk)"}}]
        contact_key = {"pk": {"S": record.account_id}, "sk": {"S": f"C#{record.recipient_id}"}}
        if contact is None:
            items.append({"Put": {"TableName": self._contacts, "ConditionExpression": "attribute_not_exists(sk)",
                                  "Item": {**contact_key, "email": {"S": record.email}, "status": {"S": "pending"},
                                           "attributes": {"S": json.dumps(record.attributes)},
                                           "created_at": {"S": now_iso}, "updated_at": {"S": now_iso},
                                           "expires_at": expires}}})
        elif contact.status == "pending":
            items.append({"Update": {"TableName": self._contacts, "Key": contact_key,
                                     "UpdateExpression": "SET expires_at = :exp",
                                     "ConditionExpression": "#s = :pending",
                                     "ExpressionAttributeNames": {"#s": "status"},
                                     "ExpressionAttributeValues": {":exp": expires, ":pending": {"S": "pending"}}}})
        for list_id in pending_lists:
            items.append({"Put": {
                "TableName": self._contacts,
                "Item": {"pk": {"S": f"{record.account_id}#L#{list_id}"}, "sk": {"S": record.recipient_id},
                         "email": {"S": record.email}, "created_at": {"S": now_iso}, "status": {"S": "pending"},
                         "source": {"S": "form"}, "pending_key": {"S": f"{record.account_id}#L#{list_id}"},
                         "expires_at": expires},
                "ConditionExpression": "attribute_not_exists(sk) OR #s = :pending",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":pending": {"S": "pending"}}}})
        throttle: dict[str, Any] = {
            "pk": {"S": f"T#confirm#{record.recipient_id}"}, "sk": {"S": "COUNT"},
            "sent_at": {"L": [{"N": str(t)} for t in sent_times]}, "version": {"N": str(version + 1)},
            "expires_at": {"N": str(max(sent_times) + 86400)},
        }
        items.append({"Put": {"TableName": self._accounts, "Item": throttle,
                              **({"ConditionExpression": "version = :v",
                                  "ExpressionAttributeValues": {":v": {"N": str(version)}}} if version else
                                 {"ConditionExpression": "attribute_not_exists(pk)"})}})
        return applied(self._c.transact_write_items, TransactItems=items)

    def mark_emailed(self, record: ConsentRecord, at: str) -> None:
        self._c.update_item(TableName=self._contacts,
                            Key=_record_key(record.account_id, record.recipient_id, record.signup_id),
                            UpdateExpression="SET emailed_at = :at", ConditionExpression="attribute_exists(sk)",
                            ExpressionAttributeValues={":at": {"S": at}})

    def confirm(self, plan: ConfirmPlan, at_epoch: int) -> bool:
        """Carry out a confirmation in one transaction; False when the state it was planned on changed
        (or it was confirmed meanwhile): read again and plan again."""
        r = plan.record
        items: list[dict[str, Any]] = [{"Update": {
            "TableName": self._contacts, "Key": _record_key(r.account_id, r.recipient_id, r.signup_id),
            "UpdateExpression": "SET #s = :confirmed, confirmed_at = :at, confirm_network = :n, confirm_client = :c "
                                "REMOVE expires_at",
            "ConditionExpression": "#s = :pending", "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":confirmed": {"S": "confirmed"}, ":pending": {"S": "pending"},
                                          ":at": {"S": plan.at}, ":n": {"S": plan.network}, ":c": {"S": plan.client}},
        }}]
        contact_key = {"pk": {"S": r.account_id}, "sk": {"S": f"C#{r.recipient_id}"}}
        attributes = {"S": json.dumps(plan.attributes)}
        if plan.contact is None:
            item: dict[str, Any] = {**contact_key, "email": {"S": r.email}, "status": {"S": "subscribed"},
                                    "attributes": attributes, "created_at": {"S": plan.at},
                                    "updated_at": {"S": plan.at}}
            if plan.join or plan.flip:
                item["list_ids"] = {"SS": [*plan.join, *plan.flip]}
            items.append({"Put": {"TableName": self._contacts, "Item": item,
                                  "ConditionExpression": "attribute_not_exists(sk)"}})
        else:
            values: dict[str, Any] = {":sub": {"S": "subscribed"}, ":at": {"S": plan.at}, ":attrs": attributes,
                                      ":old": {"S": plan.contact.updated_at}}
            update = "SET #s = :sub, updated_at = :at, attributes = :attrs REMOVE expires_at"
            new_lists = [i for i in [*plan.join, *plan.flip] if i not in plan.contact.list_ids]
            if new_lists:
                update += " ADD list_ids :lists"
                values[":lists"] = {"SS": new_lists}
            items.append({"Update": {"TableName": self._contacts, "Key": contact_key, "UpdateExpression": update,
                                     "ConditionExpression": "attribute_exists(sk) AND updated_at = :old",
                                     "ExpressionAttributeNames": {"#s": "status"},
                                     "ExpressionAttributeValues": values}})
        for list_id in plan.join:
            items.append({"Put": {
                "TableName": self._contacts, "ConditionExpression": "attribute_not_exists(sk)",
                "Item": {"pk": {"S": f"{r.account_id}#L#{list_id}"}, "sk": {"S": r.recipient_id},
                         "email": {"S": r.email}, "created_at": {"S": plan.at}, "status": {"S": "subscribed"},
                         "source": {"S": "form"}}}})
        for list_id in plan.flip:
            items.append({"Update": {
                "TableName": self._contacts, "Key": {"pk": {"S": f"{r.account_id}#L#{list_id}"},
                                                     "sk": {"S": r.recipient_id}},
                "UpdateExpression": "SET #s = :sub, confirmed_at = :at REMOVE expires_at, pending_key",
                "ConditionExpression": "#s = :pending", "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":sub": {"S": "subscribed"}, ":pending": {"S": "pending"},
                                              ":at": {"S": plan.at}}}})
        for list_id in [*plan.join, *plan.flip]:
            items.append({"Update": {
                "TableName": self._accounts, "Key": {"pk": {"S": f"A#{r.account_id}"}, "sk": {"S": f"LIST#{list_id}"}},
                "UpdateExpression": "ADD contact_count :one", "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":one": {"N": "1"}}}})
        if plan.lift_unsubscribe:
            items.append({"Delete": {
                "TableName": self._suppressions, "Key": {"pk": {"S": r.account_id}, "sk": {"S": r.recipient_id}},
                "ConditionExpression": "reason = :r", "ExpressionAttributeValues": {":r": {"S": "unsubscribe"}}}})
        for kind, detail in plan.events:
            items.append({"Put": {"TableName": self._events, "Item": {
                "pk": {"S": f"{r.account_id}#{r.recipient_id}"},
                "sk": {"S": f"{plan.at}#{kind}#{secrets.token_hex(4)}"}, "kind": {"S": kind},
                "detail": {"S": json.dumps(detail)}, "received_at": {"S": plan.at},
                "expires_at": {"N": str(at_epoch + self._retention)}}}})
        try:
            self._c.transact_write_items(TransactItems=items)
        except Exception as exc:
            if error_code(exc) == TRANSACTION_CANCELED and any(
                    code in ("ConditionalCheckFailed", "TransactionConflict") for code in cancellation_codes(exc)):
                return False
            raise
        return True

    def erase_person(self, account_id: str, recipient_id: str) -> int:
        """Delete a person's consent records, the pending memberships they made and the per-address
        limit's item (contact erasure). How many consent records there were."""
        records = self.records_of(account_id, recipient_id)
        for list_id in sorted({i for r in records for i in r.list_ids}):
            applied(self._c.delete_item, TableName=self._contacts,
                    Key={"pk": {"S": f"{account_id}#L#{list_id}"}, "sk": {"S": recipient_id}},
                    ConditionExpression="#s = :pending", ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":pending": {"S": "pending"}})
        for r in records:
            self._c.delete_item(TableName=self._contacts, Key=_record_key(account_id, recipient_id, r.signup_id))
        self._c.delete_item(TableName=self._accounts,
                            Key={"pk": {"S": f"T#confirm#{recipient_id}"}, "sk": {"S": "COUNT"}})
        return len(records)
