"""Human or machine: every rule that decides whether an open or a click was a person, in one place.

Two stages, both table-driven (sources for each row: docs/research/engagement-and-operations.md):

1. REQUEST_RULES judge one request from what it carries (method, user agent, source IP, prefetch
   headers). The first row that matches names the machine; no match is "human". This runs in the
   pixel and click handlers, before their one write.

2. SWEEP_RULES judge a click that stage 1 let through as human, later, against what the recipient's
   ledger item knows and the handler could not (it makes no read): when SES reported the Delivery,
   whether a person had opened the email before, and when the hidden honeypot link was fetched.
   They run when the stats are computed (beacon.tracking.opens_and_clicks.summarize). Decided here:
   - the scan window starts at the SES Delivery event (`delivered_at`, written by ses_events);
     while no Delivery event has arrived it starts at the send time (`sent_at`, else the token's
     issue time). A click inside CLICK_WINDOW_SECONDS of that start with no human open before it
     is a scanner (the research weighs "inside the window" +2 and "no earlier open" +1; machine
     needs both, so a person who opens and quickly clicks stays human);
   - a fetch of the honeypot link (invisible to people, only machines follow it) taints the
     sweep: every click of that recipient on that email within HONEYPOT_SWEEP_SECONDS of a
     honeypot hit is machine, and the honeypot hit itself is never a human click.

Opens: Apple MPP (bare WebKit UA *and* an Apple network) is machine; Gmail's and Yahoo's image
proxies fetch on the reader's behalf, so such an open counts as one human open per recipient and is
flagged "proxied". A later non-machine open upgrades the recipient to human (stats count a recipient
as human_unique as soon as one of their opens was human).

client_class() reduces a user agent to a class ("apple_mpp", "gmail_proxy", "scanner:<name>",
"desktop_browser", ...): that class, never the raw user agent, is what gets stored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

OPEN = "open"
CLICK = "click"

# (marker in the lower-cased user agent, scanner name for the class)
SCANNER_MARKERS: tuple[tuple[str, str], ...] = (
    ("urldefense", "proofpoint"), ("proofpoint", "proofpoint"), ("safelinks", "microsoft_safelinks"),
    ("barracuda", "barracuda"), ("mimecast", "mimecast"), ("symantec", "symantec"), ("sophos", "sophos"),
    ("zscaler", "zscaler"), ("forcepoint", "forcepoint"), ("fireeye", "fireeye"), ("trendmicro", "trendmicro"),
    ("checkpoint", "checkpoint"), ("messagelabs", "symantec"), ("bitdefender", "bitdefender"),
    ("curl/", "curl"), ("wget/", "wget"), ("python-requests", "python"), ("python-urllib", "python"),
    ("aiohttp", "python"), ("go-http-client", "go"), ("okhttp", "okhttp"), ("java/", "java"),
    ("libwww-perl", "perl"), ("httpclient", "httpclient"), ("headlesschrome", "headless_browser"),
    ("phantomjs", "headless_browser"), ("scrapy", "scrapy"), ("facebookexternalhit", "facebook"),
    ("slackbot", "slack"), ("bot", "bot"), ("crawler", "bot"), ("spider", "bot"), ("preview", "preview"),
    ("slurp", "bot"),
)
PROXY_MARKERS: tuple[tuple[str, str], ...] = (("googleimageproxy", "gmail_proxy"),
                                              ("yahoomailproxy", "yahoo_proxy"))
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Mail-security services' fetch ranges (Microsoft 365 protection endpoint sets 9-10, Barracuda).
SCANNER_NETWORKS: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(n), name) for n, name in (
        ("40.92.0.0/15", "microsoft365"), ("40.107.0.0/16", "microsoft365"), ("52.100.0.0/14", "microsoft365"),
        ("104.47.0.0/17", "microsoft365"), ("52.238.78.88/32", "microsoft365"),
        ("2a01:111:f400::/48", "microsoft365"), ("2a01:111:f403::/48", "microsoft365"),
        ("209.222.80.0/21", "barracuda"), ("35.170.131.0/24", "barracuda"),
    )
)
# Apple's network; MPP needs the bare UA too, and Applebot's crawl ranges inside it are excluded.
APPLE_NETWORKS: tuple[Network, ...] = (ipaddress.ip_network("17.0.0.0/8"),)
APPLEBOT_NETWORKS: tuple[Network, ...] = (ipaddress.ip_network("17.22.237.0/24"),
                                          ipaddress.ip_network("17.241.0.0/16"))
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ranges(networks: Sequence[Network]) -> tuple[tuple[int, int, int], ...]:
    """(version, first, last address as an int) of each network: `address in network` as two integer
    comparisons (what ipaddress does, without building the netmask objects per request)."""
    return tuple((n.version, int(n.network_address), int(n.broadcast_address)) for n in networks)


def _in(address: Address, ranges: tuple[tuple[int, int, int], ...]) -> int:
    """The index of the first range holding `address` (same IP version), or -1."""
    version, value = address.version, int(address)
    for i, (v, first, last) in enumerate(ranges):
        if v == version and first <= value <= last:
            return i
    return -1


_SCANNER_RANGES = _ranges([n for n, _ in SCANNER_NETWORKS])
_APPLE_RANGES = _ranges(APPLE_NETWORKS)
_APPLEBOT_RANGES = _ranges(APPLEBOT_NETWORKS)
# The first numbers of every IPv4 address in those networks, as a valid address spells them (no
# leading zeros): a dotted address starting with another is in none of them.
_RULE_FIRST_OCTETS = frozenset(str(octet) for version, first, last in _SCANNER_RANGES + _APPLE_RANGES + _APPLEBOT_RANGES
                               if version == 4 for octet in range(first >> 24, (last >> 24) + 1))
CLICK_WINDOW_SECONDS = 60
HONEYPOT_SWEEP_SECONDS = 120


@dataclass(frozen=True)
class Signal:
    """What one request to /o/ or /c/ tells about its sender."""

    kind: str  # open | click
    method: str
    user_agent: str
    ip: str
    purpose: str = ""  # Sec-Purpose / Purpose / X-Purpose / X-Moz header

    @cached_property
    def rule_address(self) -> Address | None:
        """The source IP, parsed once for every rule that looks at it; None if it is not one, or if it
        is an IPv4 address whose first number is that of no network a rule names (most requests:
        they need no parsing, and no network holds them either way)."""
        ip = self.ip.strip()
        head, dot, _ = ip.partition(".")
        if dot and head not in _RULE_FIRST_OCTETS and ":" not in ip:
            return None
        return _ip(ip)


def _ip(value: str) -> Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _is_head(s: Signal) -> bool:
    return s.method.upper() == "HEAD"


def _no_user_agent(s: Signal) -> bool:
    return not s.user_agent.strip()


def _prefetch(s: Signal) -> bool:
    p = s.purpose.lower()
    return "prefetch" in p or "preview" in p or "prerender" in p


def scanner_name(user_agent: str) -> str | None:
    ua = user_agent.lower()
    for marker, _ in PROXY_MARKERS:
        if marker in ua:
            return None
    for marker, name in SCANNER_MARKERS:
        if marker in ua:
            return name
    return None


def _scanner_ua(s: Signal) -> bool:
    return scanner_name(s.user_agent) is not None


def _network_name(address: Address | None) -> str | None:
    found = -1 if address is None else _in(address, _SCANNER_RANGES)
    return None if found < 0 else SCANNER_NETWORKS[found][1]


def scanner_network(ip: str) -> str | None:
    return _network_name(_ip(ip))


def _scanner_network(s: Signal) -> bool:
    return _network_name(s.rule_address) is not None


def _bare_webkit(ua: str) -> bool:
    ua = ua.strip()
    return ua == "Mozilla/5.0" or (
        ua.startswith("Mozilla/5.0") and ua.endswith("(KHTML, like Gecko)") and "Safari" not in ua
    )


def _apple_mpp(s: Signal) -> bool:
    """Apple Mail Privacy Protection: a bare WebKit (or bare Mozilla/5.0) UA from Apple's network."""
    if not _bare_webkit(s.user_agent):
        return False
    ip = s.rule_address
    return ip is not None and _in(ip, _APPLE_RANGES) >= 0 and _in(ip, _APPLEBOT_RANGES) < 0


