"""Tracking without a database: the stats summary from raw ledger items, IP truncation, the hidden
honeypot link, the tracking switches, and the unsubscribe endpoint's body parser."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from typing import Any

import pytest

from beacon.db.engagement import LINK_SHIFT
from beacon.message.compose import CampaignContent, compose
from beacon.shared.privacy import truncate_ip
from beacon.shared.tokens import CLICK, HONEYPOT_LINK, TokenSigner
from beacon.tracking.engagement_stats import summarize
from beacon.web.request import multipart_fields as _multipart
from beacon.web.unsubscribe_page import _action

signer = TokenSigner(b"tracking-unit-test-secret")
DELIVERED = 1_800_000_000
DELIVERED_ISO = "2027-01-15T08:00:00.000Z"  # == DELIVERED


def n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def log(*clicks: tuple[int, int]) -> dict[str, Any]:
    return {"L": [n(at * LINK_SHIFT + link) for at, link in clicks]}


# ------------------------------------------------------------------ summarize


def test_delivered_iso_matches() -> None:
    from datetime import datetime

    assert int(datetime.fromisoformat(DELIVERED_ISO.replace("Z", "+00:00")).timestamp()) == DELIVERED


def test_summary_of_opens() -> None:
    items = [
        {"opens": n(3), "human_opens": n(3)},                                   # a person, three times
        {"opens": n(2), "machine_opens": n(2)},                                 # Apple MPP only
        {"opens": n(3), "machine_opens": n(2), "human_opens": n(1)},            # MPP, then the person
        {"opens": n(4), "proxied_opens": n(4)},                                 # Gmail proxy: counts once
        {"clicks": n(1), "link_0": n(1), "human_click_log": log((DELIVERED + 3600, 0))},  # clicked, no pixel
    ]
    opens, _ = summarize(items, 1)
    assert opens == {"total": 3 + 2 + 3 + 1, "unique": 4, "human_unique": 3, "machine": 4, "proxied": 1}


def test_summary_of_clicks_per_link_and_rules() -> None:
    late = DELIVERED + 3600
    items = [
        # a person: two clicks on link 0 and one on link 1, an hour after delivery
        {"clicks": n(3), "link_0": n(2), "link_1": n(1), "delivered_at": {"S": DELIVERED_ISO},
         "human_click_log": log((late, 0), (late + 5, 0), (late + 9, 1))},
        # a scanner with a browser UA, 3 s after delivery, before any open: machine by the window rule
        {"clicks": n(2), "link_0": n(1), "link_1": n(1), "delivered_at": {"S": DELIVERED_ISO},
         "human_click_log": log((DELIVERED + 3, 0), (DELIVERED + 3, 1))},
        # curl (request-machine) plus a honeypot-tainted sweep, then a real click a day later
        {"clicks": n(4), "link_0": n(3), "link_1": n(1), "machine_clicks": n(1),
         "delivered_at": {"S": DELIVERED_ISO}, "honeypot_hits": {"NS": [str(late)]},
         "human_click_log": log((late + 1, 0), (late + 1, 1), (late + 86400, 0))},
        # past the log's cap: human, link unknown
        {"clicks": n(1), "link_1": n(1), "human_clicks_unlogged": n(1)},
        # only the honeypot
        {"honeypot_hits": {"NS": [str(late)]}},
    ]
    _, clicks = summarize(items, 2)
    assert (clicks["total"], clicks["unique"], clicks["human_unique"], clicks["machine"], clicks["honeypot"]) == (
        10, 4, 3, 10 - 3 - 1 - 1, 2)
    assert clicks["links"] == [
        {"total": 6, "unique": 3, "human_unique": 2, "machine": 6 - 2 - 1},
        {"total": 4, "unique": 4, "human_unique": 1, "machine": 4 - 1},
    ]


def test_window_falls_back_to_the_send_time_and_ignores_bad_times() -> None:
    sent = {"S": DELIVERED_ISO}
    quick = {"clicks": n(1), "link_0": n(1), "sent_at": sent, "human_click_log": log((DELIVERED + 1, 0))}
    garbage = {"clicks": n(1), "link_0": n(1), "sent_at": {"S": "yesterday"}, "human_click_log": log((5, 0))}
    _, clicks = summarize([quick, garbage], 1)
    assert (clicks["human_unique"], clicks["machine"]) == (1, 1)


def test_empty_summary() -> None:
    opens, clicks = summarize([], 3)
    assert opens == {"total": 0, "unique": 0, "human_unique": 0, "machine": 0, "proxied": 0}
    assert clicks["links"] == [{"total": 0, "unique": 0, "human_unique": 0, "machine": 0}] * 3


# ------------------------------------------------------------------ privacy


@pytest.mark.parametrize(("ip", "network"), [
    ("203.0.113.77", "203.0.113.0/24"),
    (" 10.1.2.3 ", "10.1.2.0/24"),
    ("2001:db8:abcd:12:34:56:78:9a", "2001:db8:abcd::/48"),
    ("::ffff:198.51.100.7", "198.51.100.0/24"),
    ("fe80::1", "fe80::/48"),
    ("", ""), ("not-an-ip", ""), ("1.2.3.4/8", ""), ("999.1.1.1", ""), ("1.2.3.4\x00", ""), ("9" * 5000, ""),
])
def test_ip_addresses_are_kept_only_truncated(ip: str, network: str) -> None:
    assert truncate_ip(ip) == network


def content(**changes: Any) -> CampaignContent:
    base = {"account_id": "a1" * 16, "campaign_id": "c2" * 16, "company": "Acme", "name": "Nov",
            "subject": "Hi", "from_email": "news@acme.example", "from_name": "Acme", "reply_to": "",
            "html": '<html><body><a href="https://shop.example.com/a">A</a></body></html>',
            "text": "Shop: https://shop.example.com/a", "track_opens": True, "track_clicks": True,
            "base_url": "https://t.acme.example"}
    return CampaignContent(**{**base, **changes})


def parts(raw: bytes) -> tuple[str, str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return html, text


def test_honeypot_link_is_hidden_from_people_and_screen_readers() -> None:
    composed = compose(content(), signer, email="jane@example.com", recipient_id="e3" * 16, attributes={},
                       issued_at=DELIVERED)
    html, text = parts(composed.raw)
    anchors = re.findall(r"<a\b[^>]*>[^<]*</a>", html)
    hidden = [a for a in anchors if "aria-hidden" in a]
    assert len(hidden) == 1
    (tag,) = hidden
    assert 'aria-hidden="true"' in tag and 'tabindex="-1"' in tag and "display:none" in tag
    assert "mso-hide:all" in tag and tag.endswith("></a>")  # no text inside
    token = re.search(r"/c/([A-Za-z0-9_-]+)", tag).group(1)  # type: ignore[union-attr]
    data = signer.verify(token, CLICK)
    assert (data.link_index, data.url) == (HONEYPOT_LINK, "")
    assert token not in text and "/c/" not in text


def test_tracking_switches_leave_no_pixel_no_tracked_link_and_no_honeypot() -> None:
    composed = compose(content(track_opens=False, track_clicks=False), signer, email="jane@example.com",
                       recipient_id="e3" * 16, attributes={}, issued_at=DELIVERED)
    html, _ = parts(composed.raw)
    assert "/o/" not in html and "/c/" not in html and "aria-hidden" not in html
    assert 'href="https://shop.example.com/a"' in html
    opens_only = compose(content(track_clicks=False), signer, email="jane@example.com", recipient_id="e3" * 16,
                         attributes={}, issued_at=DELIVERED)
    html, _ = parts(opens_only.raw)
    assert "/o/" in html and "/c/" not in html
    clicks_only = compose(content(track_opens=False), signer, email="jane@example.com", recipient_id="e3" * 16,
                          attributes={}, issued_at=DELIVERED)
    html, _ = parts(clicks_only.raw)
    assert "/o/" not in html and "/c/" in html


# ------------------------------------------------------------------ the unsubscribe body (hostile input)


def post(body: str | None, content_type: str = "", b64: bool = False) -> dict[str, Any]:
    headers = {"content-type": content_type} if content_type else {}
    if b64 and body is not None:
        body = base64.b64encode(body.encode()).decode()
    return {"body": body, "headers": headers, "isBase64Encoded": b64}


MP = 'multipart/form-data; boundary="{b}"'


def multipart(boundary: str, *fields: tuple[str, str], newline: str = "\r\n") -> str:
    out = ""
    for name, value in fields:
        out += (f"--{boundary}{newline}Content-Disposition: form-data; name=\"{name}\"{newline}{newline}"
                f"{value}{newline}")
    return out + f"--{boundary}--{newline}"


@pytest.mark.parametrize(("event", "expected"), [
    (post("List-Unsubscribe=One-Click"), "one-click"),
    (post("List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"), "one-click"),
    (post("List-Unsubscribe=One-Click", "application/x-www-form-urlencoded; charset=utf-8", b64=True), "one-click"),
    (post("List-Unsubscribe=One%2DClick"), "one-click"),
    (post(multipart("XyZ", ("List-Unsubscribe", "One-Click")), MP.format(b="XyZ")), "one-click"),
    (post(multipart("abc", ("List-Unsubscribe", "One-Click")), "multipart/form-data; boundary=abc"), "one-click"),
    (post(multipart("abc", ("List-Unsubscribe", "One-Click"), newline="\n"), "multipart/form-data; boundary=abc"),
     "one-click"),
    (post(multipart("q", ("List-Unsubscribe", "One-Click")), MP.format(b="q"), b64=True), "one-click"),
    (post("action=unsubscribe"), "unsubscribe"),
    (post("action=resubscribe"), "resubscribe"),
    (post(multipart("q", ("action", "resubscribe")), MP.format(b="q")), "resubscribe"),
    # refused
    (post(None), None),
    (post(""), None),
    (post("List-Unsubscribe=one-click"), None),
    (post("List-Unsubscribe=One-Click&List-Unsubscribe=One-Click"), None),
    (post("action=delete"), None),
    (post("x=List-Unsubscribe=One-Click"), None),
    (post("&".join(f"f{i}=1" for i in range(50)) + "&List-Unsubscribe=One-Click"), None),
    (post("List-Unsubscribe=One-Click" + "&x=" + "y" * 140_000), None),
    (post("List-Unsubscribe=One-Click", b64=False) | {"isBase64Encoded": True}, None),
    (post(multipart("abc", ("List-Unsubscribe", "One-Click")), "multipart/form-data"), None),
    (post(multipart("abc", ("List-Unsubscribe", "One-Click")), "multipart/form-data; boundary=other"), None),
    (post(multipart("abc", ("List-Unsubscribe", "Two-Click")), "multipart/form-data; boundary=abc"), None),
    (post("--abc\r\nno headers here One-Click\r\n--abc--", "multipart/form-data; boundary=abc"), None),
    (post(multipart("abc", *[(f"f{i}", "1") for i in range(30)], ("List-Unsubscribe", "One-Click")),
          "multipart/form-data; boundary=abc"), None),
    ({"body": 12345, "headers": None}, None),
    ({"body": ["List-Unsubscribe=One-Click"], "headers": {}}, None),
])
def test_unsubscribe_body(event: dict[str, Any], expected: str | None) -> None:
    assert _action(event) == expected


def test_multipart_parser_is_bounded() -> None:
    body = multipart("b", *[(f"f{i}", "x") for i in range(10_000)])
    assert len(_multipart(body, "multipart/form-data; boundary=b")) == 20
    assert _multipart("--" + "b" * 100 + "\r\n", "multipart/form-data; boundary=" + "b" * 100) == {}


# ------------------------------------------------------------------ the public handlers stay light

_IMPORT_CHECK = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.handler({"pathParameters": {"token": "not-a-token"}, "headers": {}, "requestContext": {}}, None)
if "forms" in sys.argv[1]:  # the signup page's POST too (an unknown form: no AWS call)
    module.handler({"pathParameters": {"form_id": "not-a-form"}, "headers": {"content-type": "application/json"},
                    "requestContext": {"http": {"method": "POST"}}, "body": '{"email": "a@example.com"}'}, None)
heavy = ("jinja2", "pydantic", "pynamodb", "aws_lambda_powertools", "aws_xray_sdk", "boto3")
print("heavy:" + ",".join(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


@pytest.mark.parametrize("function", ["track_open", "track_click", "unsubscribe", "forms"])
def test_public_handlers_import_nothing_heavy(function: str) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    handler = Path(__file__).resolve().parents[2] / "functions" / function / "handler.py"
    env = {**os.environ, "BEACON_TOKEN_SECRET": "x" * 32, "AWS_REGION": "us-east-1"}
    for table in ("ACCOUNTS", "CONTACTS", "CAMPAIGNS", "MESSAGES", "SUPPRESSIONS", "STATS", "EVENTS"):
        env[f"{table}_TABLE"] = f"t-{table.lower()}"
    out = subprocess.run([sys.executable, "-c", _IMPORT_CHECK, str(handler)], env=env, capture_output=True,
                         text=True, check=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "heavy:"
