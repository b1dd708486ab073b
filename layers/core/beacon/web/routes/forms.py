"""/v1/forms: signup forms (the public page and its POST are beacon.web.signup_pages)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from beacon.accounts import tenants
from beacon.audience import forms
from beacon.db.accounts import AccountRepo, ListRepo
from beacon.db.forms import FormRecord
from beacon.web.answers import Form, Forms
from beacon.web.bodies import FormIn, FormPatch
from beacon.web.common import CURSOR, ID, LIMIT, base_url, principal, reply
from beacon.web.form_markup import embed_html
from beacon.web.openapi import SIGNED_IN, answers
from beacon.wiring import form_repo, sender_check

router = Router()
POSTAL_ADDRESS = "the account has no postal address yet: PATCH /v1/account {postal_address} (`postal_address_required`)"
RULES = ("a rule broken: from_email not on a verified sender domain of the account, an unknown list, a reserved field "
         "name, `double_opt_in: false` (`double_opt_in_required`)")


def _view(form: FormRecord) -> dict[str, Any]:
    base = base_url(router.current_event)
    return {**forms.view(form), "url": f"{base}/forms/{form.form_id}", "embed_html": embed_html(form, base)}


@router.post("/v1/forms", summary="Create a signup form (double opt-in)", tags=["forms"], security=SIGNED_IN,
             responses=answers(201, Form, description="the form, its page's url and embed code", body=True,
                               also={409: POSTAL_ADDRESS, 422: RULES}),
             description="409 `postal_address_required` until the account has a postal address (PATCH /v1/account): "
                         "the confirmation emails carry it. `from_email` must be on a verified sender domain. "
                         "201 with the hosted page's `url` and `embed_html` to paste into any website.")
def create_form(body: Annotated[FormIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    tenants.require_postal_address(tenants.require_account(AccountRepo(), who.account_id))
    form = forms.create(form_repo(), ListRepo(), who.account_id, body.model_dump(), sender_check())
    return reply(201, _view(form))


@router.get("/v1/forms", summary="The account's signup forms, a page at a time (newest first)", tags=["forms"],
            security=SIGNED_IN, responses=answers(200, Forms, description="a page of forms", query=True))
def all_forms(limit: LIMIT = 100, cursor: CURSOR = None) -> Response[Any]:
    who = principal(router.current_event)
    items, next_cursor = form_repo().page(who.account_id, limit, cursor)
    return reply(200, {"items": [_view(f) for f in items], "next_cursor": next_cursor})


@router.get("/v1/forms/<form_id>", summary="One signup form", tags=["forms"], security=SIGNED_IN,
            responses=answers(200, Form, description="the form", found=True))
def get_form(form_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, _view(forms.require(form_repo(), who.account_id, form_id)))


@router.patch("/v1/forms/<form_id>", summary="Change a signup form", tags=["forms"], security=SIGNED_IN,
              responses=answers(200, Form, description="the form as changed", body=True, found=True,
                                also={422: RULES}),
              description="A new consent text is kept with the earlier ones: a signup records the text its page "
                          "showed, also from a copy of the embed code made before the change.")
def patch_form(form_id: ID, body: Annotated[FormPatch, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    form = forms.update(form_repo(), ListRepo(), who.account_id, form_id, body.model_dump(exclude_unset=True),
                        sender_check())
    return reply(200, _view(form))


@router.delete("/v1/forms/<form_id>", summary="Delete a signup form", tags=["forms"], security=SIGNED_IN,
               responses=answers(204, None, description="deleted", found=True),
               description="Its page answers 404 from now on; signups waiting for confirmation can still confirm.")
def delete_form(form_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    forms.delete(form_repo(), who.account_id, form_id)
    return Response(status_code=204)
