"""The authenticated /v1 API (powertools HTTP resolver). Routes parse and shape; the domain
modules decide. The OpenAPI 3.1 document is generated from these routes and models.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from beacon import accounts, campaigns, contacts
from beacon.api.models import (
    CampaignIn,
    CampaignPatch,
    ContactEntry,
    ListIn,
    PreviewIn,
    SendIn,
    SignupIn,
)
from beacon.composition import bound, counters, queue, signer
from beacon.db.accounts import AccountRepo, ListRepo
from beacon.db.campaigns import CampaignRepo
from beacon.db.contacts import ContactRepo
from beacon.db.models import ListItem
from beacon.db.suppressions import SuppressionRepo
from beacon.errors import BadRequest, BeaconError, NotFound, Unprocessable
from beacon.ids import is_id, new_id
from beacon.observability import logger

app = APIGatewayHttpResolver(enable_validation=True)
app.enable_swagger(path="/v1/docs", title="Beacon API", version="1",
                   description="Email marketing on AWS: lists, contacts, campaigns and honest stats.")

ID = Annotated[str, Path(min_length=1)]  # any other shape is simply not found (404, see _id)


# ----------------------------------------------------------------------------- plumbing
def reply(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=body)


def error(status: int, code: str, message: str, details: Any = None) -> Response[Any]:
    payload: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        payload["details"] = details
    return reply(status, {"error": payload})


@app.exception_handler(BeaconError)
def _domain_error(exc: BeaconError) -> Response[Any]:
    return error(exc.status, exc.code, exc.message, exc.details)


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_type(_exc: RequestUnsupportedContentType) -> Response[Any]:
    return error(415, "unsupported_media_type", "send the body as application/json")


@app.exception_handler(RequestValidationError)
def _validation_error(exc: RequestValidationError) -> Response[Any]:
    if not (app.current_event.body or "").strip() and any(
            e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in exc.errors()):
        return error(422, "missing_body", "the request needs a JSON body")
    details = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        details.append({"field": ".".join(loc) or None, "type": e.get("type"), "message": e.get("msg")})
    if any(d["type"] == "json_invalid" for d in details):
        return error(400, "malformed_json", "the request body is not valid JSON")
    first = details[0] if details else {"field": None, "message": "invalid request"}
    where = f"{first['field']}: " if first.get("field") else ""
    return error(422, "validation_error", f"{where}{first['message']}", details)


@app.not_found
def _not_found(_exc: Exception) -> Response[Any]:
    return error(404, "not_found", "no such route")


def _base_url() -> str:
    configured = bound().public_base_url
    if configured:
        return configured
    event = app.current_event
    domain = event.request_context.domain_name or "localhost"
    proto = event.headers.get("x-forwarded-proto") or (
        "http" if domain.startswith(("127.", "localhost")) else "https"
    )
    return f"{proto}://{domain}"


def _principal() -> accounts.Principal:
    bound()
    return accounts.authenticate(AccountRepo(), app.current_event.headers.get("authorization"))


def _company(account_id: str) -> str:
    account = AccountRepo().get(account_id)
    if account is None:
        raise NotFound("account not found")
    return account.company


def _id(value: str, what: str) -> str:
    if not is_id(value):
        raise NotFound(f"{what} not found")
    return value


# ----------------------------------------------------------------------------- accounts
@app.post("/v1/accounts", summary="Sign up", tags=["accounts"])
def sign_up(body: Annotated[SignupIn, Body()]) -> Response[Any]:
    bound()
    account, key = accounts.sign_up(AccountRepo(), body.company, body.email, body.password)
    return reply(201, {"account": account, "api_key": key})


@app.get("/v1/account", summary="The signed-in account", tags=["accounts"])
def get_account() -> Response[Any]:
    who = _principal()
    item = AccountRepo().get(who.account_id)
    if item is None:
        raise NotFound("account not found")
    return reply(200, accounts.account_view(item))


# ----------------------------------------------------------------------------- lists
def _list_view(item: ListItem) -> dict[str, Any]:
    return {"id": item.list_id, "name": item.name, "contact_count": int(item.contact_count or 0),
            "created_at": item.created_at}


@app.post("/v1/lists", summary="Create a list", tags=["lists"])
def create_list(body: Annotated[ListIn, Body()]) -> Response[Any]:
    who = _principal()
    from beacon.clock import now_iso

    list_id = new_id()
    item = ListItem(pk=f"A#{who.account_id}", sk=f"LIST#{list_id}", list_id=list_id, name=body.name.strip(),
                    created_at=now_iso(), contact_count=0)
    if not item.name:
        raise Unprocessable("name: must not be empty", details=[{"field": "name"}])
    ListRepo().create(item)
    return reply(201, _list_view(item))


@app.get("/v1/lists", summary="All lists", tags=["lists"])
def all_lists() -> Response[Any]:
    who = _principal()
    return reply(200, {"items": [_list_view(i) for i in ListRepo().all(who.account_id)]})


@app.get("/v1/lists/<list_id>", summary="One list", tags=["lists"])
def get_list(list_id: ID) -> Response[Any]:
    who = _principal()
    item = ListRepo().get(who.account_id, _id(list_id, "list"))
    if item is None:
        raise NotFound("list not found")
    return reply(200, _list_view(item))


@app.put("/v1/lists/<list_id>/contacts", summary="Add or update up to 1000 contacts", tags=["contacts"])
def put_contacts(list_id: ID, body: Annotated[list[ContactEntry | Any], Body()]) -> Response[Any]:
    who = _principal()
    raw = app.current_event.json_body
    result = contacts.upsert_json(ContactRepo(), ListRepo(), SuppressionRepo(), who.account_id,
                                  _id(list_id, "list"), raw)
    return reply(200, result)


@app.post("/v1/lists/<list_id>/imports", summary="Import a CSV file (text/csv)", tags=["contacts"])
def import_contacts(list_id: ID) -> Response[Any]:
    who = _principal()
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        import base64
        import binascii

        try:
            raw = base64.b64decode(body, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("the body is not valid base64") from exc
    else:
        raw = body.encode("utf-8", "surrogatepass")
    result = contacts.import_csv(ContactRepo(), ListRepo(), SuppressionRepo(), who.account_id,
                                 _id(list_id, "list"), raw)
    return reply(200, result)


@app.get("/v1/lists/<list_id>/contacts", summary="Contacts of a list, a page at a time", tags=["contacts"])
def list_contacts(
    list_id: ID,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response[Any]:
    who = _principal()
    return reply(200, contacts.list_members(ContactRepo(), ListRepo(), who.account_id, _id(list_id, "list"),
                                            limit, cursor))


# ----------------------------------------------------------------------------- campaigns
@app.post("/v1/campaigns", summary="Create a draft campaign", tags=["campaigns"])
def create_campaign(body: Annotated[CampaignIn, Body()]) -> Response[Any]:
    who = _principal()
    result = campaigns.create(CampaignRepo(), ListRepo(), signer(), who.account_id, _company(who.account_id),
                              body.model_dump(), _base_url())
    return reply(201, result)


@app.get("/v1/campaigns", summary="All campaigns, newest first", tags=["campaigns"])
def all_campaigns() -> Response[Any]:
    who = _principal()
    items = CampaignRepo().all(who.account_id)
    return reply(200, {"items": [campaigns.view(i) for i in items]})


@app.get("/v1/campaigns/<campaign_id>", summary="One campaign", tags=["campaigns"])
def get_campaign(campaign_id: ID) -> Response[Any]:
    who = _principal()
    return reply(200, campaigns.view(campaigns.require(CampaignRepo(), who.account_id,
                                                       _id(campaign_id, "campaign"))))


@app.patch("/v1/campaigns/<campaign_id>", summary="Change a draft", tags=["campaigns"])
def patch_campaign(campaign_id: ID, body: Annotated[CampaignPatch, Body()]) -> Response[Any]:
    who = _principal()
    result = campaigns.update(CampaignRepo(), ListRepo(), signer(), who.account_id, _company(who.account_id),
                              _id(campaign_id, "campaign"), body.model_dump(exclude_unset=True), _base_url())
    return reply(200, result)


@app.delete("/v1/campaigns/<campaign_id>", summary="Delete a draft", tags=["campaigns"])
def delete_campaign(campaign_id: ID) -> Response[Any]:
    who = _principal()
    campaigns.delete(CampaignRepo(), who.account_id, _id(campaign_id, "campaign"))
    return Response(status_code=204)


@app.post("/v1/campaigns/<campaign_id>/preview", summary="Render for one contact", tags=["campaigns"])
def preview_campaign(campaign_id: ID, body: Annotated[PreviewIn, Body()]) -> Response[Any]:
    who = _principal()
    item = campaigns.require(CampaignRepo(), who.account_id, _id(campaign_id, "campaign"))
    result = campaigns.preview(item, _company(who.account_id), signer(), _base_url(), body.contact.email,
                               body.contact.attributes)
    return reply(200, result)


@app.post("/v1/campaigns/<campaign_id>/send", summary="Send now", tags=["campaigns"])
def send_campaign(campaign_id: ID, body: Annotated[SendIn | None, Body()] = None) -> Response[Any]:
    who = _principal()
    if body is not None and body.send_at is not None:
        raise Unprocessable("send_at: scheduled sending is not available yet; send now without send_at",
                            details=[{"field": "send_at"}])
    result = campaigns.start_send(CampaignRepo(), queue(), bound().dispatch_queue_url, who.account_id,
                                  _id(campaign_id, "campaign"), _base_url())
    logger.info("campaign send requested", extra={"campaign_id": campaign_id})
    return reply(202, result)


@app.get("/v1/campaigns/<campaign_id>/stats", summary="Delivery and engagement numbers", tags=["campaigns"])
def campaign_stats(campaign_id: ID) -> Response[Any]:
    who = _principal()
    item = campaigns.require(CampaignRepo(), who.account_id, _id(campaign_id, "campaign"), consistent=True)
    return reply(200, campaigns.stats(item, counters()))


# ----------------------------------------------------------------------------- OpenAPI
@app.get("/v1/openapi.json", summary="This API's OpenAPI 3.1 document", tags=["meta"])
def openapi() -> Response[Any]:
    return reply(200, json.loads(app.get_openapi_json_schema(title="Beacon API", version="1")))
