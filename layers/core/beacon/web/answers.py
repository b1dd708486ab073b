"""The bodies the /v1 API answers, as the OpenAPI document describes them (the request bodies are in
bodies.py). The routes answer the domain's dicts; these models are what the document says those
dicts are, field by field, and the tests hold every answer to them (the in-process API tests check
each answer's status and body against the document; the fuzz does it over HTTP). A field added to an
answer without its line here fails those tests: additional properties are refused in the document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from beacon.campaigns import timeline
from beacon.tracking.domain_events import EVENT_TYPES

CampaignStatus = Literal["draft", "scheduled", "sending", "paused", "sent", "cancelled"]
ContactStatus = Literal["subscribed", "pending", "unsubscribed", "complained", "bounced", "suppressed"]
SuppressionReason = Literal["unsubscribe", "complaint", "bounce", "manual"]
DomainStatus = Literal["pending", "verified", "failed"]
Timestamp = Field(description="UTC, ISO 8601 (e.g. 2030-01-01T09:00:00.000Z)")
Id = Field(pattern=r"^[0-9a-f]{32}$", description="32 hexadecimal digits")


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------- errors
class ErrorDetail(Answer):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="snake_case, for programs: "
                      "e.g. validation_error, weak_password, malformed_json, invalid_encoding, too_deep, "
                      "invalid_text, invalid_cursor, unauthorized, csrf_failed, not_found, email_taken, not_draft, "
                      "invalid_status, sender_unverified, unsafe_link, content_too_large, reset_gone, "
                      "too_many_attempts")
    message: str = Field(min_length=1, description="a sentence for a person")
    details: Any = Field(default=None, description="more about the error: for a 422 a list of "
                         "{field, type?, message?, line?}; for a 429 {retry_after}")


class ErrorBody(Answer):
    """Every error answer: one envelope."""
    error: ErrorDetail


# ----------------------------------------------------------------------------- accounts
class Account(Answer):
    id: str = Id
    company: str
    email: str
    postal_address: str | None = Field(description="every email's footer shows it; needed before the first "
                                                   "send or form")
    created_at: str = Timestamp


class SignedUp(Answer):
    account: Account
    api_key: str = Field(description="the account's first API key (`bk_...`), shown only here")


class Session(Answer):
    token: str = Field(description="`bs_...`: send as `Authorization: Bearer <token>`")
    expires_at: str = Timestamp


class CookieSession(Answer):
    """POST /v1/sessions with `cookie: true`: the token is in the Set-Cookie header, never in the body."""
    expires_at: str = Timestamp
    csrf_token: str = Field(description="send as `X-CSRF-Token` on every change made with the cookie")


class SessionInfo(Answer):
    account: Account
    via: Literal["cookie", "session", "api_key"] = Field(description="how this request was authenticated")
    csrf_token: str | None = Field(default=None, description="only with the cookie: send as `X-CSRF-Token` on "
                                                             "every change")


class Accepted(Answer):
    status: Literal["accepted"]
    message: str


class ApiKey(Answer):
    id: str = Id
    name: str
    prefix: str = Field(description="the key's first 8 characters, to tell keys apart")
    created_at: str = Timestamp


class ApiKeyCreated(ApiKey):
    key: str = Field(description="the secret (`bk_...`), shown only in this answer")


class ApiKeys(Answer):
    items: list[ApiKey]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


# ----------------------------------------------------------------------------- sender domains
class DkimRecord(Answer):
    name: str
    type: Literal["CNAME"]
    value: str


class Domain(Answer):
    domain: str = Field(description="lower case; an internationalised name in Punycode")
    status: DomainStatus
    dkim_records: list[DkimRecord] = Field(description="publish these three CNAME records to verify the domain")
    created_at: str = Timestamp
    checked_at: str | None = Timestamp


class Domains(Answer):
    items: list[Domain]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


# ----------------------------------------------------------------------------- lists and contacts
class ContactList(Answer):
    id: str = Id
    name: str
    contact_count: int = Field(ge=0)
    pending_count: int = Field(ge=0, description="form signups waiting for their confirmation")
    created_at: str = Timestamp


class ContactLists(Answer):
    items: list[ContactList]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class Skipped(Answer):
    """An entry that was not added, and why."""
    index: int | None = Field(default=None, ge=0, description="its position in the JSON array")
    row: int | None = Field(default=None, ge=1, description="its line in the CSV file")
    email: str | None
    reason: str


class ContactsSummary(Answer):
    created: int = Field(ge=0)
    updated: int = Field(ge=0)
    skipped: list[Skipped]


class ImportResult(Answer):
    """A finished import job's summary: the synchronous import's, with at most 1,000 skipped rows listed."""
    created: int = Field(ge=0)
    updated: int = Field(ge=0)
    skipped: list[Skipped] = Field(description="the first 1,000 skipped rows, in file order, with the reason")
    skipped_count: int = Field(ge=0, description="every skipped row")
    skipped_omitted: int = Field(ge=0, description="skipped rows not listed (skipped_count - len(skipped))")


class Job(Answer):
    """A background job (DELETE /v1/lists/{id}, DELETE /v1/account, a big POST /v1/lists/{id}/imports):
    GET /v1/jobs/{id} reads its progress."""
    id: str = Id
    kind: Literal["delete_list", "erase_account", "import_contacts"]
    status: Literal["queued", "running", "done", "failed"]
    phase: str | None = Field(description="the step it is at (e.g. `members`, `identities`, `ledger`, `rows`)")
    target: str | None = Field(description="the list's id for a list deletion or an import; null for an account "
                                           "erasure")
    done: int = Field(ge=0, description="items removed so far; an import's rows imported or skipped so far")
    total: int | None = Field(ge=0, description="an import's rows in all (`done` of `total`); null for other jobs")
    created_at: str = Timestamp
    updated_at: str = Timestamp
    finished_at: str | None = Field(description="UTC, ISO 8601, once done or failed")
    error: str | None = Field(description="why it failed, if it did")
    result: ImportResult | None = Field(description="a finished import's summary; null otherwise")


class Contact(Answer):
    email: str
    status: ContactStatus
    attributes: dict[str, Any]
    list_ids: list[str]
    created_at: str = Timestamp
    updated_at: str = Timestamp


class ContactsPage(Answer):
    items: list[Contact]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class ListRef(Answer):
    id: str = Id
    name: str


class Membership(ListRef):
    """One of the person's lists, and how they got there."""
    status: Literal["subscribed", "pending"] | str
    source: str | None = Field(description="api, import or form")
    joined_at: str | None


