"""One email for one recipient: render, track links, add the pixel and footer, build the MIME.

Used by the send path, by previews and by test sends, so all three show the same email.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from beacon.message import links, mime, rendering
from beacon.shared.tokens import HONEYPOT_LINK, TokenSigner

if TYPE_CHECKING:
    from beacon.db.models import CampaignItem


@dataclass(frozen=True)
class CampaignContent:
    account_id: str
    campaign_id: str
    company: str
    name: str
    subject: str
    from_email: str
    from_name: str
    reply_to: str
    html: str
    text: str
    track_opens: bool
    track_clicks: bool
    base_url: str
    postal_address: str = ""  # the account's, in every email's footer (HTML and text)


@dataclass(frozen=True)
class Composed:
    subject: str
    html: str
    text: str
    headers: dict[str, str]
    raw: bytes


def compose(content: CampaignContent, signer: TokenSigner, *, email: str, recipient_id: str,
            attributes: dict[str, Any], issued_at: int, list_id: str = "") -> Composed:
    """`list_id`: the list the recipient gets this email through (its RFC 2919 List-Id header)."""
    base = content.base_url
    tokens = signer.for_email(content.account_id, content.campaign_id, recipient_id, issued_at)
    unsubscribe_url = f"{base}/u/{tokens.unsubscribe()}"
    compiled = rendering.compile_campaign(content.subject, content.html, content.text)
    rendered = rendering.render(
        compiled,
        rendering.context_for(email, attributes, content.company, content.name, unsubscribe_url),
    )
    text = rendered.text
    tracker = None
    if content.track_clicks:
        # each tracked href as two pieces: this email's "{base}/c/{head}" and the campaign's link part
        email_prefix = _escaped(f"{base}/c/") + tokens.click_head()
        tracker = lambda index, url: (email_prefix, tokens.link_part(index, url))  # noqa: E731
    # One pass rewrites the links and finds out whether the rendered HTML links the unsubscribe URL:
    # decided on what was rendered, not on the template's source (a {{ unsubscribe_url }} inside a
    # false {% if %} or an HTML comment is no working link). It goes over the template's chunks, the
    # scans of the template's own text cached (beacon.message.links.rewrite_chunks). The HTML stays in parts
    # (the text between links and the link pieces repeat across recipients: mime caches their encodings).
    source = rendered.html
    chunks: tuple[str, ...] | list[str] = rendered.html_chunks
    cache = True
    if "\r" in source:  # from a contact's value (the template's own line ends are \n: rendering)
        source = source.replace("\r\n", "\n").replace("\r", "\n")
        chunks, cache = [source], False
    parts, has_unsubscribe = links.rewrite_chunks(chunks, tracker, skip=unsubscribe_url, escaped=True,
                                                  check_skip=unsubscribe_url in source, cache=cache)
    tail: list[str] = []
    if not has_unsubscribe:
        tail.append(links.footer_html(content.company, unsubscribe_url))
    if unsubscribe_url not in text:
        text = text + links.footer_text(content.company, unsubscribe_url)
    if content.postal_address:  # the law's footer: the sender's physical postal address
        tail.append(links.postal_footer_html(content.company, content.postal_address))
        text = text + links.postal_footer_text(content.company, content.postal_address)
    if content.track_clicks:
        # the honeypot: only machines follow it (beacon.tracking.classify, sweep rule "honeypot_sweep")
        tail.append(links.honeypot_html(f"{base}/c/{tokens.click(HONEYPOT_LINK, '')}"))
    if content.track_opens:
        tail.append(links.pixel_html(f"{base}/o/{tokens.open()}"))
    if tail:
        links.insert_before_body_end_parts(parts, "".join(tail))
    if not text.strip():
        text = links.footer_text(content.company, unsubscribe_url).strip()
    domain = content.from_email.rpartition("@")[2]
    msg_id = mime.message_id(domain)
    list_header = mime.list_id(list_id, domain)
    raw = mime.build(
        from_name=content.from_name, from_email=content.from_email, to_email=email,
        subject=rendered.subject, html=parts, text=text, unsubscribe_url=unsubscribe_url,
        reply_to=content.reply_to, msg_id=msg_id, list_id=list_header,
    )
    headers = {
        "From": mime.mailbox(content.from_name, content.from_email),
        "To": email,
        "Subject": rendered.subject,
        "Message-ID": msg_id,
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if content.reply_to:
        headers["Reply-To"] = content.reply_to
    if list_header:
        headers["List-Id"] = list_header
    return Composed(rendered.subject, "".join(parts), text, headers, raw)


@lru_cache(maxsize=64)
def _escaped(prefix: str) -> str:
    return html.escape(prefix)


def content_of(item: CampaignItem, company: str, base_url: str | None = None,
               postal_address: str = "") -> CampaignContent:
    """What every email of a stored campaign shares (`base_url`: its tracking links' origin)."""
    return CampaignContent(
        account_id=item.pk, campaign_id=item.campaign_id, company=company, name=item.name,
        subject=item.subject, from_email=item.from_email, from_name=item.from_name,
        reply_to=item.reply_to or "", html=item.html, text=item.text or "",
        track_opens=bool(item.track_opens), track_clicks=bool(item.track_clicks),
        base_url=base_url if base_url is not None else item.base_url, postal_address=postal_address,
    )
