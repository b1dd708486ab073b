"""/v1/campaigns: drafts, preview, send, stats."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from beacon import campaigns
from beacon.api.common import ID, base_url, company_of, principal, reply, require_id
from beacon.api.models import CampaignIn, CampaignPatch, PreviewIn, SendIn
from beacon.composition import bound, counters, queue, signer
from beacon.db.accounts import ListRepo
from beacon.db.campaigns import CampaignRepo
from beacon.errors import Unprocessable
from beacon.observability import logger

router = Router()


@router.post("/v1/campaigns", summary="Create a draft campaign", tags=["campaigns"])
def create_campaign(body: Annotated[CampaignIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    result = campaigns.create(CampaignRepo(), ListRepo(), signer(), who.account_id, company_of(who.account_id),
                              body.model_dump(), base_url(router.current_event))
    return reply(201, result)


@router.get("/v1/campaigns", summary="All campaigns, newest first", tags=["campaigns"])
def all_campaigns() -> Response[Any]:
    who = principal(router.current_event)
    items = CampaignRepo().all(who.account_id)
    return reply(200, {"items": [campaigns.view(i) for i in items]})


@router.get("/v1/campaigns/<campaign_id>", summary="One campaign", tags=["campaigns"])
def get_campaign(campaign_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, campaigns.view(campaigns.require(CampaignRepo(), who.account_id,
                                                       require_id(campaign_id, "campaign"))))


@router.patch("/v1/campaigns/<campaign_id>", summary="Change a draft", tags=["campaigns"])
def patch_campaign(campaign_id: ID, body: Annotated[CampaignPatch, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    result = campaigns.update(CampaignRepo(), ListRepo(), signer(), who.account_id, company_of(who.account_id),
                              require_id(campaign_id, "campaign"), body.model_dump(exclude_unset=True),
                              base_url(router.current_event))
    return reply(200, result)


@router.delete("/v1/campaigns/<campaign_id>", summary="Delete a draft", tags=["campaigns"])
def delete_campaign(campaign_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    campaigns.delete(CampaignRepo(), who.account_id, require_id(campaign_id, "campaign"))
    return Response(status_code=204)


@router.post("/v1/campaigns/<campaign_id>/preview", summary="Render for one contact", tags=["campaigns"])
def preview_campaign(campaign_id: ID, body: Annotated[PreviewIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    item = campaigns.require(CampaignRepo(), who.account_id, require_id(campaign_id, "campaign"))
    result = campaigns.preview(item, company_of(who.account_id), signer(), base_url(router.current_event),
                               body.contact.email, body.contact.attributes)
    return reply(200, result)


@router.post("/v1/campaigns/<campaign_id>/send", summary="Send now", tags=["campaigns"])
def send_campaign(campaign_id: ID, body: Annotated[SendIn | None, Body()] = None) -> Response[Any]:
    who = principal(router.current_event)
    if body is not None and body.send_at is not None:
        raise Unprocessable("send_at: scheduled sending is not available yet; send now without send_at",
                            details=[{"field": "send_at"}])
    result = campaigns.start_send(CampaignRepo(), queue(), bound().dispatch_queue_url, who.account_id,
                                  require_id(campaign_id, "campaign"), base_url(router.current_event))
    logger.info("campaign send requested", extra={"campaign_id": campaign_id})
    return reply(202, result)


@router.get("/v1/campaigns/<campaign_id>/stats", summary="Delivery and engagement numbers", tags=["campaigns"])
def campaign_stats(campaign_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    item = campaigns.require(CampaignRepo(), who.account_id, require_id(campaign_id, "campaign"), consistent=True)
    return reply(200, campaigns.stats(item, counters()))


