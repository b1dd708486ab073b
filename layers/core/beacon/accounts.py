"""Sign-up and API-key authentication. Passwords are argon2id hashes, never stored or sent plain."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher

from beacon import addresses
from beacon.clock import now_iso
from beacon.db.accounts import AccountRepo, EmailTaken
from beacon.db.models import AccountItem, ApiKeyItem, ApiKeyLookupItem
from beacon.errors import Conflict, Unauthorized, Unprocessable
from beacon.ids import new_id

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
KEY_PREFIX = "bk_"


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    account_id: str
    key_id: str


def account_view(item: AccountItem) -> dict[str, Any]:
    return {"id": item.account_id, "company": item.company, "email": item.email,
            "created_at": item.created_at}


def sign_up(repo: AccountRepo, company: str, email: str, password: str) -> tuple[dict[str, Any], str]:
    company = company.strip()
    if not company:
        raise Unprocessable("company must not be empty", details=[{"field": "company"}])
    if any(c in company for c in "\r\n"):
        raise Unprocessable("company must be one line", details=[{"field": "company"}])
    try:
        email = addresses.normalize(email)
    except addresses.InvalidAddress as exc:
        raise Unprocessable(f"email is not valid: {exc}", details=[{"field": "email"}]) from exc
    if len(password) < MIN_PASSWORD:
        raise Unprocessable(f"password must be at least {MIN_PASSWORD} characters",
                            code="weak_password", details=[{"field": "password"}])
    if len(password) > MAX_PASSWORD:
        raise Unprocessable(f"password must be at most {MAX_PASSWORD} characters",
                            details=[{"field": "password"}])
    account_id = new_id()
    now = now_iso()
    key, lookup, record = new_api_key(account_id, "default", now)
    account = AccountItem(
        pk=f"A#{account_id}", sk="PROFILE", account_id=account_id, company=company, email=email,
        password_hash=hasher().hash(password), created_at=now,
    )
    try:
        repo.create(account, lookup, record)
    except EmailTaken as exc:
        raise Conflict("an account with this email exists", code="email_taken") from exc
    return account_view(account), key


def new_api_key(account_id: str, name: str, now: str) -> tuple[str, ApiKeyLookupItem, ApiKeyItem]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    digest = hash_key(key)
    key_id = new_id()
    lookup = ApiKeyLookupItem(pk=f"K#{digest}", sk="KEY", account_id=account_id, key_id=key_id)
    record = ApiKeyItem(pk=f"A#{account_id}", sk=f"KEY#{key_id}", key_id=key_id, name=name,
                        prefix=key[:8], key_hash=digest, created_at=now)
    return key, lookup, record


def authenticate(repo: AccountRepo, authorization: str | None) -> Principal:
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer <api key>")
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthorized("Authorization must be 'Bearer <api key>'")
    if not credential.startswith(KEY_PREFIX) or len(credential) > 200:
        raise Unauthorized("invalid API key")
    found = repo.key_lookup(hash_key(credential))
    if found is None:
        raise Unauthorized("invalid API key")
    return Principal(found.account_id, found.key_id)
