"""/v1/session: the caller's own session: who it is (and, for the console's cookie, its CSRF token),
and signing out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from beacon.accounts import console_session, tenants
from beacon.db.accounts import AccountRepo
from beacon.db.credentials import CredentialRepo
from beacon.shared.errors import BadRequest
from beacon.web import session_cookie
from beacon.web.answers import SessionInfo
from beacon.web.common import principal, reply
from beacon.web.openapi import SIGNED_IN, answers
from beacon.wiring import bound

router = Router()


@router.get("/v1/session", summary="The signed-in caller", tags=["accounts"], security=SIGNED_IN,
            responses=answers(200, SessionInfo, description="who is calling, and how"),
            description="`{account, via}`: via is `cookie` (the web console; the answer then carries the "
                        "session's `csrf_token`, to send as X-CSRF-Token on every change), `session` or `api_key`.")
def current_session() -> Response[Any]:
    event = router.current_event
    who = principal(event)
    answer: dict[str, Any] = {
        "account": tenants.account_view(tenants.require_account(AccountRepo(), who.account_id)),
        "via": who.via,
    }
    token = session_cookie.via_cookie(event)
    if token:
        answer["via"] = "cookie"
        answer["csrf_token"] = console_session.csrf_token(bound().token_secret, token)
    response = reply(200, answer)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.delete("/v1/session", summary="Sign out: the session stops working at once", tags=["accounts"],
               security=SIGNED_IN,
               responses=answers(204, None, description="signed out; the session cookie is cleared",
                                 also={400: "an API key is not a session (`not_a_session`): revoke it with "
                                            "DELETE /v1/api-keys/{key_id}"}),
               description="For the console's cookie (with its X-CSRF-Token) or a bearer session token. 204, and "
                           "the cookie is cleared. An API key is no session: revoke it with DELETE /v1/api-keys/{id}.")
def end_session() -> Response[Any]:
    event = router.current_event
    who = principal(event, signing_out=True)  # also while the account is being erased
    if who.via != "session":
        raise BadRequest("an API key is not a session; revoke it with DELETE /v1/api-keys/{id}",
                         code="not_a_session")
    token = session_cookie.via_cookie(event)
    if token is None:
        _scheme, _, token = (event.headers.get("authorization") or "").strip().partition(" ")
    console_session.end_session(CredentialRepo(), token.strip())
    return Response(status_code=204, cookies=[session_cookie.cleared_cookie()])
