"""/v1/campaigns: drafts, preview, send, stats."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from beacon.accounts import tenants
from beacon.campaigns import drafts, lifecycle, resend, stats
from beacon.db.accounts import AccountRepo, ListRepo
from beacon.db.campaigns import CampaignRepo
from beacon.db.segments import SegmentRepo
from beacon.shared.observability import logger
from beacon.web.bodies import CampaignIn, CampaignPatch, PreviewIn, ResendIn, SendIn, TestSendIn
from beacon.web.common import CURSOR, ID, base_url, company_of, principal, reply, require_id, sender_of
from beacon.wiring import bound, queue, rollup_store, sender_check, ses, signer, tenant_pace

router = Router()


@router.post("/v1/campaigns", summary="Create a draft campaign", tags=["campaigns"])
def create_campaign(body: Annotated[CampaignIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    result = drafts.create(CampaignRepo(), ListRepo(), signer(), who.account_id, company_of(who.account_id),
                              body.model_dump(), base_url(router.current_event), senders=sender_check(),
                              segments=SegmentRepo())
    return reply(201, result)


@router.get("/v1/campaigns", summary="The account's campaigns, a page at a time (newest first)",
            tags=["campaigns"])
def all_campaigns(limit: Annotated[int, Query(ge=1, le=100, description="campaigns per page")] = 20,
                  cursor: CURSOR = None) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, drafts.page(CampaignRepo(), who.account_id, limit, cursor))


@router.get("/v1/campaigns/<campaign_id>", summary="One campaign", tags=["campaigns"])
def get_campaign(campaign_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, drafts.view(drafts.require(CampaignRepo(), who.account_id,
                                                       require_id(campaign_id, "campaign"))))


@router.patch("/v1/campaigns/<campaign_id>", summary="Change a draft", tags=["campaigns"])
def patch_campaign(campaign_id: ID, body: Annotated[CampaignPatch, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    result = drafts.update(CampaignRepo(), ListRepo(), signer(), who.account_id, company_of(who.account_id),
                              require_id(campaign_id, "campaign"), body.model_dump(exclude_unset=True),
                              base_url(router.current_event), senders=sender_check(), segments=SegmentRepo())
    return reply(200, result)


@router.delete("/v1/campaigns/<campaign_id>", summary="Delete a draft", tags=["campaigns"])
def delete_campaign(campaign_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    drafts.delete(CampaignRepo(), who.account_id, require_id(campaign_id, "campaign"))
    return Response(status_code=204)


@router.post("/v1/campaigns/<campaign_id>/preview", summary="Render for one contact", tags=["campaigns"])
def preview_campaign(campaign_id: ID, body: Annotated[PreviewIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    item = drafts.require(CampaignRepo(), who.account_id, require_id(campaign_id, "campaign"))
    company, postal_address = sender_of(who.account_id)
    result = drafts.preview(item, company, signer(), base_url(router.current_event),
                            body.contact.email, body.contact.attributes, postal_address)
    return reply(200, result)


@router.post("/v1/campaigns/<campaign_id>/send", summary="Send now, or at send_at", tags=["campaigns"])
def send_campaign(campaign_id: ID, body: Annotated[SendIn | None, Body()] = None) -> Response[Any]:
    who = principal(router.current_event)
    tenants.require_postal_address(tenants.require_account(AccountRepo(), who.account_id))
    result = lifecycle.start_send(CampaignRepo(), queue(), bound().dispatch_queue_url, who.account_id,
                                  require_id(campaign_id, "campaign"), base_url(router.current_event),
                                  send_at=body.send_at if body is not None else None, senders=sender_check())
    logger.info("campaign send requested", extra={"campaign_id": campaign_id, "status": result["status"]})
    return reply(202, result)


def _control(campaign_id: str, action: str) -> Response[Any]:
    who = principal(router.current_event)
    result = lifecycle.control(CampaignRepo(), queue(), bound().dispatch_queue_url, who.account_id,
                               require_id(campaign_id, "campaign"), action, tenant_pace(), senders=sender_check())
    logger.info(f"campaign {action}", extra={"campaign_id": campaign_id})
    return reply(200, result)


@router.post("/v1/campaigns/<campaign_id>/pause", summary="Pause a sending campaign", tags=["campaigns"])
def pause_campaign(campaign_id: ID) -> Response[Any]:
    return _control(campaign_id, "pause")


@router.post("/v1/campaigns/<campaign_id>/resume", summary="Resume a paused campaign", tags=["campaigns"])
def resume_campaign(campaign_id: ID) -> Response[Any]:
    return _control(campaign_id, "resume")


@router.post("/v1/campaigns/<campaign_id>/cancel", summary="Cancel a scheduled, sending or paused campaign",
             tags=["campaigns"])
def cancel_campaign(campaign_id: ID) -> Response[Any]:
    return _control(campaign_id, "cancel")


@router.post("/v1/campaigns/<campaign_id>/test", summary="Send a test email to up to 10 addresses",
             tags=["campaigns"])
def test_campaign(campaign_id: ID, body: Annotated[TestSendIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    item = drafts.require(CampaignRepo(), who.account_id, require_id(campaign_id, "campaign"))
    company, postal_address = sender_of(who.account_id)
    result = drafts.send_test(item, company, signer(), ses(), base_url(router.current_event), body.to,
                              postal_address, senders=sender_check())
    return reply(202, result)


@router.post("/v1/campaigns/<campaign_id>/resend",
             summary="A new draft for the original's recipients who did not open (or click) it", tags=["campaigns"])
def resend_campaign(campaign_id: ID, body: Annotated[ResendIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    result = resend.resend(CampaignRepo(), ListRepo(), signer(), who.account_id, company_of(who.account_id),
                           require_id(campaign_id, "campaign"), body.audience, body.subject,
                           base_url(router.current_event), senders=sender_check())
    logger.info("campaign resend drafted", extra={"campaign_id": campaign_id, "draft_id": result["id"]})
    return reply(201, result)


@router.get("/v1/campaigns/<campaign_id>/stats", summary="Delivery and engagement numbers", tags=["campaigns"])
def campaign_stats(campaign_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    item = drafts.require(CampaignRepo(), who.account_id, require_id(campaign_id, "campaign"), consistent=True)
    return reply(200, stats.report(item, rollup_store()))


