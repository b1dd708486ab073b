"""The reads behind the unsubscribe page (GET /u/{token}): the tenant's company name and whether the
person is unsubscribed. Plain botocore on the shared raw client, so showing the page imports no
PynamoDB and builds no second botocore session (the page's cold start; bench/tracking.py)."""

from __future__ import annotations

from typing import Any


class UnsubscribeView:
    def __init__(self, client: Any, accounts_table: str, suppressions_table: str) -> None:
        self._client = client
        self._accounts = accounts_table
        self._suppressions = suppressions_table

    def company(self, account_id: str) -> str | None:
        """The account's company name (the AccountItem at A#{id} / PROFILE), None if there is none."""
        item = self._client.get_item(
            TableName=self._accounts, Key={"pk": {"S": f"A#{account_id}"}, "sk": {"S": "PROFILE"}},
            ProjectionExpression="company",
        ).get("Item") or {}
        return item.get("company", {}).get("S") or None

    def suppression_reason(self, account_id: str, recipient_id: str) -> str | None:
        """Why the person is suppressed (unsubscribe, complaint, bounce, manual), None if not."""
        item = self._client.get_item(
            TableName=self._suppressions, Key={"pk": {"S": account_id}, "sk": {"S": recipient_id}},
            ProjectionExpression="reason", ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return str(item.get("reason", {}).get("S") or "unknown")
