"""The writes and reads of an unsubscribe or resubscribe (POST /u/{token}), in plain botocore on the
shared raw client: the one-click path imports no PynamoDB and builds no second botocore session
(its cold start; bench/tracking.py). Items are the same as the PynamoDB models describe:
ContactItem (contacts table, pk={account} sk=C#{recipient}), SuppressionItem (suppressions table,
pk={account} sk={recipient}) and EventItem (events table, pk={account}#{recipient}, TTL expires_at).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from beacon.db.conditions import applied


class SubscriptionStore:
    def __init__(self, client: Any, contacts_table: str, suppressions_table: str, events_table: str,
                 retention_days: int) -> None:
        self._client = client
        self._contacts = contacts_table
        self._suppressions = suppressions_table
        self._events = events_table
        self._retention = retention_days * 86400

    def contact(self, account_id: str, recipient_id: str) -> tuple[str, str] | None:
        """(email, status) of the contact, None if there is none (never imported, or erased)."""
        item = self._client.get_item(
            TableName=self._contacts, Key={"pk": {"S": account_id}, "sk": {"S": f"C#{recipient_id}"}},
            ProjectionExpression="email, #s", ExpressionAttributeNames={"#s": "status"}, ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return item.get("email", {}).get("S", ""), item.get("status", {}).get("S", "subscribed")

    def set_contact_status(self, account_id: str, recipient_id: str, status: str, only_from: tuple[str, ...],
                           at: str) -> bool:
        """Move an existing contact's status, only from one of `only_from`. True if it moved."""
        values: dict[str, Any] = {":st": {"S": status}, ":at": {"S": at}}
        allowed = []
        for i, old in enumerate(only_from):
            values[f":o{i}"] = {"S": old}
            allowed.append(f":o{i}")
        return applied(self._client.update_item, TableName=self._contacts,
                       Key={"pk": {"S": account_id}, "sk": {"S": f"C#{recipient_id}"}},
            UpdateExpression="SET #s = :st, updated_at = :at",
            ConditionExpression=f"attribute_exists(sk) AND #s IN ({', '.join(allowed)})",
            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values)

    def suppress(self, account_id: str, recipient_id: str, email: str | None, reason: str, campaign_id: str,
                 at: str, overwrite_reasons: tuple[str, ...]) -> bool:
        """Write the suppression unless a stronger one is there (an unsubscribe or complaint is never
        downgraded). True if written."""
        item: dict[str, Any] = {
            "pk": {"S": account_id}, "sk": {"S": recipient_id}, "reason": {"S": reason},
            "created_at": {"S": at}, "campaign_id": {"S": campaign_id},
        }
        if email:
            item["email"] = {"S": email}
        values = {f":r{i}": {"S": r} for i, r in enumerate(overwrite_reasons)}
        condition = "attribute_not_exists(sk)"
        if values:
            condition += f" OR reason IN ({', '.join(values)})"
        return applied(self._client.put_item, TableName=self._suppressions, Item=item, ConditionExpression=condition,
            **({"ExpressionAttributeValues": values} if values else {}))

    def suppression_reason(self, account_id: str, recipient_id: str) -> str | None:
        item = self._client.get_item(
            TableName=self._suppressions, Key={"pk": {"S": account_id}, "sk": {"S": recipient_id}},
            ProjectionExpression="reason", ConsistentRead=True,
        ).get("Item")
        return str(item.get("reason", {}).get("S") or "unknown") if item else None

    def lift(self, account_id: str, recipient_id: str, reason: str) -> bool:
        """Delete the suppression only if it is of `reason`. True if deleted."""
        return applied(self._client.delete_item, TableName=self._suppressions,
                       Key={"pk": {"S": account_id}, "sk": {"S": recipient_id}},
            ConditionExpression="reason = :r", ExpressionAttributeValues={":r": {"S": reason}})

    def event(self, account_id: str, recipient_id: str, kind: str, at_iso: str, at_epoch: int,
              campaign_id: str | None, detail: dict[str, Any]) -> None:
        item: dict[str, Any] = {
            "pk": {"S": f"{account_id}#{recipient_id}"},
            "sk": {"S": f"{at_iso}#{kind}#{secrets.token_hex(4)}"},
            "kind": {"S": kind},
            "detail": {"S": json.dumps(detail)},  # as PynamoDB's JSONAttribute stores it
            "received_at": {"S": at_iso},
            "expires_at": {"N": str(at_epoch + self._retention)},
        }
        if campaign_id:
            item["campaign_id"] = {"S": campaign_id}
        self._client.put_item(TableName=self._events, Item=item)