class Network(Answer):
    network: str | None = Field(description="a /24 or /48 network, never an IP address")
    client: str | None = Field(description="a class such as desktop_browser, never a user agent")


class ConsentRecord(Answer):
    signup_id: str
    status: str
    form_id: str
    form_name: str | None
    list_ids: list[str]
    consent_text: str | None
    fields: dict[str, Any]
    submitted_at: str | None
    submitted_from: Network
    confirmation_sent_at: str | None
    confirmed_at: str | None
    confirmed_from: Network | None


class Consent(Answer):
    consent_source: str | None = Field(description="what the account said when it added the person")
    signups: list[ConsentRecord]


class Engagement(Answer):
    sends: int = Field(ge=0)
    opens: int = Field(ge=0)
    clicks: int = Field(ge=0)
    last_activity_at: str | None = Timestamp


class ContactDetail(Contact):
    consent: Consent
    lists: list[Membership]
    engagement: Engagement


class Message(Answer):
    """One campaign's email to the person (the send ledger)."""
    campaign_id: str | None
    status: str | None
    sent_at: str | None
    opens: int = Field(ge=0)
    last_open_at: str | None
    clicks: int = Field(ge=0)
    last_click_at: str | None
    delivered: bool
    bounced: bool
    complained: bool
    unsubscribed: bool
    stored: dict[str, Any] = Field(description="every attribute stored on the ledger item")


class PersonEvent(Answer):
    kind: str
    at: str | None
    campaign_id: str | None
    detail: dict[str, Any]


class Suppression(Answer):
    email: str | None = Field(description="null once the contact was erased (the suppression stays, by hash)")
    reason: SuppressionReason
    created_at: str = Timestamp
    campaign_id: str | None


class Suppressions(Answer):
    items: list[Suppression]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class PersonExport(Answer):
    email: str
    exported_at: str = Timestamp
    contact: Contact | None
    consent: Consent
    lists: list[Membership]
    engagement: Engagement
    messages: list[Message]
    events: list[PersonEvent]
    suppression: Suppression | None


# ----------------------------------------------------------------------------- campaigns
class TrackingAnswer(Answer):
    opens: bool
    clicks: bool


class SegmentRule(Answer):
    field: str = Field(description="email, attributes.<name>, subscribed_at or campaign:<id>")
    op: str
    value: Any = Field(default=None, description="absent for exists, not_exists and the engagement ops")


