"""/v1/lists and their contacts: lists CRUD, JSON upsert, CSV import, paging; /v1/contacts/{email}:
one person's detail, export and erasure (the email in the path is percent-encoded)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from beacon.audience import contacts, import_job, jobs
from beacon.db.accounts import ListRepo
from beacon.db.audit_log import EventRepo
from beacon.db.contacts import ContactRepo
from beacon.db.models import ListItem
from beacon.db.suppressions import SuppressionRepo
from beacon.shared.clock import epoch, now_iso
from beacon.shared.errors import BadRequest, NotFound, Unprocessable
from beacon.shared.ids import new_id
from beacon.web.answers import (
    ContactDetail,
    ContactList,
    ContactLists,
    ContactsPage,
    ContactsSummary,
    Job,
    PersonExport,
)
from beacon.web.bodies import CONTACT_ENTRIES, ContactEntries, Cursor, ListIn
from beacon.web.common import CURSOR, ID, LIMIT, principal, reply, require_id
from beacon.web.openapi import SIGNED_IN, answers, request_body
from beacon.wiring import bound, job_deps, recipient_ledger, signup_store

router = Router()


def _list_view(item: ListItem, pending: int = 0) -> dict[str, Any]:
    """`contact_count`: people on the list; `pending_count`: form signups waiting for their
    confirmation (counted apart: no campaign reaches them until they confirm)."""
    return {"id": item.list_id, "name": item.name, "contact_count": int(item.contact_count or 0),
            "pending_count": pending, "created_at": item.created_at}


def _pending(account_id: str, list_id: str) -> int:
    return signup_store().pending_count(account_id, list_id, epoch())


@router.post("/v1/lists", summary="Create a list", tags=["lists"], security=SIGNED_IN,
             responses=answers(201, ContactList, description="the new list", body=True))
def create_list(body: Annotated[ListIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    list_id = new_id()
    item = ListItem(pk=f"A#{who.account_id}", sk=f"LIST#{list_id}", list_id=list_id, name=body.name.strip(),
                    created_at=now_iso(), contact_count=0)
    if not item.name:
        raise Unprocessable("name: must not be empty", details=[{"field": "name"}])
    ListRepo().create(item)
    return reply(201, _list_view(item))


@router.get("/v1/lists", summary="The account's lists, a page at a time (oldest first)", tags=["lists"],
            security=SIGNED_IN, responses=answers(200, ContactLists, description="a page of lists", query=True))
def all_lists(limit: LIMIT = 100, cursor: CURSOR = None) -> Response[Any]:
    who = principal(router.current_event)
    items, next_cursor = ListRepo().page(who.account_id, limit, cursor)
    return reply(200, {"items": [_list_view(i, _pending(who.account_id, i.list_id)) for i in items],
                       "next_cursor": next_cursor})


@router.get("/v1/lists/<list_id>", summary="One list", tags=["lists"], security=SIGNED_IN,
            responses=answers(200, ContactList, description="the list", found=True))
def get_list(list_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    item = ListRepo().get(who.account_id, require_id(list_id, "list"))
    if item is None:
        raise NotFound("list not found")
    return reply(200, _list_view(item, _pending(who.account_id, item.list_id)))


@router.put("/v1/lists/<list_id>/contacts", summary="Add or update up to 1000 contacts", tags=["contacts"],
            security=SIGNED_IN,
            responses=answers(200, ContactsSummary, description="what was created, updated and skipped (and why)",
                              body=True, found=True, also={413: "more than 1000 entries: use a CSV import"}))
def put_contacts(list_id: ID, body: Annotated[ContactEntries, Body(**CONTACT_ENTRIES)]) -> Response[Any]:
    who = principal(router.current_event)
    raw = router.current_event.json_body
    result = contacts.upsert_json(ContactRepo(), ListRepo(), SuppressionRepo(), who.account_id,
                                  require_id(list_id, "list"), raw)
    return reply(200, result)


def _prefers_async(event: Any) -> bool:
    """`Prefer: respond-async` (RFC 7240), among other preferences or not."""
    value = (event.headers or {}).get("prefer") or (event.headers or {}).get("Prefer") or ""
    return any(p.split(";", 1)[0].strip().lower() == "respond-async" for p in value.split(","))


@router.post("/v1/lists/<list_id>/imports", summary="Import a CSV file (text/csv)", tags=["contacts"],
             security=SIGNED_IN,
             responses=answers(200, ContactsSummary, description="what was created, updated and skipped, with "
                                                                 "row numbers (a file of up to 5,000 rows)",
                               found=True,
                               more={202: (Job, "a bigger file (or `Prefer: respond-async`): the import job; "
                                                "GET /v1/jobs/{id} (the Location) shows its progress and, once "
                                                "done, the same summary as its `result`")},
                               also={400: "the body is not valid base64 (when sent base64-encoded)",
                                     422: "not a CSV file Beacon can read, over 9 MB or over 100,000 rows "
                                          "(`invalid_csv`)"}),
             openapi_extensions=request_body(
                 "text/csv", {"type": "string", "format": "binary", "minLength": 1},
                 "UTF-8 (with or without BOM), UTF-16 or cp1252; `,` `;` tab or `|`; a header naming the email "
                 "column, or none (a list of addresses); other columns become attributes"),
             description="A file of up to 5,000 rows is imported at once: 200 with the summary. A bigger one "
                         "(or any, with `Prefer: respond-async`) is checked at once (the same 4xx, nothing "
                         "written) and imported in the background: 202 with the job (`Location: "
                         "/v1/jobs/{id}`), whose `done` of `total` rows grows while it runs and whose `result` "
                         "is the summary once done (the first 1,000 skipped rows listed, all counted). "
                         "`?consent_source=` (one line, at most 200 characters) records how the account got "
                         "these people's consent, on every contact of the file. `?trigger_automations=true`: the "
                         "imported contacts new to the list enter the list's active automations (by default an "
                         "import starts none).")
def import_contacts(list_id: ID, trigger_automations: Annotated[bool, Query()] = False) -> Response[Any]:
    who = principal(router.current_event)
    event = router.current_event
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
    consent_source = (event.query_string_parameters or {}).get("consent_source")
    prefer_async = _prefers_async(event)
    status, result = import_job.import_file(job_deps(), who.account_id, require_id(list_id, "list"), raw,
                                            consent_source, trigger_automations=trigger_automations,
                                            prefer_async=prefer_async)
    if status != 202:
        return reply(status, result)
    headers = {"Location": f"/v1/jobs/{result['id']}"}
    if prefer_async:
        headers["Preference-Applied"] = "respond-async"
    return Response(status_code=202, content_type="application/json", body=result, headers=headers)


@router.get("/v1/lists/<list_id>/contacts", summary="Contacts of a list, a page at a time", tags=["contacts"],
            security=SIGNED_IN, responses=answers(200, ContactsPage, description="a page", query=True, found=True))
def list_contacts(
    list_id: ID,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[Cursor, Query()] = None,
) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, contacts.list_members(ContactRepo(), ListRepo(), who.account_id, require_id(list_id, "list"),
                                            limit, cursor))


@router.patch("/v1/lists/<list_id>", summary="Rename a list", tags=["lists"], security=SIGNED_IN,
              responses=answers(200, ContactList, description="the list", body=True, found=True))
def patch_list(list_id: ID, body: Annotated[ListIn, Body()]) -> Response[Any]:
    who = principal(router.current_event)
    item = contacts.rename_list(ListRepo(), who.account_id, require_id(list_id, "list"), body.name)
    return reply(200, _list_view(item))


@router.delete("/v1/lists/<list_id>", summary="Delete a list, any size (its contacts stay)", tags=["lists"],
               security=SIGNED_IN, responses=answers(202, Job, description="the deletion job", found=True),
               description="202 with a job (GET /v1/jobs/{id}): the list is gone at once, its members are taken "
                           "off it in the background.")
def delete_list(list_id: ID) -> Response[Any]:
    who = principal(router.current_event)
    return reply(202, jobs.start_list_deletion(job_deps(), who.account_id, require_id(list_id, "list")))


def _person_deps() -> contacts.PersonDeps:
    return contacts.PersonDeps(ContactRepo(), ListRepo(), SuppressionRepo(),
                               EventRepo(bound().event_retention_days), recipient_ledger(), signup_store())


# No length rule here: whatever is not an address of a contact is simply not found (404).
EMAIL_IN_PATH = Annotated[str, Path(description="the address, percent-encoded")]


@router.get("/v1/contacts/<email>", summary="One contact: status, lists, attributes, engagement", tags=["contacts"],
            security=SIGNED_IN, responses=answers(200, ContactDetail, description="the contact", found=True))
def get_contact(email: EMAIL_IN_PATH) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, contacts.contact_detail(_person_deps(), who.account_id, email))


@router.get("/v1/contacts/<email>/export", tags=["contacts"], security=SIGNED_IN,
            responses=answers(200, PersonExport, description="everything stored about the person", found=True),
            summary="Everything stored about one person (data-subject access request)",
            description="The contact, its lists, every send-ledger item (campaign, status, sent_at, opens, "
                        "clicks, delivered/bounced/complained/unsubscribed), the audit and delivery events and "
                        "the suppression record. After DELETE, a suppression and the ledger items remain "
                        "without the address (keyed by a hash of tenant and address), so an unsubscribe keeps "
                        "being honoured and campaign stats stay intact.")
def export_contact(email: EMAIL_IN_PATH) -> Response[Any]:
    who = principal(router.current_event)
    return reply(200, contacts.export_person(_person_deps(), who.account_id, email))


@router.delete("/v1/contacts/<email>", tags=["contacts"], summary="Erase a contact", security=SIGNED_IN,
               responses=answers(204, None, description="erased", found=True),
               description="Deletes the contact, its list memberships and its events. A suppression "
                           "(unsubscribe, complaint, bounce, manual) stays without the address, so the person "
                           "is still never mailed; send-ledger items stay without the address so campaign "
                           "stats and the no-duplicate guarantee hold.")
def delete_contact(email: EMAIL_IN_PATH) -> Response[Any]:
    who = principal(router.current_event)
    contacts.erase_person(_person_deps(), who.account_id, email)
    return Response(status_code=204)

