"""beacon.message.compose.compose: one recipient's email, read back from the raw MIME a client receives."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import html as htmllib
import re
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from beacon.message import links
from beacon.message.compose import CampaignContent, Composed, compose
from beacon.shared.tokens import CLICK, OPEN, UNSUBSCRIBE, TokenSigner

BENCH = Path(__file__).resolve().parents[2] / "bench"  # the benchmark newsletter (18.6 KB, 30 links)

BASE = "https://t.acme.example"
ACCOUNT = "a1" * 16
CAMPAIGN = "c2" * 16
RECIPIENT = "e3" * 16
ISSUED = 1_767_225_600
RECIPIENT_EMAIL = "jane.doe+news@recipient-mail.example"
signer = TokenSigner(b"composer-unit-test-secret")

SIMPLE_HTML = (
    "<html><body><h1>Hello {{ contact.first_name }}</h1>"
    '<p><a href="https://shop.example.com/boots?utm_source=news&amp;utm_medium=email">Boots</a></p>'
    '<p><a href="mailto:help@acme.example">Mail us</a> <a href="/relative">rel</a> '
    '<a href="https://acme.example/keep" data-beacon-notrack>keep</a></p>'
    "</body></html>"
)
SIMPLE_TEXT = "Hello {{ contact.first_name }}\nBoots: https://shop.example.com/boots"


def content(**overrides: object) -> CampaignContent:
    base = CampaignContent(
        account_id=ACCOUNT, campaign_id=CAMPAIGN, company="Acme & Co", name="Winter",
        subject="Winter news for {{ contact.first_name | default('you', true) }}",
        from_email="news@acme.example", from_name="Acme Ünïcode", reply_to="help@acme.example",
        html=SIMPLE_HTML, text=SIMPLE_TEXT, track_opens=True, track_clicks=True, base_url=BASE,
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def newsletter(**overrides: object) -> CampaignContent:
    return content(html=(BENCH / "newsletter.html").read_text(encoding="utf-8"),
                   text=(BENCH / "newsletter.txt").read_text(encoding="utf-8"), **overrides)


def run(c: CampaignContent, attributes: dict[str, object] | None = None) -> Composed:
    return compose(c, signer, email=RECIPIENT_EMAIL, recipient_id=RECIPIENT,
                   attributes=attributes if attributes is not None else {"first_name": "Jane", "city": "Oslo"},
                   issued_at=ISSUED)


def parts(raw: bytes) -> tuple[EmailMessage, str, str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    html_part = msg.get_body(preferencelist=("html",))
    text_part = msg.get_body(preferencelist=("plain",))
    assert html_part is not None and text_part is not None
    html = str(html_part.get_content()).replace("\r\n", "\n")
    text = str(text_part.get_content()).replace("\r\n", "\n")
    return msg, html, text


def hrefs(html: str) -> list[str]:
    """The links a person sees: the hidden honeypot link (test_tracking_privacy.py) is left out."""
    html = re.sub(r"""<a\b[^>]*\baria-hidden="true"[^>]*>""", "", html, flags=re.I)
    return [htmllib.unescape(h) for h in re.findall(r"""<a\b[^>]*?\bhref\s*=\s*["']([^"']*)["']""", html, re.I)]


def urls(textish: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", textish)


def unsubscribe_url(composed: Composed) -> str:
    value = composed.headers["List-Unsubscribe"]
    assert value.startswith("<") and value.endswith(">")
    return value[1:-1]


def untracked_html(c: CampaignContent) -> str:
    return run(dataclasses.replace(c, track_clicks=False, track_opens=False)).html


# ---------------------------------------------------------------------------- tracked links


@pytest.mark.parametrize("which", ["simple", "newsletter"])
def test_every_http_link_is_tracked_and_verifies_to_its_destination(which: str) -> None:
    c = content() if which == "simple" else newsletter()
    composed = run(c)
    _, html, _ = parts(composed.raw)
    assert html.rstrip("\n") == composed.html.rstrip("\n")
    unsub = unsubscribe_url(composed)

    before = hrefs(untracked_html(c))
    after = hrefs(html)
    assert len(before) == len(after)
    destinations = links.find_links(untracked_html(c), skip=unsub)
    tracked = 0
    for original, now in zip(before, after, strict=True):
        trackable = original.lower().startswith(("http://", "https://")) and original != unsub
        if "acme.example/keep" in original:
            trackable = False  # data-beacon-notrack
        if not trackable:
            assert now == original
            continue
        tracked += 1
        assert now.startswith(f"{BASE}/c/")
        data = signer.verify(now.removeprefix(f"{BASE}/c/"), CLICK)
        assert data.url == original
        assert (data.account_id, data.campaign_id, data.recipient_id, data.issued_at) == (
            ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED)
        assert destinations[data.link_index] == original
    # the simple template has one trackable link; the newsletter 30 (18 distinct destinations)
    assert tracked == (1 if which == "simple" else 30)
    assert len(destinations) == (1 if which == "simple" else 18)


def test_simple_template_links_in_detail() -> None:
    composed = run(content())
    after = hrefs(composed.html)
    assert after[0].startswith(f"{BASE}/c/")
    assert signer.verify(after[0].removeprefix(f"{BASE}/c/"), CLICK).url == (
        "https://shop.example.com/boots?utm_source=news&utm_medium=email")
    assert after[1:4] == ["mailto:help@acme.example", "/relative", "https://acme.example/keep"]


def test_links_untouched_when_click_tracking_is_off() -> None:
    c = content(track_clicks=False)
    composed = run(c)
    assert f"{BASE}/c/" not in composed.html
    assert hrefs(composed.html)[:4] == [
        "https://shop.example.com/boots?utm_source=news&utm_medium=email", "mailto:help@acme.example",
        "/relative", "https://acme.example/keep",
    ]


def test_newsletter_links_untouched_when_click_tracking_is_off() -> None:
    composed = run(newsletter(track_clicks=False))
    assert f"{BASE}/c/" not in composed.html
    assert "https://shop.example.com/collections/boots?utm_source=newsletter&utm_medium=email&utm_campaign=winter" \
        in hrefs(composed.html)


def test_text_part_links_are_not_rewritten() -> None:
    composed = run(content())
    assert "Boots: https://shop.example.com/boots" in composed.text


# ---------------------------------------------------------------------------- open pixel


@pytest.mark.parametrize("which", ["simple", "newsletter"])
def test_pixel_before_body_end_when_tracking_opens(which: str) -> None:
    composed = run(content() if which == "simple" else newsletter())
    _, html, _ = parts(composed.raw)
    pixels = re.findall(rf'<img src="{re.escape(BASE)}/o/([A-Za-z0-9_-]+)"[^>]*/>', html)
    assert len(pixels) == 1
    data = signer.verify(pixels[0], OPEN)
    assert (data.account_id, data.campaign_id, data.recipient_id, data.issued_at) == (
        ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED)
    pixel_end = html.index("/>", html.index(f"{BASE}/o/")) + 2
    assert html[pixel_end:].lower().startswith("</body>")
    assert html.lower().rindex("</body>") == pixel_end


def test_no_pixel_when_open_tracking_is_off() -> None:
    composed = run(content(track_opens=False))
    assert f"{BASE}/o/" not in composed.html
    assert f"{BASE}/o/" not in composed.raw.decode("ascii")


def test_pixel_appended_when_the_template_has_no_body_tag() -> None:
    composed = run(content(html='<p>Just a fragment <a href="https://x.example/">x</a></p>'))
    assert composed.html.rstrip().endswith("/>")
    assert f"{BASE}/o/" in composed.html.rsplit("<img", 1)[1]


# ---------------------------------------------------------------------------- unsubscribe


def test_list_unsubscribe_header_is_the_u_token_url_for_the_same_ids() -> None:
    composed = run(content())
    msg, _, _ = parts(composed.raw)
    unsub = unsubscribe_url(composed)
    assert msg["List-Unsubscribe"] == f"<{unsub}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsub.startswith(f"{BASE}/u/")
    data = signer.verify(unsub.removeprefix(f"{BASE}/u/"), UNSUBSCRIBE)
    assert (data.account_id, data.campaign_id, data.recipient_id, data.issued_at) == (
        ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED)


def test_footer_added_to_html_and_text_when_the_template_lacks_unsubscribe_url() -> None:
    composed = run(content())
    unsub = unsubscribe_url(composed)
    _, html, text = parts(composed.raw)
    assert links.footer_html("Acme & Co", unsub) in html
    assert html.index(links.footer_html("Acme & Co", unsub)) < html.lower().rindex("</body>")
    assert unsub in hrefs(html)
    assert f"Unsubscribe: {unsub}" in text
    assert text.rstrip("\n").endswith(links.footer_text("Acme & Co", unsub).rstrip("\n"))
    # the footer's link is not tracked
    assert hrefs(html).count(unsub) == 1


def test_no_footer_when_the_template_places_unsubscribe_url() -> None:
    composed = run(newsletter())
    unsub = unsubscribe_url(composed)
    _, html, text = parts(composed.raw)
    assert "You receive this email from" not in html
    assert "You receive this email from" not in text
    assert hrefs(html).count(unsub) == 1  # the template's own link, untracked
    assert text.count(unsub) == 1


def test_footer_only_where_the_placeholder_is_missing() -> None:
    composed = run(content(html='<html><body><a href="{{ unsubscribe_url }}">Leave</a></body></html>'))
    unsub = unsubscribe_url(composed)
    assert "You receive this email from" not in composed.html
    assert hrefs(composed.html) == [unsub]
    assert composed.text.count(unsub) == 1 and "You receive this email from" in composed.text


def test_empty_text_template_gets_the_footer_as_text() -> None:
    composed = run(content(text=""))
    unsub = unsubscribe_url(composed)
    _, _, text = parts(composed.raw)
    assert unsub in text
    assert text.strip()


@pytest.mark.parametrize(
    "html",
    [
        "<html><body><p>Hi</p>{% if false %}<a href='{{ unsubscribe_url }}'>u</a>{% endif %}</body></html>",
        "<html><body>{% set u = unsubscribe_url %}<p>Hi</p></body></html>",
        "<html><body><p>Hi</p><!-- <a href='{{ unsubscribe_url }}'>u</a> --></body></html>",
    ],
    ids=["dead-branch", "set-only", "html-comment"],
)
def test_every_email_has_a_live_unsubscribe_link(html: str) -> None:
    composed = run(content(html=html))
    unsub = unsubscribe_url(composed)
    assert unsub in links.find_links(composed.html)


# ---------------------------------------------------------------------------- privacy and headers


@pytest.mark.parametrize("which", ["simple", "newsletter"])
def test_no_recipient_address_in_any_url(which: str) -> None:
    composed = run(content() if which == "simple" else newsletter())
    msg, html, text = parts(composed.raw)
    found = urls(html) + urls(text) + urls(str(msg["List-Unsubscribe"]))
    assert found
    forms = {RECIPIENT_EMAIL, quote(RECIPIENT_EMAIL), quote_plus(RECIPIENT_EMAIL), quote(RECIPIENT_EMAIL, safe=""),
             "jane.doe", "recipient-mail"}
    for url in found:
        for form in forms:
            assert form.lower() not in url.lower(), url
    assert msg["To"].addresses[0].addr_spec == RECIPIENT_EMAIL


def test_an_address_the_template_puts_in_a_link_is_hidden_in_the_token() -> None:
    html = ('<html><body><a href="https://acme.example/prefs?email={{ contact.email | urlencode }}'
            '&amp;name={{ contact.first_name }}">Preferences</a></body></html>')
    composed = run(content(html=html, text="Hi"))
    _, body, _ = parts(composed.raw)
    tracked = [h for h in hrefs(body) if h.startswith(f"{BASE}/c/")]
    assert len(tracked) == 1
    for url in urls(body):
        assert "jane" not in url.lower() and "recipient-mail" not in url.lower()
    data = signer.verify(tracked[0].removeprefix(f"{BASE}/c/"), CLICK)
    assert data.url == f"https://acme.example/prefs?email={quote(RECIPIENT_EMAIL, safe='')}&name=Jane"


def test_headers_and_subject() -> None:
    composed = run(content())
    msg, _, _ = parts(composed.raw)
    assert composed.subject == "Winter news for Jane" == str(msg["Subject"])
    assert msg["From"].addresses[0].display_name == "Acme Ünïcode"
    assert msg["From"].addresses[0].addr_spec == "news@acme.example"
    assert msg["Reply-To"].addresses[0].addr_spec == "help@acme.example"
    assert msg["Message-ID"] == composed.headers["Message-ID"]
    assert composed.headers["To"] == RECIPIENT_EMAIL
    assert composed.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert all(b < 128 for b in composed.raw)


def test_message_id_differs_per_recipient_and_per_call() -> None:
    assert run(content()).headers["Message-ID"] != run(content()).headers["Message-ID"]


def test_attribute_with_line_breaks_cannot_inject_headers_through_the_subject() -> None:
    composed = run(content(subject="Hi {{ contact.first_name }}"),
                   {"first_name": "Jane\r\nBcc: victim@example.com"})
    msg, _, _ = parts(composed.raw)
    assert msg["Bcc"] is None
    assert str(msg["Subject"]) == "Hi Jane Bcc: victim@example.com"


def test_attributes_are_escaped_in_html() -> None:
    composed = run(content(html="<html><body><p>{{ contact.first_name }}</p></body></html>"),
                   {"first_name": "<script>alert(1)</script>"})
    assert "<script>" not in composed.html
    assert "&lt;script&gt;" in composed.html


def test_compose_is_deterministic_apart_from_message_id_and_date() -> None:
    a, b = run(content()), run(content())
    assert (a.html, a.text, a.subject) == (b.html, b.text, b.subject)


def _decoded_html(c: CampaignContent, attributes: dict[str, object] | None = None) -> str:
    return parts(run(c, attributes).raw)[1]


def test_a_template_with_crlf_line_ends_makes_the_same_email_as_with_lf() -> None:
    """Browsers send a textarea's text with CRLF: the template is compiled with \\n line ends, so
    its chunks are the cached ones and the email is the one its LF version makes."""
    html = SIMPLE_HTML.replace("<p>", "\n<p>").replace("</p>", "</p>\n")
    lf = _decoded_html(content(html=html))
    crlf = _decoded_html(content(html=html.replace("\n", "\r\n")))
    cr = _decoded_html(content(html=html.replace("\n", "\r")))
    assert lf == crlf == cr
    assert "\r" not in lf and hrefs(lf)[0].startswith(f"{BASE}/c/")


def test_a_contacts_value_with_line_breaks_is_rewritten_like_the_rest() -> None:
    html = '<p>{{ contact.note }}</p><a href="https://shop.example.com/{{ contact.slug }}">x</a></body>'
    got = _decoded_html(content(html=html), {"note": "a\r\nb\rc", "slug": "boots"})
    assert "<p>a\nb\nc</p>" in got
    assert [h[len(BASE):len(BASE) + 3] for h in hrefs(got)] == ["/c/", "/u/"]  # the link, the footer's


def test_the_same_newsletter_for_two_recipients_differs_only_where_they_do() -> None:
    """From the cached scans of the template's text: two recipients' emails are the same HTML
    except for their names and tokens."""
    first = run(newsletter(), {"first_name": "Jane", "city": "Oslo"})
    second = run(newsletter(), {"first_name": "Jane", "city": "Oslo"})
    token = re.compile(r"/(c|o|u)/[A-Za-z0-9_-]+")
    assert token.sub("/T", first.html) == token.sub("/T", second.html)
    uncached = links.rewrite_parts(first.html, lambda index, url: url)[0]  # nothing to rewrite again
    assert "".join(uncached) == first.html
