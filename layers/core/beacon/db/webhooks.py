"""The webhooks table: a tenant's endpoints and their delivery log (plain botocore).

Endpoint: pk={account_id}              sk=WH#{webhook_id}
          url, events, include_machine, status (enabled | disabled), disabled_reason, salt
          (the secret is derived from the deployment secret and `salt` each time it signs:
          beacon.webhooks.signing; it is never stored).
Delivery: pk={account_id}#WH#{webhook_id} sk=D#{event_id}
          one event for one endpoint: the body exactly as sent, status (pending | succeeded | failed),
          attempts [{at, status_code, error, ms}], next_attempt_at, lease_until (an attempt in
          flight), expires_at (TTL: the log keeps 30 days). Event ids start with their time in ms,
          so the log reads newest first.
"""

from __future__ import annotations

from typing import Any

from beacon.db.attrs import attr, item_of, plain_item
from beacon.db.conditions import applied
from beacon.db.paging import query_page_raw

LOG_DAYS = 30


class Webhooks:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    # ------------------------------------------------------------------ endpoints
    @staticmethod
    def _endpoint_key(account_id: str, webhook_id: str) -> dict[str, Any]:
        return {"pk": {"S": account_id}, "sk": {"S": f"WH#{webhook_id}"}}

    def create(self, account_id: str, webhook_id: str, fields: dict[str, Any]) -> None:
        self._client.put_item(TableName=self._table, Item={**self._endpoint_key(account_id, webhook_id),
                                                            **item_of({"webhook_id": webhook_id, **fields})},
                              ConditionExpression="attribute_not_exists(sk)")

    def get(self, account_id: str, webhook_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=self._endpoint_key(account_id, webhook_id),
                                     ConsistentRead=True).get("Item")
        return plain_item(item) if item else None

    def all(self, account_id: str) -> list[dict[str, Any]]:
        """Every endpoint of the tenant (a tenant has a handful: one Query)."""
        args: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "pk = :pk AND begins_with(sk, :wh)",
            "ExpressionAttributeValues": {":pk": {"S": account_id}, ":wh": {"S": "WH#"}},
        }
        found: list[dict[str, Any]] = []
        while True:
            page = self._client.query(**args)
            found.extend(plain_item(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def page(self, account_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the tenant's endpoints, newest first (ids sort by age)."""
        items, next_cursor = query_page_raw(self._client, self._table, account_id, "WH#", limit, cursor,
                                            newest_first=True)
        return [plain_item(i) for i in items], next_cursor

    def update(self, account_id: str, webhook_id: str, fields: dict[str, Any]) -> bool:
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": attr(v) for i, v in enumerate(fields.values())}
        return applied(self._client.update_item, TableName=self._table, Key=self._endpoint_key(account_id, webhook_id),
                       UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                       ConditionExpression="attribute_exists(sk)", ExpressionAttributeNames=names,
                       ExpressionAttributeValues=values)

    def disable(self, account_id: str, webhook_id: str, reason: str, at: str) -> bool:
        """enabled -> disabled (a 410 answer). True if this call disabled it."""
        return applied(self._client.update_item, TableName=self._table, Key=self._endpoint_key(account_id, webhook_id),
                       UpdateExpression="SET #s = :off, disabled_reason = :why, updated_at = :at",
                       ConditionExpression="#s = :on", ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":off": {"S": "disabled"}, ":on": {"S": "enabled"},
                                                  ":why": {"S": reason}, ":at": {"S": at}})

    def delete(self, account_id: str, webhook_id: str) -> bool:
        return applied(self._client.delete_item, TableName=self._table, Key=self._endpoint_key(account_id, webhook_id),
                       ConditionExpression="attribute_exists(sk)")

    # ------------------------------------------------------------------ deliveries
    @staticmethod
    def _delivery_key(account_id: str, webhook_id: str, event_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"{account_id}#WH#{webhook_id}"}, "sk": {"S": f"D#{event_id}"}}

    def add_delivery(self, account_id: str, webhook_id: str, event_id: str, event_type: str, body: str,
                     now: float, now_iso: str) -> bool:
        """A pending delivery, due now. False if this event was already given to this endpoint (the
        event was redelivered): nothing is written."""
        item = {**self._delivery_key(account_id, webhook_id, event_id), **item_of({
            "event_id": event_id, "type": event_type, "body": body, "status": "pending", "attempts": [],
            "attempt_count": 0, "next_attempt_at": int(now), "created_at": now_iso,
            "expires_at": int(now) + LOG_DAYS * 86400,
        })}
        return applied(self._client.put_item, TableName=self._table, Item=item,
                       ConditionExpression="attribute_not_exists(sk)")

    def delivery(self, account_id: str, webhook_id: str, event_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=self._delivery_key(account_id, webhook_id, event_id),
                                     ConsistentRead=True).get("Item")
        return plain_item(item) if item else None

    def deliveries(self, account_id: str, webhook_id: str, limit: int, after: str | None
                   ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` deliveries, newest first, after the event id `after`; and the next `after`."""
        args: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "pk = :pk AND begins_with(sk, :d)",
            "ExpressionAttributeValues": {":pk": {"S": f"{account_id}#WH#{webhook_id}"}, ":d": {"S": "D#"}},
            "ScanIndexForward": False, "Limit": limit,
        }
        if after:
            args["ExclusiveStartKey"] = self._delivery_key(account_id, webhook_id, after)
        page = self._client.query(**args)
        items = [plain_item(i) for i in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return items, (last["sk"]["S"][2:] if last else None)

    def claim(self, account_id: str, webhook_id: str, event_id: str, now: float, lease_seconds: int) -> bool:
        """Take the next attempt of a pending delivery that is due and not in flight elsewhere."""
        return applied(self._client.update_item, TableName=self._table,
                       Key=self._delivery_key(account_id, webhook_id, event_id),
                       UpdateExpression="SET lease_until = :lease",
                       ConditionExpression="#s = :pending AND next_attempt_at <= :now "
                                           "AND (attribute_not_exists(lease_until) OR lease_until < :now)",
                       ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":pending": {"S": "pending"}, ":now": {"N": str(int(now) + 1)},
                                                  ":lease": {"N": str(int(now) + lease_seconds)}})

    def record_attempt(self, account_id: str, webhook_id: str, event_id: str, attempt: dict[str, Any], status: str,
                       next_attempt_at: int | None) -> None:
        """Append an attempt, set the status (and when to try next), and end the lease."""
        values: dict[str, Any] = {":a": {"L": [attr(attempt)]}, ":one": {"N": "1"}, ":st": {"S": status},
                                  ":empty": {"L": []}}
        expr = ("SET attempts = list_append(if_not_exists(attempts, :empty), :a), #s = :st "
                "ADD attempt_count :one REMOVE lease_until")
        if next_attempt_at is not None:
            expr = expr.replace("#s = :st", "#s = :st, next_attempt_at = :next")
            values[":next"] = {"N": str(next_attempt_at)}
        self._client.update_item(TableName=self._table, Key=self._delivery_key(account_id, webhook_id, event_id),
                                 UpdateExpression=expr, ExpressionAttributeNames={"#s": "status"},
                                 ExpressionAttributeValues=values)

    def finish(self, account_id: str, webhook_id: str, event_id: str, status: str, reason: str) -> None:
        """End a delivery without an attempt (its endpoint was disabled or deleted)."""
        self._client.update_item(TableName=self._table, Key=self._delivery_key(account_id, webhook_id, event_id),
                                 UpdateExpression="SET #s = :st, final_reason = :why REMOVE lease_until",
                                 ExpressionAttributeNames={"#s": "status"},
                                 ExpressionAttributeValues={":st": {"S": status}, ":why": {"S": reason}})

    def replay(self, account_id: str, webhook_id: str, event_id: str, now: float) -> bool:
        """Make a delivery pending again, due now, whatever its status (POST .../retry)."""
        return applied(self._client.update_item, TableName=self._table,
                       Key=self._delivery_key(account_id, webhook_id, event_id),
                       UpdateExpression="SET #s = :pending, next_attempt_at = :now REMOVE lease_until, final_reason",
                       ConditionExpression="attribute_exists(sk)", ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":pending": {"S": "pending"}, ":now": {"N": str(int(now))}})
