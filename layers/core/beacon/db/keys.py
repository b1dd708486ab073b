"""The send ledger's partition keys, in one place.

A campaign's ledger items are spread over 16 partition keys by the first hex digit of the
recipient id ({account}#{campaign}#{0-f}), so a million recipients opening at once (one write each,
beacon.db.engagement) or a fast send is not held to one partition key's 1,000 writes/s.
"""

from __future__ import annotations

SHARDS = "0123456789abcdef"


def ledger_pk(account_id: str, campaign_id: str, recipient_id: str) -> str:
    return f"{account_id}#{campaign_id}#{recipient_id[:1]}"


def ledger_pks(account_id: str, campaign_id: str) -> list[str]:
    """Every partition key of a campaign's ledger."""
    return [f"{account_id}#{campaign_id}#{shard}" for shard in SHARDS]


def campaign_of(pk: str) -> str:
    """The campaign id in a ledger partition key."""
    return pk.split("#")[1]
