"""/v1/domains: sender domains (SES identities with Easy DKIM)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from beacon.accounts import sender_domains as domains
from beacon.db.domains import DomainRepo
from beacon.web.bodies import DomainIn
from beacon.web.common import CURSOR, LIMIT, principal, reply
from beacon.wiring import identities

router = Router()
DomainName = Annotated[str, Path(min_length=1, max_length=253)]


@router.post("/v1/domains", summary="Register a sender domain", tags=["domains"],
             description="Creates the SES identity and returns the three DKIM CNAME records to publish. "
                         "201 when new, 200 when the account already has it, 409 when another account does.")
def add_domain(body: Annotated[DomainIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    view, created = domains.add(DomainRepo(), identities(), who.account_id, body.domain)
    return reply(201 if created else 200, view)


@router.get("/v1/domains", summary="The account's sender domains, a page at a time", tags=["domains"])
def all_domains(limit: LIMIT = 100, cursor: CURSOR = None) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, domains.page(DomainRepo(), who.account_id, limit, cursor))


@router.get("/v1/domains/<domain>", summary="One sender domain, its status read from SES now", tags=["domains"])
def get_domain(domain: DomainName) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, domains.get(DomainRepo(), identities(), who.account_id, domain))


@router.delete("/v1/domains/<domain>", summary="Remove a sender domain (and its SES identity)", tags=["domains"])
def delete_domain(domain: DomainName) -> Response[Any]:
    who = principal(router.current_event)
    domains.remove(DomainRepo(), identities(), who.account_id, domain)
    return Response(status_code=204)
