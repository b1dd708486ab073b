"""beacon.message.links: tracked links, the open pixel and the unsubscribe footer, byte for byte elsewhere."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from beacon.message.links import (
    MAX_TRACKED_URL_BYTES,
    find_links,
    footer_html,
    footer_text,
    insert_before_body_end_parts,
    pixel_html,
    rewrite_parts,
)

UNSUB = "https://t.example.com/u/UNSUBTOKEN"


def tracked(index: int, url: str) -> str:
    return f"https://t.example.com/c/T{index}"


def rewrite_links(html: str, tracked_url: Callable[[int, str], str], skip: str = "") -> str:
    return "".join(rewrite_parts(html, tracked_url, skip)[0])


def insert_before_body_end(html: str, snippet: str) -> str:
    parts = [html]
    insert_before_body_end_parts(parts, snippet)
    return "".join(parts)


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


# ---------------------------------------------------------------------------- which links


def test_http_and_https_links_are_rewritten_in_order() -> None:
    html = (
        '<p><a href="https://a.example/1">one</a> <a href="http://b.example/2">two</a>'
        ' <a href="https://a.example/1">one again</a> <a href="https://c.example/3">three</a></p>'
    )
    # distinct destinations in order of first appearance; a link's index is its destination's position
    assert find_links(html) == ["https://a.example/1", "http://b.example/2", "https://c.example/3"]
    out = rewrite_links(html, tracked)
    assert _hrefs(out) == [tracked(0, ""), tracked(1, ""), tracked(0, ""), tracked(2, "")]


def test_every_rewritten_index_names_its_destination_in_find_links() -> None:
    urls = [f"https://shop.example.com/p/{i % 7}?x={i % 3}" for i in range(40)]
    html = "".join(f'<a href="{u}">{i}</a>' for i, u in enumerate(urls))
    found = find_links(html)
    seen: list[tuple[int, str]] = []
    rewrite_links(html, lambda i, u: seen.append((i, u)) or f"T{i}")
    assert [u for _, u in seen] == urls
    assert all(found[i] == u for i, u in seen)


def test_callback_receives_index_and_destination() -> None:
    seen: list[tuple[int, str]] = []

    def record(index: int, url: str) -> str:
        seen.append((index, url))
        return f"X{index}"

    html = '<a href="https://a.example/">a</a><a href="mailto:x@y.example">m</a><a href="https://b.example/">b'
    rewrite_links(html, record)
    assert seen == [(0, "https://a.example/"), (1, "https://b.example/")]


@pytest.mark.parametrize(
    "href",
    [
        "mailto:someone@example.com",
        "MAILTO:someone@example.com",
        "tel:+4912345678",
        "sms:+4912345678",
        "/relative/path",
        "relative.html",
        "#anchor",
        "//cdn.example.com/protocol-relative",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "ftp://files.example.com/a",
        "data:text/html,hi",
        "",
        "{{ not rendered }}",
    ],
)
def test_non_http_links_are_left_alone(href: str) -> None:
    html = f'<a href="{href}">x</a>'
    assert find_links(html) == []
    assert rewrite_links(html, tracked) == html


@pytest.mark.parametrize(
    "tag",
    [
        '<a data-beacon-notrack href="https://n.example/">',
        '<a href="https://n.example/" data-beacon-notrack>',
        '<a href="https://n.example/" data-beacon-notrack="">',
        '<a href="https://n.example/" DATA-BEACON-NOTRACK="1">',
        "<a\n data-beacon-notrack\n href='https://n.example/'>",
    ],
)
def test_notrack_links_are_left_alone(tag: str) -> None:
    html = f"{tag}x</a>"
    assert find_links(html) == []
    assert rewrite_links(html, tracked) == html


def test_unsubscribe_link_is_skipped_and_does_not_take_an_index() -> None:
    html = f'<a href="https://a.example/">a</a><a href="{UNSUB}">Unsubscribe</a><a href="https://b.example/">b</a>'
    assert find_links(html, skip=UNSUB) == ["https://a.example/", "https://b.example/"]
    out = rewrite_links(html, tracked, skip=UNSUB)
    assert _hrefs(out) == [tracked(0, ""), UNSUB, tracked(1, "")]


def test_links_inside_html_comments_are_left_alone() -> None:
    html = (
        '<!-- <a href="https://hidden.example/">old</a> -->'
        '<!--[if mso]><a href="https://mso.example/">mso</a><![endif]-->'
        '<a href="https://shown.example/">shown</a>'
        "<!-- unclosed comment <a href=\"https://tail.example/\">"
    )
    assert find_links(html) == ["https://shown.example/"]
    out = rewrite_links(html, tracked)
    assert out == html.replace("https://shown.example/", tracked(0, ""))


def test_entity_encoded_ampersand_is_unescaped_to_the_destination() -> None:
    html = '<a href="https://shop.example.com/?a=1&amp;b=2&amp;c=%20">x</a>'
    assert find_links(html) == ["https://shop.example.com/?a=1&b=2&c=%20"]
    seen: list[str] = []
    rewrite_links(html, lambda i, u: seen.append(u) or "X")
    assert seen == ["https://shop.example.com/?a=1&b=2&c=%20"]


def test_tracked_url_is_attribute_escaped() -> None:
    out = rewrite_links('<a href="https://a.example/">x</a>', lambda i, u: 'https://t.example/c/a&b"<')
    assert out == '<a href="https://t.example/c/a&amp;b&quot;&lt;">x</a>'


@pytest.mark.parametrize(
    ("tag", "expected_tag"),
    [
        ('<a href="https://q.example/">', '<a href="T">'),
        ("<a href='https://q.example/'>", '<a href="T">'),
        ("<a href=https://q.example/>", '<a href="T">'),
        ('<a class="btn" href=https://q.example/ target=_blank>', '<a class="btn" href="T" target=_blank>'),
        ('<a href = "https://q.example/" >', '<a href = "T" >'),
        ('<A HREF="https://q.example/">', '<A HREF="T">'),
        ('<a HrEf="HTTPS://q.example/">', '<a HrEf="T">'),
        ('<a title="href=evil" href="https://q.example/">', '<a title="href=evil" href="T">'),
        ("<a title='href=\"https://evil.example/\"' href=\"https://q.example/\">",
         "<a title='href=\"https://evil.example/\"' href=\"T\">"),
        ('<a title="x > y" href="https://q.example/">', '<a title="x > y" href="T">'),
        ('<a\n   class="x"\r\n   href="https://q.example/"\n>', '<a\n   class="x"\r\n   href="T"\n>'),
        ('<a href="  https://q.example/  ">', '<a href="T">'),
    ],
)
def test_attribute_syntaxes(tag: str, expected_tag: str) -> None:
    html = f"<p>before</p>{tag}text</a><p>after</p>"
    urls = find_links(html)
    assert len(urls) == 1
    assert urls[0].lower() == "https://q.example/"
    assert rewrite_links(html, lambda i, u: "T") == f"<p>before</p>{expected_tag}text</a><p>after</p>"


def test_title_containing_href_is_not_taken_for_the_href() -> None:
    html = '<a title="href=https://evil.example/" href="mailto:x@example.com">x</a>'
    assert find_links(html) == []
    assert rewrite_links(html, tracked) == html


def test_tags_that_only_start_with_a_are_not_links() -> None:
    html = '<abbr href="https://x.example/">x</abbr><area href="https://y.example/"><article href="https://z.example/">'
    assert find_links(html) == []
    assert rewrite_links(html, tracked) == html


def test_everything_outside_hrefs_is_byte_identical() -> None:
    html = (
        "<!DOCTYPE html>\r\n<html><head><style>a{color:red}</style></head>\n"
        "<body>\tWeiß € 😀 &nbsp; &amp; <b>bold</b>\r\n"
        '<a class="c" href="https://a.example/x?y=1&amp;z=2" target="_blank">A</a>\n'
        "<img src=\"https://cdn.example/i.png\" alt='a'>\n"
        "<a href='mailto:m@example.com'>mail</a>"
        '<a href=http://b.example/ rel=noopener>B</a>   trailing  \n</body></html>'
    )
    out = rewrite_links(html, tracked)
    expected = html.replace('"https://a.example/x?y=1&amp;z=2"', f'"{tracked(0, "")}"').replace(
        "http://b.example/", f'"{tracked(1, "")}"'
    )
    assert out == expected


def test_html_without_links_is_returned_unchanged() -> None:
    html = "<html><body><p>No links at all.</p></body></html>"
    assert rewrite_links(html, tracked) == html
    assert find_links(html) == []


# ---------------------------------------------------------------------------- pixel and footers


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<html><body>hi</body></html>", "<html><body>hiPIX</body></html>"),
        ("<html><body>hi</BODY></html>", "<html><body>hiPIX</BODY></html>"),
        ("<body>hi</body >", "<body>hiPIX</body >"),
        ("<body>a</body>b</body>c", "<body>a</body>bPIX</body>c"),
        ("<p>a &lt;/body&gt; b</p></Body>", "<p>a &lt;/body&gt; b</p>PIX</Body>"),
        ("<p>fragment without body</p>", "<p>fragment without body</p>PIX"),
        ("", "PIX"),
    ],
)
def test_insert_before_last_body_end(html: str, expected: str) -> None:
    assert insert_before_body_end(html, "PIX") == expected
    # the same on rewrite_parts' parts, whichever text part holds the last </body>
    doc = html.replace("<p>", '<p><a href="https://x.example/">x</a>', 1) if "<p>" in html else html
    parts, _ = rewrite_parts(doc, tracked)
    insert_before_body_end_parts(parts, "PIX")
    assert "".join(parts) == insert_before_body_end(rewrite_links(doc, tracked), "PIX")


def test_rewrite_parts_alternate_text_and_href_values() -> None:
    html = '<p>a<a href="https://one.example/?a=1&amp;b=2">1</a> b <a href=\'https://two.example/\'>2</a></p>'
    parts, saw = rewrite_parts(html, tracked)
    assert parts[1::2] == ["https://t.example.com/c/T0", "https://t.example.com/c/T1"]
    assert "".join(parts) == rewrite_links(html, tracked)
    assert saw is False
    # the text parts repeat from one recipient to the next: only the href values differ
    other, _ = rewrite_parts(html, lambda i, u: f"https://t.example.com/c/OTHER{i}")
    assert other[0::2] == parts[0::2]
    escaped, _ = rewrite_parts(html, lambda i, u: "a&amp;b", escaped=True)
    assert escaped[1] == "a&amp;b"
    assert rewrite_parts("<p>none</p>", tracked) == (["<p>none</p>"], False)


def test_a_destination_longer_than_the_cap_is_left_as_written() -> None:
    long_url = "https://example.com/?q=" + "x" * MAX_TRACKED_URL_BYTES
    fits = "https://example.com/?q=" + "é" * ((MAX_TRACKED_URL_BYTES - 30) // 2)
    too_many_bytes = "https://example.com/?q=" + "é" * (MAX_TRACKED_URL_BYTES // 2)
    html = f'<a href="{long_url}">a</a><a href="{fits}">b</a><a href="{too_many_bytes}">c</a>'
    assert find_links(html) == [fits]
    assert _hrefs(rewrite_links(html, tracked)) == [long_url, "https://t.example.com/c/T0", too_many_bytes]


def test_pixel_html_is_a_1x1_image_with_escaped_url() -> None:
    pix = pixel_html("https://t.example/o/abc?x=1&y=2")
    assert pix.startswith("<img ")
    assert 'src="https://t.example/o/abc?x=1&amp;y=2"' in pix
    assert 'width="1"' in pix and 'height="1"' in pix and 'alt=""' in pix


def test_footers_carry_the_unsubscribe_url_and_escape_the_company() -> None:
    html = footer_html("Smith & <Sons>", UNSUB)
    assert "Smith &amp; &lt;Sons&gt;" in html
    assert f'href="{UNSUB}"' in html
    text = footer_text("Smith & <Sons>", UNSUB)
    assert "Smith & <Sons>" in text
    assert f"Unsubscribe: {UNSUB}" in text
    # the footer's link is the skip link, so the tracker never rewrites it
    assert find_links(html, skip=UNSUB) == []


# ---------------------------------------------------------------------------- hostile input


def test_large_ordinary_html_is_rewritten() -> None:
    unit = '<tr><td><p>Hello there</p><a href="https://shop.example.com/p?a=1&amp;b=2">Buy</a></td></tr>\n'
    html = "<html><body><table>" + unit * (1_000_000 // len(unit)) + "</table></body></html>"
    assert len(html) >= 990_000
    out = rewrite_links(html, lambda i, u: "T")
    assert out.count('href="T"') == html.count("<a ")
    assert find_links(html) == ["https://shop.example.com/p?a=1&b=2"]


@contextmanager
def _hang_guard(seconds: float) -> Iterator[None]:
    """Turn a hang into a failure (a linear pass over 1 MB takes ~0.1 s). Not a timing assertion.
    POSIX only (SIGALRM), like Lambda and CI."""

    def _raise(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: the tokenizer backtracks on this input")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


MB = 1_000_000


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://x.example/"' + " class=x" * (MB // 8),  # one unterminated tag
        "<!--" + "<a href='https://x.example/'>" * (MB // 29),  # unterminated comment
        '<a href="' + "x" * MB,  # unterminated quote
        "<" * MB,
        "<a" + ">" * MB,
        "<p>" + "&amp;" * (MB // 5) + "</p>",
    ],
    ids=["long-unclosed-tag", "unclosed-comment", "unclosed-quote", "many-lt", "many-gt", "entities"],
)
def test_hostile_html_of_1mb_is_handled(html: str) -> None:
    with _hang_guard(5):
        find_links(html)
        rewrite_links(html, tracked)
        insert_before_body_end(html, "PIX")


def test_many_unclosed_a_tags_of_1mb_do_not_hang() -> None:
    inputs = ["<a " * (MB // 3), '<a href="' * (MB // 9), '<a title="x" ' * (MB // 14)]
    with _hang_guard(1.0):
        for html in inputs:
            find_links(html)
            rewrite_links(html, tracked)
