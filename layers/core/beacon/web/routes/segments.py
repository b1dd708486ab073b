"""/v1/segments: saved segments (CRUD) and a count of who a segment reaches, without saving it."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from beacon.audience import saved_segments
from beacon.db.accounts import ListRepo
from beacon.db.campaigns import CampaignRepo
from beacon.db.segments import SegmentRepo
from beacon.web.bodies import SegmentCountIn, SegmentIn, SegmentPatch
from beacon.web.common import ID, principal, reply
from beacon.wiring import targeting

router = Router()


@router.post("/v1/segments", summary="Save a segment", tags=["segments"])
def create_segment(body: Annotated[SegmentIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    return reply(201, saved_segments.create(SegmentRepo(), CampaignRepo(), who.account_id, body.model_dump()))


@router.post("/v1/segments/count", summary="How many contacts a segment reaches (nothing is saved)",
             tags=["segments"])
def count_segment(body: Annotated[SegmentCountIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, saved_segments.count(targeting(), ListRepo(), CampaignRepo(), who.account_id,
                                           body.model_dump()))


@router.get("/v1/segments", summary="All segments", tags=["segments"])
def all_segments() -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, {"items": [saved_segments.view(i) for i in SegmentRepo().all(who.account_id)]})


@router.get("/v1/segments/<segment_id>", summary="One segment", tags=["segments"])
def get_segment(segment_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, saved_segments.view(saved_segments.require(SegmentRepo(), who.account_id, segment_id)))


@router.patch("/v1/segments/<segment_id>", summary="Change a segment", tags=["segments"])
def patch_segment(segment_id: ID, body: Annotated[SegmentPatch, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, saved_segments.update(SegmentRepo(), CampaignRepo(), who.account_id, segment_id,
                                            body.model_dump(exclude_unset=True)))


@router.delete("/v1/segments/<segment_id>", summary="Delete a segment no draft or scheduled campaign uses",
               tags=["segments"])
def delete_segment(segment_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    saved_segments.delete(SegmentRepo(), who.account_id, segment_id)
    return Response(status_code=204)
