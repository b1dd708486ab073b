"""Campaigns: create and validate (sandboxed templates, header safety), preview, send, stats."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from beacon.accounts.sender_domains import SenderCheck, require_verified
from beacon.db.accounts import ListRepo
from beacon.db.campaigns import CampaignRepo
from beacon.db.models import CampaignItem
from beacon.db.segments import SegmentRepo
from beacon.message import links, mime, rendering
from beacon.message.compose import CampaignContent, compose, content_of
from beacon.ports.ses import EmailSender, OutgoingEmail, SesRejected, SesThrottled
from beacon.shared import addresses
from beacon.shared.clock import epoch, now_iso
from beacon.shared.errors import Conflict, NotFound, PayloadTooLarge, TooManyRequests, Unprocessable, invalid
from beacon.shared.ids import is_id, new_id, recipient_id
from beacon.shared.tokens import TokenSigner

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # SES v1 limit; v2 allows 40 MB after encoding
# A campaign is one DynamoDB item, 400 KB at most: its html, text and tracked links together take at
# most this many bytes (UTF-8), and the rest of the item (name, subject, lists, counters) fits in
# what is left.
MAX_CONTENT_BYTES = 350_000
EDITABLE = ("name", "subject", "from_email", "from_name", "reply_to", "list_ids", "html", "text", "tracking",
            "segment_id", "exclude_list_ids")
CLEARABLE = ("reply_to", "segment_id")  # PATCH null removes them
SAMPLE_EMAIL = "preview@example.com"


def view(item: CampaignItem) -> dict[str, Any]:
    return {
        "id": item.campaign_id,
        "name": item.name,
        "status": item.status,
        "status_reason": item.status_reason or None,
        "subject": item.subject,
        "from_email": item.from_email,
        "from_name": item.from_name,
        "reply_to": item.reply_to or None,
        "list_ids": list(item.list_ids or []),
        "exclude_list_ids": list(item.exclude_list_ids or []),
        "segment_id": item.segment_id or None,
        # the segment definition the campaign was dispatched with (null until it is dispatched)
        "segment": item.segment_snapshot or None,
        "resend_of": ({"campaign_id": item.resend_of, "audience": item.resend_audience}
                      if item.resend_of else None),
        "html": item.html,
        "text": item.text,
        "tracking": {"opens": bool(item.track_opens), "clicks": bool(item.track_clicks)},
        "links": list(item.links or []),
        "recipients": int(item.recipients or 0),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "send_requested_at": item.send_requested_at,
        "send_at": item.send_at,
        "finished_at": item.finished_at,
    }


def _check_targeting(fields: dict[str, Any], lists: ListRepo, account_id: str, segments: SegmentRepo) -> None:
    """segment_id names a segment of the tenant; exclude_list_ids are its lists and none is also a
    list to send to; a resend (resend_of) goes to its original's recipients, not to lists."""
    if fields.get("resend_of") and fields.get("list_ids"):
        raise invalid("list_ids", "a resend goes to the recipients of its original campaign, not to lists; "
                                  "narrow it with segment_id or exclude_list_ids")
    segment_id = fields.get("segment_id")
    if segment_id is not None and (not isinstance(segment_id, str) or not is_id(segment_id)
                                   or segments.get(account_id, segment_id) is None):
        raise invalid("segment_id", f"segment {str(segment_id)[:64]} not found")
    sending_to = set(fields.get("list_ids") or [])
    for list_id in fields.get("exclude_list_ids") or []:
        if not is_id(list_id) or lists.get(account_id, list_id) is None:
            raise invalid("exclude_list_ids", f"list {list_id[:64]} not found")
        if list_id in sending_to:
            raise invalid("exclude_list_ids", f"list {list_id} is also in list_ids")