class Segment(Answer):
    id: str = Id
    name: str
    match: Literal["all", "any"]
    rules: list[SegmentRule]
    created_at: str = Timestamp
    updated_at: str = Timestamp


class Segments(Answer):
    items: list[Segment]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class SegmentCount(Answer):
    count: int = Field(ge=0)
    complete: bool = Field(description="false when the count stopped at its budget: send next_cursor back")
    next_cursor: str | None


class SegmentUsed(Answer):
    """The segment definition a campaign was dispatched with."""
    id: str = Id
    name: str
    match: Literal["all", "any"]
    rules: list[SegmentRule]
    updated_at: str = Timestamp


class ResendOf(Answer):
    campaign_id: str = Id
    audience: Literal["non_openers", "non_clickers"]


class Campaign(Answer):
    id: str = Id
    name: str
    status: CampaignStatus
    status_reason: str | None = Field(description="why it is paused, when Beacon paused it")
    subject: str
    from_email: str
    from_name: str
    reply_to: str | None
    list_ids: list[str]
    exclude_list_ids: list[str] = Field(description="contacts of these lists are not recipients")
    segment_id: str | None = Field(description="recipients must match this segment")
    segment: SegmentUsed | None = Field(description="the segment as the campaign was sent with it (null until "
                                                    "it is dispatched)")
    resend_of: ResendOf | None = Field(description="the campaign this one resends to its non-openers or "
                                                   "non-clickers")
    html: str
    text: str
    tracking: TrackingAnswer
    links: list[str] = Field(description="the tracked links found in the HTML, in order")
    recipients: int = Field(ge=0)
    created_at: str = Timestamp
    updated_at: str = Timestamp
    send_requested_at: str | None
    send_at: str | None
    finished_at: str | None


class Campaigns(Answer):
    items: list[Campaign]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class Preview(Answer):
    subject: str
    html: str
    text: str
    headers: dict[str, str]


class TestSent(Answer):
    id: str = Id
    test: Literal[True]
    sent_to: list[str]


class SendStarted(Answer):
    id: str = Id
    status: Literal["sending", "scheduled"]
    send_at: str | None = Field(default=None, description="when it is scheduled, UTC")


class CampaignState(Answer):
    id: str = Id
    status: CampaignStatus


class OpenFigures(Answer):
    total: int = Field(ge=0)
    unique: int = Field(ge=0)
    human_unique: int = Field(ge=0)
    machine: int = Field(ge=0)
    proxied: int = Field(ge=0, description="recipients seen through a webmail image proxy")


class LinkFigures(Answer):
    url: str
    total: int = Field(ge=0)
    unique: int = Field(ge=0)
    human_unique: int = Field(ge=0)
    machine: int = Field(ge=0)


class ClickFigures(Answer):
    total: int = Field(ge=0)
    unique: int = Field(ge=0)
    human_unique: int = Field(ge=0)
    machine: int = Field(ge=0)
    honeypot: int = Field(ge=0, description="recipients whose hidden link was fetched (a scanner)")
    links: list[LinkFigures]


class Stats(Answer):
    status: CampaignStatus
    recipients: int = Field(ge=0)
    recipients_final: bool = Field(description="false while dispatch is still counting recipients")
    sent: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped_suppressed: int = Field(ge=0)
    not_sent: int = Field(ge=0)
    delivered: int = Field(ge=0)
    bounced: int = Field(ge=0)
    complained: int = Field(ge=0)
    rejected: int = Field(ge=0)
    rendering_failed: int = Field(ge=0)
    unsubscribed: int = Field(ge=0)
    opens: OpenFigures
    clicks: ClickFigures


class TimelinePoint(Answer):
    at: str = Field(description="the bucket's start, UTC, ISO 8601")
    human_opens: int = Field(ge=0, description="recipients whose first human open falls in the bucket")
    machine_opens: int = Field(ge=0)
    human_clicks: int = Field(ge=0)
    machine_clicks: int = Field(ge=0)


class Untimed(Answer):
    """What the ledger holds without a time it can be placed at (never dropped, never guessed)."""
    human_opens: int = Field(ge=0)
    machine_opens: int = Field(ge=0)
    human_clicks: int = Field(ge=0)
    machine_clicks: int = Field(ge=0)


