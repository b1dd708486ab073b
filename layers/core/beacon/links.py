"""HTML rewriting for tracking: tracked links, the open pixel and the unsubscribe footer.

A small tokenizer (regular expressions that understand quoted attributes and skip comments)
finds `<a ...>` start tags; only their href values change, the rest of the HTML is kept byte for
byte. A link is tracked when it is http(s), is not the unsubscribe link and its tag has no
`data-beacon-notrack` attribute.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable
from functools import lru_cache

_TOKENS = re.compile(  # the literal "<" up front lets the regex engine skip text fast
    r"<(?:(?P<comment>!--.*?(?:-->|\Z))"
    r"|(?P<a>[aA]\b(?:[^>\"']++|\"[^\"]*+(?:\"|\Z)|'[^']*+(?:'|\Z))*+(?:>|\Z)))",
    re.DOTALL,
)
_A_TAG = _TOKENS.groupindex["a"]
_ATTR = re.compile(r"""([^\s"'=<>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@lru_cache(maxsize=4096)  # a campaign's tags repeat across its recipients
def _inspect(tag: str) -> tuple[tuple[int, int] | None, str, bool]:
    """(span of the href value incl. quotes, the unescaped href, whether the link may be tracked:
    an http(s) destination of at most MAX_TRACKED_URL_BYTES and no data-beacon-notrack)."""
    span: tuple[int, int] | None = None
    url = ""
    notrack = False
    for m in _ATTR.finditer(tag, 2, len(tag) - 1):
        name = m.group(1).lower()
        if name == "data-beacon-notrack":
            notrack = True
        elif name == "href" and span is None:
            for group in (2, 3, 4):
                if m.group(group) is not None:
                    start, end = m.span(group)
                    if group != 4:
                        start, end = start - 1, end + 1
                    span = (start, end)
                    url = htmllib.unescape(m.group(group)).strip()
                    break
    return span, url, not notrack and is_trackable(url, "")


# The longest destination a tracked link carries; a longer link stays as written (its token
# would pass beacon.tokens.MAX_TOKEN_LEN, and browsers and proxies cut URLs past ~2,000 characters).
MAX_TRACKED_URL_BYTES = 2048


def is_trackable(url: str, skip: str) -> bool:
    low = url[:8].lower()
    return (
        (low.startswith("http://") or low.startswith("https://"))
        and url != skip
        and len(url) <= MAX_TRACKED_URL_BYTES
        and (url.isascii() or len(url.encode("utf-8")) <= MAX_TRACKED_URL_BYTES)
    )


def find_links(html: str, skip: str = "") -> list[str]:
    """The distinct trackable destinations in order of first appearance; a link's index is its
    destination's position here, so two links to one URL count as one link in the stats."""
    found: dict[str, None] = {}
    for m in _TOKENS.finditer(html):
        tag = m.group() if m.lastindex == _A_TAG else None
        if tag is None or not tag.endswith(">"):
            continue
        span, url, trackable = _inspect(tag)
        if span is not None and trackable and url != skip:
            found.setdefault(url)
    return list(found)


def has_link(html: str, url: str) -> bool:
    """Is `url` the href of an <a> tag (outside comments)? Cheap when it is not in the text at all."""
    if url not in html:
        return False
    for m in _TOKENS.finditer(html):
        tag = m.group() if m.lastindex == _A_TAG else None
        if tag is not None and tag.endswith(">") and _inspect(tag)[1] == url:
            return True
    return False


def rewrite_links(html: str, tracked_url: Callable[[int, str], str], skip: str = "") -> str:
    """Replace each trackable href with tracked_url(index, destination), index as in find_links."""
    return "".join(rewrite_parts(html, tracked_url, skip)[0])


def rewrite_parts(html: str, tracked_url: Callable[[int, str], str | tuple[str, ...]] | None, skip: str = "",
                  *, escaped: bool = False) -> tuple[list[str], bool]:
    """One pass over the <a> tags: rewrite the trackable hrefs (unless tracked_url is None) and tell
    whether `skip` (the unsubscribe URL) is the href of some link, as has_link would.

    The HTML comes back as parts whose concatenation is the rewritten HTML, cut at each new href
    value: the text between links repeats from one recipient to the next, and so can the pieces of
    an href value (see beacon.composer), so the MIME encoder caches their encodings. With `escaped`,
    tracked_url returns attribute-ready text, as one string or a tuple of pieces."""
    parts: list[str] = []
    last = 0
    tail = ""  # the closing quote of the previous rewritten href
    indexes: dict[str, int] = {}
    saw_skip = False
    check_skip = bool(skip) and skip in html
    if tracked_url is None and not check_skip:
        return [html], False
    for m in _TOKENS.finditer(html):
        tag = m.group() if m.lastindex == _A_TAG else None
        if tag is None or not tag.endswith(">"):
            continue
        span, url, trackable = _inspect(tag)
        if span is None:
            continue
        if check_skip and url == skip:
            saw_skip = True
            continue
        if tracked_url is None or not trackable or url == skip:
            continue
        index = indexes.setdefault(url, len(indexes))
        new_url = tracked_url(index, url)
        start = m.start()
        parts.append(tail + html[last : start + span[0]] + '"')
        if not escaped:
            parts.append(htmllib.escape(new_url if isinstance(new_url, str) else "".join(new_url)))
        elif isinstance(new_url, str):
            parts.append(new_url)
        else:
            parts.extend(new_url)
        tail = '"'
        last = start + span[1]
    parts.append(tail + html[last:] if parts else html)
    return parts, saw_skip


def _last_body_end(html: str) -> int:
    """Where the last `</body>` (any case, optional spaces) starts, or -1."""
    at = len(html)
    while (at := html.rfind("</", 0, at)) >= 0:
        if _BODY_END.match(html, at):
            return at
    return -1


def insert_before_body_end(html: str, snippet: str) -> str:
    at = _last_body_end(html)
    if at < 0:
        return html + snippet
    return html[:at] + snippet + html[at:]


def insert_before_body_end_parts(parts: list[str], snippet: str) -> None:
    """insert_before_body_end on the parts of rewrite_parts (an href value holds no `</body>`)."""
    for i in range(len(parts) - 1, -1, -1):
        if "</" in parts[i] and (at := _last_body_end(parts[i])) >= 0:
            parts[i] = parts[i][:at] + snippet + parts[i][at:]
            return
    parts[-1] += snippet


def pixel_html(url: str) -> str:
    return (
        f'<img src="{htmllib.escape(url)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0" />'
    )


def honeypot_html(url: str) -> str:
    """The hidden link that only machines follow: not displayed (display:none, and mso-hide for
    Outlook's Word engine), no text, hidden from screen readers (aria-hidden) and out of the tab
    order. It exists only in the HTML part, never in the text part."""
    return (
        f'<a href="{htmllib.escape(url)}" aria-hidden="true" tabindex="-1" '
        'style="display:none!important;mso-hide:all;font-size:0;line-height:0;max-height:0;overflow:hidden">'
        "</a>"
    )


def footer_html(company: str, unsubscribe_url: str) -> str:
    return (
        '<p style="font-size:12px;color:#666;text-align:center;margin:24px 0">'
        f"You receive this email from {htmllib.escape(company)}. "
        f'<a href="{htmllib.escape(unsubscribe_url)}" style="color:#666">Unsubscribe</a></p>'
    )


def footer_text(company: str, unsubscribe_url: str) -> str:
    return f"\n\n--\nYou receive this email from {company}.\nUnsubscribe: {unsubscribe_url}\n"
