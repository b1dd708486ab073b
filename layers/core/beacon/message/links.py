"""HTML rewriting for tracking: tracked links, the open pixel and the unsubscribe footer.

A small tokenizer (regular expressions that understand quoted attributes and skip comments)
finds `<a ...>` start tags; only their href values change, the rest of the HTML is kept byte for
byte. A link is tracked when it is http(s), is not the unsubscribe link and its tag has no
`data-beacon-notrack` attribute.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

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
                    url = safe_url(htmllib.unescape(m.group(group)).strip())
                    break
    return span, url, not notrack and is_trackable(url)


def safe_url(url: str) -> str:
    """The URL with every control (CR, LF, NUL, C1...) or other non-printable character
    percent-encoded as UTF-8, so no link Beacon tracks can put a header into its redirect. A link
    written so in the template is refused when the campaign is saved (control_char_links); one that
    gets it from a contact's value is tracked encoded."""
    if url.isprintable():
        return url
    return "".join(c if c.isprintable() else quote(c, safe="") for c in url)


def control_char_links(html: str) -> list[str]:
    """The http(s) hrefs of `html` (unescaped, as the browser would read them) that hold a control or
    other non-printable character."""
    found: list[str] = []
    for m in _TOKENS.finditer(html):
        if m.lastindex != _A_TAG or not m.group().endswith(">"):
            continue
        tag = m.group()
        for a in _ATTR.finditer(tag, 2, len(tag) - 1):
            if a.group(1).lower() != "href":
                continue
            raw = next((g for g in a.groups()[1:] if g is not None), "")
            url = htmllib.unescape(raw).strip()
            if url[:8].lower().startswith(("http://", "https://")) and not url.isprintable():
                found.append(url)
            break
    return list(dict.fromkeys(found))


# The longest destination a tracked link carries; a longer link stays as written (its token
# would pass beacon.shared.tokens.MAX_TOKEN_LEN, and browsers and proxies cut URLs past ~2,000 characters).
MAX_TRACKED_URL_BYTES = 2048


def is_trackable(url: str) -> bool:
    low = url[:8].lower()
    return (
        (low.startswith("http://") or low.startswith("https://"))
        and len(url) <= MAX_TRACKED_URL_BYTES
        and (url.isascii() or len(url.encode("utf-8")) <= MAX_TRACKED_URL_BYTES)
    )


def _links(html: str) -> Iterator[tuple[int, tuple[int, int], str, bool]]:
    """Each complete <a> tag with an href, outside comments: (where the tag starts, the href
    value's span in the tag, its url, whether it may be tracked)."""
    for m in _TOKENS.finditer(html):
        if m.lastindex == _A_TAG and m.group().endswith(">"):
            span, url, trackable = _inspect(m.group())
            if span is not None:
                yield m.start(), span, url, trackable


def find_links(html: str, skip: str = "") -> list[str]:
    """The distinct trackable destinations in order of first appearance; a link's index is its
    destination's position here, so two links to one URL count as one link in the stats."""
    return list(dict.fromkeys(url for _at, _span, url, trackable in _links(html) if trackable and url != skip))


def rewrite_parts(html: str, tracked_url: Callable[[int, str], str | tuple[str, ...]] | None, skip: str = "",
                  *, escaped: bool = False) -> tuple[list[str], bool]:
    """One pass over the <a> tags: rewrite the trackable hrefs (unless tracked_url is None) and tell
    whether `skip` (the unsubscribe URL) is the href of some link (outside comments; looked for
    only when it occurs in the HTML as written).

    The HTML comes back as parts whose concatenation is the rewritten HTML, cut at each new href
    value: the text between links repeats from one recipient to the next, and so can the pieces of
    an href value (see beacon.message.compose), so the MIME encoder caches their encodings. With `escaped`,
    tracked_url returns attribute-ready text, as one string or a tuple of pieces."""
    return rewrite_chunks([html], tracked_url, skip, escaped=escaped, check_skip=bool(skip) and skip in html,
                          cache=False)


# --------------------------------------------------------------------------------- chunked rewrite
# A rendered template is a sequence of chunks: the template's own text (the same string objects for
# every recipient) and the values of its expressions. rewrite_chunks scans each chunk on its own and
# caches the scan of the template's text, so an email's rewrite costs a lookup per chunk and a
# little work per link, instead of a regex pass over the whole HTML. A tag cut by a chunk boundary
# (`<a href="{{ url }}">`) is carried into the next chunk until it is decided; the text after it is
# a cached scan again (keyed by the chunk and where the scan resumed in it).


MAX_CARRY = 4096  # characters of an undecided token carried from chunk to chunk


