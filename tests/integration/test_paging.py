"""Every list endpoint pages with limit/cursor like a list's contacts: each item exactly once across
the pages, the last page says so (next_cursor null), and a cursor that is not one this endpoint gave
this tenant (garbage, another tenant's, another endpoint's) is a 400 that reads nothing."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_api import PASSWORD, POSTAL_ADDRESS, Client, _load_handler, assert_error, campaign_body

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture(scope="module")
def api(aws: Any) -> Iterator[Client]:
    import beacon.wiring

    beacon.wiring.reset()
    aws.clean()
    yield Client(_load_handler().handler)
    beacon.wiring.reset()


def sign_up(api: Client) -> tuple[Client, str]:
    email = f"pages-{uuid.uuid4().hex[:10]}@example.com"
    status, body = api.post("/v1/accounts", {"company": "Pages", "email": email, "password": PASSWORD,
                                             "postal_address": POSTAL_ADDRESS})
    assert status == 201, body
    return api.as_(body["api_key"]), body["account"]["id"]


@pytest.fixture(scope="module")
def tenants(api: Client) -> Iterator[tuple[Client, Client]]:
    """Two tenants with 7 lists, 5 campaigns, 4 API keys, 3 domains, 3 segments, 3 forms, 3 automations and
    2 webhooks each."""
    import beacon.shared.aws
    import beacon.wiring
    from beacon_local.ses import stop_verifying_identities, verify_identities_at_once

    verify_identities_at_once(beacon.shared.aws.SESSION)  # as the local stack does
    beacon.wiring.reset()
    pair = []
    for _ in range(2):
        client, _account = sign_up(api)
        for i in range(7):
            assert client.post("/v1/lists", {"name": f"list {i}"})[0] == 201
        for i in range(3):  # the sign-up key is the fourth
            assert client.post("/v1/api-keys", {"name": f"key {i}"})[0] == 201
        for i in range(3):
            assert client.post("/v1/domains", {"domain": f"d{i}-{uuid.uuid4().hex[:8]}.example"})[0] == 201
        pair.append(client)
    for client in pair:
        list_id = client.get("/v1/lists")[1]["items"][0]["id"]
        domain = client.get("/v1/domains")[1]["items"][0]["domain"]
        for i in range(5):
            status, body = client.post("/v1/campaigns", campaign_body([list_id], name=f"c{i}",
                                                                      from_email=f"n@{domain}"))
            assert status == 201, body
        sender = f"n@{domain}"
        for i in range(3):
            made = [client.post("/v1/segments", {"name": f"s{i}", "rules": [
                        {"field": "attributes.city", "op": "eq", "value": f"c{i}"}]}),
                    client.post("/v1/forms", {"name": f"f{i}", "list_ids": [list_id], "from_email": sender,
                                              "consent_text": "Send me the news"}),
                    client.post("/v1/automations", {"name": f"a{i}", "trigger": {"type": "subscribed",
                                                                                 "list_id": list_id},
                                                    "steps": [{"after_seconds": 0, "subject": "Hi",
                                                               "from_email": sender, "html": "<p>Hi</p>"}]})]
            if i < 2:
                made.append(client.post("/v1/webhooks", {"url": f"https://hooks{i}.example.com/in",
                                                         "events": ["contact.subscribed"]}))
            assert all(status == 201 for status, _ in made), made
    yield pair[0], pair[1]
    stop_verifying_identities(beacon.shared.aws.SESSION)
    beacon.wiring.reset()


ENDPOINTS = [("/v1/lists", 7, "id"), ("/v1/campaigns", 5, "id"), ("/v1/api-keys", 4, "id"),
             ("/v1/domains", 3, "domain"), ("/v1/segments", 3, "id"), ("/v1/forms", 3, "id"),
             ("/v1/automations", 3, "id"), ("/v1/webhooks", 2, "id")]


def pages(client: Client, path: str, limit: int) -> list[dict[str, Any]]:
    status, body = client.get(path, query={"limit": str(limit)})
    assert status == 200, body
    found = [body]
    while body["next_cursor"]:
        status, body = client.get(path, query={"limit": str(limit), "cursor": body["next_cursor"]})
        assert status == 200, body
        found.append(body)
    return found


@pytest.mark.parametrize(("path", "total", "id_field"), ENDPOINTS)
def test_pages_give_every_item_once(tenants: tuple[Client, Client], path: str, total: int, id_field: str) -> None:
    a, _b = tenants
    everything = a.get(path)[1]
    assert everything["next_cursor"] is None and len(everything["items"]) == total
    for limit in (1, 2, 3, total):
        got = pages(a, path, limit)
        ids = [item[id_field] for page in got for item in page["items"]]
        assert ids == [i[id_field] for i in everything["items"]]  # same order, each once
        assert all(len(page["items"]) == limit for page in got[:-1]) and 1 <= len(got[-1]["items"]) <= limit
        assert len(got) == -(-total // limit)  # no empty last page


@pytest.mark.parametrize(("path", "names"), [("/v1/campaigns", ["c4", "c3", "c2", "c1", "c0"]),
                                             ("/v1/forms", ["f2", "f1", "f0"]),
                                             ("/v1/automations", ["a2", "a1", "a0"]),
                                             ("/v1/segments", ["s0", "s1", "s2"])])
def test_the_order_of_each_list(tenants: tuple[Client, Client], path: str, names: list[str]) -> None:
    assert [c["name"] for c in tenants[0].get(path)[1]["items"]] == names


def _cursor(pk: str, sk: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"pk": pk, "sk": sk}).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("path", "_total", "_id"), ENDPOINTS)
def test_a_cursor_from_elsewhere_is_a_400(tenants: tuple[Client, Client], path: str, _total: int, _id: str) -> None:
    a, b = tenants
    theirs = b.get(path, query={"limit": "1"})[1]["next_cursor"]
    other_kind = b.get("/v1/lists" if path != "/v1/lists" else "/v1/api-keys", query={"limit": "1"})[1]["next_cursor"]
    own_other_kind = a.get("/v1/lists" if path != "/v1/lists" else "/v1/api-keys", query={"limit": "1"})[1][
        "next_cursor"]
    for cursor in (theirs, other_kind, own_other_kind, "garbage", "%%%", _cursor("A#x", "LIST#y"),
                   base64.urlsafe_b64encode(b'["pk", "sk"]').decode(), _cursor("", ""), "e30"):
        err = assert_error(*a.get(path, query={"cursor": cursor}), 400, "invalid_cursor")
        assert "cursor" in err["message"]
    for limit in ("0", "-1", "1001" if path != "/v1/campaigns" else "101", "many"):
        assert a.get(path, query={"limit": limit})[0] == 422
