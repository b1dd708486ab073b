"""Access to an account: passwords, sign-in (sessions, with a throttle on failures), API keys, and
who a request is (authenticate). Passwords are argon2id hashes, never stored or sent plain; keys and
session tokens are random and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from beacon.db.accounts import AccountRepo
from beacon.db.credentials import CredentialRepo
from beacon.db.models import ApiKeyItem, ApiKeyLookupItem, SessionItem
from beacon.shared import addresses
from beacon.shared.clock import epoch, now_iso
from beacon.shared.errors import Conflict, NotFound, TooManyRequests, Unauthorized, Unprocessable
from beacon.shared.ids import is_id, new_id

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
KEY_PREFIX = "bk_"
SESSION_PREFIX = "bs_"
SESSION_SECONDS = 12 * 3600
LOGIN_FAILURES = 5  # failed sign-ins for one email within LOGIN_WINDOW answer 429 until it ends
LOGIN_WINDOW = 15 * 60
MAX_KEYS = 50
BAD_LOGIN = "the email or password is not correct"


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hasher().hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """argon2 verify; with no hash (unknown account) it verifies against a dummy one, so an
    unknown email costs the same time as a wrong password."""
    try:
        return hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise Unprocessable(f"{field} must be at least {MIN_PASSWORD} characters",
                            code="weak_password", details=[{"field": field}])
    if len(password) > MAX_PASSWORD:
        raise Unprocessable(f"{field} must be at most {MAX_PASSWORD} characters",
                            code="weak_password", details=[{"field": field}])


@dataclass(frozen=True)
class Principal:
    account_id: str
    key_id: str  # the API key's id, or the session's id when via == "session"
    via: str = "api_key"
    deleting: bool = False  # the account is being erased: it may only read






def new_api_key(account_id: str, name: str, now: str) -> tuple[str, ApiKeyLookupItem, ApiKeyItem]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    digest = hash_key(key)
    key_id = new_id()
    lookup = ApiKeyLookupItem(pk=f"K#{digest}", sk="KEY", account_id=account_id, key_id=key_id)
    record = ApiKeyItem(pk=f"A#{account_id}", sk=f"KEY#{key_id}", key_id=key_id, name=name,
                        prefix=key[:8], key_hash=digest, created_at=now)
    return key, lookup, record


def authenticate(repo: AccountRepo, authorization: str | None, sessions: CredentialRepo | None = None) -> Principal:
    """The caller of a /v1 route: one read for an API key, one for a session token."""
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer <api key or session token>")
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthorized("Authorization must be 'Bearer <api key or session token>'")
    if len(credential) > 200 or not credential.startswith((KEY_PREFIX, SESSION_PREFIX)):
        raise Unauthorized("invalid API key or session token")
    if credential.startswith(SESSION_PREFIX):
        session = (sessions or CredentialRepo()).session(hash_key(credential))
        if session is None or int(session.expires_at) <= epoch():
            raise Unauthorized("invalid or expired session token; sign in again", code="invalid_session")
        return Principal(session.account_id, session.session_id, "session", bool(session.deleting))
    found = repo.key_lookup(hash_key(credential))
    if found is None:
        raise Unauthorized("invalid API key")
    return Principal(found.account_id, found.key_id, deleting=bool(found.deleting))


# ----------------------------------------------------------------------------- sessions
def login_throttle_key(email: str) -> str:
    return f"T#login#{hash_key(email)}"


def _iso(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def sign_in(repo: AccountRepo, creds: CredentialRepo, email: str, password: str) -> dict[str, Any]:
    """A session token for the owner's email and password. The same 401 for an unknown email and
    a wrong password; after LOGIN_FAILURES failures in LOGIN_WINDOW, 429 until the window ends."""
    try:
        email = addresses.normalize(email)
    except addresses.InvalidAddress:
        email = email.strip().lower()[:254]
    now = epoch()
    throttle = login_throttle_key(email)
    failures, until = creds.failures(throttle, now)
    if failures >= LOGIN_FAILURES:
        raise slow_down(until - now)
    account_id = repo.owner_of(email)
    account = repo.get(account_id) if account_id else None
    if not verify_password(account.password_hash if account else None, password) or account is None:
        if creds.add_failure(throttle, now, LOGIN_WINDOW) > LOGIN_FAILURES:
            raise slow_down(LOGIN_WINDOW)
        raise Unauthorized(BAD_LOGIN, code="invalid_credentials")
    if failures:
        creds.clear_failures(throttle)
    if account.status == "deleting":
        raise Conflict("this account is being erased", code="account_deleting")
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = now + SESSION_SECONDS
    creds.add_session(SessionItem(pk=f"S#{hash_key(token)}", sk="SESSION", account_id=account.account_id,
                                  session_id=new_id(), created_at=now_iso(), expires_at=expires))
    return {"token": token, "expires_at": _iso(expires)}


def slow_down(seconds: int) -> TooManyRequests:
    seconds = max(1, seconds)
    return TooManyRequests(f"too many failed sign-ins for this email; try again in {seconds} seconds",
                           code="too_many_attempts", details={"retry_after": seconds})


# ----------------------------------------------------------------------------- API keys
def key_view(item: ApiKeyItem) -> dict[str, Any]:
    return {"id": item.key_id, "name": item.name, "prefix": item.prefix, "created_at": item.created_at}


def create_key(repo: AccountRepo, account_id: str, name: str) -> dict[str, Any]:
    name = name.strip()
    if not name or any(c in name for c in "\r\n\x00"):
        raise Unprocessable("name must be one non-empty line", details=[{"field": "name"}])
    if len(repo.keys(account_id)) >= MAX_KEYS:
        raise Unprocessable(f"an account may have at most {MAX_KEYS} API keys; delete one first",
                            code="too_many_keys")
    key, lookup, record = new_api_key(account_id, name, now_iso())
    repo.add_key(lookup, record)
    return {**key_view(record), "key": key}


def list_keys(repo: AccountRepo, account_id: str, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
    """A page of the account's keys (oldest first), without secrets."""
    items, next_cursor = repo.keys_page(account_id, limit, cursor)
    return {"items": [key_view(k) for k in items], "next_cursor": next_cursor}


def delete_key(repo: AccountRepo, account_id: str, key_id: str) -> None:
    if not is_id(key_id) or not repo.delete_key(account_id, key_id):
        raise NotFound("API key not found")










