"""/v1/campaigns/{id}/timeline: engagement over time for the report's chart (beacon.campaigns.timeline)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from beacon.campaigns import drafts as campaigns
from beacon.campaigns import timeline
from beacon.db.campaigns import CampaignRepo
from beacon.shared.clock import epoch
from beacon.web.answers import Timeline
from beacon.web.common import ID, principal, reply, require_id
from beacon.web.openapi import SIGNED_IN, answers
from beacon.wiring import rollup_store

router = Router()


def _one_of_the_buckets(schema: dict[str, Any]) -> None:
    """The document shows the sizes campaigns.timeline offers (it refuses any other: 422); absent: chosen for it."""
    schema.clear()
    schema.update({"type": "integer", "enum": list(timeline.BUCKETS)})


@router.get("/v1/campaigns/<campaign_id>/timeline", summary="Opens and clicks over time, human and machine apart",
            tags=["campaigns"], security=SIGNED_IN,
            responses=answers(200, Timeline, description="the points, and what has no time", query=True,
                              found=True, also={422: f"`bucket_seconds` is not one of the sizes, or gives more "
                                                     f"than {timeline.MAX_POINTS} points (`validation_error`)"}),
            description="`points`: one per bucket from the start of the send, each with human_opens (recipients "
                        "by their first human open), machine_opens, human_clicks and machine_clicks; `untimed`: "
                        "what the ledger holds without a time. Points plus untimed add up to the stats. Read from "
                        "the stats roll-up (a few seconds behind the pixel and the click), a minute's resolution. "
                        "`bucket_seconds` (60, 300, 900, 3600, 21600, 86400 or 604800) is chosen for about "
                        "120 points unless given.")
def campaign_timeline(campaign_id: ID, bucket_seconds: Annotated[int | None, Query(
        json_schema_extra=_one_of_the_buckets)] = None) -> Response[Any]:
    who = principal(router.current_event)
    item = campaigns.require(CampaignRepo(), who.account_id, require_id(campaign_id, "campaign"), consistent=True)
    return reply(200, timeline.for_campaign(item, rollup_store(), epoch(), bucket_seconds))
