"""Contacts and list memberships (the contacts table).

Contact:    pk={account_id}            sk=C#{recipient_id}
Membership: pk={account_id}#L#{list_id} sk={recipient_id}
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable

from pynamodb.exceptions import PutError

from beacon.db.models import ContactItem, MembershipItem


def encode_cursor(key: dict[str, str] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, str] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError("cursor is not one this API gave out") from exc
    if not isinstance(key, dict) or set(key) != {"pk", "sk"} or not all(isinstance(v, str) for v in key.values()):
        raise ValueError("cursor is not one this API gave out")
    return key


class ContactRepo:
    def get(self, account_id: str, recipient_id: str) -> ContactItem | None:
        try:
            return ContactItem.get(account_id, f"C#{recipient_id}")
        except ContactItem.DoesNotExist:
            return None

    def get_many(self, account_id: str, recipient_ids: Iterable[str]) -> dict[str, ContactItem]:
        keys = [(account_id, f"C#{rid}") for rid in dict.fromkeys(recipient_ids)]
        found: dict[str, ContactItem] = {}
        for start in range(0, len(keys), 100):
            for item in ContactItem.batch_get(keys[start : start + 100]):
                found[item.sk[2:]] = item
        return found

    def save(self, item: ContactItem) -> None:
        item.save()

    def save_many(self, items: list[ContactItem], joined: set[str], list_id: str, at: str) -> None:
        """Write contacts, and the membership of `list_id` for those in `joined` (25 a call)."""
        with ContactItem.batch_write() as batch:
            for item in items:
                batch.save(item)
                if item.sk[2:] not in joined:
                    continue
                batch.save(MembershipItem(pk=f"{item.pk}#L#{list_id}", sk=item.sk[2:], email=item.email,
                                          created_at=at))

    def add_membership(self, account_id: str, list_id: str, recipient_id: str, email: str, at: str) -> bool:
        """True when the contact was not on the list before."""
        try:
            MembershipItem(pk=f"{account_id}#L#{list_id}", sk=recipient_id, email=email, created_at=at).save(
                condition=MembershipItem.sk.does_not_exist()
            )
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

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
