"""beacon.message.mime: the multipart/alternative message, read back the way a mail client reads it."""

from __future__ import annotations

import binascii
import email
import email.header
import email.policy
import re
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.message.mime import HeaderProblem, build, check_header_value, mailbox, message_id

UNSUB = "https://t.example.com/u/AbC-123_xyz"


def make(**overrides: Any) -> bytes:
    kwargs: dict[str, Any] = {
        "from_name": "Acme News",
        "from_email": "news@acme.example",
        "to_email": "jane@example.com",
        "subject": "Our winter sale",
        "html": "<html><body><p>Hello</p></body></html>",
        "text": "Hello",
        "unsubscribe_url": UNSUB,
    }
    kwargs.update(overrides)
    return build(**kwargs)


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def content(part: EmailMessage) -> str:
    """The decoded body as a client shows it: wire CRLF read as newlines, the trailing newline dropped."""
    return str(part.get_content()).replace("\r\n", "\n").removesuffix("\n")


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


# ---------------------------------------------------------------------------- structure


def test_multipart_alternative_with_text_then_html_in_utf8() -> None:
    msg = parse(make(text="Grüße, Jane ☕", html="<p>Grüße, <b>Jane</b> ☕</p>"))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert content(parts[0]) == "Grüße, Jane ☕"
    assert content(parts[1]) == "<p>Grüße, <b>Jane</b> ☕</p>"
    assert msg["MIME-Version"] == "1.0"
    assert msg.defects == []
    assert all(p.defects == [] for p in parts)


def test_body_preferred_by_a_client_is_the_html() -> None:
    msg = parse(make())
    html_part = msg.get_body(preferencelist=("html", "plain"))
    text_part = msg.get_body(preferencelist=("plain",))
    assert html_part is not None and html_part.get_content_type() == "text/html"
    assert text_part is not None and text_part.get_content_type() == "text/plain"


def test_addresses_and_reply_to() -> None:
    msg = parse(make(reply_to="help@acme.example"))
    assert msg["From"].addresses[0].display_name == "Acme News"
    assert msg["From"].addresses[0].addr_spec == "news@acme.example"
    assert msg["To"].addresses[0].addr_spec == "jane@example.com"
    assert msg["Reply-To"].addresses[0].addr_spec == "help@acme.example"
    assert "Reply-To" not in parse(make())


def test_date_header_is_present_and_parses() -> None:
    msg = parse(make())
    assert msg["Date"].datetime is not None
    assert parse(make(date="Mon, 01 Dec 2025 10:00:00 +0000"))["Date"] == "Mon, 01 Dec 2025 10:00:00 +0000"


# ---------------------------------------------------------------------------- RFC 2047


def test_non_ascii_subject_and_from_name_are_encoded_and_decode_back_exactly() -> None:
    subject = "Grüße aus Köln — ☕ 50 % Rabatt für Zoë"
    name = "Café Ørsted & Søn — Zürich"
    raw = make(subject=subject, from_name=name)
    head = header_block(raw)
    assert all(b < 128 for b in head)
    assert b"=?utf-8?" in head.lower()
    assert "Grüße".encode() not in raw and "Café".encode() not in raw
    msg = parse(raw)
    assert str(msg["Subject"]) == subject
    # RFC 2047 6.2: whitespace between adjacent encoded-words is not displayed. Python's address
    # parser keeps it (a stdlib bug, seen with astral characters), so read such a name as a mail
    # client does; a plain name is read by the parser.
    from_value = str(email.message_from_bytes(raw, policy=email.policy.compat32)["From"])
    if "=?" in from_value:
        display = str(email.header.make_header(email.header.decode_header(from_value.rsplit(" <", 1)[0])))
        assert display == name
    else:
        assert msg["From"].addresses[0].display_name == name


@pytest.mark.parametrize("name", ["Smith, John", 'He said "hi"', "A (comment) B", "back\\slash", "a@b <c>", "Zoë; Ann"])
def test_display_names_with_specials_round_trip(name: str) -> None:
    msg = parse(make(from_name=name))
    assert msg["From"].addresses[0].display_name == name
    assert msg["From"].addresses[0].addr_spec == "news@acme.example"
    assert len(msg["From"].addresses) == 1


_PRINTABLE = st.characters(exclude_categories=("Cc", "Cs"))


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(_PRINTABLE, min_size=1, max_size=300), st.text(_PRINTABLE, max_size=80))
def test_any_one_line_subject_and_name_round_trip(subject: str, name: str) -> None:
    # compose collapses a subject's whitespace; do the same here
    subject = " ".join(subject.split()) or "x"
    name = " ".join(name.split())
    raw = make(subject=subject, from_name=name)
    assert all(b < 128 for b in raw)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    msg = parse(raw)
    assert str(msg["Subject"]) == subject
    # RFC 2047 6.2: whitespace between adjacent encoded-words is not displayed. Python's address
    # parser keeps it (a stdlib bug, seen with astral characters), so decode as a mail client does.
    from_value = email.message_from_bytes(raw, policy=email.policy.compat32)["From"]
    decoded = str(email.header.make_header(email.header.decode_header(from_value)))
    assert decoded.rsplit(" <", 1)[0].strip('"') == name.replace("\\", "\\\\").replace('"', '\\"') or \
        msg["From"].addresses[0].display_name.replace(" ", "") == name.replace(" ", "")


# ---------------------------------------------------------------------------- one-click unsubscribe, Message-ID


def test_list_unsubscribe_headers() -> None:
    raw = make()
    msg = parse(raw)
    assert msg["List-Unsubscribe"] == f"<{UNSUB}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"List-Unsubscribe: <{UNSUB}>\r\n".encode() in raw
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


