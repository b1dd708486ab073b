"""MIME: the multipart/alternative message SES sends, with the RFC 8058 one-click headers."""

from __future__ import annotations

import binascii
import re
import secrets
import time
from collections.abc import Sequence
from email.header import Header
from email.headerregistry import Address
from email.utils import format_datetime, formataddr, formatdate
from functools import lru_cache

# The body: quoted-printable lines of at most 76 characters (RFC 2045), 7-bit on the wire.
_CRLF = "\r\n"


class HeaderProblem(ValueError):
    """A value cannot go into a header (CR/LF, or an address SES cannot send)."""


_LINE_BREAKS = re.compile("[\r\n\x00]")


def check_header_value(field: str, value: str) -> None:
    if _LINE_BREAKS.search(value):
        raise HeaderProblem(f"{field} must not contain line breaks")


@lru_cache(maxsize=256)  # a campaign's From, once per email
def mailbox(display_name: str, address: str) -> str:
    """An RFC 5322 mailbox; a non-ASCII display name is RFC 2047-encoded when serialised."""
    check_header_value("name", display_name)
    local, _, domain = address.rpartition("@")
    return str(Address(display_name=display_name, username=local, domain=domain))


def message_id(domain: str) -> str:
    return f"<{secrets.token_hex(16)}@{domain}>"


_LIST_LABEL = re.compile(r"[0-9a-z]{1,64}")


@lru_cache(maxsize=256)  # a campaign's lists, once per email
def list_id(list_id: str, domain: str) -> str:
    """The RFC 2919 List-Id of a Beacon list: <{list id}.{sender domain}> (the namespace is the
    sender's own verified domain); "" when there is no list or the values cannot be a list id."""
    if not list_id or not _LIST_LABEL.fullmatch(list_id) or not domain.isascii() or _LINE_BREAKS.search(domain):
        return ""
    return f"<{list_id}.{domain.lower()}>"


def _words(value: str, header: str) -> str:
    """A header value as RFC 2047 encoded-words of at most 75 characters when it is not ASCII."""
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=header).encode(linesep=_CRLF, maxlinelen=74)


@lru_cache(maxsize=256)  # a campaign's From, once per email
def _mailbox_header(display_name: str, address: str) -> str:
    if not display_name:
        return address
    if display_name.isascii():
        return formataddr((display_name, address))
    return f"{_words(display_name, 'From')} <{address}>"


_date: tuple[int, str] = (0, "")


def _now_date() -> str:
    """formatdate(usegmt=True) of this second, formatted once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def build(
    *,
    from_name: str,
    from_email: str,
    to_email: str,
    subject: str,
    html: str | Sequence[str],
    text: str,
    unsubscribe_url: str = "",
    reply_to: str = "",
    msg_id: str | None = None,
    date: str | None = None,
    list_id: str = "",
) -> bytes:
    """The raw message. Headers are written here (the stdlib would RFC 2047-encode a long
    List-Unsubscribe URL, which no mail client reads). `html` may be given as parts (see qp_parts)."""
    for field, value in (("subject", subject), ("name", from_name), ("unsubscribe URL", unsubscribe_url),
                         ("to", to_email), ("reply_to", reply_to), ("from_email", from_email)):
        check_header_value(field, value)
    headers = [
        ("From", _mailbox_header(from_name, from_email)),
        ("To", to_email),
        ("Subject", _words(subject, "Subject")),
        ("Date", date or _now_date()),
        ("Message-ID", msg_id or message_id(from_email.rpartition("@")[2])),
    ]
    if reply_to:
        headers.append(("Reply-To", reply_to))
    if list_id:  # RFC 2919: which list this email is for
        check_header_value("List-Id", list_id)
        headers.append(("List-Id", list_id))
    if unsubscribe_url:  # every campaign email has one; transactional mail (password reset) has none
        headers += [
            ("List-Unsubscribe", f"<{unsubscribe_url}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]  # MIME-Version and Content-Type come with the body
    head = "".join(f"{name}: {value}{_CRLF}" for name, value in headers).encode("ascii")
    return head + _alternative(text, html)


def _qp(value: str) -> bytes:
    """UTF-8 quoted-printable with CRLF line ends and lines of at most 76 characters (RFC 2045)."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(lines.encode("utf-8"), quotetabs=False, istext=True, header=False)
    if b"=20\n" in encoded or b"=09\n" in encoded or encoded.endswith((b"=20", b"=09")):
        # b2a_qp does not count the "=20"/"=09" of a line's trailing space or tab: such a line can
        # reach 78 characters, so it is wrapped again
        encoded = b"\n".join(_wrap(line) for line in encoded.split(b"\n"))
    return encoded.replace(b"\n", b"\r\n")


