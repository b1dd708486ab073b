"""beacon.tracking.classify: one row per rule, with the user agents and networks seen in the wild."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from beacon.tracking.classify import (
    CLICK,
    OPEN,
    REQUEST_RULES,
    SWEEP_RULES,
    ClickFacts,
    Signal,
    classify,
    classify_click,
    client_class,
    image_proxy,
)

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
MICROSOFT_IP6 = "2a01:111:f400:7e1b::5"


class Row(NamedTuple):
    id: str
    signal: Signal
    expected: str | None


def open_(ua: str, ip: str = HOME_IP, *, method: str = "GET", purpose: str = "") -> Signal:
    return Signal(OPEN, method, ua, ip, purpose)


def click(ua: str, ip: str = HOME_IP, *, method: str = "GET", purpose: str = "") -> Signal:
    return Signal(CLICK, method, ua, ip, purpose)


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
    Row("Microsoft 365 IPv6", click(EDGE, ip=MICROSOFT_IP6), "scanner_network"),
    Row("Barracuda 209.222.82.x", click(CHROME, ip="209.222.82.250"), "scanner_network"),
    Row("Microsoft's other IPv6 space is people (Outlook.com proxies opens)", open_(EDGE, ip="2a01:111:e400::1"),
        None),
    # apple_mpp (opens only)
    Row("Apple MPP bare WebKit from 17.58", open_(APPLE_MAIL_BARE, ip=APPLE_MPP_IP), "apple_mpp"),
    Row("Apple MPP bare Mozilla/5.0 from 17.x", open_("Mozilla/5.0", ip="17.123.4.5"), "apple_mpp"),
    Row("Apple MPP with spaces around the IP", open_(APPLE_MAIL_BARE, ip=" 17.58.101.23 "), "apple_mpp"),
    Row("same bare UA from a home IP is Apple Mail", open_(APPLE_MAIL_BARE, ip=HOME_IP), None),
    Row("same bare UA from a home IPv6", open_(APPLE_MAIL_BARE, ip=HOME_IP6), None),
    Row("bare UA from Applebot's range", open_(APPLE_MAIL_BARE, ip=APPLEBOT_IP), None),
    Row("Safari from Apple's network is a person", open_(SAFARI, ip=APPLE_MPP_IP), None),
    Row("bare UA from 17.x clicking is a person", click(APPLE_MAIL_BARE, ip=APPLE_MPP_IP), None),
    Row("iOS Mail UA (Mobile token) from 17.x is not MPP", open_(IOS_MAIL, ip=APPLE_MPP_IP), None),
    # image proxies open on a person's behalf: not machine (flagged "proxied", see test_image_proxy)
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
    Row("hostile IP text", click(CHROME, ip="17.58.101.23/8\x00" + "9" * 5000), None),
]


@pytest.mark.parametrize("row", TABLE, ids=[r.id for r in TABLE])
def test_classify(row: Row) -> None:
    assert classify(row.signal) == row.expected


def test_every_request_rule_has_a_row() -> None:
    names = {name for name, _, _ in REQUEST_RULES}
    assert names == {r.expected for r in TABLE if r.expected is not None}


def test_every_rule_has_a_human_counterpart_for_each_kind() -> None:
    assert any(r.expected is None and r.signal.kind == OPEN for r in TABLE)
    assert any(r.expected is None and r.signal.kind == CLICK for r in TABLE)


@pytest.mark.parametrize("ua", [CHROME.upper(), "PYTHON-REQUESTS/2.31", "CuRl/8.0"])
def test_user_agent_matching_ignores_case(ua: str) -> None:
    expected = None if ua == CHROME.upper() else "scanner_user_agent"
    assert classify(click(ua)) == expected


# ------------------------------------------------------------------ stage 2: sweep rules

DELIVERED = 1_800_000_000


class SweepRow(NamedTuple):
    id: str
    facts: ClickFacts
    expected: str | None


SWEEP_TABLE = [
    # click_before_open_after_delivery: inside 60 s of the Delivery event and no human open before
    SweepRow("click 2 s after delivery, no open", ClickFacts(DELIVERED + 2, DELIVERED, None),
             "click_before_open_after_delivery"),
    SweepRow("click 59 s after delivery, no open", ClickFacts(DELIVERED + 59, DELIVERED, None),
             "click_before_open_after_delivery"),
    SweepRow("click before the Delivery event arrived", ClickFacts(DELIVERED - 3, DELIVERED, None),
             "click_before_open_after_delivery"),
    SweepRow("click 60 s after delivery", ClickFacts(DELIVERED + 60, DELIVERED, None), None),
    SweepRow("click an hour later", ClickFacts(DELIVERED + 3600, DELIVERED, None), None),
    SweepRow("opened, then clicked 10 s after delivery", ClickFacts(DELIVERED + 10, DELIVERED, DELIVERED + 5), None),
    SweepRow("opened only after the click", ClickFacts(DELIVERED + 10, DELIVERED, DELIVERED + 30),
             "click_before_open_after_delivery"),
    SweepRow("no delivery or send time known", ClickFacts(DELIVERED + 1, None, None), None),
    # honeypot_sweep: within 120 s of a honeypot hit, either side
    SweepRow("click 1 s before the honeypot", ClickFacts(DELIVERED + 7200, DELIVERED, None, [DELIVERED + 7201]),
             "honeypot_sweep"),
    SweepRow("click 120 s after the honeypot", ClickFacts(DELIVERED + 7320, DELIVERED, None, [DELIVERED + 7200]),
             "honeypot_sweep"),
    SweepRow("honeypot wins even after an open", ClickFacts(DELIVERED + 30, DELIVERED, DELIVERED + 1,
                                                            [DELIVERED + 31]), "honeypot_sweep"),
    SweepRow("click a day after the honeypot", ClickFacts(DELIVERED + 86400, DELIVERED, None, [DELIVERED + 7200]),
             None),
    SweepRow("one of several honeypot hits is near", ClickFacts(DELIVERED + 9000, DELIVERED, None,
                                                                [DELIVERED + 100, DELIVERED + 9050]),
             "honeypot_sweep"),
]


@pytest.mark.parametrize("row", SWEEP_TABLE, ids=[r.id for r in SWEEP_TABLE])
def test_sweep_rules(row: SweepRow) -> None:
    assert classify_click(row.facts) == row.expected


def test_every_sweep_rule_has_a_row() -> None:
    assert {name for name, _ in SWEEP_RULES} == {r.expected for r in SWEEP_TABLE if r.expected is not None}


# ------------------------------------------------------------------ what is stored instead of a user agent

CLASS_TABLE = [
    (open_(APPLE_MAIL_BARE, ip=APPLE_MPP_IP), "apple_mpp"),
    (open_(GMAIL_PROXY, ip=GOOGLE_PROXY_IP), "gmail_proxy"),
    (open_(YAHOO_PROXY, ip=YAHOO_IP), "yahoo_proxy"),
    (click("Mozilla/5.0 (compatible; Proofpoint URL Defense)"), "scanner:proofpoint"),
    (click("python-requests/2.31.0"), "scanner:python"),
    (click(CHROME, ip=MICROSOFT_IP), "scanner:microsoft365"),
    (click(CHROME, ip="209.222.82.250"), "scanner:barracuda"),
    (click(CHROME, method="HEAD"), "head_request"),
    (click(CHROME, purpose="prefetch"), "prefetch_header"),
    (open_(""), "no_user_agent"),
    (click(CHROME), "desktop_browser"),
    (click(SAFARI), "desktop_browser"),
    (click(FIREFOX), "desktop_browser"),
    (click(IPHONE_SAFARI), "mobile_browser"),
    (click(ANDROID_CHROME), "mobile_browser"),
    (open_(IOS_MAIL), "mobile_browser"),
    (open_(OUTLOOK_DESKTOP), "mail_client"),
    (open_(THUNDERBIRD), "mail_client"),
    (click("SomethingElse/1.0"), "other"),
]


@pytest.mark.parametrize(("signal", "expected"), CLASS_TABLE, ids=[c for _, c in CLASS_TABLE])
def test_client_class(signal: Signal, expected: str) -> None:
    cls = client_class(signal, classify(signal))
    assert cls == expected
    assert signal.user_agent.strip() == "" or signal.user_agent not in cls


def test_image_proxy_is_for_opens_only() -> None:
    assert image_proxy(open_(GMAIL_PROXY)) == "gmail_proxy"
    assert image_proxy(open_(YAHOO_PROXY)) == "yahoo_proxy"
    assert image_proxy(click(GMAIL_PROXY)) is None
    assert image_proxy(open_(CHROME)) is None
