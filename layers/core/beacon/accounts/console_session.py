"""The web console's session: the same session token POST /v1/sessions issues, carried by the browser
in an HttpOnly cookie instead of an Authorization header (the page's script never sees it), plus a
CSRF token that every request that changes something must present.

- Only a session token ("bs_...") is accepted from the cookie. API keys stay bearer-only, so a key
  can never ride along on a browser's ambient credentials.
- The CSRF token is derived, not stored: HMAC-SHA256 of the session token's hash under the
  deployment secret with its own label. It needs no table, cannot be forged without the secret,
  and ends with its session. The console reads it from the sign-in answer or from GET /v1/session
  (another origin cannot read that answer: the API sends no CORS headers) and keeps it in memory.
- A wrong or missing CSRF token is 403 `csrf_failed`; an unknown or expired session is 401 first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from beacon.accounts.access import SESSION_PREFIX, Principal, authenticate, hash_key
from beacon.db.accounts import AccountRepo
from beacon.db.credentials import CredentialRepo
from beacon.shared.errors import Forbidden, Unauthorized

_CSRF_LABEL = b"beacon console csrf v1\x00"
MAX_TOKEN = 200  # session tokens are 46 characters; anything much longer is not one


def csrf_token(secret: bytes, session_token: str) -> str:
    mac = hmac.new(secret, _CSRF_LABEL + hash_key(session_token).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_matches(secret: bytes, session_token: str, presented: str | None) -> bool:
    if not presented or len(presented) > 100:
        return False
    return hmac.compare_digest(presented.strip().encode("utf-8", "replace"),
                               csrf_token(secret, session_token).encode())


def authenticate_cookie(repo: AccountRepo, creds: CredentialRepo, token: str, *, changes: bool,
                        csrf: str | None, secret: bytes) -> Principal:
    """The caller behind a console cookie. `changes`: the request is not a GET/HEAD/OPTIONS, so it
    must carry the session's CSRF token."""
    if not token.startswith(SESSION_PREFIX) or len(token) > MAX_TOKEN:
        raise Unauthorized("the session cookie is not valid; sign in again", code="invalid_session")
    who = authenticate(repo, f"Bearer {token}", creds)
    if changes and not csrf_matches(secret, token, csrf):
        raise Forbidden("a console request that changes something needs its session's X-CSRF-Token header; "
                        "reload the page", code="csrf_failed")
    return who


def end_session(creds: CredentialRepo, token: str) -> bool:
    """Sign out: the session stops working at once. False if it was not a live session."""
    if not token.startswith(SESSION_PREFIX) or len(token) > MAX_TOKEN:
        return False
    return creds.end_session(hash_key(token)) is not None