@dataclass(frozen=True)
class _Scan:
    """The tokens of chunk[offset:end], scanned from text state: `end` is where an undecided token
    starts (the chunk ends inside it; len(chunk) if none). `hrefs` holds every decided <a> tag's
    href (value span in the chunk, quotes included; url; trackable). `texts` are the pieces of the
    segment around the trackable hrefs' values, quotes in place, for when all of them are rewritten."""

    end: int
    hrefs: tuple[tuple[int, int, str, bool], ...]
    texts: tuple[str, ...]
    trackable: tuple[str, ...]  # the urls of the trackable hrefs, in order
    urls: frozenset[str]  # every href's url


def _undecided_from(s: str, start: int) -> int:
    """Where an undecided token begins in s[start:] ("<", "<!", "<!-" at the very end), or len(s)."""
    at = s.rfind("<", max(start, len(s) - 3))
    if at >= 0 and "<!--".startswith(s[at:]):
        return at
    return len(s)


def _scan(chunk: str, offset: int) -> _Scan:
    hrefs: list[tuple[int, int, str, bool]] = []
    end = len(chunk)
    for m in _TOKENS.finditer(chunk, offset):
        if m.end() >= len(chunk):  # it may go on in the next chunk (the regex's \Z alternatives)
            end = m.start()
            break
        if m.lastindex != _A_TAG:
            continue
        span, url, trackable = _inspect(m.group())
        if span is not None:
            hrefs.append((m.start() + span[0], m.start() + span[1], url, trackable))
    else:
        end = _undecided_from(chunk, offset)
    cuts = [(a, b) for a, b, _url, trackable in hrefs if trackable]
    texts: tuple[str, ...]
    if not cuts:
        texts = (chunk[offset:end] if offset or end < len(chunk) else chunk,)
    else:
        bounds = [offset, *[x for cut in cuts for x in cut], end]
        texts = tuple(("" if i == 0 else '"') + chunk[bounds[2 * i]:bounds[2 * i + 1]]
                      + ("" if i == len(cuts) else '"') for i in range(len(cuts) + 1))
    return _Scan(end, tuple(hrefs), texts, tuple(url for _a, _b, url, t in hrefs if t),
                 frozenset(url for _a, _b, url, _t in hrefs))


# Bounded like beacon.message.mime's piece caches: the scans hold slices of the chunks they scanned.
_small_scans = lru_cache(maxsize=2048)(_scan)
_large_scans = lru_cache(maxsize=64)(_scan)


def _cached_scan(chunk: str, offset: int) -> _Scan:
    n = len(chunk)
    if n <= 4096:
        return _small_scans(chunk, offset)
    return _large_scans(chunk, offset) if n <= 262144 else _scan(chunk, offset)


class _Out:
    """The parts being written: text, and the new href values (their quotes around them)."""

    def __init__(self, tracked_url: Callable[[int, str], str | tuple[str, ...]] | None, skip: str,
                 check_skip: bool, escaped: bool) -> None:
        self.parts: list[str] = []
        self.saw_skip = False
        self._tracked_url = tracked_url
        self._skip = skip
        self._check_skip = check_skip
        self._escaped = escaped
        self._indexes: dict[str, int] = {}
        self._owed = False  # the closing quote of the last href written

    def text(self, value: str) -> None:
        if self._owed:
            self._owed = False
            self.parts.append('"' + value)
        elif value:
            self.parts.append(value)

    def rewrites(self, url: str, trackable: bool) -> bool:
        """Is this href rewritten? (notes the unsubscribe link on the way)"""
        if url == self._skip and self._check_skip:
            self.saw_skip = True
            return False
        return self._tracked_url is not None and trackable and url != self._skip

    def href(self, url: str) -> None:
        """The tracked value of url, without its quotes (the texts around it hold them)."""
        assert self._tracked_url is not None
        index = self._indexes.setdefault(url, len(self._indexes))
        new_url = self._tracked_url(index, url)
        if not self._escaped:
            self.parts.append(htmllib.escape(new_url if isinstance(new_url, str) else "".join(new_url)))
        elif isinstance(new_url, str):
            self.parts.append(new_url)
        else:
            self.parts.extend(new_url)

    def href_in(self, s: str, pos: int, start: int, end: int, url: str) -> int:
        """Write s[pos:start] and the tracked value in place of s[start:end] (its quotes included)."""
        self.text(s[pos:start] + '"')
        self.href(url)
        self._owed = True
        return end


