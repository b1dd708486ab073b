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
from beacon.web.answers import Segment, SegmentCount, Segments
from beacon.web.bodies import SegmentCountIn, SegmentIn, SegmentPatch
from beacon.web.common import CURSOR, ID, LIMIT, principal, reply
from beacon.web.openapi import SIGNED_IN, answers
from beacon.wiring import targeting

router = Router()
BAD_SEGMENT = ("a rule the language refuses (`invalid_segment`, naming the rule by index and its field), or a "
               "list or campaign the account does not have")


@router.post("/v1/segments", summary="Save a segment", tags=["segments"], security=SIGNED_IN,
             responses=answers(201, Segment, description="the segment", body=True, also={422: BAD_SEGMENT}))
def create_segment(body: Annotated[SegmentIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    return reply(201, saved_segments.create(SegmentRepo(), CampaignRepo(), who.account_id, body.model_dump()))


@router.post("/v1/segments/count", summary="How many contacts a segment reaches (nothing is saved)",
             tags=["segments"], security=SIGNED_IN,
             responses=answers(200, SegmentCount, description="the count, or a part of it with next_cursor",
                               body=True, also={422: BAD_SEGMENT + "; a cursor of another count"}))
def count_segment(body: Annotated[SegmentCountIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, saved_segments.count(targeting(), ListRepo(), CampaignRepo(), who.account_id,
                                           body.model_dump()))


@router.get("/v1/segments", summary="The account's segments, a page at a time (oldest first)", tags=["segments"],
            security=SIGNED_IN, responses=answers(200, Segments, description="a page of segments", query=True))
def all_segments(limit: LIMIT = 100, cursor: CURSOR = None) -> Response[Any]:
    who = principal(router.current_event)
    items, next_cursor = SegmentRepo().page(who.account_id, limit, cursor)
    return reply(200, {"items": [saved_segments.view(i) for i in items], "next_cursor": next_cursor})


@router.get("/v1/segments/<segment_id>", summary="One segment", tags=["segments"], security=SIGNED_IN,
            responses=answers(200, Segment, description="the segment", found=True))
def get_segment(segment_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, saved_segments.view(saved_segments.require(SegmentRepo(), who.account_id, segment_id)))


@router.patch("/v1/segments/<segment_id>", summary="Change a segment", tags=["segments"], security=SIGNED_IN,
              responses=answers(200, Segment, description="the segment as changed", body=True, found=True,
                                also={422: BAD_SEGMENT}))
def patch_segment(segment_id: ID, body: Annotated[SegmentPatch, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, saved_segments.update(SegmentRepo(), CampaignRepo(), who.account_id, segment_id,
                                            body.model_dump(exclude_unset=True)))


@router.delete("/v1/segments/<segment_id>", summary="Delete a segment no draft or scheduled campaign uses",
               tags=["segments"], security=SIGNED_IN,
               responses=answers(204, None, description="deleted", found=True,
                                 also={409: "a draft or scheduled campaign is aimed at it (`segment_in_use`)"}))
def delete_segment(segment_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    saved_segments.delete(SegmentRepo(), who.account_id, segment_id)
    return Response(status_code=204)
