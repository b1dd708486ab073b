"""MIME: the multipart/alternative message SES sends, with the RFC 8058 one-click headers."""

from __future__ import annotations

import secrets
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formatdate

_POLICY = SMTP.clone(max_line_length=998, cte_type="7bit")


class HeaderProblem(ValueError):
    """A value cannot go into a header (CR/LF, or an address SES cannot send)."""


def check_header_value(field: str, value: str) -> None:
    if any(c in value for c in "\r\n\x00"):
        raise HeaderProblem(f"{field} must not contain line breaks")


def mailbox(display_name: str, address: str) -> str:
    """An RFC 5322 mailbox; a non-ASCII display name is RFC 2047-encoded when serialised."""
    check_header_value("name", display_name)
    local, _, domain = address.rpartition("@")
    return str(Address(display_name=display_name, username=local, domain=domain))


def message_id(domain: str) -> str:
    return f"<{secrets.token_hex(16)}@{domain}>"


def build(
    *,
    from_name: str,
    from_email: str,
    to_email: str,
    subject: str,
    html: str,
    text: str,
    unsubscribe_url: str,
    reply_to: str = "",
    msg_id: str | None = None,
    date: str | None = None,
) -> bytes:
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = mailbox(from_name, from_email)
    msg["To"] = to_email
    msg["Subject"] = subject
    msg["Date"] = date or formatdate(usegmt=True)
    msg["Message-ID"] = msg_id or message_id(from_email.rpartition("@")[2])
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["MIME-Version"] = "1.0"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg.as_bytes(policy=_POLICY)


__all__ = ["HeaderProblem", "build", "check_header_value", "format_datetime", "mailbox", "message_id"]
