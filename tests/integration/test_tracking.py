"""Promise 3 over moto: the pixel always answers with the GIF, a valid link always redirects, the
counts are exact under concurrency, human and machine apart, one write per open or click and no
read, nothing raw about a request is stored, and a link scanner's GET unsubscribes nobody."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from beacon import wiring
from beacon.db.audit_log import EventRepo
from beacon.db.suppressions import SuppressionRepo
from beacon.shared.config import get_settings
from beacon.shared.ids import recipient_id
from beacon.tracking import opens_and_clicks as tracking
from tests.integration.conftest import load_function
from tests.integration.pipeline_world import World, make_world

ROOT = Path(__file__).resolve().parents[2]
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
HOME_IP = "198.51.100.7"
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
Mailed = tuple[World, str, dict[str, dict[str, Any]]]


def load(name: str) -> Any:
    return load_function(f"functions/{name}", f"fn_{name}_test")


def event(token: str, method: str = "GET", body: str | None = None, ua: str = BROWSER, ip: str = HOME_IP,
          headers: dict[str, str] | None = None, b64: bool = False) -> dict[str, Any]:
    return {"version": "2.0", "pathParameters": {"token": token}, "headers": {"user-agent": ua, **(headers or {})},
            "requestContext": {"http": {"method": method, "sourceIp": ip, "path": "/x"}},
            "body": body, "isBase64Encoded": b64}


@pytest.fixture
def mailed(clean_aws: object) -> Mailed:
    world = make_world()
    people = [f"p{i}@example.com" for i in range(5)]
    campaign = world.campaign([world.new_list(people)])
    world.run_all()
    tokens: dict[str, dict[str, Any]] = {}
    for sent in world.ses.sent:
        message = email.message_from_bytes(sent.raw, policy=email.policy.default)
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        body = re.sub(r"=\r?\n", "", sent.raw.decode())  # undo quoted-printable soft breaks
        clicks = re.findall(r"/c/([A-Za-z0-9_-]+)", html)
        tokens[sent.to_address] = {
            "o": re.search(r"/o/([A-Za-z0-9_-]+)", body).group(1),  # type: ignore[union-attr]
            "c": clicks[0], "c_b": clicks[1], "honeypot": clicks[-1], "raw": body, "html": html, "text": text,
            "u": re.search(r"/u/([A-Za-z0-9_-]+)", body).group(1),  # type: ignore[union-attr]
        }
    return world, campaign, tokens


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests arrive an hour after the send (outside the scanners' window after delivery)."""
    monkeypatch.setattr(tracking, "epoch", lambda: int(time.time()) + 3600)


@contextmanager
def aws_calls() -> Iterator[Counter[str]]:
    """Count the DynamoDB operations the tracking client makes (botocore's before-call event)."""
    seen: Counter[str] = Counter()
    client = wiring.tracking_engagement()._client

    def hook(model: Any, **_: Any) -> None:
        seen[model.name] += 1

    client.meta.events.register("before-call.dynamodb", hook, unique_id="count-calls")
    try:
        yield seen
    finally:
        client.meta.events.unregister("before-call.dynamodb", unique_id="count-calls")


def test_pixel_counts_unique_and_total_with_one_write_per_open(mailed: Mailed) -> None:
    world, campaign, tokens = mailed
    pixel = load("track_open")
    first = next(iter(tokens.values()))["o"]
    for _ in range(3):
        with aws_calls() as calls:
            answer = pixel(event(first), None)
        assert dict(calls) == {"UpdateItem": 1}  # first and repeat opens alike, no read
        assert answer["statusCode"] == 200 and answer["isBase64Encoded"] is True
        assert base64.b64decode(answer["body"]) == GIF and len(GIF) == 43
        assert answer["headers"]["content-type"] == "image/gif"
        assert answer["headers"]["cache-control"].startswith("no-store")
    opens = world.stats(campaign)["opens"]
    assert opens == {"total": 3, "unique": 1, "human_unique": 1, "machine": 0, "proxied": 0}


