"""Signup forms without AWS: the submission parser against hostile input, the form markup and its
escaping, the confirmation email, confirm tokens, the postal address, the law's footer and List-Id
in campaign emails."""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

import pytest

from beacon.accounts.tenants import clean_postal_address
from beacon.audience import forms
from beacon.audience.signup import HONEYPOT, FormChanged, Invalid, read_submission
from beacon.db.forms import FormRecord
from beacon.message import confirmation, mime
from beacon.message.compose import CampaignContent, compose
from beacon.shared.errors import Unprocessable
from beacon.shared.tokens import CONFIRM, UNSUBSCRIBE, InvalidToken, TokenSigner
from beacon.web.form_markup import embed_html, form_html

signer = TokenSigner(b"forms-unit-test-secret-0123456789")
CONSENT = 'Yes, email me. <script>alert("x")</script>\nSecond paragraph & more.'


def form(**changes: Any) -> FormRecord:
    base: dict[str, Any] = {
        "account_id": "a1" * 16, "form_id": "f2" * 16, "name": 'News "<b>" & co', "list_ids": ["c3" * 16],
        "from_email": "hi@acme.example", "from_name": "Acme",
        "fields": [{"name": "first_name", "label": "First <name>", "required": True},
                   {"name": "city", "label": "City", "required": False}],
        "consent_text": CONSENT, "consent_versions": {forms.consent_version(CONSENT): CONSENT},
        "success_url": "", "created_at": "2030-01-01T00:00:00.000Z", "updated_at": "2030-01-01T00:00:00.000Z",
    }
    return FormRecord(**{**base, **changes})


# ------------------------------------------------------------------ the submission
def test_a_good_submission() -> None:
    found = read_submission(form(), {"email": " Ann@Example.COM ", "first_name": " Ann ", "city": "",
                                     "consent_version": forms.consent_version(CONSENT), "stray": "ignored"})
    assert (found.email, found.attributes, found.consent_text, found.honeypot) == (
        "ann@example.com", {"first_name": "Ann"}, CONSENT, False)


