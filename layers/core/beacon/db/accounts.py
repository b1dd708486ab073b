"""Accounts, owner-email claims, API keys and lists (the accounts table)."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from beacon.db.conditions import applied, cancellation_codes
from beacon.db.models import AccountItem, ApiKeyItem, ApiKeyLookupItem, EmailClaimItem, ListItem
from beacon.db.paging import query_page


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
            if cancellation_codes(exc)[:1] == ["ConditionalCheckFailed"]:  # the email claim
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

    def owner_of(self, email: str) -> str | None:
        """The account id that owns this (normalised) email, or None."""
        try:
            return EmailClaimItem.get(f"E#{email}", "CLAIM").account_id
        except EmailClaimItem.DoesNotExist:
            return None

    def set_company(self, account_id: str, company: str) -> None:
        AccountItem(pk=f"A#{account_id}", sk="PROFILE").update(
            actions=[AccountItem.company.set(company)], condition=AccountItem.pk.exists())

    def set_postal_address(self, account_id: str, postal_address: str) -> None:
        AccountItem(pk=f"A#{account_id}", sk="PROFILE").update(
            actions=[AccountItem.postal_address.set(postal_address)], condition=AccountItem.pk.exists())

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        AccountItem(pk=f"A#{account_id}", sk="PROFILE").update(
            actions=[AccountItem.password_hash.set(password_hash)], condition=AccountItem.pk.exists())

    def add_key(self, key_lookup: ApiKeyLookupItem, key: ApiKeyItem) -> None:
        with TransactWrite(connection=AccountItem._get_connection().connection) as tx:
            tx.save(key_lookup, condition=ApiKeyLookupItem.pk.does_not_exist())
            tx.save(key)

    def keys(self, account_id: str) -> list[ApiKeyItem]:
        return list(ApiKeyItem.query(f"A#{account_id}", ApiKeyItem.sk.startswith("KEY#")))

    def keys_page(self, account_id: str, limit: int, cursor: str | None) -> tuple[list[ApiKeyItem], str | None]:
        return query_page(ApiKeyItem, f"A#{account_id}", "KEY#", limit, cursor)

    def start_deleting(self, account_id: str, job_id: str) -> str | None:
        """Mark the account as being erased by job `job_id` and its API keys as read-only. Returns the
        id of the job that erases it (an earlier one, if it was already being erased; then nothing
        changes), or None when there is no such account."""
        if not applied(AccountItem(pk=f"A#{account_id}", sk="PROFILE").update,
                       actions=[AccountItem.status.set("deleting"), AccountItem.erasure_job.set(job_id)],
                       condition=AccountItem.pk.exists() & AccountItem.status.does_not_exist()):
            current = self.get(account_id)
            return current.erasure_job if current is not None else None
        for key in self.keys(account_id):
            applied(ApiKeyLookupItem(pk=f"K#{key.key_hash}", sk="KEY").update,
                    actions=[ApiKeyLookupItem.deleting.set(1)], condition=ApiKeyLookupItem.pk.exists())
        return job_id

    def delete_key(self, account_id: str, key_id: str) -> bool:
        """Revoke one key of this tenant (its lookup first, so it stops working at once)."""
        try:
            record = ApiKeyItem.get(f"A#{account_id}", f"KEY#{key_id}", consistent_read=True)
        except ApiKeyItem.DoesNotExist:
            return False
        with TransactWrite(connection=AccountItem._get_connection().connection) as tx:
            tx.delete(ApiKeyLookupItem(pk=f"K#{record.key_hash}", sk="KEY"))
            tx.delete(record)
        return True


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

    def page(self, account_id: str, limit: int, cursor: str | None) -> tuple[list[ListItem], str | None]:
        return query_page(ListItem, f"A#{account_id}", "LIST#", limit, cursor)

    def add_count(self, account_id: str, list_id: str, amount: int) -> None:
        if amount:
            ListItem(pk=f"A#{account_id}", sk=f"LIST#{list_id}").update(
                actions=[ListItem.contact_count.add(amount)], condition=ListItem.pk.exists()
            )

    def rename(self, account_id: str, list_id: str, name: str) -> ListItem | None:
        """The renamed list, or None when it does not exist (never creates one)."""
        if not applied(ListItem(pk=f"A#{account_id}", sk=f"LIST#{list_id}").update,
                       actions=[ListItem.name.set(name)], condition=ListItem.pk.exists()):
            return None
        return self.get(account_id, list_id)

    def delete(self, account_id: str, list_id: str) -> bool:
        """True when the list existed (and is now gone)."""
        return applied(ListItem(pk=f"A#{account_id}", sk=f"LIST#{list_id}").delete, condition=ListItem.pk.exists())

    def subtract_counts(self, account_id: str, list_ids: Iterable[str], amount: int = 1) -> None:
        """Take `amount` off each list's count; a list deleted meanwhile is skipped."""
        for list_id in list_ids:
            applied(ListItem(pk=f"A#{account_id}", sk=f"LIST#{list_id}").update,
                    actions=[ListItem.contact_count.add(-amount)], condition=ListItem.pk.exists())
