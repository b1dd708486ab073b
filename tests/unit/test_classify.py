"""beacon.classify: one row per rule, with the user agents and networks seen in the wild."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from beacon.classify import CLICK, OPEN, RULES, Signal, classify

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4.1 Safari/605.1.15")
EDGE = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51")
IPHONE_SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1")
IOS_MAIL = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Mobile/15E148")
ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Mobile Safari/537.36")
OUTLOOK_DESKTOP = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.10.1"
# Apple Mail Privacy Protection fetches with a bare WebKit UA (no Safari/Version token) from Apple's network
APPLE_MAIL_BARE = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/124.0.6367.60 Safari/537.36")

HOME_IP = "203.0.113.45"
HOME_IP6 = "2001:db8:85a3::8a2e:370:7334"
APPLE_MPP_IP = "17.58.101.23"
APPLEBOT_IP = "17.22.237.10"
GOOGLE_PROXY_IP = "66.249.84.23"
YAHOO_IP = "98.136.96.12"
MICROSOFT_IP = "40.92.18.5"


class Row(NamedTuple):
    id: str
    signal: Signal
    expected: str | None


def open_(ua: str, ip: str = HOME_IP, *, method: str = "GET", purpose: str = "",
          seconds_since_send: float | None = None) -> Signal:
    return Signal(OPEN, method, ua, ip, purpose, seconds_since_send)


def click(ua: str, ip: str = HOME_IP, seconds: float | None = 3600, *, method: str = "GET",
          purpose: str = "") -> Signal:
    return Signal(CLICK, method, ua, ip, purpose, seconds)


TABLE = [
    # head_request
    Row("HEAD open", open_(CHROME, method="HEAD"), "head_request"),
    Row("head click lower case", click(CHROME, method="head"), "head_request"),
    Row("HEAD wins over a scanner UA", click("curl/8.5.0", method="HEAD"), "head_request"),
    # no_user_agent
    Row("empty UA open", open_(""), "no_user_agent"),
    Row("blank UA click", click("   "), "no_user_agent"),
    # prefetch_header
    Row("Sec-Purpose prefetch", click(CHROME, purpose="prefetch"), "prefetch_header"),
    Row("Sec-Purpose prefetch;prerender", click(CHROME, purpose="prefetch;prerender"), "prefetch_header"),
    Row("X-Moz prefetch", open_(FIREFOX, purpose="Prefetch"), "prefetch_header"),
    Row("Purpose preview", open_(SAFARI, purpose="preview"), "prefetch_header"),
    # scanner_user_agent
    Row("python-requests", click("python-requests/2.31.0"), "scanner_user_agent"),
    Row("curl", click("curl/8.5.0"), "scanner_user_agent"),
    Row("wget", open_("Wget/1.21.4"), "scanner_user_agent"),
    Row("Go http client", click("Go-http-client/1.1"), "scanner_user_agent"),
    Row("okhttp", click("okhttp/4.12.0"), "scanner_user_agent"),
    Row("python-urllib", click("Python-urllib/3.11"), "scanner_user_agent"),
    Row("Barracuda", click("Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"), "scanner_user_agent"),
    Row("Proofpoint", click("Mozilla/5.0 (compatible; Proofpoint URL Defense)"), "scanner_user_agent"),
    Row("Mimecast", click("Mimecast-URL-Protect/1.0"), "scanner_user_agent"),
    Row("HeadlessChrome", click(HEADLESS), "scanner_user_agent"),
    Row("Googlebot", open_("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        "scanner_user_agent"),
    Row("Slack preview", click("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"), "scanner_user_agent"),
    Row("facebook", click("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"),
        "scanner_user_agent"),
    # scanner_network
    Row("Microsoft 40.92.x.x", click(CHROME, ip=MICROSOFT_IP), "scanner_network"),
    Row("Microsoft 40.107.x.x open", open_(EDGE, ip="40.107.22.93"), "scanner_network"),
    Row("Microsoft 104.47.x.x", click(CHROME, ip="104.47.58.110"), "scanner_network"),
    Row("Microsoft 52.100.x.x", click(FIREFOX, ip="52.101.4.1"), "scanner_network"),
    Row("Barracuda 209.222.82.x", click(CHROME, ip="209.222.82.250"), "scanner_network"),
    # apple_mpp (opens only)
    Row("Apple MPP bare WebKit from 17.58", open_(APPLE_MAIL_BARE, ip=APPLE_MPP_IP), "apple_mpp"),
    Row("Apple MPP bare Mozilla/5.0 from 17.x", open_("Mozilla/5.0", ip="17.123.4.5"), "apple_mpp"),
    Row("Apple MPP with spaces around the IP", open_(APPLE_MAIL_BARE, ip=" 17.58.101.23 "), "apple_mpp"),
    Row("same bare UA from a home IP is Apple Mail", open_(APPLE_MAIL_BARE, ip=HOME_IP), None),
    Row("same bare UA from a home IPv6", open_(APPLE_MAIL_BARE, ip=HOME_IP6), None),
    Row("bare UA from Applebot's range", open_(APPLE_MAIL_BARE, ip=APPLEBOT_IP), None),
    Row("Safari from Apple's network is a person", open_(SAFARI, ip=APPLE_MPP_IP), None),
    Row("bare UA from 17.x clicking is a person", click(APPLE_MAIL_BARE, ip=APPLE_MPP_IP), None),
    # within_seconds_of_send (clicks only)
    Row("click 2 s after send", click(CHROME, seconds=2), "within_seconds_of_send"),
    Row("click 0 s after send", click(SAFARI, seconds=0), "within_seconds_of_send"),
    Row("click 4.9 s after send", click(FIREFOX, seconds=4.9), "within_seconds_of_send"),
    Row("click 5 s after send", click(FIREFOX, seconds=5), None),
    Row("click 60 s after send", click(CHROME, seconds=60), None),
    Row("click with unknown send time", click(CHROME, seconds=None), None),
    Row("open 2 s after send", open_(CHROME, seconds_since_send=2), None),
    # image proxies open on a person's behalf: human
    Row("Gmail image proxy", open_(GMAIL_PROXY, ip=GOOGLE_PROXY_IP), None),
    Row("Yahoo mail proxy", open_(YAHOO_PROXY, ip=YAHOO_IP), None),
    # people
    Row("desktop Chrome open", open_(CHROME), None),
    Row("desktop Chrome click", click(CHROME), None),
    Row("desktop Firefox click", click(FIREFOX), None),
    Row("desktop Safari click", click(SAFARI), None),
    Row("Edge click", click(EDGE), None),
    Row("iPhone Safari click", click(IPHONE_SAFARI, ip=HOME_IP6), None),
    Row("iOS Mail open", open_(IOS_MAIL), None),
    Row("Android Chrome click", click(ANDROID_CHROME), None),
    Row("Outlook desktop open", open_(OUTLOOK_DESKTOP), None),
    Row("Thunderbird open", open_(THUNDERBIRD), None),
    Row("unparsable IP", click(CHROME, ip="not-an-ip"), None),
    Row("empty IP", open_(CHROME, ip=""), None),
]


@pytest.mark.parametrize("row", TABLE, ids=[r.id for r in TABLE])
def test_classify(row: Row) -> None:
    assert classify(row.signal) == row.expected


def test_every_rule_has_a_row() -> None:
    names = {name for name, _, _ in RULES}
    assert names == {r.expected for r in TABLE if r.expected is not None}


def test_every_rule_has_a_human_counterpart_for_each_kind() -> None:
    assert any(r.expected is None and r.signal.kind == OPEN for r in TABLE)
    assert any(r.expected is None and r.signal.kind == CLICK for r in TABLE)


@pytest.mark.parametrize("ua", [CHROME.upper(), "PYTHON-REQUESTS/2.31", "CuRl/8.0"])
def test_user_agent_matching_ignores_case(ua: str) -> None:
    expected = None if ua == CHROME.upper() else "scanner_user_agent"
    assert classify(click(ua)) == expected