@pytest.mark.parametrize(("values", "field", "says"), [
    ({}, "email", "is required"),
    ({"email": "   "}, "email", "is required"),
    ({"email": 5}, "email", "must be text"),
    ({"email": ["a@example.com"]}, "email", "must be text"),
    ({"email": "x" * 300 + "@example.com"}, "email", "longer than 254"),
    ({"email": "a@example.com\r\nBcc: b@example.com"}, "email", "control character"),
    ({"email": "jos\u00e9@example.com"}, "email", "not ASCII"),
    ({"email": "<script>@example.com"}, "email", ""),
    ({"email": "a@example.com"}, "First <name>", "is required"),
    ({"email": "a@example.com", "first_name": None}, "First <name>", "is required"),
    ({"email": "a@example.com", "first_name": "A\nB"}, "First <name>", "one line"),
    ({"email": "a@example.com", "first_name": "A\u2028B"}, "First <name>", "one line"),
    ({"email": "a@example.com", "first_name": "A\x00"}, "First <name>", "one line"),
    ({"email": "a@example.com", "first_name": "\u202eevil"}, "First <name>", "one line"),
    ({"email": "a@example.com", "first_name": "A" * 501}, "First <name>", "longer than 500"),
    ({"email": "a@example.com", "first_name": {"$gt": ""}}, "First <name>", "must be text"),
    ({"email": "a@example.com", "first_name": "5500 0000 0000 0004"}, "fields", "payment card"),
])
def test_hostile_submissions_name_the_field(values: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(Invalid) as caught:
        read_submission(form(), values)
    assert caught.value.field == field and says in caught.value.message


def test_a_script_in_a_value_is_data() -> None:
    found = read_submission(form(), {"email": "a@example.com", "first_name": "<script>alert(1)</script>"})
    assert found.attributes["first_name"] == "<script>alert(1)</script>"  # kept; every page escapes it


@pytest.mark.parametrize("trap", ["x", "http://spam.example", " y "])
def test_the_honeypot(trap: str) -> None:
    assert read_submission(form(), {"email": "a@example.com", "first_name": "A", HONEYPOT: trap}).honeypot


def test_the_consent_text_shown_is_the_one_kept() -> None:
    old, new = "Old text.", "New text."
    f = form(consent_text=new, consent_versions={forms.consent_version(old): old, forms.consent_version(new): new})
    base = {"email": "a@example.com", "first_name": "A"}
    assert read_submission(f, {**base, "consent_version": forms.consent_version(old)}).consent_text == old
    assert read_submission(f, base).consent_text == new  # JSON without a version: the current text
    with pytest.raises(FormChanged):
        read_submission(f, {**base, "consent_version": "0123456789abcdef"})
    with pytest.raises(FormChanged):
        read_submission(f, {**base, "consent_version": ["x"]})


# ------------------------------------------------------------------ the form's definition
@pytest.mark.parametrize(("fields", "ok"), [
    ([{"name": "First Name", "label": "First name"}], True),
    ([{"name": "email"}], False),
    ([{"name": "homepage"}], False),
    ([{"name": "consent_version"}], False),
    ([{"name": "a"}, {"name": "A"}], False),
    ([{"name": "x", "label": "a\nb"}], False),
    ([{"name": "x", "required": "yes"}], False),
    ([{"name": "x", "extra": 1}], False),
    ([{"name": f"f{i}"} for i in range(16)], False),
    ("not a list", False),
])
def test_form_fields(fields: Any, ok: bool) -> None:
    if ok:
        assert forms._fields(fields) == [{"name": "first_name", "label": "First name", "required": False}]
    else:
        with pytest.raises(Unprocessable):
            forms._fields(fields)


@pytest.mark.parametrize(("url", "ok"), [
    ("https://acme.example/thanks?x=1", True), ("http://acme.example", True), ("", True),
    ("javascript:alert(1)", False), ("//acme.example", False), ("https://a b.example", False),
    ("https://user@acme.example/", False), ("https://acme.example/\r\nSet-Cookie: x", False),
    ("ftp://acme.example", False), ("https://" + "a" * 2050 + ".example", False),
])
def test_success_urls(url: str, ok: bool) -> None:
    if ok:
        assert forms._success_url(url) == url
    else:
        with pytest.raises(Unprocessable):
            forms._success_url(url)


# ------------------------------------------------------------------ the markup
def test_the_form_markup_escapes_everything_and_hides_the_honeypot() -> None:
    markup = form_html(form(), "/forms/" + "f2" * 16, {"email": '"><script>x</script>', "city": "<b>"})
    assert "<script>" not in markup and "<b>" not in markup
    assert "First &lt;name&gt;" in markup and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in markup
    assert 'value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in markup
    assert "<p>Second paragraph &amp; more.</p>" in markup
    trap = re.search(r'<div aria-hidden="true" style="([^"]+)">.*?name="homepage"[^>]*>', markup)
    assert trap and "left:-10000px" in trap.group(1) and 'tabindex="-1"' in trap.group(0)
    assert 'autocomplete="off"' in trap.group(0)
    assert re.search(r'<label for="([^"]+)">Email</label><br><input id="\1" type="email" name="email" required',
                     markup)
    assert f'name="consent_version" value="{forms.consent_version(CONSENT)}"' in markup


def test_embed_html_posts_to_the_public_page() -> None:
    embedded = embed_html(form(), "https://t.acme.example")
    assert f'action="https://t.acme.example/forms/{"f2" * 16}"' in embedded and 'method="post"' in embedded
    assert embedded.startswith("<!-- Beacon signup form: News &quot;&lt;b&gt;&quot; &amp; co -->")
    tricky = embed_html(form(name="x --> <script>alert(1)</script>"), "https://t.acme.example")
    assert tricky.count("-->") == 1 and "<script>" not in tricky  # the name cannot close the comment


# ------------------------------------------------------------------ the confirmation email
def confirmation_email(**changes: Any) -> email.message.EmailMessage:
    c = confirmation.Confirmation(**{
        "company": "Caf\u00e9 Acme", "postal_address": "Acme SARL\n1 rue de la Paix\n75002 Paris",
        "from_email": "hi@acme.example", "from_name": "", "to": "ann@example.com", "form_name": "News <&>",
        "confirm_url": "https://t.acme.example/confirm/abc", "asked_at": "2031-05-04 09:12 UTC", **changes})
    return email.message_from_bytes(confirmation.build(c), policy=email.policy.default)  # type: ignore[return-value]


def test_the_confirmation_email() -> None:
    message = confirmation_email()
    assert message["Subject"] == "Confirm your subscription to Caf\u00e9 Acme"
    assert message["From"] == "Caf\u00e9 Acme <hi@acme.example>" and message["To"] == "ann@example.com"
    assert "List-Unsubscribe" not in message and message["Message-ID"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    body = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "ann@example.com" in text and "News <&>" in text and "2031-05-04 09:12 UTC" in text
    assert "Not you" in text and "Ignore this email" in text and "https://t.acme.example/confirm/abc" in text
    assert "Acme SARL\n1 rue de la Paix\n75002 Paris" in text.replace("\r\n", "\n")
    assert "News &lt;&amp;&gt;" in body and 'href="https://t.acme.example/confirm/abc"' in body
    assert "Acme SARL<br>1 rue de la Paix<br>75002 Paris" in body and "Not you" in body


def test_a_header_injection_through_the_confirmation_is_refused() -> None:
    with pytest.raises(mime.HeaderProblem):
        confirmation_email(from_name="Acme\r\nBcc: x@example.com")
    with pytest.raises(mime.HeaderProblem):
        confirmation_email(company="Acme\nBcc: x@example.com")


# ------------------------------------------------------------------ tokens
def test_confirm_tokens() -> None:
    token = signer.confirm_token("a1" * 16, "b2" * 16, "c3" * 16, 1_900_000_000)
    data = signer.verify(token, CONFIRM)
    assert (data.account_id, data.campaign_id, data.recipient_id, data.issued_at) == (
        "a1" * 16, "b2" * 16, "c3" * 16, 1_900_000_000)
    with pytest.raises(InvalidToken):
        signer.verify(token, UNSUBSCRIBE)
    with pytest.raises(InvalidToken):
        signer.verify(signer.unsubscribe_token("a1" * 16, "b2" * 16, "c3" * 16, 1), CONFIRM)
    with pytest.raises(InvalidToken):
        TokenSigner(b"another-secret-0123456789abcdef").verify(token, CONFIRM)
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    with pytest.raises(InvalidToken):
        signer.verify(flipped, CONFIRM)


# ------------------------------------------------------------------ the postal address and the footer
@pytest.mark.parametrize(("raw", "expected"), [
    ("Acme Ltd\r\n1 Main St\r\n\r\nSpringfield 12345", "Acme Ltd\n1 Main St\nSpringfield 12345"),
    ("  PO Box 42, Town 1000  ", "PO Box 42, Town 1000"),
])
def test_postal_addresses(raw: str, expected: str) -> None:
    assert clean_postal_address(raw) == expected


@pytest.mark.parametrize("raw", ["", "short", "x" * 501, "\n".join(["line 1234"] * 9), "a" * 121 + "\nb",
                                 "1 Main St\x00 Town", "1 Main St\u202e Town", 42, None])
def test_bad_postal_addresses(raw: Any) -> None:
    with pytest.raises(Unprocessable):
        clean_postal_address(raw)


def content(**changes: Any) -> CampaignContent:
    base = {"account_id": "a1" * 16, "campaign_id": "c2" * 16, "company": "Acme <Outdoor>", "name": "Nov",
            "subject": "Hi", "from_email": "news@acme.example", "from_name": "Acme", "reply_to": "",
            "html": "<html><body><p>Hello</p></body></html>", "text": "Hello", "track_opens": True,
            "track_clicks": True, "base_url": "https://t.acme.example",
            "postal_address": "Acme & Co\n12 Harbour <Road>\nPortland"}
    return CampaignContent(**{**base, **changes})


def test_every_campaign_email_carries_the_postal_address_and_its_list_id() -> None:
    composed = compose(content(), signer, email="jane@example.com", recipient_id="e3" * 16, attributes={},
                       issued_at=1, list_id="d4" * 16)
    message = email.message_from_bytes(composed.raw, policy=email.policy.default)
    assert message["List-Id"] == f"<{'d4' * 16}.acme.example>" == composed.headers["List-Id"]
    body = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Acme &lt;Outdoor&gt;<br>Acme &amp; Co<br>12 Harbour &lt;Road&gt;<br>Portland" in body
    assert body.index("Harbour") < body.index("/o/")  # the footer before the pixel, inside the body
    assert text.replace("\r\n", "\n").endswith("Acme <Outdoor>\nAcme & Co\n12 Harbour <Road>\nPortland\n")
    bare = compose(content(postal_address=""), signer, email="jane@example.com", recipient_id="e3" * 16,
                   attributes={}, issued_at=1)
    assert "Harbour" not in bare.html and "List-Id" not in bare.headers
    assert b"List-Id" not in bare.raw


@pytest.mark.parametrize(("list_id", "domain", "expected"), [
    ("ab" * 16, "Acme.Example", "<" + "ab" * 16 + ".acme.example>"),
    ("", "acme.example", ""),
    ("x\r\ny", "acme.example", ""),
    ("ab" * 16, "acme.example\r\nBcc: x", ""),
    ("ab" * 16, "\u00e9.example", ""),
])
def test_list_ids(list_id: str, domain: str, expected: str) -> None:
    assert mime.list_id(list_id, domain) == expected