class Timeline(Answer):
    campaign_id: str = Id
    status: CampaignStatus
    bucket_seconds: int = Field(json_schema_extra={"enum": list(timeline.BUCKETS)},
                                description="the width of each point, chosen for about 120 points unless given")
    from_: str | None = Field(alias="from", description="the first bucket's start (null before the send)")
    to: str | None = Field(description="the last bucket's end (null before the send)")
    points: list[TimelinePoint]
    untimed: Untimed


# ----------------------------------------------------------------------------- signup forms
class FormField(Answer):
    name: str
    label: str | None
    required: bool


class Form(Answer):
    id: str = Id
    name: str
    list_ids: list[str]
    from_email: str
    from_name: str | None
    double_opt_in: Literal[True]
    fields: list[FormField]
    consent_text: str
    success_url: str | None
    url: str = Field(description="the hosted signup page")
    embed_html: str = Field(description="a plain <form> to paste into any page")
    created_at: str = Timestamp
    updated_at: str = Timestamp


class Forms(Answer):
    items: list[Form]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


# ----------------------------------------------------------------------------- automations
AutomationStatus = Literal["draft", "active", "paused"]


class AutomationTrigger(Answer):
    type: Literal["subscribed"] = Field(description="a contact becomes subscribed on the list")
    list_id: str = Id


class AutomationStep(Answer):
    id: str = Field(pattern=r"^[0-9a-f]{32}$", description="the step's campaign-like id: its emails' webhook "
                                                           "events carry it as step_id")
    after_seconds: int = Field(ge=0, description="after the previous step (the first: after entering)")
    subject: str
    from_email: str
    from_name: str
    reply_to: str
    html: str
    text: str
    links: list[str] = Field(description="the tracked links found in the HTML, in order")


class Automation(Answer):
    id: str = Id
    name: str
    status: AutomationStatus
    trigger: AutomationTrigger
    steps: list[AutomationStep]
    created_at: str = Timestamp
    updated_at: str = Timestamp


class Automations(Answer):
    items: list[Automation]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class StepStats(Answer):
    step: int = Field(ge=1, description="the step's place, from 1")
    id: str = Id
    subject: str
    after_seconds: int = Field(ge=0)
    sent: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped_suppressed: int = Field(ge=0)
    delivered: int = Field(ge=0)
    bounced: int = Field(ge=0)
    complained: int = Field(ge=0)
    unsubscribed: int = Field(ge=0)
    opens: OpenFigures
    clicks: ClickFigures


class AutomationStats(Answer):
    status: AutomationStatus
    entered: int = Field(ge=0, description="contacts that entered it")
    active: int = Field(ge=0, description="contacts with a step still to come")
    completed: int = Field(ge=0, description="contacts that got every step")
    exited: int = Field(ge=0, description="contacts that left before the end (unsubscribed, off the list, erased)")
    steps: list[StepStats]


# ----------------------------------------------------------------------------- webhooks
WebhookEvent = Annotated[str, WithJsonSchema({"type": "string", "enum": list(EVENT_TYPES)})]


class Webhook(Answer):
    id: str = Id
    url: str
    events: list[WebhookEvent]
    include_machine: bool = Field(description="also machine (scanner, Apple MPP, prefetch) opens and clicks")
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None = Field(description="why it is disabled (the account, or a 410 Gone answer)")
    created_at: str = Timestamp
    updated_at: str = Timestamp


class WebhookCreated(Webhook):
    secret: str = Field(pattern=r"^whsec_", description="the signing secret (Standard Webhooks), shown only here")


class Webhooks(Answer):
    items: list[Webhook]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class Attempt(Answer):
    at: str = Timestamp
    status_code: int | None = Field(description="the endpoint's HTTP status; null: no answer (see error)")
    error: str | None = Field(description="why there was no answer: refused address, DNS, connect, TLS, timeout")
    ms: int = Field(ge=0)
    answer: str = Field(description="the start of the endpoint's answer (256 characters at most)")


class Delivery(Answer):
    id: str = Id
    webhook_id_header: str = Field(description="the `webhook-id` header of every attempt (`msg_<id>`)")
    type: WebhookEvent
    status: Literal["pending", "succeeded", "failed"]
    created_at: str = Timestamp
    attempts: list[Attempt]
    next_attempt_at: str | None = Field(description="when the next attempt is due (pending only)")
    final_reason: str | None = Field(description="why it ended without success")
    payload: dict[str, Any] | None = Field(description="the body sent: {type, timestamp, data}")


class Deliveries(Answer):
    items: list[Delivery]
    next_cursor: str | None = Field(description="the next page's cursor, null on the last page")
