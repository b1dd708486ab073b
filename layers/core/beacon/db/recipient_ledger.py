"""One person's send-ledger items across every campaign of a tenant (the messages table's
`by_recipient` index, recipient_key = {account_id}#{recipient_id}): the contact export reads them,
the contact erasure strips the address off them. Plain botocore, like the ledger itself.

Erasure keeps the items (the campaign stats and the exactly-once guarantee rest on them) and
removes only their `email` attribute, so what remains is keyed by the recipient hash alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from beacon.db.conditions import applied

INDEX = "by_recipient"


def _plain(value: dict[str, Any]) -> Any:
    if "S" in value:
        return value["S"]
    if "N" in value:
        number = float(value["N"])
        return int(number) if number.is_integer() else number
    if "NS" in value:
        return sorted(int(float(x)) for x in value["NS"])
    if "SS" in value:
        return sorted(value["SS"])
    if "BOOL" in value:
        return value["BOOL"]
    if "L" in value:
        return [_plain(v) for v in value["L"]]
    if "M" in value:
        return {k: _plain(v) for k, v in value["M"].items()}
    return None


class RecipientLedger:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def _keys(self, account_id: str, recipient_id: str) -> Iterator[dict[str, Any]]:
        args: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INDEX,
            "KeyConditionExpression": "recipient_key = :k",
            "ExpressionAttributeValues": {":k": {"S": f"{account_id}#{recipient_id}"}},
        }
        while True:
            page = self._client.query(**args)
            for item in page.get("Items", []):
                # the key starts with the tenant: an index entry of another tenant can never match
                if item["pk"]["S"].startswith(f"{account_id}#"):
                    yield {"pk": item["pk"], "sk": item["sk"]}
            if not page.get("LastEvaluatedKey"):
                return
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def items(self, account_id: str, recipient_id: str) -> list[dict[str, Any]]:
        """Every ledger item of the person, as plain values (one BatchGetItem per 100)."""
        keys = list(self._keys(account_id, recipient_id))
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {self._table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            for _attempt in range(8):
                answer = self._client.batch_get_item(RequestItems=request)
                found.extend(answer.get("Responses", {}).get(self._table, []))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
        plain = [{k: _plain(v) for k, v in item.items()} for item in found]
        return sorted(plain, key=lambda i: str(i.get("pk")))

    def forget_email(self, account_id: str, recipient_id: str) -> int:
        """Remove `email` from each of the person's ledger items; how many still had one."""
        count = 0
        for key in self._keys(account_id, recipient_id):
            if applied(self._client.update_item, TableName=self._table, Key=key, UpdateExpression="REMOVE email",
                ConditionExpression="attribute_exists(email)"):
                count += 1
        return count