def rewrite_chunks(chunks: Sequence[str], tracked_url: Callable[[int, str], str | tuple[str, ...]] | None,
                   skip: str = "", *, escaped: bool = False, check_skip: bool = False,
                   cache: bool = True) -> tuple[list[str], bool]:
    """rewrite_parts of "".join(chunks), from per-chunk scans (cached for the template's own text
    unless `cache` is False: a one-off HTML would only push a template's scans out of the cache).
    `check_skip` says whether `skip` occurs in the joined HTML (the caller has it at hand)."""
    if tracked_url is None and not check_skip:
        return ["".join(chunks)], False
    out = _Out(tracked_url, skip, check_skip, escaped)
    pending = ""  # the start of a token that a chunk boundary cut: the next chunks decide it
    for n, chunk in enumerate(chunks):
        if len(pending) > MAX_CARRY:  # a token open over many chunks (an unclosed comment): scanning
            pending += "".join(chunks[n:])  # it again for each chunk would be quadratic; the rest
            break  # goes in one pass below
        if not chunk:
            continue
        # the template's own text is plain str; an expression's value is Markup (autoescape), one
        # recipient's: not cached, and made a plain str (Markup would escape what is added to it)
        template_text = cache and type(chunk) is str
        if not template_text:
            chunk = str(chunk)
        offset = 0
        if pending:
            seg, plen = pending + chunk, len(pending)
            pos = at = 0  # written up to pos; scanning from at
            carry = -1
            while True:
                m = _TOKENS.search(seg, at)
                if m is None or m.start() >= plen:  # text from `at` to past the carried part
                    if (undecided := _undecided_from(seg, at)) < plen:
                        carry = undecided  # "<" + "!" is still a possible "<!--"
                    break
                if m.end() >= len(seg):  # still open at the end of this chunk
                    carry = m.start()
                    break
                if m.lastindex == _A_TAG:
                    span, url, trackable = _inspect(m.group())
                    if span is not None and out.rewrites(url, trackable):
                        pos = out.href_in(seg, pos, m.start() + span[0], m.start() + span[1], url)
                at = m.end()
                if at >= plen:
                    break
            if carry >= 0:
                out.text(seg[pos:carry])
                pending = seg[carry:]
                continue
            resume = max(at, plen)
            out.text(seg[pos:resume])
            pending = ""
            offset = resume - plen
            if offset >= len(chunk):
                continue
        scan = _cached_scan(chunk, offset) if template_text else _scan(chunk, offset)
        if tracked_url is not None and skip not in scan.urls:
            # the common case: every trackable href rewritten, around the cached texts
            out.text(scan.texts[0])
            for i, url in enumerate(scan.trackable):
                out.href(url)
                out.parts.append(scan.texts[i + 1])  # from its closing quote on
        else:  # the unsubscribe link among them, or nothing rewritten (tracking off)
            pos = offset
            for a, b, url, trackable in scan.hrefs:
                if out.rewrites(url, trackable):
                    pos = out.href_in(chunk, pos, a, b, url)
            out.text(chunk[pos:scan.end])
        if scan.end < len(chunk):
            pending = chunk[scan.end:]
    if pending:  # the rest, in one pass to the true end of the HTML
        pos = 0
        for at, (start, end), url, trackable in _links(pending):
            if out.rewrites(url, trackable):
                pos = out.href_in(pending, pos, at + start, at + end, url)
        out.text(pending[pos:])
    return out.parts, out.saw_skip


def _last_body_end(html: str) -> int:
    """Where the last `</body>` (any case, optional spaces) starts, or -1."""
    at = len(html)
    while (at := html.rfind("</", 0, at)) >= 0:
        if _BODY_END.match(html, at):
            return at
    return -1


def insert_before_body_end_parts(parts: list[str], snippet: str) -> None:
    """Put the snippet before the last `</body>` (any case, optional spaces) of the parts of
    rewrite_parts/rewrite_chunks, or at the end when there is none (an href value holds no `</body>`)."""
    for i in range(len(parts) - 1, -1, -1):
        if "</" in parts[i] and (at := _last_body_end(parts[i])) >= 0:
            parts[i] = parts[i][:at] + snippet + parts[i][at:]
            return
    if parts:
        parts[-1] += snippet
    else:
        parts.append(snippet)


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


@lru_cache(maxsize=256)
def postal_footer_html(company: str, postal_address: str) -> str:
    """The sender's name and physical postal address (CAN-SPAM), one line per address line: the same
    for every email of an account, so built once."""
    lines = "<br>".join(htmllib.escape(line) for line in postal_address.split("\n"))
    return ('<p style="font-size:12px;color:#666;text-align:center;margin:16px 0">'
            f"{htmllib.escape(company)}<br>{lines}</p>")


@lru_cache(maxsize=256)
def postal_footer_text(company: str, postal_address: str) -> str:
    return f"\n\n{company}\n{postal_address}\n"
