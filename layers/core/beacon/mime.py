"""MIME: the multipart/alternative message SES sends, with the RFC 8058 one-click headers."""

from __future__ import annotations

import secrets
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, formatdate

# The body: quoted-printable lines of at most 76 characters (RFC 2045), 7-bit on the wire.
_BODY_POLICY = SMTP.clone(max_line_length=76, cte_type="7bit")
_CRLF = "\r\n"


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


def _words(value: str, header: str) -> str:
    """A header value as RFC 2047 encoded-words of at most 75 characters when it is not ASCII."""
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=header).encode(linesep=_CRLF, maxlinelen=74)


def _mailbox_header(display_name: str, address: str) -> str:
    if not display_name:
        return address
    if display_name.isascii():
        return formataddr((display_name, address))
    return f"{_words(display_name, 'From')} <{address}>"


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
    """The raw message. Headers are written here (the stdlib would RFC 2047-encode a long
    List-Unsubscribe URL, which no mail client reads); the body parts come from `email`."""
    for field, value in (("subject", subject), ("name", from_name), ("unsubscribe URL", unsubscribe_url),
                         ("to", to_email), ("reply_to", reply_to), ("from_email", from_email)):
        check_header_value(field, value)
    headers = [
        ("From", _mailbox_header(from_name, from_email)),
        ("To", to_email),
        ("Subject", _words(subject, "Subject")),
        ("Date", date or formatdate(usegmt=True)),
        ("Message-ID", msg_id or message_id(from_email.rpartition("@")[2])),
    ]
    if reply_to:
        headers.append(("Reply-To", reply_to))
    headers += [
        ("List-Unsubscribe", f"<{unsubscribe_url}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]  # MIME-Version and Content-Type come with the body
    body = EmailMessage(policy=_BODY_POLICY)
    body.set_content(text, subtype="plain", charset="utf-8")
    body.add_alternative(html, subtype="html", charset="utf-8")
    head = "".join(f"{name}: {value}{_CRLF}" for name, value in headers).encode("ascii")
    return head + body.as_bytes(policy=_BODY_POLICY)


__all__ = ["HeaderProblem", "build", "check_header_value", "format_datetime", "mailbox", "message_id"]
