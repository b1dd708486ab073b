"""/v1/accounts, /v1/account, /v1/sessions, /v1/api-keys and /v1/password-resets."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from beacon.accounts import access as accounts
from beacon.accounts import password_reset, tenants
from beacon.audience import jobs
from beacon.db.accounts import AccountRepo
from beacon.db.credentials import CredentialRepo
from beacon.shared.errors import TooManyRequests
from beacon.shared.observability import logger
from beacon.web import session_cookie
from beacon.web.answers import Accepted, Account, ApiKeyCreated, ApiKeys, CookieSession, Job, Session, SignedUp
from beacon.web.bodies import AccountPatch, ApiKeyIn, ResetIn, ResetRequestIn, SessionIn, SignupIn
from beacon.web.common import CURSOR, ID, LIMIT, base_url, error, principal, reply
from beacon.web.openapi import SIGNED_IN, answers
from beacon.wiring import bound, job_deps, ses

router = Router()


def _too_many(exc: TooManyRequests) -> Response[Any]:
    answer = error(exc.status, exc.code, exc.message, exc.details)
    retry = exc.details.get("retry_after") if isinstance(exc.details, dict) else None
    if retry:
        answer.headers["Retry-After"] = str(retry)
    return answer


@router.post("/v1/accounts", summary="Sign up", tags=["accounts"],
             responses=answers(201, SignedUp, description="the account and its first API key", auth=False,
                               body=True, also={409: "an account with this email exists (`email_taken`)",
                                                422: "a rule broken: a weak password (`weak_password`), an "
                                                     "invalid email, an empty company"}))
def sign_up(body: Annotated[SignupIn, Body()]) -> Response[Any]:
    bound()
    account, key = tenants.sign_up(AccountRepo(), body.company, body.email, body.password, body.postal_address)
    return reply(201, {"account": account, "api_key": key})


@router.get("/v1/account", summary="The signed-in account", tags=["accounts"], security=SIGNED_IN,
            responses=answers(200, Account, description="the account"))
def get_account() -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, tenants.account_view(tenants.require_account(AccountRepo(), who.account_id)))


@router.patch("/v1/account", summary="Change the company name, the postal address or the password",
              tags=["accounts"], security=SIGNED_IN,
              responses=answers(200, Account, description="the account as changed", body=True,
                                also={422: "a rule broken (a postal address of 1 to 8 lines, 10 to 500 characters), "
                                           "or a wrong current password (`wrong_password`)",
                                      429: "too many wrong current passwords (`too_many_attempts`)"}),
              description="A password change needs `current_password` and `new_password` (at least 10 "
                          "characters); a wrong current password is 422 `wrong_password`. It signs out every "
                          "other session. `postal_address` (1-8 lines) is shown in the footer of every email.")
def patch_account(body: Annotated[AccountPatch, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    try:
        view = tenants.update_profile(AccountRepo(), CredentialRepo(), who, body.company, body.current_password,
                                       body.new_password, postal_address=body.postal_address)
    except TooManyRequests as exc:
        return _too_many(exc)
    return reply(200, view)


@router.delete("/v1/account", summary="Erase the account and all its data, in the background", tags=["accounts"],
               security=SIGNED_IN,
               responses=answers(202, Job, description="the erasure job (GET /v1/jobs/{id}: its progress)",
                                 also={409: "a campaign is sending, scheduled or paused (`campaign_active`)"}),
               description="202 with the erasure job (GET /v1/jobs/{id}: its progress), whatever the account's size. "
                           "The account is read-only at once (409 account_deleting for any change); when the job "
                           "is done its keys no longer authenticate. Suppressions stay, as hashes without the "
                           "address. 409 campaign_active while a campaign is sending, scheduled or paused.")
def delete_account() -> Response[Any]:
    who = principal(router.current_event)
    job = jobs.start_account_erasure(job_deps(), who.account_id)
    logger.info("account erasure started", extra={"account_id": who.account_id, "job_id": job["id"]})
    return reply(202, job)


@router.get("/v1/jobs/<job_id>", summary="A background job's progress (list deletion, account erasure)",
            tags=["accounts"], security=SIGNED_IN, responses=answers(200, Job, description="the job", found=True),
            description="{id, kind, status: queued | running | done | failed, phase, target, "
                                           "done: items removed so far, created_at, updated_at, finished_at, error}")
def get_job(job_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, jobs.get(job_deps(), who.account_id, job_id))


# ----------------------------------------------------------------------------- sessions
def _signed_in(documented: dict[int, OpenAPIResponse]) -> dict[int, OpenAPIResponse]:
    """A sign-in with `cookie: true` sets the console's session cookie."""
    documented[201]["headers"] = {"Set-Cookie": {
        "description": f"with `cookie: true`: `{session_cookie.COOKIE}=<token>`",
        "schema": {"type": "string"}}}
    return documented


