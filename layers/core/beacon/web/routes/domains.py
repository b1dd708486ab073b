"""/v1/domains: sender domains (SES identities with Easy DKIM)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from beacon.accounts import sender_domains as domains
from beacon.db.domains import DomainRepo
from beacon.web.answers import Domain, Domains
from beacon.web.bodies import DomainIn
from beacon.web.common import CURSOR, LIMIT, principal, reply
from beacon.web.openapi import SIGNED_IN, answers
from beacon.wiring import identities

router = Router()
DomainName = Annotated[str, Path(description="the domain name, any case (not a registered one: 404)")]


@router.post("/v1/domains", summary="Register a sender domain", tags=["domains"], security=SIGNED_IN,
             responses=answers(201, Domain, description="registered: publish its DKIM records", body=True,
                               more={200: (Domain, "the account has this domain already")},
                               also={409: "another account has this domain (`domain_taken`)",
                                     422: "not a domain name, SES refused it (`domain_refused`), or 100 domains "
                                          "already (`too_many_domains`)"}),
             description="Creates the SES identity and returns the three DKIM CNAME records to publish. "
                         "201 when new, 200 when the account already has it, 409 when another account does.")
def add_domain(body: Annotated[DomainIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    view, created = domains.add(DomainRepo(), identities(), who.account_id, body.domain)
    return reply(201 if created else 200, view)


@router.get("/v1/domains", summary="The account's sender domains, a page at a time", tags=["domains"],
            security=SIGNED_IN, responses=answers(200, Domains, description="a page of domains", query=True))
def all_domains(limit: LIMIT = 100, cursor: CURSOR = None) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, domains.page(DomainRepo(), who.account_id, limit, cursor))


@router.get("/v1/domains/<domain>", summary="One sender domain, its status read from SES now", tags=["domains"],
            security=SIGNED_IN, responses=answers(200, Domain, description="the domain", found=True))
def get_domain(domain: DomainName) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, domains.get(DomainRepo(), identities(), who.account_id, domain))


@router.delete("/v1/domains/<domain>", summary="Remove a sender domain (and its SES identity)", tags=["domains"],
               security=SIGNED_IN, responses=answers(204, None, description="removed", found=True))
def delete_domain(domain: DomainName) -> Response[Any]:
    who = principal(router.current_event)
    domains.remove(DomainRepo(), identities(), who.account_id, domain)
    return Response(status_code=204)
