"""Human or machine: the rules that decide whether an open or a click was a person.

Every rule is one row of RULES (a name, what it applies to, a predicate). The first rule that
matches decides "machine"; no match is "human". Sources for each rule are in
../shared/research/engagement-and-operations.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

OPEN = "open"
CLICK = "click"

SCANNER_MARKERS = (
    "urldefense", "safelinks", "barracuda", "mimecast", "proofpoint", "symantec", "sophos", "zscaler",
    "forcepoint", "fireeye", "trendmicro", "checkpoint", "messagelabs", "bitdefender",
    "curl/", "wget/", "python-requests", "python-urllib", "aiohttp", "go-http-client", "okhttp",
    "java/", "libwww-perl", "httpclient", "headlesschrome", "phantomjs", "scrapy", "bot", "crawler",
    "spider", "preview", "slurp", "facebookexternalhit",
)
PROXY_MARKERS = ("googleimageproxy", "yahoomailproxy")
# Scanning services' ranges (Microsoft 365 protection, Barracuda); see the research notes.
SCANNER_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17",
                                      "209.222.80.0/21", "35.170.131.0/24")
)
APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
APPLEBOT_NETWORKS = (ipaddress.ip_network("17.22.237.0/24"), ipaddress.ip_network("17.241.0.0/16"))
SCAN_WINDOW_SECONDS = 5


@dataclass(frozen=True)
class Signal:
    kind: str  # open | click
    method: str
    user_agent: str
    ip: str
    purpose: str = ""  # Sec-Purpose / Purpose / X-Moz header
    seconds_since_send: float | None = None


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
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
    return "prefetch" in p or "preview" in p


def _scanner_ua(s: Signal) -> bool:
    ua = s.user_agent.lower()
    if any(m in ua for m in PROXY_MARKERS):
        return False
    return any(m in ua for m in SCANNER_MARKERS)


def _scanner_network(s: Signal) -> bool:
    ip = _ip(s.ip)
    return ip is not None and any(ip in n for n in SCANNER_NETWORKS)


def _apple_mpp(s: Signal) -> bool:
    """Apple Mail Privacy Protection: a bare WebKit (or bare Mozilla/5.0) UA from Apple's network."""
    ua = s.user_agent.strip()
    bare = ua == "Mozilla/5.0" or (
        ua.startswith("Mozilla/5.0") and ua.endswith("(KHTML, like Gecko)") and "Safari" not in ua
    )
    ip = _ip(s.ip)
    return bare and ip is not None and ip in APPLE_NETWORK and not any(ip in n for n in APPLEBOT_NETWORKS)


def _too_fast(s: Signal) -> bool:
    return s.seconds_since_send is not None and s.seconds_since_send < SCAN_WINDOW_SECONDS


RULES: tuple[tuple[str, frozenset[str], Callable[[Signal], bool]], ...] = (
    ("head_request", frozenset({OPEN, CLICK}), _is_head),
    ("no_user_agent", frozenset({OPEN, CLICK}), _no_user_agent),
    ("prefetch_header", frozenset({OPEN, CLICK}), _prefetch),
    ("scanner_user_agent", frozenset({OPEN, CLICK}), _scanner_ua),
    ("scanner_network", frozenset({OPEN, CLICK}), _scanner_network),
    ("apple_mpp", frozenset({OPEN}), _apple_mpp),
    ("within_seconds_of_send", frozenset({CLICK}), _too_fast),
)


def classify(signal: Signal) -> str | None:
    """The name of the first machine rule that matches, or None for a human."""
    for name, kinds, rule in RULES:
        if signal.kind in kinds and rule(signal):
            return name
    return None
