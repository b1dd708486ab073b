"""/v1/automations: welcome and drip sequences (CRUD, activate, pause, stats)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from beacon.accounts import tenants
from beacon.automations import definitions, stats
from beacon.db.accounts import AccountRepo, ListRepo
from beacon.web.answers import Automation, Automations, AutomationStats
from beacon.web.bodies import AutomationIn, AutomationPatch
from beacon.web.common import CURSOR, ID, LIMIT, base_url, company_of, principal, reply
from beacon.web.openapi import SIGNED_IN, answers
from beacon.wiring import automations, bound, counters, queue, rollup_store, sender_check, signer

router = Router()
RULES = ("a rule broken, naming the step and field (`steps[1].subject: ...`): a template error (`template_error`, "
         "with its line), a link with a control character (`unsafe_link`), a from_email not on a verified sender "
         "domain of the account, an unknown list")
TOO_LARGE = "a step's html, text and tracked links are over what one email may hold (`content_too_large`)"
POSTAL_ADDRESS = "the account has no postal address yet: PATCH /v1/account {postal_address} (`postal_address_required`)"
WRONG_STATUS = "the automation's status does not allow this (`invalid_status`)"


@router.post("/v1/automations", summary="Create an automation (a draft)", tags=["automations"], security=SIGNED_IN,
             responses=answers(201, Automation, description="the draft", body=True,
                               also={413: TOO_LARGE, 422: RULES}),
             description="trigger {type: subscribed, list_id}; steps [{after_seconds (0 .. 1 year, after the "
                         "previous step; the first after entering), subject, from_email, from_name, reply_to, html, "
                         "text}], validated as campaigns are (422 names the step and field).")
def create_automation(body: Annotated[AutomationIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    bound()
    result = definitions.create(automations(), ListRepo(), signer(), who.account_id, company_of(who.account_id),
                                body.model_dump(), base_url(router.current_event), senders=sender_check())
    return reply(201, result)


@router.get("/v1/automations", summary="The account's automations, a page at a time (newest first)",
            tags=["automations"], security=SIGNED_IN,
            responses=answers(200, Automations, description="a page of automations", query=True))
def all_automations(limit: LIMIT = 100, cursor: CURSOR = None) -> Response[Any]:
    who = principal(router.current_event)
    items, next_cursor = automations().page(who.account_id, limit, cursor)
    return reply(200, {"items": [definitions.view(i) for i in items], "next_cursor": next_cursor})


@router.get("/v1/automations/<automation_id>", summary="One automation", tags=["automations"], security=SIGNED_IN,
            responses=answers(200, Automation, description="the automation", found=True))
def get_automation(automation_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, definitions.view(definitions.require(automations(), who.account_id, automation_id)))


@router.patch("/v1/automations/<automation_id>", summary="Change a draft or paused automation", tags=["automations"],
              security=SIGNED_IN,
              responses=answers(200, Automation, description="the automation as changed", body=True, found=True,
                                also={409: "the automation is active: pause it first (`automation_active`)",
                                      413: TOO_LARGE, 422: RULES}),
              description="409 while active (pause it first). Step n keeps its id: whoever got step n never "
                          "gets it again.")
def patch_automation(automation_id: ID, body: Annotated[AutomationPatch, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    bound()
    result = definitions.update(automations(), ListRepo(), signer(), who.account_id, company_of(who.account_id),
                                automation_id, body.model_dump(exclude_unset=True), base_url(router.current_event),
                                senders=sender_check())
    return reply(200, result)


@router.delete("/v1/automations/<automation_id>", summary="Delete an automation", tags=["automations"],
               security=SIGNED_IN, responses=answers(204, None, description="deleted", found=True),
               description="Pending steps are never sent; the enrolments are removed in the background.")
def delete_automation(automation_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    definitions.delete(automations(), who.account_id, automation_id)
    queue().send(bound().automation_queue_url,
                 [{"kind": "purge", "account_id": who.account_id, "automation_id": automation_id}])
    return Response(status_code=204)


@router.post("/v1/automations/<automation_id>/activate", summary="Start (or resume) an automation",
             tags=["automations"], security=SIGNED_IN,
             responses=answers(200, Automation, description="active", found=True,
                               also={409: f"{POSTAL_ADDRESS}, or {WRONG_STATUS}"}),
             description="Contacts that become subscribed on the list from now on enter it; steps held while "
                         "it was paused go out when due. 409 postal_address_required until the account has one "
                         "(every step email's footer carries it).")
def activate_automation(automation_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    tenants.require_postal_address(tenants.require_account(AccountRepo(), who.account_id))
    result = definitions.set_status(automations(), who.account_id, automation_id, "activate")
    queue().send(bound().automation_queue_url,
                 [{"kind": "resume", "account_id": who.account_id, "automation_id": automation_id}])
    return reply(200, result)


@router.post("/v1/automations/<automation_id>/pause", summary="Pause an automation", tags=["automations"],
             security=SIGNED_IN,
             responses=answers(200, Automation, description="paused", found=True,
                               also={409: f"{WRONG_STATUS}: a draft is not paused"}),
             description="Nobody enters it and no pending step is sent until it is activated again.")
def pause_automation(automation_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, definitions.set_status(automations(), who.account_id, automation_id, "pause"))


@router.get("/v1/automations/<automation_id>/stats", summary="Enrolments and per-step numbers", tags=["automations"],
            security=SIGNED_IN, responses=answers(200, AutomationStats, description="the numbers", found=True),
            description="Per step, as a campaign's stats: people and machines apart. `delivered`, `opens` and "
                        "`clicks` come from the stats roll-up (about 5 seconds behind, at most 10); the read "
                        "costs the same whatever the engagement.")
def automation_stats(automation_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    item = definitions.require(automations(), who.account_id, automation_id)
    return reply(200, stats.report(who.account_id, item, counters(), rollup_store()))