def test_machine_opens_are_apart_and_a_later_human_open_upgrades(mailed: Mailed) -> None:
    world, campaign, tokens = mailed
    pixel = load("track_open")
    token = next(iter(tokens.values()))["o"]
    pixel(event(token, ua="Mozilla/5.0", ip="17.58.100.1"), None)  # Apple MPP proxy
    pixel(event(token, method="HEAD"), None)
    opens = world.stats(campaign)["opens"]
    assert (opens["total"], opens["unique"], opens["human_unique"], opens["machine"]) == (2, 1, 0, 2)
    pixel(event(token), None)  # then the person really opens it
    opens = world.stats(campaign)["opens"]
    assert (opens["total"], opens["unique"], opens["human_unique"], opens["machine"]) == (3, 1, 1, 2)


def test_image_proxy_opens_count_once_and_are_flagged(mailed: Mailed) -> None:
    world, campaign, tokens = mailed
    pixel = load("track_open")
    gmail = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    token = next(iter(tokens.values()))["o"]
    for _ in range(3):
        pixel(event(token, ua=gmail, ip="66.249.84.23"), None)
    assert world.stats(campaign)["opens"] == {"total": 1, "unique": 1, "human_unique": 1, "machine": 0,
                                              "proxied": 1}


def test_pixel_with_bad_tokens_is_still_the_gif_and_records_nothing(mailed: Mailed) -> None:
    world, campaign, tokens = mailed
    pixel = load("track_open")
    t = next(iter(tokens.values()))
    token = t["o"]
    for bad in ("", "x", token[:-1] + ("A" if token[-1] != "A" else "B"), token + "AA", "%00" * 50, "é" * 10,
                "A" * 10_000, t["c"], t["u"], "../../etc/passwd", token[:10] + "+" + token[11:], token + "=",
                " " + token):
        with aws_calls() as calls:
            answer = pixel(event(bad), None)
        assert answer["statusCode"] == 200 and answer["headers"]["content-type"] == "image/gif"
        assert base64.b64decode(answer["body"]) == GIF
        assert not calls
    event_without_anything: dict[str, Any] = {}
    assert pixel(event_without_anything, None)["statusCode"] == 200
    assert world.stats(campaign)["opens"]["total"] == 0


class _DownClient:
    """A DynamoDB client whose every call fails like a network outage."""

    def __init__(self, real: Any) -> None:
        self.exceptions = real.exceptions
        self.meta = real.meta

    def update_item(self, **_: Any) -> Any:
        from botocore.exceptions import EndpointConnectionError

        raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


