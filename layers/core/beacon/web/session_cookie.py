"""Who is calling a /v1 route: an Authorization header (API key or session token), or the console's
session cookie with its CSRF header on changes (beacon.accounts.console_session says why).

The cookie is `__Host-beacon_session`: the __Host- prefix makes browsers accept it only with Secure,
Path=/ and no Domain, so no sibling subdomain can plant or overwrite it. HttpOnly keeps it from the
page's script; SameSite=Strict keeps it off every request another site starts.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from beacon.accounts import access, console_session
from beacon.accounts.access import Principal
from beacon.db.accounts import AccountRepo
from beacon.db.credentials import CredentialRepo
from beacon.shared.errors import UnsupportedMediaType
from beacon.wiring import bound

COOKIE = "__Host-beacon_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_COOKIES = 50


def cookie_token(cookies: list[str] | None) -> str | None:
    """The session cookie's value from an HTTP API event's `cookies` ("name=value" strings), or None."""
    for raw in (cookies or [])[:MAX_COOKIES]:
        for part in str(raw).split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name.strip() == COOKIE:
                value = value.strip().strip('"')
                return value or None
    return None


def principal(event: Any) -> Principal:
    settings = bound()
    authorization = event.headers.get("authorization")
    token = None if authorization else cookie_token(event.cookies)
    if token is None:
        return access.authenticate(AccountRepo(), authorization)
    method = (event.request_context.http.method or "GET").upper()
    return console_session.authenticate_cookie(
        AccountRepo(), CredentialRepo(), token, changes=method not in SAFE_METHODS,
        csrf=event.headers.get(CSRF_HEADER), secret=settings.token_secret)


def via_cookie(event: Any) -> str | None:
    """The session token if this request was authenticated by the console's cookie."""
    return None if event.headers.get("authorization") else cookie_token(event.cookies)


def session_cookie(token: str) -> Cookie:
    return Cookie(COOKIE, token, path="/", secure=True, http_only=True, max_age=access.SESSION_SECONDS,
                  same_site=SameSite.STRICT_MODE)


def cleared_cookie() -> Cookie:
    return Cookie(COOKIE, "", path="/", secure=True, http_only=True, max_age=0, same_site=SameSite.STRICT_MODE)


def signed_in(event: Any, session: dict[str, Any]) -> Response[Any]:
    """POST /v1/sessions with cookie: true. The token goes into the cookie and never into the body;
    a session the browser held before is ended (signing in again replaces it). Only with a JSON
    Content-Type, which another site's page cannot send without a CORS preflight (that the API never
    answers): no other site can sign a browser in to an account of its choosing."""
    content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("a console sign-in must be sent as application/json")
    previous = via_cookie(event)
    if previous and previous != session["token"]:
        console_session.end_session(CredentialRepo(), previous)
    body = {"expires_at": session["expires_at"],
            "csrf_token": console_session.csrf_token(bound().token_secret, session["token"])}
    return Response(status_code=201, content_type="application/json", body=body,
                    cookies=[session_cookie(session["token"])], headers={"Cache-Control": "no-store"})
