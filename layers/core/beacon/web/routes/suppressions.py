"""/v1/suppressions: the tenant's do-not-mail list (list, add manual, lift manual or bounce)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from beacon.audience import suppressions
from beacon.db.audit_log import EventRepo
from beacon.db.contacts import ContactRepo
from beacon.db.suppressions import SuppressionRepo
from beacon.web.answers import Suppression, Suppressions
from beacon.web.bodies import Cursor, SuppressionIn
from beacon.web.common import principal, reply
from beacon.web.openapi import SIGNED_IN, answers
from beacon.wiring import bound

router = Router()


def _deps() -> suppressions.SuppressionDeps:
    return suppressions.SuppressionDeps(SuppressionRepo(), ContactRepo(), EventRepo(bound().event_retention_days))


@router.get("/v1/suppressions", summary="Suppressed addresses, a page at a time", tags=["suppressions"],
            security=SIGNED_IN, responses=answers(200, Suppressions, description="a page", query=True),
            description="Items are {email, reason, created_at, campaign_id}; email is null once the contact "
                        "was erased (the suppression is kept by hash).")
def list_suppressions(
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[Cursor, Query()] = None,
) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, suppressions.page(_deps(), who.account_id, limit, cursor))


@router.post("/v1/suppressions", summary="Suppress an address by hand", tags=["suppressions"],
             security=SIGNED_IN,
             responses=answers(201, Suppression, description="suppressed", body=True,
                               more={200: (Suppression, "already suppressed: the record in force")}),
             description="201 with the new record; 200 with the record in force when the address was already "
                         "suppressed (an unsubscribe or complaint is never replaced).")
def add_suppression(body: Annotated[SuppressionIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    created, record = suppressions.add(_deps(), who.account_id, body.email, body.reason)
    return reply(201 if created else 200, record)


@router.delete("/v1/suppressions/<email>", summary="Lift a manual or bounce suppression", tags=["suppressions"],
               security=SIGNED_IN,
               responses=answers(204, None, description="lifted", found=True,
                                 also={409: "an unsubscribe or a complaint: only the person can undo it "
                                            "(`suppression_not_removable`)"}),
               description="204; 409 for an unsubscribe or a complaint (only the person can undo those); "
                           "404 when the address is not suppressed.")
def delete_suppression(
    email: Annotated[str, Path(description="the address, percent-encoded (not an address: 404)")],
) -> Response[Any]:
    who = principal(router.current_event)
    suppressions.remove(_deps(), who.account_id, email)
    return Response(status_code=204)