REQUEST_RULES: tuple[tuple[str, frozenset[str], Callable[[Signal], bool]], ...] = (
    ("head_request", frozenset({OPEN, CLICK}), _is_head),
    ("no_user_agent", frozenset({OPEN, CLICK}), _no_user_agent),
    ("prefetch_header", frozenset({OPEN, CLICK}), _prefetch),
    ("scanner_user_agent", frozenset({OPEN, CLICK}), _scanner_ua),
    ("scanner_network", frozenset({OPEN, CLICK}), _scanner_network),
    ("apple_mpp", frozenset({OPEN}), _apple_mpp),
)


def is_machine_class(client: str) -> bool:
    """Whether a stored client class (client_class) names a machine: a request rule's name
    (apple_mpp, head_request, ...) or a scanner ("scanner:<name>")."""
    return client.startswith("scanner:") or client in _MACHINE_RULES


_MACHINE_RULES = frozenset(name for name, _kinds, _rule in REQUEST_RULES)
RULES = REQUEST_RULES  # the name the rest of Beacon knew first


def classify(signal: Signal) -> str | None:
    """The name of the first request rule that matches (a machine), or None (a human, so far)."""
    for name, kinds, rule in REQUEST_RULES:
        if signal.kind in kinds and rule(signal):
            return name
    return None


