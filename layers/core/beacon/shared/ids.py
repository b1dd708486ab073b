"""Identifiers: random object ids and the per-tenant recipient id derived from an address."""

from __future__ import annotations

import hashlib
import secrets
import time


def new_id() -> str:
    """A 32-hex-digit id whose first 12 digits are the creation time in ms (sorts by age)."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


def recipient_id(account_id: str, email: str) -> str:
    """The stable id of a person within one tenant: no address in keys, URLs or tags.

    The email must already be normalised (beacon.shared.addresses.normalize).
    """
    return hashlib.sha256(f"{account_id}:{email}".encode()).hexdigest()[:32]


def is_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)