def test_message_id_is_unique_per_call_and_well_formed() -> None:
    ids = {parse(make())["Message-ID"] for _ in range(50)}
    assert len(ids) == 50
    for mid in ids:
        assert re.fullmatch(r"<[0-9a-f]{32}@acme\.example>", mid)
    assert parse(make(msg_id="<fixed@acme.example>"))["Message-ID"] == "<fixed@acme.example>"
    assert message_id("x.example") != message_id("x.example")


def test_each_header_appears_once() -> None:
    msg = parse(make(reply_to="r@acme.example"))
    for name in ("From", "To", "Subject", "Date", "Message-ID", "Reply-To", "List-Unsubscribe",
                 "List-Unsubscribe-Post", "MIME-Version", "Content-Type"):
        assert len(msg.get_all(name) or []) == 1, name


# ---------------------------------------------------------------------------- header safety


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\r\nBcc: x@example.com", "a\x00b", "\n", "x\r"])
def test_check_header_value_refuses_cr_lf_nul(value: str) -> None:
    with pytest.raises(HeaderProblem):
        check_header_value("subject", value)


@pytest.mark.parametrize("value", ["", "plain", "Grüße ☕", "tab\there", "a" * 2000])
def test_check_header_value_accepts_one_line_values(value: str) -> None:
    check_header_value("subject", value)


def test_header_problem_is_a_value_error() -> None:
    assert issubclass(HeaderProblem, ValueError)


@pytest.mark.parametrize("name", ["Acme\r\nBcc: victim@example.com", "Acme\nX: y", "Acme\x00"])
def test_from_name_with_line_breaks_is_refused(name: str) -> None:
    with pytest.raises(HeaderProblem):
        mailbox(name, "news@acme.example")
    with pytest.raises(HeaderProblem):
        make(from_name=name)


@pytest.mark.parametrize("field", ["subject", "to_email", "reply_to", "unsubscribe_url"])
def test_line_breaks_in_other_header_values_never_reach_the_raw_message(field: str) -> None:
    value = {"subject": "Hi", "to_email": "jane@example.com", "reply_to": "r@acme.example",
             "unsubscribe_url": UNSUB}[field] + "\r\nBcc: victim@example.com"
    try:
        raw = make(**{field: value})
    except ValueError:
        return
    assert b"\r\nBcc:" not in header_block(raw)


# ---------------------------------------------------------------------------- wire format


def test_long_and_non_ascii_content_is_7bit_with_lines_within_998() -> None:
    html = "<p>" + "ünïcödé " * 2000 + "</p>" + "<td>" + "x" * 5000 + "</td>"
    text = "Grüße\n" + "y" * 5000 + "\n" + "€" * 3000
    raw = make(subject="Ünïcödé " * 60, from_name="Zoë " * 40, html=html, text=text)
    assert all(b < 128 for b in raw)
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    msg = parse(raw)
    parts = list(msg.iter_parts())
    assert content(parts[0]) == text
    assert content(parts[1]) == html
    for part in parts:
        assert part["Content-Transfer-Encoding"] in ("quoted-printable", "base64", "7bit")


def test_quoted_printable_lines_are_at_most_76_chars() -> None:
    raw = make(text="Grüße\n" + "y" * 3000, html="<p>Grüße</p>" + "x" * 3000)
    body = raw.split(b"\r\n\r\n", 1)[1]
    for section in body.split(b"--=="):
        head, _, content = section.partition(b"\r\n\r\n")
        if b"quoted-printable" in head.lower():
            assert max(len(line) for line in content.split(b"\r\n")) <= 76


def test_encoded_words_are_at_most_75_chars() -> None:
    raw = make(subject="Grüße aus Köln " * 10, from_name="Zoë Ørsted " * 6)
    words = re.findall(rb"=\?[^?]+\?[bBqQ]\?[^?]*\?=", header_block(raw))
    assert words
    assert max(len(w) for w in words) <= 75


# ---------------------------------------------------------------------------- the HTML in parts

_PIECES = ["a", "b", " ", "\t", "=", "é", "€", ".", "\n", "x" * 40, '<a href="', '"', "\u2028", "\x00", "=3D"]


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join), min_size=1, max_size=9))
def test_html_given_in_parts_decodes_to_the_joined_parts(parts: list[str]) -> None:
    """The parts are encoded one by one (the repeating ones come from a cache) and joined with soft
    line breaks: a reader sees exactly the joined text, every line is 7-bit, at most 76 characters
    and never ends in a space or tab."""
    from beacon.message.mime import qp_parts

    encoded = qp_parts(parts)
    assert binascii.a2b_qp(encoded.replace(b"\r\n", b"\n")) == "".join(parts).encode()
    assert b"\n" not in encoded.replace(b"\r\n", b"")
    for line in encoded.split(b"\r\n"):
        assert len(line) <= 76 and all(b < 128 for b in line)
        assert not line.endswith((b" ", b"\t"))
    html = "".join(parts)
    if html.strip() and not html.endswith("\n"):
        msg = parse(make(html=parts))
        assert content(list(msg.iter_parts())[1]) == html


def test_lines_ending_in_a_space_stay_within_76_chars() -> None:
    """binascii.b2a_qp lets a line whose trailing space or tab it encodes reach 77-78 characters."""
    text = ("x" * 73 + " \t\n") * 3 + "y" * 74 + "\t"
    raw = make(text=text, html=["<p>", "z" * 74 + " ", "</p>"])
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    msg = parse(raw)
    assert content(next(iter(msg.iter_parts()))) == text.rstrip("\n")
