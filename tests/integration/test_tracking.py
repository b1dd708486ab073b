"""Promise 3 over moto: the pixel always answers with the GIF, a valid link always redirects,
counts are exact under concurrency, and a link scanner's GET unsubscribes nobody."""

from __future__ import annotations

import base64
import importlib.util
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from beacon import composition
from beacon.db.suppressions import SuppressionRepo
from beacon.ids import recipient_id
from tests.integration.pipeline_world import World, make_world

ROOT = Path(__file__).resolve().parents[2]
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)


def load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"fn_{name}_test", ROOT / f"functions/{name}/handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def event(token: str, method: str = "GET", body: str | None = None, ua: str = BROWSER,
          ip: str = "198.51.100.7") -> dict[str, Any]:
    return {"version": "2.0", "pathParameters": {"token": token}, "headers": {"user-agent": ua},
            "requestContext": {"http": {"method": method, "sourceIp": ip, "path": "/x"}},
            "body": body, "isBase64Encoded": False}


@pytest.fixture
def mailed(clean_aws: object) -> tuple[World, str, dict[str, dict[str, str]]]:
    world = make_world()
    people = [f"p{i}@example.com" for i in range(5)]
    campaign = world.campaign([world.new_list(people)])
    world.run_all()
    tokens: dict[str, dict[str, str]] = {}
    for sent in world.ses.sent:
        raw = sent.raw.decode()
        body = re.sub(r"=\r?\n", "", raw)  # undo quoted-printable soft breaks
        tokens[sent.to_address] = {
            "o": re.search(r"/o/([A-Za-z0-9_-]+)", body).group(1),  # type: ignore[union-attr]
            "c": re.search(r"/c/([A-Za-z0-9_-]+)", body).group(1),  # type: ignore[union-attr]
            "u": re.search(r"/u/([A-Za-z0-9_-]+)", body).group(1),  # type: ignore[union-attr]
        }
    return world, campaign, tokens


def test_pixel_counts_unique_and_total(mailed: tuple[World, str, dict[str, dict[str, str]]]) -> None:
    world, campaign, tokens = mailed
    pixel = load("track_open")
    first = next(iter(tokens.values()))["o"]
    for _ in range(3):
        answer = pixel(event(first), None)
        assert answer["statusCode"] == 200
        assert base64.b64decode(answer["body"]) == base64.b64decode(
            "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
        assert len(base64.b64decode(answer["body"])) == 43
        assert answer["headers"]["cache-control"].startswith("no-store")
    opens = world.stats(campaign)["opens"]
    assert (opens["total"], opens["unique"], opens["human_unique"], opens["machine"]) == (3, 1, 1, 0)


def test_machine_open_is_apart(mailed: tuple[World, str, dict[str, dict[str, str]]]) -> None:
    world, campaign, tokens = mailed
    pixel = load("track_open")
    token = next(iter(tokens.values()))["o"]
    pixel(event(token, ua="Mozilla/5.0", ip="17.58.100.1"), None)  # Apple MPP proxy
    pixel(event(token, method="HEAD"), None)
    opens = world.stats(campaign)["opens"]
    assert (opens["total"], opens["unique"], opens["human_unique"], opens["machine"]) == (2, 1, 0, 2)
    pixel(event(token), None)  # then the person really opens it
    assert world.stats(campaign)["opens"]["human_unique"] == 1


def test_pixel_with_bad_tokens_is_still_the_gif_and_records_nothing(
        mailed: tuple[World, str, dict[str, dict[str, str]]]) -> None:
    world, campaign, tokens = mailed
    pixel = load("track_open")
    token = next(iter(tokens.values()))["o"]
    for bad in ("", "x", token[:-1] + ("A" if token[-1] != "A" else "B"), token + "AA", "%00" * 50, "é" * 10,
                "A" * 10_000, next(iter(tokens.values()))["c"]):
        answer = pixel(event(bad), None)
        assert answer["statusCode"] == 200 and answer["headers"]["content-type"] == "image/gif"
    assert world.stats(campaign)["opens"]["total"] == 0


def test_storage_fault_still_gives_gif_and_redirect(mailed: tuple[World, str, dict[str, dict[str, str]]],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _world, _campaign, tokens = mailed
    engagement, _counters = composition.tracking_deps()

    def down(*_a: object, **_k: object) -> None:
        raise ConnectionError("DynamoDB is down")

    monkeypatch.setattr(engagement, "record_open", down)
    monkeypatch.setattr(engagement, "record_click", down)
    t = next(iter(tokens.values()))
    assert load("track_open")(event(t["o"]), None)["statusCode"] == 200
    answer = load("track_click")(event(t["c"]), None)
    assert answer["statusCode"] == 302
    assert answer["headers"]["location"] == "https://shop.example.com/a"


def test_click_redirects_to_the_campaign_link_only(mailed: tuple[World, str, dict[str, dict[str, str]]]) -> None:
    world, campaign, tokens = mailed
    click = load("track_click")
    t = next(iter(tokens.values()))["c"]
    answer = click(event(t), None)
    assert (answer["statusCode"], answer["headers"]["location"]) == (302, "https://shop.example.com/a")
    for bad in (t[:-2] + "xx", t[:20], "aHR0cHM6Ly9ldmlsLmV4YW1wbGU", "https%3A%2F%2Fevil.example", ""):
        tampered = click(event(bad), None)
        assert tampered["statusCode"] == 404
        assert "location" not in {k.lower() for k in tampered.get("headers", {})}
    clicks = world.stats(campaign)["clicks"]
    assert (clicks["total"], clicks["unique"]) == (1, 1)
    assert clicks["links"][0] == {"url": "https://shop.example.com/a", "total": 1, "unique": 1}


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


@pytest.mark.usefixtures("atomic_moto_updates")
def test_concurrent_opens_and_clicks_keep_unique_counts_exact(
        mailed: tuple[World, str, dict[str, dict[str, str]]]) -> None:
    world, campaign, tokens = mailed
    pixel, click = load("track_open"), load("track_click")
    jobs = [t for t in tokens.values() for _ in range(4)]  # 5 people x 4 = 20 requests of each kind
    with ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda t: pixel(event(t["o"]), None), jobs))
        list(pool.map(lambda t: click(event(t["c"]), None), jobs))
    stats = world.stats(campaign)
    assert (stats["opens"]["total"], stats["opens"]["unique"]) == (20, 5)
    assert (stats["clicks"]["total"], stats["clicks"]["unique"]) == (20, 5)
    assert stats["clicks"]["links"][0] == {"url": "https://shop.example.com/a", "total": 20, "unique": 5}


