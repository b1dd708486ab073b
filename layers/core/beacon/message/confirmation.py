"""The double opt-in email: a real MIME email (text and HTML) that says who asked, how to confirm,
and that ignoring it is enough ("not you? ignore this"), with the sender's postal address. It is
not a campaign email: no tracking, no List-Unsubscribe (there is nothing to unsubscribe from yet)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from beacon.message import links, mime

CONFIRM_DAYS = 7


@dataclass(frozen=True)
class Confirmation:
    company: str
    postal_address: str
    from_email: str
    from_name: str
    to: str
    form_name: str
    confirm_url: str
    asked_at: str  # when the form was submitted, e.g. "2031-05-04 09:12 UTC"


def subject(c: Confirmation) -> str:
    return f"Confirm your subscription to {c.company}"


def text(c: Confirmation) -> str:
    body = (
        "Please confirm your subscription\n\n"
        f"Someone, hopefully you, asked to subscribe {c.to} to emails from {c.company} through its signup form "
        f"\u201c{c.form_name}\u201d on {c.asked_at}.\n\n"
        f"To confirm, open this link and press the Confirm button:\n\n  {c.confirm_url}\n\n"
        "Not you, or changed your mind? Ignore this email: you will not be subscribed and get no emails from "
        f"this list. The link expires in {CONFIRM_DAYS} days.\n"
    )
    return body + links.postal_footer_text(c.company, c.postal_address) if c.postal_address else body


def html_body(c: Confirmation) -> str:
    e = html.escape
    url = e(c.confirm_url, quote=True)
    footer = links.postal_footer_html(c.company, c.postal_address) if c.postal_address else ""
    return (
        '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;color:#1f2933;'
        'max-width:560px;margin:0 auto;padding:24px">'
        "<h1 style=\"font-size:20px\">Please confirm your subscription</h1>"
        f"<p>Someone, hopefully you, asked to subscribe <strong>{e(c.to)}</strong> to emails from "
        f"<strong>{e(c.company)}</strong> through its signup form \u201c{e(c.form_name)}\u201d on "
        f"{e(c.asked_at)}.</p>"
        f'<p><a href="{url}" style="display:inline-block;background:#1f6feb;color:#ffffff;padding:12px 22px;'
        'border-radius:8px;text-decoration:none">Confirm my subscription</a></p>'
        f'<p style="font-size:13px">Or open this link: <a href="{url}">{url}</a></p>'
        "<p><strong>Not you, or changed your mind?</strong> Ignore this email: you will not be subscribed and "
        f"get no emails from this list. The link expires in {CONFIRM_DAYS} days.</p>"
        f"{footer}</body></html>"
    )


def build(c: Confirmation) -> bytes:
    """The raw message (mime.build refuses a CR/LF in any header value)."""
    return mime.build(from_name=c.from_name or c.company, from_email=c.from_email, to_email=c.to,
                      subject=subject(c), html=html_body(c), text=text(c))
