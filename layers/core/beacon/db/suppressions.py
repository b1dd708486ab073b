"""Suppressions (the suppressions table): who must get no mail from a tenant, by recipient id."""

from __future__ import annotations

from collections.abc import Iterable

from beacon.db.batch import parallel_batch_get
from beacon.db.conditions import applied
from beacon.db.models import SuppressionItem


class SuppressionRepo:
    def suppressed(self, account_id: str, recipient_ids: Iterable[str]) -> set[str]:
        """The subset of recipient ids that are suppressed (BatchGetItem, 100 a call, in parallel)."""
        keys = [{"pk": {"S": account_id}, "sk": {"S": rid}} for rid in dict.fromkeys(recipient_ids)]
        return {raw["sk"]["S"] for raw in parallel_batch_get(SuppressionItem, keys)}

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
        return applied(item.save, condition=condition)

    def remove(self, account_id: str, recipient_id: str) -> None:
        SuppressionItem(pk=account_id, sk=recipient_id).delete()

    def page(self, account_id: str, limit: int,
             cursor: dict[str, str] | None) -> tuple[list[SuppressionItem], dict[str, str] | None]:
        """Up to `limit` suppressions after `cursor`, and the cursor of the next page (None on the last)."""
        if cursor is not None and cursor.get("pk") != account_id:
            raise ValueError("cursor is not one this API gave out")
        items = list(SuppressionItem.query(
            account_id, limit=limit + 1, page_size=limit + 1,
            last_evaluated_key={k: {"S": v} for k, v in cursor.items()} if cursor else None,
        ))
        if len(items) <= limit:
            return items, None
        items = items[:limit]
        return items, {"pk": account_id, "sk": items[-1].sk}

    def forget_email(self, account_id: str, recipient_id: str) -> bool:
        """Remove the address from a suppression, keeping the hash that keeps honouring it."""
        return applied(SuppressionItem(pk=account_id, sk=recipient_id).update, actions=[SuppressionItem.email.remove()],
                       condition=SuppressionItem.sk.exists())

    def remove_if(self, account_id: str, recipient_id: str, reasons: tuple[str, ...]) -> bool:
        """Delete the suppression only while its reason is one of `reasons`. True if deleted."""
        return applied(SuppressionItem(pk=account_id, sk=recipient_id).delete,
                       condition=SuppressionItem.reason.is_in(*reasons))