def page(repo: CampaignRepo, account_id: str, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
    """A page of the account's campaigns, newest first."""
    items, next_cursor = repo.page(account_id, limit, cursor)
    return {"items": [view(i) for i in items], "next_cursor": next_cursor}


def validate(fields: dict[str, Any], lists: ListRepo, account_id: str, company: str, signer: TokenSigner,
             base_url: str, *, senders: SenderCheck, segments: SegmentRepo | None = None) -> list[str]:
    """Check everything a send would trip over, now. Returns the trackable links of a sample render.
    `senders` says whether from_email is on a verified domain of the tenant ."""
    for field in ("name", "subject", "from_name", "reply_to"):
        try:
            mime.check_header_value(field, fields.get(field) or "")
        except mime.HeaderProblem as exc:
            raise invalid(field, str(exc)) from exc
    if not (fields.get("name") or "").strip():
        raise invalid("name", "must not be empty")
    if not (fields.get("subject") or "").strip():
        raise invalid("subject", "must not be empty")
    for field in ("from_email", "reply_to"):
        value = fields.get(field)
        if field == "reply_to" and not value:
            continue
        try:
            fields[field] = addresses.normalize(value)
        except addresses.InvalidAddress as exc:
            raise invalid(field, str(exc)) from exc
    list_ids = fields.get("list_ids") or []
    for list_id in list_ids:
        if lists.get(account_id, list_id) is None:
            raise invalid("list_ids", f"list {list_id} not found")
    _check_targeting(fields, lists, account_id, segments or SegmentRepo())
    if not senders(account_id, fields["from_email"]):
        domain = fields["from_email"].rpartition("@")[2]
        raise invalid("from_email", f"{domain} is not a verified sender domain of this account: add it with "
                                     "POST /v1/domains and publish its DKIM records")
    _fits_one_item(fields, [])  # before any work on it
    try:
        rendering.compile_campaign(fields["subject"], fields["html"], fields.get("text") or "")
    except rendering.TemplateProblem as exc:
        raise Unprocessable(str(exc), code="template_error",
                            details=[{"field": exc.field, "line": exc.line, "message": exc.message}]) from exc
    content = CampaignContent(
        account_id=account_id, campaign_id="0" * 32, company=company, name=fields["name"],
        subject=fields["subject"], from_email=fields["from_email"], from_name=fields.get("from_name") or "",
        reply_to=fields.get("reply_to") or "", html=fields["html"], text=fields.get("text") or "",
        track_opens=True, track_clicks=False, base_url=base_url,
    )
    try:
        sample = compose(content, signer, email=SAMPLE_EMAIL, recipient_id="0" * 32, attributes={},
                         issued_at=0)
    except rendering.TemplateProblem as exc:
        raise Unprocessable(str(exc), code="template_error",
                            details=[{"field": exc.field, "line": exc.line, "message": exc.message}]) from exc
    except (mime.HeaderProblem, ValueError) as exc:
        raise invalid("subject", str(exc)) from exc
    for url in links.control_char_links(sample.html):
        bad = next(c for c in url if not c.isprintable())
        raise Unprocessable(
            f"html: the link {url!r} holds a control character (U+{ord(bad):04X}); a tracked link must not: "
            f"write it percent-encoded ({quote(bad)})", code="unsafe_link",
            details=[{"field": "html", "link": url, "message": "control character in a link"}])
    if len(sample.raw) > MAX_MESSAGE_BYTES:
        raise invalid("html", f"the email is {len(sample.raw)} bytes; SES accepts at most {MAX_MESSAGE_BYTES}")
    unsubscribe_prefix = f"{base_url}/u/"
    found = [u for u in links.find_links(sample.html) if not u.startswith(unsubscribe_prefix)]
    _fits_one_item(fields, found)
    return found


def _fits_one_item(fields: dict[str, Any], found: list[str]) -> None:
    """413 content_too_large unless html, text and the tracked links fit MAX_CONTENT_BYTES."""
    sizes = {"html": len(fields["html"].encode("utf-8", "surrogatepass")),
             "text": len((fields.get("text") or "").encode("utf-8", "surrogatepass")),
             "links": sum(len(u.encode("utf-8", "surrogatepass")) for u in found)}
    if sum(sizes.values()) > MAX_CONTENT_BYTES:
        raise PayloadTooLarge(
            f"html, text and the tracked links together are {sum(sizes.values()):,} bytes (UTF-8); a campaign "
            f"holds at most {MAX_CONTENT_BYTES:,}", code="content_too_large",
            details={"limit_bytes": MAX_CONTENT_BYTES, "bytes": sizes})


def create(repo: CampaignRepo, lists: ListRepo, signer: TokenSigner, account_id: str, company: str,
           fields: dict[str, Any], base_url: str, *, senders: SenderCheck,
           segments: SegmentRepo | None = None) -> dict[str, Any]:
    """A new draft. `fields` may carry `resend_of` and `resend_audience` (beacon.campaigns.resend)."""
    found_links = validate(fields, lists, account_id, company, signer, base_url, senders=senders,
                           segments=segments)
    now = now_iso()
    tracking = fields.get("tracking") or {}
    campaign_id = new_id()
    item = CampaignItem(
        pk=account_id, sk=campaign_id, campaign_id=campaign_id, name=fields["name"].strip(),
        subject=fields["subject"], from_email=fields["from_email"], from_name=fields.get("from_name") or "",
        reply_to=fields.get("reply_to") or "", list_ids=list(dict.fromkeys(fields.get("list_ids") or [])),
        html=fields["html"], text=fields.get("text") or "",
        track_opens=1 if tracking.get("opens", True) else 0, track_clicks=1 if tracking.get("clicks", True) else 0,
        links=found_links, status="draft", created_at=now, updated_at=now,
        segment_id=fields.get("segment_id") or None,
        exclude_list_ids=list(dict.fromkeys(fields.get("exclude_list_ids") or [])),
        resend_of=fields.get("resend_of") or None, resend_audience=fields.get("resend_audience") or None,
    )
    repo.create(item)
    return view(item)


def require(repo: CampaignRepo, account_id: str, campaign_id: str, consistent: bool = False) -> CampaignItem:
    item = repo.get(account_id, campaign_id, consistent) if len(campaign_id) <= 64 else None
    if item is None:
        raise NotFound("campaign not found")
    return item


def update(repo: CampaignRepo, lists: ListRepo, signer: TokenSigner, account_id: str, company: str,
           campaign_id: str, changes: dict[str, Any], base_url: str, *,
           senders: SenderCheck, segments: SegmentRepo | None = None) -> dict[str, Any]:
    item = require(repo, account_id, campaign_id, consistent=True)
    if item.status != "draft":
        raise Conflict(f"only a draft can be changed; this campaign is {item.status}", code="not_draft")
    current = view(item)
    merged = {k: current[k] for k in EDITABLE}
    merged.update({k: v for k, v in changes.items() if k in EDITABLE and (v is not None or k in CLEARABLE)})
    merged["resend_of"] = item.resend_of
    found_links = validate(merged, lists, account_id, company, signer, base_url, senders=senders,
                           segments=segments)
    tracking = merged.get("tracking") or {}
    item.name = merged["name"].strip()
    item.subject = merged["subject"]
    item.from_email = merged["from_email"]
    item.from_name = merged.get("from_name") or ""
    item.reply_to = merged.get("reply_to") or ""
    item.list_ids = list(dict.fromkeys(merged.get("list_ids") or []))
    item.html = merged["html"]
    item.text = merged.get("text") or ""
    item.track_opens = 1 if tracking.get("opens", True) else 0
    item.track_clicks = 1 if tracking.get("clicks", True) else 0
    item.segment_id = merged.get("segment_id") or None
    item.exclude_list_ids = list(dict.fromkeys(merged.get("exclude_list_ids") or []))
    item.links = found_links
    item.updated_at = now_iso()
    repo.save(item)
    return view(item)


def delete(repo: CampaignRepo, account_id: str, campaign_id: str) -> None:
    item = require(repo, account_id, campaign_id, consistent=True)
    if item.status != "draft":
        raise Conflict(f"only a draft can be deleted; this campaign is {item.status}", code="not_draft")
    item.delete()


def preview(item: CampaignItem, company: str, signer: TokenSigner, base_url: str, email: Any,
            attrs: Any, postal_address: str = "") -> dict[str, Any]:
    from beacon.audience import attributes as attributes_mod

    try:
        address = addresses.normalize(email)
    except addresses.InvalidAddress as exc:
        raise invalid("contact.email", str(exc)) from exc
    try:
        clean = attributes_mod.clean(attrs)
    except attributes_mod.InvalidAttributes as exc:
        raise invalid("contact.attributes", str(exc)) from exc
    try:
        composed = compose(content_of(item, company, base_url, postal_address), signer, email=address,
                           recipient_id=recipient_id(item.pk, address), attributes=clean, issued_at=epoch(),
                           list_id=item.list_ids[0] if item.list_ids else "")
    except rendering.TemplateProblem as exc:
        raise Unprocessable(str(exc), code="template_error",
                            details=[{"field": exc.field, "line": exc.line, "message": exc.message}]) from exc
    return {"subject": composed.subject, "html": composed.html, "text": composed.text,
            "headers": composed.headers}


MAX_TEST_RECIPIENTS = 10


def send_test(item: CampaignItem, company: str, signer: TokenSigner, sender: EmailSender, base_url: str,
              to: Any, postal_address: str = "", *, senders: SenderCheck) -> dict[str, Any]:
    """Send the rendered campaign to up to ten addresses, subject prefixed "[Test] ". No ledger, no
    stats: no open pixel or click tracking, and SES tags without a campaign (kind "test"): ses_events
    counts nothing, but a hard bounce or complaint suppresses the address as one on a campaign would.
    The unsubscribe link is real, so it can be tried. 409 sender_unverified unless the from address
    is on a verified domain the account owns."""
    if not isinstance(to, list) or not to or len(to) > MAX_TEST_RECIPIENTS:
        raise invalid("to", f"must list 1 to {MAX_TEST_RECIPIENTS} email addresses")
    require_verified(senders, item.pk, item.from_email)
    normalized: list[str] = []
    for i, value in enumerate(to):
        try:
            normalized.append(addresses.normalize(value))
        except addresses.InvalidAddress as exc:
            raise Unprocessable(f"to[{i}]: {exc}", details=[{"field": f"to[{i}]", "message": str(exc)}]) from exc
    content = replace(content_of(item, company, base_url, postal_address), subject="[Test] " + item.subject,
                      track_opens=False, track_clicks=False)
    composed_all = []
    for address in dict.fromkeys(normalized):
        try:
            composed_all.append((address, compose(content, signer, email=address,
                                                  recipient_id=recipient_id(item.pk, address),
                                                  attributes={}, issued_at=epoch())))
        except rendering.TemplateProblem as exc:
            raise Unprocessable(str(exc), code="template_error",
                                details=[{"field": exc.field, "line": exc.line, "message": exc.message}]) from exc
    sent: list[str] = []
    for address, composed in composed_all:
        try:
            sender.send(OutgoingEmail(from_address=content.from_email, to_address=address, raw=composed.raw,
                                      tags={"account": item.pk, "recipient": recipient_id(item.pk, address),
                                            "kind": "test"}))
        except SesThrottled as exc:
            raise TooManyRequests("SES is throttling; try the test send again in a moment",
                                  details={"sent": sent}) from exc
        except SesRejected as exc:
            raise Unprocessable(f"SES refused the email to {address}: {exc}",
                                details=[{"field": "to", "message": str(exc)}, {"sent": sent}]) from exc
        sent.append(address)
    return {"id": item.campaign_id, "test": True, "sent_to": sent}
