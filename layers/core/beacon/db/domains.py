"""Sender domains (the accounts table).

Domain: pk=A#{account_id} sk=DOMAIN#{domain}   the tenant's record (status, DKIM tokens)
Claim:  pk=D#{domain}     sk=CLAIM             one tenant per domain
"""

from __future__ import annotations

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from beacon.db.conditions import cancellation_codes
from beacon.db.models import AccountItem, DomainClaimItem, DomainItem
from beacon.db.paging import query_page


class DomainTaken(Exception):
    pass


class DomainRepo:
    def claim(self, item: DomainItem, account_id: str) -> bool:
        """Store a new domain of this tenant. False if the tenant already has it; DomainTaken if
        another tenant does."""
        claim = DomainClaimItem(pk=f"D#{item.domain}", sk="CLAIM", account_id=account_id)
        try:
            with TransactWrite(connection=AccountItem._get_connection().connection) as tx:
                tx.save(claim, condition=DomainClaimItem.pk.does_not_exist())
                tx.save(item, condition=DomainItem.pk.does_not_exist())
        except TransactWriteError as exc:
            if cancellation_codes(exc)[:1] == ["ConditionalCheckFailed"]:  # the claim
                owner = self.owner(item.domain)
                if owner == account_id:
                    return False
                raise DomainTaken(item.domain) from exc
            raise
        return True

    def owner(self, domain: str) -> str | None:
        try:
            return DomainClaimItem.get(f"D#{domain}", "CLAIM", consistent_read=True).account_id
        except DomainClaimItem.DoesNotExist:
            return None

    def get(self, account_id: str, domain: str) -> DomainItem | None:
        try:
            return DomainItem.get(f"A#{account_id}", f"DOMAIN#{domain}", consistent_read=True)
        except DomainItem.DoesNotExist:
            return None

    def get_many(self, account_id: str, domains: list[str]) -> list[DomainItem]:
        keys = [(f"A#{account_id}", f"DOMAIN#{d}") for d in dict.fromkeys(domains)][:100]
        return list(DomainItem.batch_get(keys))

    def all(self, account_id: str) -> list[DomainItem]:
        return list(DomainItem.query(f"A#{account_id}", DomainItem.sk.startswith("DOMAIN#")))

    def page(self, account_id: str, limit: int, cursor: str | None) -> tuple[list[DomainItem], str | None]:
        return query_page(DomainItem, f"A#{account_id}", "DOMAIN#", limit, cursor)

    def save(self, item: DomainItem) -> None:
        item.save()

    def delete(self, account_id: str, domain: str) -> None:
        with TransactWrite(connection=AccountItem._get_connection().connection) as tx:
            tx.delete(DomainItem(pk=f"A#{account_id}", sk=f"DOMAIN#{domain}"))
            tx.delete(DomainClaimItem(pk=f"D#{domain}", sk="CLAIM"),
                      condition=DomainClaimItem.account_id == account_id)
