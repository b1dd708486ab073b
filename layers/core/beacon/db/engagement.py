"""Opens and clicks written onto the send-ledger item: one UpdateItem that also tells whether
this was the recipient's first (unique) open or click. Plain botocore: the tracking path
imports no PynamoDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Prior:
    """What the ledger item held before this event."""

    exists: bool
    opens: int = 0
    human_opens: int = 0
    clicks: int = 0
    human_clicks: int = 0
    clicked_links: frozenset[int] = frozenset()
    sent_at: str | None = None


def _num(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else 0


class Engagement:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def _update(self, account_id: str, campaign_id: str, recipient_id: str, expr: str,
                values: dict[str, Any]) -> Prior:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"{account_id}#{campaign_id}"}, "sk": {"S": recipient_id}},
                UpdateExpression=expr,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return Prior(exists=False)
        old = answer.get("Attributes", {})
        links = old.get("clicked_links", {}).get("NS", [])
        sent = old.get("sent_at", {}).get("S")
        return Prior(
            exists=True,
            opens=_num(old, "opens"),
            human_opens=_num(old, "human_opens"),
            clicks=_num(old, "clicks"),
            human_clicks=_num(old, "human_clicks"),
            clicked_links=frozenset(int(x) for x in links),
            sent_at=sent,
        )

    def record_open(self, account_id: str, campaign_id: str, recipient_id: str, *, human: bool,
                    at: str) -> Prior:
        return self._update(
            account_id, campaign_id, recipient_id,
            "ADD opens :one, human_opens :h SET last_open_at = :at",
            {":one": {"N": "1"}, ":h": {"N": "1" if human else "0"}, ":at": {"S": at}},
        )

    def record_click(self, account_id: str, campaign_id: str, recipient_id: str, *, link_index: int,
                     human: bool, at: str) -> Prior:
        return self._update(
            account_id, campaign_id, recipient_id,
            "ADD clicks :one, human_clicks :h, clicked_links :link SET last_click_at = :at",
            {":one": {"N": "1"}, ":h": {"N": "1" if human else "0"},
             ":link": {"NS": [str(link_index)]}, ":at": {"S": at}},
        )
