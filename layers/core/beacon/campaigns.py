"""Campaigns: create and validate (sandboxed templates, header safety), preview, send, stats."""

from __future__ import annotations

from typing import Any

from beacon import addresses, links, mime, rendering
from beacon.clock import epoch, now_iso
from beacon.composer import CampaignContent, compose
from beacon.db.accounts import ListRepo
from beacon.db.campaigns import CampaignRepo
from beacon.db.counters import Counters
from beacon.db.models import CampaignItem
from beacon.errors import Conflict, NotFound, Unprocessable
from beacon.ids import new_id, recipient_id
from beacon.ports.queue import Queue
from beacon.tokens import TokenSigner

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # SES v1 limit; v2 allows 40 MB after encoding
EDITABLE = ("name", "subject", "from_email", "from_name", "reply_to", "list_ids", "html", "text", "tracking")
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
        "html": item.html,
        "text": item.text,
        "tracking": {"opens": bool(item.track_opens), "clicks": bool(item.track_clicks)},
        "links": list(item.links or []),
        "recipients": int(item.recipients or 0),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "send_requested_at": item.send_requested_at,
        "finished_at": item.finished_at,
    }


def content_of(item: CampaignItem, company: str, base_url: str | None = None) -> CampaignContent:
    return CampaignContent(
        account_id=item.pk, campaign_id=item.campaign_id, company=company, name=item.name,
        subject=item.subject, from_email=item.from_email, from_name=item.from_name,
        reply_to=item.reply_to or "", html=item.html, text=item.text or "",
        track_opens=bool(item.track_opens), track_clicks=bool(item.track_clicks),
        base_url=base_url if base_url is not None else item.base_url,
    )


def _problem(field: str, message: str) -> Unprocessable:
    return Unprocessable(f"{field}: {message}", details=[{"field": field, "message": message}])


def validate(fields: dict[str, Any], lists: ListRepo, account_id: str, company: str, signer: TokenSigner,
             base_url: str) -> list[str]:
    """Check everything a send would trip over, now. Returns the trackable links of a sample render."""
    for field in ("name", "subject", "from_name", "reply_to"):
        try:
            mime.check_header_value(field, fields.get(field) or "")
        except mime.HeaderProblem as exc:
            raise _problem(field, str(exc)) from exc
    if not (fields.get("name") or "").strip():
        raise _problem("name", "must not be empty")
    if not (fields.get("subject") or "").strip():
        raise _problem("subject", "must not be empty")
    for field in ("from_email", "reply_to"):
        value = fields.get(field)
        if field == "reply_to" and not value:
            continue
        try:
            fields[field] = addresses.normalize(value)
        except addresses.InvalidAddress as exc:
            raise _problem(field, str(exc)) from exc
    list_ids = fields.get("list_ids") or []
    for list_id in list_ids:
        if lists.get(account_id, list_id) is None:
            raise _problem("list_ids", f"list {list_id} not found")
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
        raise _problem("subject", str(exc)) from exc
    if len(sample.raw) > MAX_MESSAGE_BYTES:
        raise _problem("html", f"the email is {len(sample.raw)} bytes; SES accepts at most {MAX_MESSAGE_BYTES}")
    unsubscribe_prefix = f"{base_url}/u/"
    return [u for u in links.find_links(sample.html) if not u.startswith(unsubscribe_prefix)]


def create(repo: CampaignRepo, lists: ListRepo, signer: TokenSigner, account_id: str, company: str,
           fields: dict[str, Any], base_url: str) -> dict[str, Any]:
    found_links = validate(fields, lists, account_id, company, signer, base_url)
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
    )
    repo.create(item)
    return view(item)


def require(repo: CampaignRepo, account_id: str, campaign_id: str, consistent: bool = False) -> CampaignItem:
    item = repo.get(account_id, campaign_id, consistent) if len(campaign_id) <= 64 else None
    if item is None:
        raise NotFound("campaign not found")
    return item


def update(repo: CampaignRepo, lists: ListRepo, signer: TokenSigner, account_id: str, company: str,
           campaign_id: str, changes: dict[str, Any], base_url: str) -> dict[str, Any]:
    item = require(repo, account_id, campaign_id, consistent=True)
    if item.status != "draft":
        raise Conflict(f"only a draft can be changed; this campaign is {item.status}", code="not_draft")
    current = view(item)
    merged = {k: current[k] for k in EDITABLE}
    merged.update({k: v for k, v in changes.items() if k in EDITABLE and (v is not None or k == "reply_to")})
    found_links = validate(merged, lists, account_id, company, signer, base_url)
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
            attrs: Any) -> dict[str, Any]:
    from beacon import attributes as attributes_mod

    try:
        address = addresses.normalize(email)
    except addresses.InvalidAddress as exc:
        raise _problem("contact.email", str(exc)) from exc
    try:
        clean = attributes_mod.clean(attrs)
    except attributes_mod.InvalidAttributes as exc:
        raise _problem("contact.attributes", str(exc)) from exc
    try:
        composed = compose(content_of(item, company, base_url), signer, email=address,
                           recipient_id=recipient_id(item.pk, address), attributes=clean, issued_at=epoch())
    except rendering.TemplateProblem as exc:
        raise Unprocessable(str(exc), code="template_error",
                            details=[{"field": exc.field, "line": exc.line, "message": exc.message}]) from exc
    return {"subject": composed.subject, "html": composed.html, "text": composed.text,
            "headers": composed.headers}


def start_send(repo: CampaignRepo, queue: Queue, dispatch_queue_url: str, account_id: str,
               campaign_id: str, base_url: str) -> dict[str, Any]:
    item = require(repo, account_id, campaign_id, consistent=True)
    if item.status != "draft":
        raise Conflict(f"only a draft can be sent; this campaign is {item.status}", code="not_draft")
    if not item.list_ids:
        raise Unprocessable("the campaign has no lists to send to", details=[{"field": "list_ids"}])
    now = now_iso()
    if not repo.transition(item, "draft", "sending", now, extra=[
        CampaignItem.base_url.set(base_url), CampaignItem.send_requested_at.set(now),
    ]):
        raise Conflict("the campaign is no longer a draft", code="not_draft")
    try:
        queue.send(dispatch_queue_url, [{"account_id": account_id, "campaign_id": campaign_id}])
    except Exception:
        repo.transition(item, "sending", "draft", now_iso())
        raise
    return {"id": campaign_id, "status": "sending"}


def stats(item: CampaignItem, counters: Counters) -> dict[str, Any]:
    c = counters.read(item.pk, item.campaign_id)
    link_urls = list(item.links or [])
    link_stats = [
        {"url": url, "total": c.get(f"link_{i}_total", 0), "unique": c.get(f"link_{i}_unique", 0)}
        for i, url in enumerate(link_urls)
    ]
    return {
        "status": item.status,
        "recipients": int(item.recipients or 0),
        "sent": c.get("sent", 0),
        "failed": c.get("failed", 0),
        "skipped_suppressed": c.get("skipped_suppressed", 0),
        "delivered": c.get("delivered", 0),
        "bounced": c.get("bounced", 0),
        "complained": c.get("complained", 0),
        "unsubscribed": c.get("unsubscribed", 0),
        "opens": {"total": c.get("opens_total", 0), "unique": c.get("opens_unique", 0),
                  "human_unique": c.get("opens_human_unique", 0), "machine": c.get("opens_machine", 0)},
        "clicks": {"total": c.get("clicks_total", 0), "unique": c.get("clicks_unique", 0),
                   "human_unique": c.get("clicks_human_unique", 0), "machine": c.get("clicks_machine", 0),
                   "links": link_stats},
    }
