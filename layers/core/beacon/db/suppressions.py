"""Suppressions (the suppressions table): who must get no mail from a tenant, by recipient id."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.exceptions import PutError

from beacon.db.models import SuppressionItem


class SuppressionRepo:
    def suppressed(self, account_id: str, recipient_ids: Iterable[str]) -> set[str]:
        """The subset of recipient ids that are suppressed (one BatchGetItem per 100)."""
        keys = [(account_id, rid) for rid in dict.fromkeys(recipient_ids)]
        found: set[str] = set()
        for start in range(0, len(keys), 100):
            for item in SuppressionItem.batch_get(keys[start : start + 100], attributes_to_get=["sk"]):
                found.add(item.sk)
        return found

    def get(self, account_id: str, recipient_id: str) -> SuppressionItem | None:
        try:
            return SuppressionItem.get(account_id, recipient_id, consistent_read=True)
        except SuppressionItem.DoesNotExist:
            return None

    def add(self, item: SuppressionItem, *, overwrite_reasons: tuple[str, ...] = ("manual", "bounce")) -> bool:
        """Add it; an existing unsubscribe or complaint is never downgraded. True if written."""
        condition = SuppressionItem.sk.does_not_exist()
        for reason in overwrite_reasons:
            condition = condition | (SuppressionItem.reason == reason)
        try:
            item.save(condition=condition)
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def remove(self, account_id: str, recipient_id: str) -> None:
        SuppressionItem(pk=account_id, sk=recipient_id).delete()