def image_proxy(signal: Signal) -> str | None:
    """"gmail_proxy" / "yahoo_proxy" for an open fetched by a webmail image proxy, else None."""
    if signal.kind != OPEN:
        return None
    ua = signal.user_agent.lower()
    for marker, name in PROXY_MARKERS:
        if marker in ua:
            return name
    return None


def client_class(signal: Signal, machine_rule: str | None) -> str:
    """The stored stand-in for a user agent: never more precise than this."""
    if machine_rule == "apple_mpp":
        return "apple_mpp"
    if machine_rule == "scanner_user_agent":
        return f"scanner:{scanner_name(signal.user_agent)}"
    if machine_rule == "scanner_network":
        return f"scanner:{_network_name(signal.rule_address)}"
    if machine_rule is not None:
        return machine_rule  # head_request, no_user_agent, prefetch_header
    proxy = image_proxy(signal)
    if proxy:
        return proxy
    ua = signal.user_agent.lower()
    if "outlook" in ua or "thunderbird" in ua or "microsoft office" in ua:
        return "mail_client"
    if any(m in ua for m in ("iphone", "ipad", "android", "mobile")):
        return "mobile_browser"
    if any(m in ua for m in ("windows nt", "macintosh", "x11", "cros")):
        return "desktop_browser" if "gecko" in ua or "chrome" in ua or "safari" in ua else "other"
    return "other"


# ------------------------------------------------------------------ stage 2: per recipient


@dataclass(frozen=True)
class ClickFacts:
    """One click that stage 1 called human, and what the recipient's ledger item knows around it.
    Times are epoch seconds."""

    at: int
    window_start: int | None  # SES Delivery, else the send time; None when neither is known
    first_human_open: int | None
    honeypot_hits: Sequence[int] = ()


def _honeypot_sweep(c: ClickFacts) -> bool:
    return any(abs(c.at - hit) <= HONEYPOT_SWEEP_SECONDS for hit in c.honeypot_hits)


def _before_any_open_inside_window(c: ClickFacts) -> bool:
    inside = c.window_start is not None and c.at - c.window_start < CLICK_WINDOW_SECONDS
    opened_before = c.first_human_open is not None and c.first_human_open <= c.at
    return inside and not opened_before


SWEEP_RULES: tuple[tuple[str, Callable[[ClickFacts], bool]], ...] = (
    ("honeypot_sweep", _honeypot_sweep),
    ("click_before_open_after_delivery", _before_any_open_inside_window),
)


def classify_click(facts: ClickFacts) -> str | None:
    """The name of the first sweep rule that makes this (request-human) click a machine, or None."""
    for name, rule in SWEEP_RULES:
        if rule(facts):
            return name
    return None