def test_storage_fault_still_gives_gif_and_redirect(mailed: Mailed, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    _world, _campaign, tokens = mailed
    engagement = wiring.tracking_engagement()
    monkeypatch.setattr(engagement, "_client", _DownClient(engagement._client))
    t = next(iter(tokens.values()))
    answer = load("track_open")(event(t["o"]), None)
    assert answer["statusCode"] == 200 and base64.b64decode(answer["body"]) == GIF
    answer = load("track_click")(event(t["c"]), None)
    assert answer["statusCode"] == 302
    assert answer["headers"]["location"] == "https://shop.example.com/a"
    assert {"open not recorded", "click not recorded"} <= {r.getMessage() for r in caplog.records}
    out = capsys.readouterr().out
    metrics = [json.loads(line) for line in out.splitlines() if '"TrackingFaults"' in line and "_aws" in line]
    assert sorted(m["endpoint"] for m in metrics) == ["click", "open"]


@pytest.mark.usefixtures("later")
def test_click_redirects_to_the_campaign_link_only_with_one_write(mailed: Mailed) -> None:
    world, campaign, tokens = mailed
    click = load("track_click")
    t = next(iter(tokens.values()))
    with aws_calls() as calls:
        answer = click(event(t["c"]), None)
    assert dict(calls) == {"UpdateItem": 1}
    assert (answer["statusCode"], answer["headers"]["location"]) == (302, "https://shop.example.com/a")
    with aws_calls() as calls:
        assert click(event(t["c"]), None)["statusCode"] == 302  # repeat click: one write too
    assert dict(calls) == {"UpdateItem": 1}
    for bad in (t["c"][:-2] + "xx", t["c"][:20], "aHR0cHM6Ly9ldmlsLmV4YW1wbGU", "https%3A%2F%2Fevil.example", "",
                t["o"], t["u"], "A" * 5000):
        with aws_calls() as calls:
            tampered = click(event(bad), None)
        assert tampered["statusCode"] == 404 and not calls
        assert "location" not in {k.lower() for k in tampered.get("headers", {})}
    clicks = world.stats(campaign)["clicks"]
    assert (clicks["total"], clicks["unique"], clicks["human_unique"], clicks["machine"]) == (2, 1, 1, 0)
    assert clicks["links"] == [
        {"url": "https://shop.example.com/a", "total": 2, "unique": 1, "human_unique": 1, "machine": 0},
        {"url": "https://shop.example.com/b", "total": 0, "unique": 0, "human_unique": 0, "machine": 0},
    ]


def test_a_click_right_after_delivery_before_any_open_is_a_scanner(mailed: Mailed) -> None:
    world, campaign, tokens = mailed
    click, pixel = load("track_click"), load("track_open")
    scanned, opened_first = list(tokens.values())[:2]
    assert click(event(scanned["c"]), None)["statusCode"] == 302  # seconds after the send, no open
    pixel(event(opened_first["o"]), None)  # a person opens, then clicks at once: a person
    click(event(opened_first["c_b"]), None)
    clicks = world.stats(campaign)["clicks"]
    assert (clicks["total"], clicks["unique"], clicks["human_unique"], clicks["machine"]) == (2, 2, 1, 1)
    assert [(x["total"], x["human_unique"], x["machine"]) for x in clicks["links"]] == [(1, 0, 1), (1, 1, 0)]


def test_a_head_on_a_link_redirects_and_counts_as_a_machine_click(mailed: Mailed) -> None:
    """A link checker's HEAD (after the person opened, so no timing rule applies) gets the redirect and
    is a machine click: the head_request rule."""
    world, campaign, tokens = mailed
    click, pixel = load("track_click"), load("track_open")
    person = next(iter(tokens.values()))
    pixel(event(person["o"]), None)
    answer = click(event(person["c"], method="HEAD"), None)
    assert (answer["statusCode"], answer["headers"]["location"]) == (302, "https://shop.example.com/a")
    clicks = world.stats(campaign)["clicks"]
    assert (clicks["total"], clicks["unique"], clicks["human_unique"], clicks["machine"]) == (1, 1, 0, 1)


def test_honeypot_is_invisible_and_taints_the_sweep(mailed: Mailed, monkeypatch: pytest.MonkeyPatch) -> None:
    world, campaign, tokens = mailed
    click = load("track_click")
    swept, person = list(tokens.values())[:2]
    hidden = re.search(r"<a [^>]*/c/" + re.escape(swept["honeypot"]) + r"[^>]*>([^<]*)</a>", swept["html"])
    assert hidden and 'aria-hidden="true"' in hidden.group(0) and "display:none" in hidden.group(0)
    assert hidden.group(1) == ""  # no text a screen reader or a person could meet
    assert swept["honeypot"] not in swept["text"] and "/c/" not in swept["text"]
    now = int(time.time())
    clock = {"t": now + 3600}
    monkeypatch.setattr(tracking, "epoch", lambda: clock["t"])
    # a scanner with a browser's user agent follows every link an hour after delivery, honeypot included
    for token in (swept["c"], swept["c_b"], swept["honeypot"]):
        answer = click(event(token, ua=BROWSER, ip="203.0.113.9"), None)
    assert answer["statusCode"] == 200 and "location" not in answer["headers"]  # the honeypot goes nowhere
    click(event(person["c"]), None)  # another recipient's real click at the same time
    clicks = world.stats(campaign)["clicks"]
    assert (clicks["total"], clicks["unique"], clicks["human_unique"], clicks["machine"], clicks["honeypot"]) == (
        3, 2, 1, 2, 1)
    # the swept recipient really clicks a day later: that one is human
    clock["t"] = now + 86400
    click(event(swept["c"]), None)
    clicks = world.stats(campaign)["clicks"]
    assert (clicks["total"], clicks["human_unique"], clicks["machine"]) == (4, 2, 2)
    assert clicks["links"][0] == {"url": "https://shop.example.com/a", "total": 3, "unique": 2,
                                  "human_unique": 2, "machine": 1}


@pytest.fixture
def atomic_moto_updates(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies each UpdateItem atomically; moto's in-process backend does not (two threads
    can read the same old item). Give moto that one property, so what the test measures is that
    Beacon itself never reads-then-writes."""
    import threading

    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.update_item

    def update_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoHandler, "update_item", update_item)


@pytest.mark.usefixtures("atomic_moto_updates", "later")
def test_concurrent_opens_and_clicks_keep_unique_counts_exact(mailed: Mailed) -> None:
    world, campaign, tokens = mailed
    pixel, click = load("track_open"), load("track_click")
    jobs = [t for t in tokens.values() for _ in range(4)]  # 5 people x 4 = 20 requests of each kind
    mpp = [t for t in list(tokens.values())[:2] for _ in range(2)]  # and 4 Apple MPP fetches
    with ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda t: pixel(event(t["o"]), None), jobs))
        list(pool.map(lambda t: pixel(event(t["o"], ua="Mozilla/5.0", ip="17.58.1.2"), None), mpp))
        list(pool.map(lambda t: click(event(t["c"]), None), jobs))
    stats = world.stats(campaign)
    assert stats["opens"] == {"total": 24, "unique": 5, "human_unique": 5, "machine": 4, "proxied": 0}
    assert (stats["clicks"]["total"], stats["clicks"]["unique"], stats["clicks"]["human_unique"]) == (20, 5, 5)
    assert stats["clicks"]["links"][0] == {"url": "https://shop.example.com/a", "total": 20, "unique": 5,
                                           "human_unique": 5, "machine": 0}
    # the large-campaign read (16 Queries over the recipient-id prefixes at once) sees the same items
    engagement = wiring.engagement()
    one = list(engagement.items(world.account_id, campaign, 2))
    sixteen = list(engagement.items(world.account_id, campaign, 2, parallel=True))
    assert len(one) == 5 and sorted(one, key=lambda i: i["sk"]["S"]) == sorted(sixteen, key=lambda i: i["sk"]["S"])


def _scan_all() -> str:
    s = get_settings()
    client = wiring.engagement()._client
    dump = []
    for table in (s.messages_table, s.events_table, s.stats_table, s.contacts_table, s.suppressions_table,
                  s.campaigns_table, s.accounts_table):
        for page in client.get_paginator("scan").paginate(TableName=table):
            dump.append(json.dumps(page["Items"]))
    return "\n".join(dump)


@pytest.mark.usefixtures("later")
def test_nothing_raw_about_a_request_is_stored_and_events_expire(mailed: Mailed) -> None:
    world, _campaign, tokens = mailed
    pixel, click, page = load("track_open"), load("track_click"), load("unsubscribe")
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0 UniqueMarker/9.9"
    ip4, ip6 = "203.0.113.77", "2001:db8:abcd:12:34:56:78:9a"
    address, t = next(iter(tokens.items()))
    for ip in (ip4, ip6):
        pixel(event(t["o"], ua=ua, ip=ip), None)
        click(event(t["c"], ua=ua, ip=ip), None)
    click(event(t["honeypot"], ua="curl/8.5.0", ip=ip4), None)
    page(event(t["u"], "POST", "List-Unsubscribe=One-Click", ua=ua, ip=ip6), None)
    dump = _scan_all()
    for raw in (ua, "UniqueMarker", "Firefox/126", "curl/8.5.0", ip4, ip6, "2001:db8:abcd:12:34"):
        assert raw not in dump
    rid = recipient_id(world.account_id, address)
    (audit,) = EventRepo(400).for_person(world.account_id, rid)
    assert audit.detail["network"] == "2001:db8:abcd::/48" and audit.detail["client"] == "desktop_browser"
    settings = get_settings()
    assert abs(audit.expires_at - (time.time() + settings.event_retention_days * 86400)) < 120
    ttl = wiring.engagement()._client.describe_time_to_live(TableName=settings.events_table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
    item = wiring.ledger().get(world.account_id, _campaign, rid)
    assert item is not None and item["open_client"] == "desktop_browser" and item["click_client"] == "scanner:curl"


def test_no_email_address_in_any_url(mailed: Mailed) -> None:
    _world, _campaign, tokens = mailed
    for address, t in tokens.items():
        urls = re.findall(r"https?://[^\s\"'<>]+", t["raw"])
        assert len(urls) >= 4
        local = address.split("@")[0]
        forms = {address, address.replace("@", "%40"),
                 base64.urlsafe_b64encode(address.encode()).decode().rstrip("="),
                 base64.b64encode(address.encode()).decode().rstrip("="), address.encode().hex()}
        for url in urls:
            assert not any(f in url for f in forms), url
            assert f"/{local}" not in url and f"={local}" not in url


# ------------------------------------------------------------------ unsubscribe


def _suppressed(world: World, address: str) -> bool:
    rid = recipient_id(world.account_id, address)
    return SuppressionRepo().suppressed(world.account_id, [rid]) == {rid}


def _audit(world: World, address: str) -> list[tuple[str, str]]:
    events = EventRepo(400).for_person(world.account_id, recipient_id(world.account_id, address))
    found = sorted(events, key=lambda e: e.sk)
    assert all(e.detail["received_at"] <= e.detail["effective_at"] for e in found)
    return [(e.kind, e.detail.get("via", "")) for e in found]


def test_scanner_get_unsubscribes_nobody_and_one_click_post_does(mailed: Mailed) -> None:
    world, campaign, tokens = mailed
    page = load("unsubscribe")
    address, t = next(iter(tokens.items()))
    for method in ("GET", "HEAD"):
        answer = page(event(t["u"], method=method, ua="Mozilla/5.0 (compatible; Barracuda)"), None)
        assert answer["statusCode"] == 200 and "<form method=\"post\"" in answer["body"]
        assert "Acme" in answer["body"]  # the tenant's company name
    assert not _suppressed(world, address)
    # a POST is deliberate (RFC 8058): honoured whoever sends it, scanner user agent or not
    for _ in range(3):
        reply = page(event(t["u"], "POST", "List-Unsubscribe=One-Click", ua="Mozilla/5.0 (compatible; Barracuda)",
                           headers={"content-type": "application/x-www-form-urlencoded"}), None)
        assert reply["statusCode"] == 200
    assert _suppressed(world, address)
    assert world.stats(campaign)["unsubscribed"] == 1
    assert _audit(world, address) == [("unsubscribe", "one-click")]  # idempotent: one record
    # the page now offers the undo, and the undo works with the same token
    undo = page(event(t["u"]), None)
    assert "resubscribe" in undo["body"]
    assert "Welcome back" in page(event(t["u"], "POST", "action=resubscribe"), None)["body"]
    assert not _suppressed(world, address)
    # and unsubscribing again works, through the page's own form this time
    assert "You are unsubscribed" in page(event(t["u"], "POST", "action=unsubscribe"), None)["body"]
    assert _suppressed(world, address)
    assert [k for k, _ in _audit(world, address)] == ["unsubscribe", "resubscribe", "unsubscribe"]


def test_one_click_as_multipart_and_base64(mailed: Mailed) -> None:
    world, _campaign, tokens = mailed
    page = load("unsubscribe")
    (a, ta), (b, tb), (c, tc) = list(tokens.items())[:3]
    multipart = ("--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n"
                 "--XyZ--\r\n")
    reply = page(event(ta["u"], "POST", multipart, headers={"content-type": 'multipart/form-data; boundary="XyZ"'}),
                 None)
    assert reply["statusCode"] == 200 and _suppressed(world, a)
    encoded = base64.b64encode(multipart.replace("XyZ", "b0undary").encode()).decode()
    reply = page(event(tb["u"], "POST", encoded, headers={"content-type": "multipart/form-data; boundary=b0undary"},
                       b64=True), None)
    assert reply["statusCode"] == 200 and _suppressed(world, b)
    reply = page(event(tc["u"], "POST", base64.b64encode(b"List-Unsubscribe=One-Click").decode(), b64=True), None)
    assert reply["statusCode"] == 200 and _suppressed(world, c)


def test_unsubscribe_refuses_tampered_tokens_and_odd_bodies(mailed: Mailed) -> None:
    world, _campaign, tokens = mailed
    page = load("unsubscribe")
    t = next(iter(tokens.values()))
    assert page(event(t["u"][:-3] + "abc", "POST", "List-Unsubscribe=One-Click"), None)["statusCode"] == 404
    assert page(event(t["o"], "POST", "List-Unsubscribe=One-Click"), None)["statusCode"] == 404
    assert page(event(t["c"], "POST", "List-Unsubscribe=One-Click"), None)["statusCode"] == 404
    assert page(event("", "POST", "List-Unsubscribe=One-Click"), None)["statusCode"] == 404
    for body, headers, b64 in (
        ("action=delete-everything", {}, False),
        (None, {}, False),
        ("List-Unsubscribe=Two-Clicks", {}, False),
        ("List-Unsubscribe=One-Click&List-Unsubscribe=One-Click", {}, False),
        ("&".join(f"f{i}=x" for i in range(500)) + "&List-Unsubscribe=One-Click", {}, False),
        ("List-Unsubscribe=One-Click", {}, True),  # claims base64, is not
        ("x" * 200_000 + "&List-Unsubscribe=One-Click", {}, False),
        ("--a\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--a--",
         {"content-type": "multipart/form-data"}, False),  # no boundary
    ):
        answer = page(event(t["u"], "POST", body, headers=headers, b64=b64), None)
        assert answer["statusCode"] == 400, body and body[:60]
    rids = [recipient_id(world.account_id, e) for e in tokens]
    assert SuppressionRepo().suppressed(world.account_id, rids) == set()


def test_unsubscribe_stops_the_rest_of_a_sending_campaign_and_later_ones(clean_aws: object) -> None:
    world = make_world()
    people = [f"q{i}@example.com" for i in range(4)]
    list_id = world.new_list(people)
    first = world.campaign([list_id])
    world.run_all()
    sent_first = {s.to_address: s for s in world.ses.sent}
    raw = re.sub(r"=\r?\n", "", sent_first["q1@example.com"].raw.decode())
    token = re.search(r"/u/([A-Za-z0-9_-]+)", raw).group(1)  # type: ignore[union-attr]
    second = world.campaign([list_id])
    world.run_dispatch()  # the second campaign is sending: its batches wait in the queue
    assert load("unsubscribe")(event(token, "POST", "List-Unsubscribe=One-Click"), None)["statusCode"] == 200
    while bodies := world.send_messages():
        world.deliver(bodies)
    second_to = [s.to_address for s in world.ses.sent[len(sent_first):]]
    assert sorted(second_to) == ["q0@example.com", "q2@example.com", "q3@example.com"]
    assert world.stats(second)["skipped_suppressed"] == 1 and world.stats(first)["unsubscribed"] == 1


@pytest.mark.parametrize(("reason", "says"), [("complaint", "spam"), ("bounce", "could not be delivered"),
                                              ("manual", "stopped mailing")])
def test_a_suppression_that_is_not_an_unsubscribe_offers_no_undo(mailed: Mailed, reason: str, says: str) -> None:
    from beacon.db.models import SuppressionItem
    from beacon.shared.clock import now_iso

    world, campaign, tokens = mailed
    page = load("unsubscribe")
    address, t = next(iter(tokens.items()))
    rid = recipient_id(world.account_id, address)
    SuppressionRepo().add(SuppressionItem(pk=world.account_id, sk=rid, email=address, reason=reason,
                                          created_at=now_iso(), campaign_id=campaign))
    shown = page(event(t["u"]), None)
    assert shown["statusCode"] == 200 and says in shown["body"]
    assert "resubscribe" not in shown["body"]
    # a hand-made undo POST changes nothing and says why
    undo = page(event(t["u"], "POST", "action=resubscribe"), None)
    assert says in undo["body"]
    found = SuppressionRepo().get(world.account_id, rid)
    assert found is not None and found.reason == reason
