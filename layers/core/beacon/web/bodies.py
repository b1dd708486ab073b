"""Request bodies and parameters of the /v1 API: one source for both the validation and the OpenAPI
document. Unknown fields are refused (extra="forbid").

A rule that the domain also knows (a password's length, what a domain name or a cursor looks like)
is declared here once, with the domain's own constants, and checked here: the document shows it as a
JSON Schema keyword and the request is refused before the domain sees it. A rule whose refusal has
its own error code raises `refusal(code, ...)`; REFUSALS says which status that code is answered with.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError

from beacon.accounts.access import MAX_PASSWORD, MIN_PASSWORD
from beacon.accounts.tenants import POSTAL_LINE, POSTAL_LINES, POSTAL_MAX, POSTAL_MIN
from beacon.audience.contacts import MAX_JSON_CONTACTS
from beacon.audience.segments import ENGAGEMENT_OPS, MATCHES, MAX_RULES, VALUE_OPS
from beacon.automations.definitions import MAX_AFTER_SECONDS, MAX_STEPS
from beacon.campaigns.drafts import MAX_CONTENT_BYTES, MAX_TEST_RECIPIENTS
from beacon.campaigns.resend import RESEND_AUDIENCES
from beacon.ports.http_out import MAX_URL_LENGTH
from beacon.tracking.domain_events import EVENT_TYPES

MAX_TEMPLATE = 2_000_000  # any string field: bounds the memory a request takes before it is looked at
MAX_EMAIL = 254

# error code -> status, for the rules below whose refusal is not a plain 422 validation_error
REFUSALS: dict[str, int] = {"weak_password": 422, "invalid_cursor": 400}


def refusal(code: str, message: str) -> PydanticCustomError:
    assert code in REFUSALS, code
    return PydanticCustomError(code, message)


def _password(value: str) -> str:
    if len(value) < MIN_PASSWORD:
        raise refusal("weak_password", f"must be at least {MIN_PASSWORD} characters")
    if len(value) > MAX_PASSWORD:
        raise refusal("weak_password", f"must be at most {MAX_PASSWORD} characters")
    return value


# A new password: 10 to 1024 characters (answered 422 `weak_password` otherwise).
Password = Annotated[str, AfterValidator(_password), WithJsonSchema(
    {"type": "string", "minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD, "format": "password",
     "description": f"at least {MIN_PASSWORD} characters (422 `weak_password` otherwise)"})]

# An email address: the domain checks it (SES needs an ASCII local part) and answers 422 naming the field.
Email = Annotated[str, Field(min_length=3, max_length=MAX_EMAIL, json_schema_extra={"format": "email"})]

# One line of text with something in it (a company, a list's name): no CR, LF or NUL, and not only what
# Python's str.strip() takes away (the domain strips first: U+001C-001F are white space to Python, not
# to the schema's \s).
ONE_LINE = r"^[^\r\n\x00]*[^\s\x00\x1c-\x1f][^\r\n\x00]*$"

# A company name goes into every email's footer: one line with no control character at all (Unicode Cc,
# line and paragraph separators: what beacon.accounts.tenants.clean_company refuses), not only spaces.
_NOT_IN_COMPANY = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
COMPANY = rf"^[^{_NOT_IN_COMPANY}]*[^\s{_NOT_IN_COMPANY}][^{_NOT_IN_COMPANY}]*$"

# A domain name: letters, digits and hyphens in dot-separated labels, any case, an optional final dot.
# An internationalised name may be sent in Unicode instead (the domain converts it to Punycode, or
# refuses it); the document shows the ASCII form.
DOMAIN_NAME = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$"
_DOMAIN_NAME = re.compile(DOMAIN_NAME)


def _domain_name(value: str) -> str:
    if value.isascii() and not _DOMAIN_NAME.match(value):
        raise PydanticCustomError("string_pattern_mismatch", "must be a domain name such as example.com")
    return value


DomainName = Annotated[str, AfterValidator(_domain_name), WithJsonSchema(
    {"type": "string", "minLength": 1, "maxLength": 253, "pattern": DOMAIN_NAME,
     "description": "e.g. example.com (any case); a Unicode name is accepted too and stored in Punycode"})]

# An object id in a body (a campaign's list_ids): 32 hexadecimal digits, 422 otherwise. (In a path, any
# other value is simply not found: web.common.ID.)
ID_PATTERN = r"^[0-9a-f]{32}$"
ListId = Annotated[str, Field(pattern=ID_PATTERN)]

# A page cursor: the `next_cursor` of the previous page, unpadded URL-safe base64. One the API did not
# give out (for this account and this list) is 400 `invalid_cursor`, whatever its shape.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_CURSOR = 2048
_CURSOR = re.compile(CURSOR_PATTERN)


def _cursor(value: str | None) -> str | None:
    if value is not None and (len(value) > MAX_CURSOR or not _CURSOR.match(value)):
        raise refusal("invalid_cursor", "cursor is not one this API gave out")
    return value


Cursor = Annotated[str | None, AfterValidator(_cursor), WithJsonSchema(
    {"type": "string", "pattern": CURSOR_PATTERN, "maxLength": MAX_CURSOR,
     "description": "the `next_cursor` of the previous page (400 `invalid_cursor` for any other value)"})]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=MAX_TEMPLATE)


POSTAL_RULES = (f"the physical postal address every email's footer shows: {POSTAL_MIN} to {POSTAL_MAX} characters "
                f"once blank lines and the spaces around lines are dropped, at most {POSTAL_LINES} lines of "
                f"{POSTAL_LINE} characters, no control characters (422 `validation_error` otherwise)")


class SignupIn(Strict):
    company: str = Field(min_length=1, max_length=200, pattern=COMPANY)
    email: Email
    password: Password
    postal_address: str | None = Field(default=None, min_length=POSTAL_MIN, max_length=1000,
                                       description=POSTAL_RULES)


class SessionIn(Strict):
    email: Email = Field(description="an unknown or malformed email is answered like a wrong password (401)")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)
    cookie: bool = Field(default=False, strict=True,
                         description="true (the web console): the token goes into an HttpOnly cookie, the answer "
                                     "carries its CSRF token instead")


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=ONE_LINE)


class AccountPatch(Strict):
    # a password change takes both passwords
    model_config = ConfigDict(json_schema_extra={"dependentRequired": {"current_password": ["new_password"],
                                                                       "new_password": ["current_password"]}})
    company: str | None = Field(default=None, min_length=1, max_length=200, pattern=COMPANY)
    current_password: str | None = Field(default=None, min_length=1, max_length=MAX_PASSWORD,
                                         description="needed with new_password (422 `wrong_password` when "
                                                     "it is not the account's)")
    new_password: Password | None = Field(default=None, description="needs current_password")
    postal_address: str | None = Field(default=None, min_length=POSTAL_MIN, max_length=1000,
                                       description=POSTAL_RULES + " (required before the first campaign send "
                                                                  "or form)")


class ResetRequestIn(Strict):
    email: Email


class ResetIn(Strict):
    password: Password


class DomainIn(Strict):
    domain: DomainName


class ListIn(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=ONE_LINE)


class ContactEntry(Strict):
    email: str = Field(max_length=MAX_EMAIL, json_schema_extra={"format": "email"})
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="at most 50; names are letters, digits and _ (a template reads them "
                                          "as {{ contact.<name> }}); values are strings, numbers, booleans or null")
    consent_source: str | None = Field(default=None, max_length=200,
                                       description="how the account got this person's consent (kept as said)")


# PUT /v1/lists/{id}/contacts: each entry is checked on its own; one that is not a valid ContactEntry is
# skipped with its reason in the answer, not refused with the whole request.
ContactEntries = list[ContactEntry | Any]
CONTACT_ENTRIES = {"description": f"at most {MAX_JSON_CONTACTS} entries (413 beyond); an entry that is not a valid "
                                  "ContactEntry is skipped with its reason",
                   "json_schema_extra": {"maxItems": MAX_JSON_CONTACTS}}


class Tracking(Strict):
    opens: bool = True
    clicks: bool = True


class CampaignIn(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=ONE_LINE)
    subject: str = Field(min_length=1, max_length=998, pattern=ONE_LINE,
                         description="a Jinja2 template, one line")
    from_email: Email = Field(description="on a verified sender domain of the account (POST /v1/domains)")
    from_name: str = Field(default="", max_length=200, pattern=r"^[^\r\n\x00]*$")
    reply_to: Email | None = None
    list_ids: list[ListId] = Field(default_factory=list, max_length=20)
    html: str = Field(min_length=1, max_length=MAX_CONTENT_BYTES, description="a Jinja2 template")
    text: str = Field(default="", max_length=MAX_CONTENT_BYTES, description="a Jinja2 template")
    tracking: Tracking = Field(default_factory=Tracking)
    segment_id: str | None = Field(default=None, max_length=64, json_schema_extra={"pattern": ID_PATTERN},
                                   description="a segment of the account (422 otherwise)")
    exclude_list_ids: list[ListId] = Field(default_factory=list, max_length=20)


class CampaignPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=ONE_LINE)
    subject: str | None = Field(default=None, min_length=1, max_length=998, pattern=ONE_LINE)
    from_email: Email | None = None
    from_name: str | None = Field(default=None, max_length=200, pattern=r"^[^\r\n\x00]*$")
    reply_to: Email | None = None
    list_ids: list[ListId] | None = Field(default=None, max_length=20)
    html: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT_BYTES)
    text: str | None = Field(default=None, max_length=MAX_CONTENT_BYTES)
    tracking: Tracking | None = None
    segment_id: str | None = Field(default=None, max_length=64, json_schema_extra={"pattern": ID_PATTERN},
                                   description="null removes the segment")
    exclude_list_ids: list[ListId] | None = Field(default=None, max_length=20)


class PreviewContact(Strict):
    email: Email
    attributes: dict[str, Any] = Field(default_factory=dict)


class PreviewIn(Strict):
    contact: PreviewContact


class SendIn(Strict):
    send_at: str | None = Field(default=None, max_length=64, json_schema_extra={"format": "date-time"},
                                description="ISO 8601 with a timezone, in the future, at most a year away; "
                                            "without it the campaign sends now")


class TestSendIn(Strict):
    # each address is checked by the domain, which names the first bad one (`to[1]`, as the console shows it):
    # the body only bounds the size
    to: list[Annotated[str, Field(max_length=MAX_EMAIL, json_schema_extra={"format": "email"})]] = Field(
        min_length=1, max_length=MAX_TEST_RECIPIENTS)


class SuppressionIn(Strict):
    email: Email
    reason: Literal["manual"] = Field(default="manual", description="only a manual suppression can be added "
                                                                     "through the API")


class ResendIn(Strict):
    audience: str = Field(description='"non_openers" or "non_clickers"', max_length=20,
                          json_schema_extra={"enum": list(RESEND_AUDIENCES)})
    subject: str | None = Field(default=None, min_length=1, max_length=998)


# A segment's rules are checked by the rule language (beacon.audience.segments), which answers 422
# `invalid_segment` naming the rule; the document shows their shape and the ops from the same constants.
MATCH: JsonDict = {"enum": list(MATCHES)}
RULES: JsonDict = {"maxItems": MAX_RULES, "items": {
    "type": "object", "required": ["field", "op"], "additionalProperties": False,
    "properties": {
        "field": {"type": "string", "description": "email, attributes.<name>, subscribed_at or campaign:<id>"},
        "op": {"enum": list(dict.fromkeys([*VALUE_OPS, *ENGAGEMENT_OPS]))},
        "value": {"description": "what the op compares with: text, a number, a boolean, a date, a list (in) or "
                                 "a number of days; none for exists, not_exists and the engagement ops"}}}}


class SegmentIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    match: str = Field(default="all", description='"all" or "any"', max_length=10, json_schema_extra=MATCH)
    rules: list[Any] = Field(description="[{field, op, value}]: 1 to 50 rules",
                             json_schema_extra={**RULES, "minItems": 1})


class SegmentPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    match: str | None = Field(default=None, max_length=10, json_schema_extra=MATCH)
    rules: list[Any] | None = Field(default=None, json_schema_extra={**RULES, "minItems": 1})


class SegmentCountIn(Strict):
    match: str = Field(default="all", max_length=10, json_schema_extra=MATCH)
    rules: list[Any] = Field(default_factory=list, description="none: everyone subscribed on the lists",
                             json_schema_extra=RULES)
    list_ids: list[ListId] = Field(min_length=1, max_length=20)
    exclude_list_ids: list[ListId] = Field(default_factory=list, max_length=20)
    cursor: str | None = Field(default=None, max_length=2000, description="next_cursor of the previous answer")


class FormFieldIn(Strict):
    name: str = Field(min_length=1, max_length=64, description="the contact attribute it fills")
    label: str | None = Field(default=None, max_length=200)
    required: bool = False


class FormIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    list_ids: list[str] = Field(min_length=1, max_length=10)
    from_email: str = Field(min_length=3, max_length=254, description="on a verified sender domain")
    from_name: str | None = Field(default=None, max_length=200)
    double_opt_in: bool = Field(default=True, description="always true: every public signup is confirmed")
    fields: list[FormFieldIn] = Field(default_factory=list, max_length=15)
    consent_text: str = Field(min_length=1, max_length=5000, description="what people agree to, kept as proof")
    success_url: str | None = Field(default=None, max_length=2048)


class FormPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    list_ids: list[str] | None = Field(default=None, min_length=1, max_length=10)
    from_email: str | None = Field(default=None, min_length=3, max_length=254)
    from_name: str | None = Field(default=None, max_length=200)
    double_opt_in: bool | None = None
    fields: list[FormFieldIn] | None = Field(default=None, max_length=15)
    consent_text: str | None = Field(default=None, min_length=1, max_length=5000)
    success_url: str | None = Field(default=None, max_length=2048)


# ----------------------------------------------------------------------------- automations, webhooks
def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise PydanticCustomError("enum", f"must be one of: {', '.join(EVENT_TYPES)}")
    return value


# A webhook event type (beacon.tracking.domain_events.EVENT_TYPES), 422 otherwise.
EventType = Annotated[str, AfterValidator(_event_type), WithJsonSchema({"type": "string", "enum": list(EVENT_TYPES)})]


class AutomationTriggerIn(Strict):
    type: Literal["subscribed"] = Field(description='"subscribed": a contact becomes subscribed on the list')
    list_id: ListId = Field(description="a list of the account (422 otherwise)")


class AutomationStepIn(Strict):
    after_seconds: int = Field(strict=True, ge=0, le=MAX_AFTER_SECONDS,
                               description="after the previous step (the first: after entering), up to 366 days")
    subject: str = Field(min_length=1, max_length=998, pattern=ONE_LINE, description="a Jinja2 template, one line")
    from_email: Email = Field(description="on a verified sender domain of the account (POST /v1/domains)")
    from_name: str | None = Field(default=None, max_length=200, pattern=r"^[^\r\n\x00]*$")
    reply_to: Email | None = None
    html: str = Field(min_length=1, max_length=MAX_CONTENT_BYTES, description="a Jinja2 template")
    text: str | None = Field(default=None, max_length=MAX_CONTENT_BYTES, description="a Jinja2 template")


class AutomationIn(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=ONE_LINE)
    trigger: AutomationTriggerIn
    steps: list[AutomationStepIn] = Field(min_length=1, max_length=MAX_STEPS)


class AutomationPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=ONE_LINE)
    trigger: AutomationTriggerIn | None = None
    steps: list[AutomationStepIn] | None = Field(default=None, min_length=1, max_length=MAX_STEPS,
                                                 description="all the steps: step n keeps its id")


class WebhookIn(Strict):
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH,
                     description="https, and every address its host resolves to public (checked again at every "
                                 "delivery); 422 otherwise")
    events: list[EventType] = Field(min_length=1, max_length=16)
    include_machine: bool = Field(default=False, description="also machine (scanner, MPP) opens and clicks: needs "
                                                             "email.opened or email.clicked among the events")


class WebhookPatch(Strict):
    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=16)
    include_machine: bool | None = None
    status: Literal["enabled", "disabled"] | None = Field(default=None, description="enabled again after a 410 Gone")


# A delivery log's cursor: the `next_cursor` of the previous page (400 `invalid_cursor` for any other value).
DELIVERY_CURSOR = r"^[0-9a-f]{32}$"
_DELIVERY_CURSOR = re.compile(DELIVERY_CURSOR)


def _delivery_cursor(value: str | None) -> str | None:
    if value is not None and not _DELIVERY_CURSOR.match(value):
        raise refusal("invalid_cursor", "cursor is not one this API gave out")
    return value


DeliveryCursor = Annotated[str | None, AfterValidator(_delivery_cursor), WithJsonSchema(
    {"type": "string", "pattern": DELIVERY_CURSOR,
     "description": "the `next_cursor` of the previous page (400 `invalid_cursor` for any other value)"})]