def test_scanner_get_unsubscribes_nobody_and_one_click_post_does(
        mailed: tuple[World, str, dict[str, dict[str, str]]]) -> None:
    world, campaign, tokens = mailed
    page = load("unsubscribe")
    email, t = next(iter(tokens.items()))
    rid = recipient_id(world.account_id, email)
    for method in ("GET", "HEAD"):
        answer = page(event(t["u"], method=method, ua="Mozilla/5.0 (compatible; Barracuda)"), None)
        assert answer["statusCode"] == 200 and "<form method=\"post\"" in answer["body"]
    assert SuppressionRepo().suppressed(world.account_id, [rid]) == set()
    assert page(event(t["u"], "POST", "List-Unsubscribe=One-Click"), None)["statusCode"] == 200
    assert page(event(t["u"], "POST", "List-Unsubscribe=One-Click"), None)["statusCode"] == 200  # idempotent
    assert SuppressionRepo().suppressed(world.account_id, [rid]) == {rid}
    assert world.stats(campaign)["unsubscribed"] == 1
    # the page now offers the undo, and the undo works with the same token
    undo = page(event(t["u"]), None)
    assert "resubscribe" in undo["body"]
    page(event(t["u"], "POST", "action=resubscribe"), None)
    assert SuppressionRepo().suppressed(world.account_id, [rid]) == set()


def test_unsubscribe_refuses_tampered_tokens_and_odd_bodies(
        mailed: tuple[World, str, dict[str, dict[str, str]]]) -> None:
    world, _campaign, tokens = mailed
    page = load("unsubscribe")
    t = next(iter(tokens.values()))
    assert page(event(t["u"][:-3] + "abc", "POST", "List-Unsubscribe=One-Click"), None)["statusCode"] == 404
    assert page(event(t["o"], "POST", "List-Unsubscribe=One-Click"), None)["statusCode"] == 404
    assert page(event(t["u"], "POST", "action=delete-everything"), None)["statusCode"] == 400
    assert page(event(t["u"], "POST", None), None)["statusCode"] == 400
    rids = [recipient_id(world.account_id, e) for e in tokens]
    assert SuppressionRepo().suppressed(world.account_id, rids) == set()