def _wrap(line: bytes) -> bytes:
    """An encoded line cut by soft breaks into lines of at most 76 characters, never inside an =XX."""
    out: list[bytes] = []
    while len(line) > 76:
        cut = _LINE
        if (escape := _ESCAPE_TAIL.search(line, cut - 2, cut)) is not None:
            cut = escape.start()
        out.append(line[:cut])
        line = line[cut:]
    out.append(line)
    return b"=\n".join(out)


_SOFT_BREAK = b"=\r\n"
_LINE = 75  # characters before a soft break's "=" (76 with it)
_ESCAPE_TAIL = re.compile(rb"=[0-9A-F]?\Z")


def _piece(value: str) -> bytes:
    """_qp of one part of a body that ends in a soft line break unless it ends a line: its last
    line is kept to 75 characters (b2a_qp lets a final line reach 76), never cutting an =XX."""
    if value.isascii() and value.isprintable() and "=" not in value and value[-1] != " ":  # an href: wrap only
        raw = value.encode("ascii")
        if len(raw) <= _LINE:
            return raw
        return _SOFT_BREAK.join([raw[i : i + _LINE] for i in range(0, len(raw), _LINE)])
    encoded = _qp(value)
    start = encoded.rfind(b"\n") + 1
    if len(encoded) - start <= _LINE:
        return encoded
    cut = start + _LINE
    if (escape := _ESCAPE_TAIL.search(encoded, start, cut)) is not None:
        cut = escape.start()
    return encoded[:cut] + _SOFT_BREAK + encoded[cut:]


# Most parts repeat across a campaign's recipients. The caches are bounded in memory, parts and
# encodings together: 1,024 parts up to 4 KiB (~10 MiB at most), 32 up to 128 KiB (~10 MiB); a
# larger part (a huge template with few links) is encoded each time.
_small_pieces = lru_cache(maxsize=1024)(_piece)
_large_pieces = lru_cache(maxsize=32)(_piece)


def _cached_piece(part: str) -> bytes:
    n = len(part)
    if n <= 4096:
        return _small_pieces(part)
    return _large_pieces(part) if n <= 131072 else _piece(part)


def qp_parts(parts: Sequence[str]) -> bytes:
    """The quoted-printable body of "".join(parts): each part encoded on its own (from a cache:
    the text between links and the link pieces repeat from one email to the next), joined by
    soft line breaks, which a decoder removes, so the decoded body is exactly the joined parts."""
    out: list[bytes] = []
    line_open = False  # the last piece did not end its line: the next one starts after a soft break
    cached, soft = _cached_piece, _SOFT_BREAK
    for part in parts:
        if not part:
            continue
        encoded = cached(part)
        if line_open:
            out.append(soft)
        out.append(encoded)
        line_open = encoded[-1] != 10  # b"\n"
    return b"".join(out)


def _alternative(text: str, html: str | Sequence[str]) -> bytes:
    """The multipart/alternative body, written directly: what the `email` package writes for
    7-bit quoted-printable parts, at a tenth of its cost (it runs once per email)."""
    boundary = f"==============={secrets.token_hex(12)}=="
    b = boundary.encode("ascii")
    return b"".join((
        b'Content-Type: multipart/alternative; boundary="', b, b'"\r\nMIME-Version: 1.0\r\n\r\n',
        b"--", b, b'\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable'
        b"\r\n\r\n", _qp(text), b"\r\n--", b,
        b'\r\nContent-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
        _qp(html) if isinstance(html, str) else qp_parts(html), b"\r\n--", b, b"--\r\n",
    ))


__all__ = ["HeaderProblem", "build", "check_header_value", "format_datetime", "list_id", "mailbox", "message_id"]
