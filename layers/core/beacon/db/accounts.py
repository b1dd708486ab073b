"""Accounts, owner-email claims, API keys and lists (the accounts table)."""

from __future__ import annotations

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from beacon.db.models import AccountItem, ApiKeyItem, ApiKeyLookupItem, EmailClaimItem, ListItem


class EmailTaken(Exception):
    pass


class AccountRepo:
    def create(self, account: AccountItem, key_lookup: ApiKeyLookupItem, key: ApiKeyItem) -> None:
        claim = EmailClaimItem(pk=f"E#{account.email}", sk="CLAIM", account_id=account.account_id)
        try:
            with TransactWrite(connection=AccountItem._get_connection().connection) as tx:
                tx.save(claim, condition=EmailClaimItem.pk.does_not_exist())
                tx.save(account, condition=AccountItem.pk.does_not_exist())
                tx.save(key_lookup, condition=ApiKeyLookupItem.pk.does_not_exist())
                tx.save(key)
        except TransactWriteError as exc:
            reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or []) if r]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise EmailTaken(account.email) from exc
            raise

    def get(self, account_id: str) -> AccountItem | None:
        try:
            return AccountItem.get(f"A#{account_id}", "PROFILE")
        except AccountItem.DoesNotExist:
            return None

    def key_lookup(self, key_hash: str) -> ApiKeyLookupItem | None:
        try:
            return ApiKeyLookupItem.get(f"K#{key_hash}", "KEY")
        except ApiKeyLookupItem.DoesNotExist:
            return None


class ListRepo:
    def create(self, item: ListItem) -> None:
        try:
            item.save(condition=ListItem.pk.does_not_exist())
        except PutError:
            raise

    def get(self, account_id: str, list_id: str) -> ListItem | None:
        try:
            return ListItem.get(f"A#{account_id}", f"LIST#{list_id}")
        except ListItem.DoesNotExist:
            return None

    def all(self, account_id: str) -> list[ListItem]:
        return list(ListItem.query(f"A#{account_id}", ListItem.sk.startswith("LIST#")))

    def add_count(self, account_id: str, list_id: str, amount: int) -> None:
        if amount:
            ListItem(pk=f"A#{account_id}", sk=f"LIST#{list_id}").update(
                actions=[ListItem.contact_count.add(amount)], condition=ListItem.pk.exists()
            )
