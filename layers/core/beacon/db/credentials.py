"""Sessions, password-reset tokens and failure counters (the accounts table, all with a TTL).

Session:   pk=S#{sha256(token)} sk=SESSION   + the tenant's index pk=A#{account_id} sk=SESSION#{id}
Reset:     pk=R#{sha256(token)} sk=RESET     + the tenant's index pk=A#{account_id} sk=RESET#{id}
Failures:  pk=T#{scope}#{sha256(subject)} sk=COUNT

DynamoDB deletes expired items within a day or two, so every read also checks `expires_at`.
"""

from __future__ import annotations

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from beacon.db.conditions import applied, condition_failed
from beacon.db.models import AccountItem, OwnedRefItem, ResetItem, SessionItem, ThrottleItem


def _tx() -> TransactWrite:
    return TransactWrite(connection=AccountItem._get_connection().connection)


def _add_owned(item: SessionItem | ResetItem, ref_sk: str) -> None:
    """The item and its reference under the tenant (so revoking and erasing find it), together."""
    ref = OwnedRefItem(pk=f"A#{item.account_id}", sk=ref_sk, ref=item.pk, expires_at=item.expires_at)
    with _tx() as tx:
        tx.save(item, condition=type(item).pk.does_not_exist())
        tx.save(ref)


class CredentialRepo:
    # ------------------------------------------------------------ sessions
    def add_session(self, item: SessionItem) -> None:
        _add_owned(item, f"SESSION#{item.session_id}")

    def session(self, token_hash: str) -> SessionItem | None:
        try:
            return SessionItem.get(f"S#{token_hash}", "SESSION")
        except SessionItem.DoesNotExist:
            return None

    def end_session(self, token_hash: str) -> SessionItem | None:
        """Delete one session and its reference under the tenant (sign-out). Returns what was deleted."""
        item = self.session(token_hash)
        if item is None:
            return None
        with OwnedRefItem.batch_write() as batch:
            batch.delete(OwnedRefItem(pk=f"A#{item.account_id}", sk=f"SESSION#{item.session_id}"))
            batch.delete(OwnedRefItem(pk=item.pk, sk="SESSION"))
        return item

    def revoke(self, account_id: str, kind: str, keep: str | None = None) -> int:
        """Delete every SESSION or RESET of the tenant (but the one with id `keep`). Returns how many."""
        refs = list(OwnedRefItem.query(f"A#{account_id}", OwnedRefItem.sk.startswith(f"{kind}#"),
                                       consistent_read=True))
        gone = 0
        with OwnedRefItem.batch_write() as batch:
            for ref in refs:
                if keep is not None and ref.sk == f"{kind}#{keep}":
                    continue
                batch.delete(ref)
                batch.delete(OwnedRefItem(pk=ref.ref, sk=kind))
                gone += 1
        return gone

    def flag_deleting(self, account_id: str) -> None:
        """Every session of the tenant becomes read-only: its account is being erased."""
        for ref in OwnedRefItem.query(f"A#{account_id}", OwnedRefItem.sk.startswith("SESSION#"), consistent_read=True):
            applied(SessionItem(pk=ref.ref, sk="SESSION").update, actions=[SessionItem.deleting.set(1)],
                    condition=SessionItem.pk.exists())

    # ------------------------------------------------------------ password resets
    def add_reset(self, item: ResetItem) -> None:
        _add_owned(item, f"RESET#{item.reset_id}")

    def redeem_reset(self, token_hash: str, now: int, password_hash: str) -> str | None:
        """Use the token once: delete it and set the password in one transaction.
        Returns the account id, or None when the token is unknown, used or expired."""
        try:
            item = ResetItem.get(f"R#{token_hash}", "RESET", consistent_read=True)
        except ResetItem.DoesNotExist:
            return None
        if int(item.expires_at) <= now:
            return None
        try:
            with _tx() as tx:
                tx.delete(item, condition=ResetItem.pk.exists() & (ResetItem.expires_at > now))
                tx.delete(OwnedRefItem(pk=f"A#{item.account_id}", sk=f"RESET#{item.reset_id}"))
                tx.update(AccountItem(pk=f"A#{item.account_id}", sk="PROFILE"),
                          actions=[AccountItem.password_hash.set(password_hash)],
                          condition=AccountItem.pk.exists())
        except TransactWriteError as exc:
            if condition_failed(exc):
                return None  # used by a concurrent request, or the account is gone
            raise
        return item.account_id

    # ------------------------------------------------------------ failure counters
    def failures(self, key: str, now: int) -> tuple[int, int]:
        """(failures, window end) of an open window; (0, 0) when there is none."""
        try:
            item = ThrottleItem.get(key, "COUNT", consistent_read=True)
        except ThrottleItem.DoesNotExist:
            return 0, 0
        if int(item.expires_at) <= now:
            return 0, 0
        return int(item.failures or 0), int(item.expires_at)

    def add_failure(self, key: str, now: int, window: int) -> int:
        """Count one failure in the open window, or open a new one. Returns the count."""
        item = ThrottleItem(pk=key, sk="COUNT")
        if applied(item.update, actions=[ThrottleItem.failures.add(1)],
                   condition=ThrottleItem.pk.exists() & (ThrottleItem.expires_at > now)):
            return int(item.failures)
        if not applied(ThrottleItem(pk=key, sk="COUNT", failures=1, expires_at=now + window).save,
                       condition=ThrottleItem.pk.does_not_exist() | (ThrottleItem.expires_at <= now)):
            return self.add_failure(key, now, window)  # a concurrent request opened the window
        return 1

    def clear_failures(self, key: str) -> None:
        ThrottleItem(pk=key, sk="COUNT").delete()
