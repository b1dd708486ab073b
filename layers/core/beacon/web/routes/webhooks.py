"""/v1/webhooks: signed outgoing webhooks (endpoints, the delivery log, replay)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from beacon.web.answers import Deliveries, Delivery, Webhook, WebhookCreated, Webhooks
from beacon.web.bodies import DeliveryCursor, WebhookIn, WebhookPatch
from beacon.web.common import CURSOR, ID, LIMIT, principal, reply, require_id
from beacon.web.openapi import SIGNED_IN, answers
from beacon.webhooks import deliveries, endpoints
from beacon.wiring import settings, webhook_deps, webhooks

router = Router()
REFUSED = ("a rule broken: a URL that is not https or names a private, loopback, link-local or metadata address, "
           "include_machine without email.opened or email.clicked, more than 20 endpoints (`too_many_webhooks`)")


@router.post("/v1/webhooks", summary="Add a webhook endpoint", tags=["webhooks"], security=SIGNED_IN,
             responses=answers(201, WebhookCreated, description="the endpoint, with its secret (only here)",
                               body=True, also={422: REFUSED}),
             description="201 {id, url, events, include_machine, status, secret}: the whsec_ secret is shown "
                         "only here. Events: contact.subscribed, contact.unsubscribed, email.delivered, "
                         "email.bounced, email.complained, email.opened, email.clicked, campaign.sent. The URL "
                         "must be https and resolve to public addresses (checked again at every delivery).")
def create_webhook(body: Annotated[WebhookIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    s = settings()
    return reply(201, endpoints.create(webhooks(), s.token_secret, who.account_id, body.model_dump(),
                                       s.webhooks_allow_local))


@router.get("/v1/webhooks", summary="The account's webhook endpoints (without secrets), a page at a time (newest "
            "first)", tags=["webhooks"], security=SIGNED_IN,
            responses=answers(200, Webhooks, description="a page of endpoints", query=True))
def all_webhooks(limit: LIMIT = 100, cursor: CURSOR = None) -> Response[Any]:
    who = principal(router.current_event)
    items, next_cursor = webhooks().page(who.account_id, limit, cursor)
    return reply(200, {"items": [endpoints.view(i) for i in items], "next_cursor": next_cursor})


@router.get("/v1/webhooks/<webhook_id>", summary="One webhook endpoint", tags=["webhooks"], security=SIGNED_IN,
            responses=answers(200, Webhook, description="the endpoint", found=True))
def get_webhook(webhook_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, endpoints.view(endpoints.require(webhooks(), who.account_id, require_id(webhook_id, "webhook"))))


@router.patch("/v1/webhooks/<webhook_id>", summary="Change an endpoint, or enable it again", tags=["webhooks"],
              security=SIGNED_IN,
              responses=answers(200, Webhook, description="the endpoint as changed", body=True, found=True,
                                also={422: REFUSED}),
              description='{url?, events?, include_machine?, status?: "enabled" | "disabled"}: an endpoint that '
                          'answered 410 is disabled until it is enabled again.')
def patch_webhook(webhook_id: ID, body: Annotated[WebhookPatch, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, endpoints.update(webhooks(), who.account_id, require_id(webhook_id, "webhook"),
                                       body.model_dump(exclude_unset=True), settings().webhooks_allow_local))


@router.delete("/v1/webhooks/<webhook_id>", summary="Delete a webhook endpoint", tags=["webhooks"], security=SIGNED_IN,
               responses=answers(204, None, description="deleted", found=True))
def delete_webhook(webhook_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    endpoints.delete(webhooks(), who.account_id, require_id(webhook_id, "webhook"))
    return Response(status_code=204)


@router.get("/v1/webhooks/<webhook_id>/deliveries", summary="The delivery log, newest first", tags=["webhooks"],
            security=SIGNED_IN,
            responses=answers(200, Deliveries, description="a page of deliveries", query=True, found=True),
            description="Each delivery with its attempts; kept 30 days.")
def webhook_deliveries(
    webhook_id: ID,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[DeliveryCursor, Query()] = None,
) -> Response[Any]:
    who = principal(router.current_event)
    endpoints.require(webhooks(), who.account_id, require_id(webhook_id, "webhook"))
    return reply(200, deliveries.log(webhooks(), who.account_id, webhook_id, limit, cursor))


@router.post("/v1/webhooks/<webhook_id>/deliveries/<delivery_id>/retry", summary="Send a delivery again now",
             tags=["webhooks"], security=SIGNED_IN,
             responses=answers(202, Delivery, description="queued again", found=True),
             description="202 with the delivery: the same body and webhook-id, a new timestamp and signature.")
def retry_delivery(webhook_id: ID, delivery_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    endpoints.require(webhooks(), who.account_id, require_id(webhook_id, "webhook"))
    return reply(202, deliveries.replay(webhook_deps(), who.account_id, webhook_id,
                                        require_id(delivery_id, "delivery")))