@router.post("/v1/sessions", summary="Sign in: a session token for the owner's email and password",
             tags=["accounts"],
             responses=_signed_in(answers(
                 201, Session | CookieSession, description="a session token, valid 12 hours; with `cookie: true` "
                 "it is in the `Set-Cookie` header instead (HttpOnly, Secure, SameSite=Strict, 12 hours) and the "
                 "answer carries the session's `csrf_token`", auth=False, body=True,
                 also={401: "unknown email or wrong password, the same answer (`invalid_credentials`)",
                       415: "the body is not `application/json` (`unsupported_media_type`); a sign-in with "
                            "`cookie: true` is only taken as `application/json`",
                       409: "the account is being erased: no new sign-in (`account_deleting`)",
                       429: "5 failures for this email in 15 minutes (`too_many_attempts`)"})),
             description="401 for an unknown email or a wrong password (the same answer); "
                         "429 with Retry-After after 5 failures in 15 minutes. With "
                         "`cookie: true` (the web console) the token is set as an HttpOnly "
                         "cookie and the answer is `{expires_at, csrf_token}`.")
def create_session(body: Annotated[SessionIn, Body()]) -> Response[Any]:
    bound()
    try:
        session = accounts.sign_in(AccountRepo(), CredentialRepo(), body.email, body.password)
    except TooManyRequests as exc:
        return _too_many(exc)
    if body.cookie:
        return session_cookie.signed_in(router.current_event, session)
    return reply(201, session)


# ----------------------------------------------------------------------------- API keys
@router.post("/v1/api-keys", summary="Create an API key (the key is shown only in this answer)",
             tags=["api-keys"], security=SIGNED_IN,
             responses=answers(201, ApiKeyCreated, description="the key, with its secret shown this once", body=True,
                               also={422: "a rule broken, or 50 keys already (`too_many_keys`)"}))
def create_api_key(body: Annotated[ApiKeyIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    return reply(201, accounts.create_key(AccountRepo(), who.account_id, body.name))


@router.get("/v1/api-keys", summary="The account's API keys, without secrets, a page at a time", tags=["api-keys"],
            security=SIGNED_IN, responses=answers(200, ApiKeys, description="a page of keys", query=True))
def list_api_keys(limit: LIMIT = 100, cursor: CURSOR = None) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, accounts.list_keys(AccountRepo(), who.account_id, limit, cursor))


@router.delete("/v1/api-keys/<key_id>", summary="Revoke an API key at once", tags=["api-keys"],
               security=SIGNED_IN, responses=answers(204, None, description="revoked", found=True))
def delete_api_key(key_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    accounts.delete_key(AccountRepo(), who.account_id, key_id)
    return Response(status_code=204)


# ----------------------------------------------------------------------------- password resets
@router.post("/v1/password-resets", summary="Email a password-reset link (valid 1 hour, single use)",
             tags=["accounts"],
             responses=answers(202, Accepted, description="accepted, whether or not the email has an account",
                               auth=False, body=True),
             description="Always 202, whether or not the email has an account.")
def request_password_reset(body: Annotated[ResetRequestIn, Body()]) -> Response[Any]:
    settings = bound()
    password_reset.request_reset(AccountRepo(), CredentialRepo(), ses(), settings.sender_email,
                                 base_url(router.current_event), body.email)
    return reply(202, {"status": "accepted",
                       "message": "if this email has an account, a reset link is on its way"})


@router.post("/v1/password-resets/<token>", summary="Set a new password with a reset token",
             tags=["accounts"],
             responses=answers(204, None, description="the password is set; every session is signed out",
                               auth=False, body=True,
                               also={410: "the token is unknown, used or expired (`reset_gone`)",
                                     422: "a weak password (`weak_password`)"}),
             description="204, and every session is signed out; 410 when the token is "
                         "unknown, used or expired; 422 for a weak password.")
def redeem_password_reset(token: Annotated[str, Path(min_length=1)],
                          body: Annotated[ResetIn, Body()]) -> Response[Any]:
    bound()
    password_reset.redeem(AccountRepo(), CredentialRepo(), token, body.password)
    return Response(status_code=204)
