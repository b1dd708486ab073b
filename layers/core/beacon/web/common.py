"""What every /v1 route needs: the error body, the caller, the tracking base URL, id checks."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from beacon.accounts import access as accounts
from beacon.db.accounts import AccountRepo
from beacon.shared.errors import Conflict, NotFound
from beacon.shared.ids import is_id
from beacon.web import session_cookie
from beacon.web.bodies import Cursor
from beacon.wiring import bound

# An object id in a path: any other shape is simply not found (404, see require_id), so the pattern is shown,
# not enforced (a 422 would tell "malformed" from "not yours").
ID = Annotated[str, Path(description="32 hexadecimal digits", json_schema_extra={"pattern": "^[0-9a-f]{32}$"})]
# every list endpoint pages: ?limit=&cursor= (next_cursor in the answer; null on the last page)
LIMIT = Annotated[int, Query(ge=1, le=1000, description="items per page")]
CURSOR = Annotated[Cursor, Query()]


def reply(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=body)


def error(status: int, code: str, message: str, details: Any = None) -> Response[Any]:
    payload: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        payload["details"] = details
    return reply(status, {"error": payload})


def base_url(event: Any) -> str:
    """Where the public routes (/o, /c, /u) live: the configured domain, or this API's own."""
    configured = bound().public_base_url
    if configured:
        return configured
    domain = event.request_context.domain_name or "localhost"
    proto = event.headers.get("x-forwarded-proto") or (
        "http" if domain.startswith(("127.", "localhost")) else "https"
    )
    return f"{proto}://{domain}"


READS = frozenset({"GET", "HEAD"})
_last = threading.local()  # (event, principal) of this thread's current request


def authenticated(event: Any) -> accounts.Principal:
    """The caller: Authorization: Bearer <key or session token>, or the console's session cookie
    (with its CSRF header on changes): beacon.web.session_cookie. Authenticated once per request:
    the middleware that runs before the body is read asks first (beacon.web.guards), the route gets
    the same answer."""
    hit = getattr(_last, "hit", None)
    if hit is not None and hit[0] is event:
        return hit[1]
    who = session_cookie.principal(event)
    _last.hit = (event, who)
    return who


def principal(event: Any, *, signing_out: bool = False) -> accounts.Principal:
    """The authenticated caller (see `authenticated`). While its account is being erased
    (beacon.audience.jobs) it may only read, and sign out (`signing_out`)."""
    who = authenticated(event)
    if who.deleting and not signing_out and str(event.http_method or "").upper() not in READS:
        raise Conflict("this account is being erased: it can only be read (GET /v1/jobs/{id} shows the progress)",
                       code="account_deleting")
    return who


def company_of(account_id: str) -> str:
    account = AccountRepo().get(account_id)
    if account is None:
        raise NotFound("account not found")
    return account.company


def sender_of(account_id: str) -> tuple[str, str]:
    """The account's company and postal address: what every email's footer shows."""
    account = AccountRepo().get(account_id)
    if account is None:
        raise NotFound("account not found")
    return account.company, account.postal_address or ""


def require_id(value: str, what: str) -> str:
    if not is_id(value):
        raise NotFound(f"{what} not found")
    return value
