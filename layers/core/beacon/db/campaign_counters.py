"""A campaign's delivery counters (sent, failed, skipped_suppressed, delivered, bounced, complained,
unsubscribed, ...), sharded over 16 items so no partition passes 1,000 writes/s. Written in the same
transaction as the send ledger items they count (beacon.db.send_ledger: settle, settle_by_event,
mark), so the figures move exactly when the ledger does. Opens and clicks are NOT counted here: each
is one write on the recipient's ledger item (beacon.db.engagement). Plain botocore, like the ledger.

Item: pk={account_id}#{campaign_id} sk=s{00..15}; every other attribute is a number that
`ADD` increments. A read sums the shards (one Query).
"""

from __future__ import annotations

import random
import re
from typing import Any

SHARDS = 16
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Counters:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    @staticmethod
    def update_args(
        table: str, account_id: str, campaign_id: str, counts: dict[str, int], shard: int | None = None
    ) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        parts = []
        for i, (name, amount) in enumerate(counts.items()):
            if not _NAME.match(name):
                raise ValueError(f"bad counter name {name!r}")
            names[f"#c{i}"] = name
            values[f":c{i}"] = {"N": str(int(amount))}
            parts.append(f"#c{i} :c{i}")
        if shard is None:
            shard = random.randrange(SHARDS)
        return {
            "TableName": table,
            "Key": {"pk": {"S": f"{account_id}#{campaign_id}"}, "sk": {"S": f"s{shard:02d}"}},
            "UpdateExpression": "ADD " + ", ".join(parts),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def add(self, account_id: str, campaign_id: str, counts: dict[str, int]) -> None:
        counts = {k: v for k, v in counts.items() if v}
        if counts:
            self._client.update_item(**self.update_args(self._table, account_id, campaign_id, counts))

    def read(self, account_id: str, campaign_id: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :s)",  # not the roll-up items (db.stats_rollup)
            "ExpressionAttributeValues": {":pk": {"S": f"{account_id}#{campaign_id}"}, ":s": {"S": "s"}},
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**kwargs)
            for item in page.get("Items", []):
                for name, value in item.items():
                    if "N" in value:
                        totals[name] = totals.get(name, 0) + int(value["N"])
            if "LastEvaluatedKey" not in page:
                return totals
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete_all(self, account_id: str, campaign_id: str) -> None:
        for shard in range(SHARDS):
            self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": f"{account_id}#{campaign_id}"}, "sk": {"S": f"s{shard:02d}"}},
            )
