"""/v1/accounts and /v1/account."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from beacon import accounts
from beacon.api.common import principal, reply
from beacon.api.models import SignupIn
from beacon.composition import bound
from beacon.db.accounts import AccountRepo
from beacon.errors import NotFound

router = Router()


@router.post("/v1/accounts", summary="Sign up", tags=["accounts"])
def sign_up(body: Annotated[SignupIn, Body()]) -> Response[Any]:
    bound()
    account, key = accounts.sign_up(AccountRepo(), body.company, body.email, body.password)
    return reply(201, {"account": account, "api_key": key})


@router.get("/v1/account", summary="The signed-in account", tags=["accounts"])
def get_account() -> Response[Any]:
    who = principal(router.current_event)
    item = AccountRepo().get(who.account_id)
    if item is None:
        raise NotFound("account not found")
    return reply(200, accounts.account_view(item))


