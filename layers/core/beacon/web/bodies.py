"""Request bodies of the /v1 API. Unknown fields are refused (extra="forbid")."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from beacon.campaigns.drafts import MAX_CONTENT_BYTES

MAX_TEMPLATE = 2_000_000  # any string field: bounds the memory a request takes before it is looked at


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=MAX_TEMPLATE)


class SignupIn(Strict):
    company: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    postal_address: str | None = Field(default=None, max_length=1000,
                                       description="the physical postal address every email's footer shows")


class SessionIn(Strict):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    cookie: bool = Field(default=False, strict=True,
                         description="true (the web console): the token goes into an HttpOnly cookie, the answer "
                                     "carries its CSRF token instead")


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=100)


class AccountPatch(Strict):
    company: str | None = Field(default=None, min_length=1, max_length=200)
    current_password: str | None = Field(default=None, max_length=1024)
    new_password: str | None = Field(default=None, max_length=1024)
    postal_address: str | None = Field(default=None, max_length=1000,
                                       description="the physical postal address every email's footer shows "
                                                   "(required before the first campaign send or form)")


class ResetRequestIn(Strict):
    email: str = Field(min_length=1, max_length=254)


class ResetIn(Strict):
    password: str = Field(min_length=1, max_length=1024)


class DomainIn(Strict):
    domain: str = Field(min_length=1, max_length=253)


class ListIn(Strict):
    name: str = Field(min_length=1, max_length=200)


class ContactEntry(Strict):
    email: str = Field(max_length=254)
    attributes: dict[str, Any] = Field(default_factory=dict)
    consent_source: str | None = Field(default=None, max_length=200,
                                       description="how the account got this person's consent (kept as said)")


class Tracking(Strict):
    opens: bool = True
    clicks: bool = True


class CampaignIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=998)
    from_email: str = Field(min_length=3, max_length=254)
    from_name: str = Field(default="", max_length=200)
    reply_to: str | None = Field(default=None, max_length=254)
    list_ids: list[str] = Field(default_factory=list, max_length=20)
    html: str = Field(min_length=1, max_length=MAX_CONTENT_BYTES)
    text: str = Field(default="", max_length=MAX_CONTENT_BYTES)
    tracking: Tracking = Field(default_factory=Tracking)
    segment_id: str | None = Field(default=None, max_length=64)
    exclude_list_ids: list[str] = Field(default_factory=list, max_length=20)


class CampaignPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    subject: str | None = Field(default=None, min_length=1, max_length=998)
    from_email: str | None = Field(default=None, min_length=3, max_length=254)
    from_name: str | None = Field(default=None, max_length=200)
    reply_to: str | None = Field(default=None, max_length=254)
    list_ids: list[str] | None = Field(default=None, max_length=20)
    html: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT_BYTES)
    text: str | None = Field(default=None, max_length=MAX_CONTENT_BYTES)
    tracking: Tracking | None = None
    segment_id: str | None = Field(default=None, max_length=64, description="null removes the segment")
    exclude_list_ids: list[str] | None = Field(default=None, max_length=20)


class PreviewContact(Strict):
    email: str = Field(max_length=254)
    attributes: dict[str, Any] = Field(default_factory=dict)


class PreviewIn(Strict):
    contact: PreviewContact


class SendIn(Strict):
    send_at: str | None = None


class TestSendIn(Strict):
    to: list[str] = Field(min_length=1, max_length=10)


class SuppressionIn(Strict):
    email: str = Field(min_length=1, max_length=254)
    reason: str = Field(default="manual", description='only "manual" can be added through the API')


class ResendIn(Strict):
    audience: str = Field(description='"non_openers" or "non_clickers"', max_length=20)
    subject: str | None = Field(default=None, min_length=1, max_length=998)


class SegmentIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    match: str = Field(default="all", description='"all" or "any"', max_length=10)
    rules: list[Any] = Field(description="[{field, op, value}]")


class SegmentPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    match: str | None = Field(default=None, max_length=10)
    rules: list[Any] | None = None


class SegmentCountIn(Strict):
    match: str = Field(default="all", max_length=10)
    rules: list[Any] = Field(default_factory=list, description="none: everyone subscribed on the lists")
    list_ids: list[str] = Field(min_length=1, max_length=20)
    exclude_list_ids: list[str] = Field(default_factory=list, max_length=20)
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
class AutomationTriggerIn(Strict):
    type: str = Field(description='"subscribed": a contact becomes subscribed on the list')
    list_id: str = Field(min_length=1, max_length=64)


class AutomationStepIn(Strict):
    after_seconds: int = Field(description="after the previous step (the first: after entering), 0 .. 31622400")
    subject: str = Field(min_length=1, max_length=998)
    from_email: str = Field(min_length=3, max_length=254)
    from_name: str | None = Field(default=None, max_length=200)
    reply_to: str | None = Field(default=None, max_length=254)
    html: str = Field(min_length=1)
    text: str | None = None


class AutomationIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    trigger: AutomationTriggerIn
    steps: list[AutomationStepIn] = Field(min_length=1, max_length=25)


class AutomationPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    trigger: AutomationTriggerIn | None = None
    steps: list[AutomationStepIn] | None = Field(default=None, min_length=1, max_length=25)


class WebhookIn(Strict):
    url: str = Field(min_length=1, max_length=2048)
    events: list[str] = Field(min_length=1, max_length=16)
    include_machine: bool = Field(default=False, description="also machine (scanner, MPP) opens and clicks")


class WebhookPatch(Strict):
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[str] | None = Field(default=None, min_length=1, max_length=16)
    include_machine: bool | None = None
    status: str | None = Field(default=None, description='"enabled" or "disabled"')
