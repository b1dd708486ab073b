"""Lists, one person (detail, export, erasure) and suppressions through the account handler, in-process
with API Gateway v2 events over moto, with two tenants proving no cross-tenant read, write or delete.

The send ledger, engagement and events are written by the same code the pipeline uses (Ledger.claim /
settle / mark, Engagement.record_open / record_click, subscriptions.unsubscribe), so the export sees
what a real send leaves behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from beacon.db.keys import ledger_pk
from tests.integration.jobs_helper import run_job
from tests.integration.test_api import (
    PASSWORD,
    Client,
    Tenant,
    _load_handler,
    all_members,
    assert_error,
    import_csv,
    new_list,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture(scope="module", autouse=True)
def api(aws: Any) -> Iterator[Client]:
    import beacon.wiring

    beacon.wiring.reset()
    aws.clean()
    yield Client(_load_handler().handler)
    beacon.wiring.reset()


def _sign_up(api: Client, company: str) -> Tenant:
    email = f"{company.lower()}-{uuid.uuid4().hex[:10]}@example.com"
    status, body = api.post("/v1/accounts", {"company": company, "email": email, "password": PASSWORD})
    assert status == 201, body
    return Tenant(api.as_(body["api_key"]), body["account"], body["api_key"])


@pytest.fixture(scope="module")
def tenant_a(api: Client) -> Tenant:
    return _sign_up(api, "Alpha")


@pytest.fixture(scope="module")
def tenant_b(api: Client) -> Tenant:
    return _sign_up(api, "Bravo")


@pytest.fixture
def a(tenant_a: Tenant) -> Client:
    return tenant_a.client


@pytest.fixture
def b(tenant_b: Tenant) -> Client:
    return tenant_b.client


@pytest.fixture
def d() -> str:
    return f"{uuid.uuid4().hex[:12]}.example.com"


def count(client: Client, list_id: str) -> int:
    status, body = client.get(f"/v1/lists/{list_id}")
    assert status == 200, body
    return int(body["contact_count"])


def put(client: Client, list_id: str, *emails: str, **attrs: Any) -> dict[str, Any]:
    status, body = client.put(f"/v1/lists/{list_id}/contacts", [{"email": e, "attributes": attrs} for e in emails])
    assert status == 200, body
    return body


def path(email: str) -> str:
    return quote(email, safe="")


def send_to(account_id: str, email: str, *, opens: int = 0, clicks: int = 0, delivered: bool = True) -> str:
    """One campaign's ledger item for this person, as the send pipeline and tracking write it."""
    from beacon import wiring
    from beacon.db.send_ledger import Outcome
    from beacon.shared.clock import now_iso
    from beacon.shared.ids import new_id, recipient_id

    campaign_id = new_id()
    rid = recipient_id(account_id, email)
    ledger = wiring.ledger()
    claim = ledger.claim_many(account_id, campaign_id, [(rid, email)])[rid]
    assert claim.won
    assert ledger.settle(account_id, campaign_id, [Outcome(rid, email, "sent", claim.claim_id, "ses-1")],
                         now_iso()) == 1
    if delivered:
        assert ledger.mark(account_id, campaign_id, rid, "delivered_at", "delivered", now_iso())
    # opens and clicks as tracking keeps them on the ledger item (beacon/db/engagement.py)
    client, table = wiring.ledger()._client, wiring.settings().messages_table
    key = {"pk": {"S": ledger_pk(account_id, campaign_id, rid)}, "sk": {"S": rid}}
    if opens:
        client.update_item(TableName=table, Key=key,
                           UpdateExpression="ADD opens :n, human_opens :n SET last_open_at = :at",
                           ExpressionAttributeValues={":n": {"N": str(opens)}, ":at": {"S": now_iso()}})
    if clicks:
        client.update_item(TableName=table, Key=key,
                           UpdateExpression="ADD clicks :n, link_0 :n SET last_click_at = :at",
                           ExpressionAttributeValues={":n": {"N": str(clicks)}, ":at": {"S": now_iso()}})
    return campaign_id


def unsubscribe(account_id: str, campaign_id: str, email: str) -> None:
    from beacon import wiring
    from beacon.audience import subscriptions
    from beacon.shared.ids import recipient_id
    from beacon.shared.tokens import UNSUBSCRIBE, TokenData

    data = TokenData(UNSUBSCRIBE, account_id, campaign_id, recipient_id(account_id, email))
    assert subscriptions.unsubscribe(wiring.subscription_deps(), data, via="test") is True


def suppress(account_id: str, email: str, reason: str) -> None:
    from beacon.db.models import SuppressionItem
    from beacon.shared.clock import now_iso
    from beacon.shared.ids import recipient_id

    SuppressionItem(pk=account_id, sk=recipient_id(account_id, email), email=email, reason=reason,
                    created_at=now_iso()).save()


def status_of(client: Client, email: str) -> str:
    status, body = client.get(f"/v1/contacts/{path(email)}")
    assert status == 200, body
    return str(body["status"])


# ---------------------------------------------------------------------------- lists
def test_rename_a_list(a: Client, b: Client) -> None:
    lst = new_list(a, "Old name")
    status, body = a.patch(f"/v1/lists/{lst['id']}", {"name": "  New name "})
    assert status == 200, body
    assert body == {**lst, "name": "New name"}
    status, body = a.get(f"/v1/lists/{lst['id']}")
    assert body["name"] == "New name"
    for bad in ({"name": ""}, {"name": "   "}, {}, {"name": 5}, {"name": "x", "colour": "red"}):
        status, body = a.patch(f"/v1/lists/{lst['id']}", bad)
        assert_error(status, body, 422)
    assert a.get(f"/v1/lists/{lst['id']}")[1]["name"] == "New name"
    # another tenant renames nothing and learns nothing
    status, body = b.patch(f"/v1/lists/{lst['id']}", {"name": "Stolen"})
    assert_error(status, body, 404, "not_found")
    assert a.get(f"/v1/lists/{lst['id']}")[1]["name"] == "New name"
    status, body = a.patch(f"/v1/lists/{'0' * 32}", {"name": "Ghost"})
    assert_error(status, body, 404, "not_found")
    assert all(item["name"] != "Ghost" for item in a.get("/v1/lists")[1]["items"])


def test_delete_a_list_keeps_its_contacts_and_their_other_lists(a: Client, b: Client, d: str) -> None:
    doomed, kept = new_list(a, "Doomed"), new_list(a, "Kept")
    put(a, doomed["id"], f"both@{d}", f"only@{d}")
    put(a, kept["id"], f"both@{d}")
    assert (count(a, doomed["id"]), count(a, kept["id"])) == (2, 1)
    # B cannot delete it, by guessing the id
    status, body = b.delete(f"/v1/lists/{doomed['id']}")
    assert_error(status, body, 404, "not_found")
    assert count(a, doomed["id"]) == 2
    status, job = a.delete(f"/v1/lists/{doomed['id']}")
    assert status == 202 and (job["kind"], job["status"], job["target"]) == ("delete_list", "queued", doomed["id"])
    assert_error(*a.get(f"/v1/lists/{doomed['id']}"), 404, "not_found")  # gone at once
    assert_error(*b.get(f"/v1/jobs/{job['id']}"), 404, "not_found")  # another tenant's job
    run_job(job["id"])
    status, finished = a.get(f"/v1/jobs/{job['id']}")
    assert status == 200 and (finished["status"], finished["done"]) == ("done", 2), finished
    assert_error(*a.get(f"/v1/lists/{doomed['id']}/contacts"), 404, "not_found")
    assert_error(*a.delete(f"/v1/lists/{doomed['id']}"), 404, "not_found")
    assert doomed["id"] not in {i["id"] for i in a.get("/v1/lists")[1]["items"]}
    # the contacts stay; the list is gone from their list_ids
    status, both = a.get(f"/v1/contacts/{path(f'both@{d}')}")
    assert status == 200 and both["list_ids"] == [kept["id"]]
    assert [x["id"] for x in both["lists"]] == [kept["id"]]
    status, only = a.get(f"/v1/contacts/{path(f'only@{d}')}")
    assert status == 200 and only["list_ids"] == [] and only["lists"] == []
    assert count(a, kept["id"]) == 1
    # no membership of the deleted list is left behind
    from beacon.db.models import MembershipItem

    assert list(MembershipItem.query(f"{a_id(a)}#L#{doomed['id']}")) == []


def a_id(client: Client) -> str:
    status, body = client.get("/v1/account")
    assert status == 200, body
    return str(body["id"])


def test_contact_counts_follow_every_change(a: Client, d: str) -> None:
    lst = new_list(a)
    put(a, lst["id"], f"one@{d}", f"two@{d}")
    assert count(a, lst["id"]) == 2
    put(a, lst["id"], f"TWO@{d}", f"three@{d}")  # one update, one new
    assert count(a, lst["id"]) == 3
    assert import_csv(a, lst["id"], f"email\nthree@{d}\nfour@{d}\nfive@{d}\nfive@{d}\n").status == 200
    assert count(a, lst["id"]) == 5
    assert a.delete(f"/v1/contacts/{path(f'four@{d}')}")[0] == 204
    assert count(a, lst["id"]) == 4
    assert {m["email"] for m in all_members(a, lst["id"])} == {f"one@{d}", f"two@{d}", f"three@{d}", f"five@{d}"}


# ---------------------------------------------------------------------------- one contact
def test_contact_detail_with_lists_attributes_and_engagement(a: Client, tenant_a: Tenant, d: str) -> None:
    news, vip = new_list(a, "News"), new_list(a, "VIP")
    put(a, news["id"], f"ann+tag@{d}", first_name="Ann", city="Paris")
    put(a, vip["id"], f"ann+tag@{d}", plan="gold")
    account_id = tenant_a.account["id"]
    email = f"ann+tag@{d}"
    send_to(account_id, email, opens=3, clicks=2)
    send_to(account_id, email, opens=1)
    # the address in the path is percent-encoded, in any case
    status, body = a.get(f"/v1/contacts/{path(f'  Ann+Tag@{d.upper()}')}")
    assert status == 200, body
    assert body["email"] == email
    assert body["status"] == "subscribed"
    assert body["attributes"] == {"first_name": "Ann", "city": "Paris", "plan": "gold"}
    assert body["list_ids"] == sorted([news["id"], vip["id"]])
    assert sorted(x["name"] for x in body["lists"]) == ["News", "VIP"]
    engagement = body["engagement"]
    assert (engagement["sends"], engagement["opens"], engagement["clicks"]) == (2, 4, 2)
    assert isinstance(engagement["last_activity_at"], str) and engagement["last_activity_at"] >= body["created_at"]
    # a plain '@' in the path works too
    assert a.get(f"/v1/contacts/ann+tag@{d}")[0] == 200


def test_unknown_or_invalid_contact_is_404(a: Client, d: str) -> None:
    for raw in (path(f"nobody@{d}"), "not-an-email", path("x@localhost"), "%FF%FE", path("a/b@example.com")):
        for route in (f"/v1/contacts/{raw}", f"/v1/contacts/{raw}/export"):
            assert_error(*a.get(route), 404)
        assert_error(*a.delete(f"/v1/contacts/{raw}"), 404)


def test_contact_routes_need_a_key(api: Client, d: str) -> None:
    email = path(f"x@{d}")
    for method, route in (("GET", f"/v1/contacts/{email}"), ("GET", f"/v1/contacts/{email}/export"),
                          ("DELETE", f"/v1/contacts/{email}"), ("GET", "/v1/suppressions"),
                          ("DELETE", f"/v1/suppressions/{email}"), ("PATCH", f"/v1/lists/{'0' * 32}"),
                          ("DELETE", f"/v1/lists/{'0' * 32}")):
        answer = api.call(method, route, json_body={"name": "x"} if method == "PATCH" else None)
        assert_error(answer.status, answer.body, 401)
    answer = api.call("POST", "/v1/suppressions", json_body={"email": f"x@{d}", "reason": "manual"})
    assert_error(answer.status, answer.body, 401)


def test_export_holds_everything_stored_about_the_person(a: Client, tenant_a: Tenant, d: str) -> None:
    lst = new_list(a, "Customers")
    email = f"subject@{d}"
    put(a, lst["id"], email, first_name="Sue")
    account_id = tenant_a.account["id"]
    first = send_to(account_id, email, opens=2, clicks=1)
    second = send_to(account_id, email, delivered=False)
    unsubscribe(account_id, second, email)
    status, body = a.get(f"/v1/contacts/{path(email)}/export")
    assert status == 200, body
    assert body["email"] == email
    assert body["contact"]["attributes"] == {"first_name": "Sue"}
    assert body["contact"]["status"] == "unsubscribed"
    # issue 14: each list also says whether the person is on it yet and how they got there
    assert [{k: x[k] for k in ("id", "name", "status", "source")} for x in body["lists"]] == [
        {"id": lst["id"], "name": "Customers", "status": "subscribed", "source": "api"}]
    by_campaign = {m["campaign_id"]: m for m in body["messages"]}
    assert set(by_campaign) == {first, second}
    assert by_campaign[first]["status"] == "sent" and by_campaign[first]["sent_at"]
    assert (by_campaign[first]["opens"], by_campaign[first]["clicks"]) == (2, 1)
    assert by_campaign[first]["delivered"] is True and by_campaign[first]["unsubscribed"] is False
    assert by_campaign[first]["stored"]["human_opens"] == 2 and by_campaign[first]["stored"]["link_0"] == 1
    assert "email" not in by_campaign[first]["stored"] and "delivered_at" in by_campaign[first]["stored"]
    assert by_campaign[second]["delivered"] is False and by_campaign[second]["unsubscribed"] is True
    assert [e["kind"] for e in body["events"]] == ["unsubscribe"]
    assert body["events"][0]["campaign_id"] == second
    assert body["suppression"]["reason"] == "unsubscribe" and body["suppression"]["email"] == email
    assert body["engagement"]["sends"] == 2


def test_erasure_removes_the_person_but_keeps_the_unsubscribe_by_hash(a: Client, tenant_a: Tenant,
                                                                      d: str) -> None:
    from beacon import wiring
    from beacon.db.models import EventItem, MembershipItem, SuppressionItem
    from beacon.shared.ids import recipient_id

    news, other = new_list(a, "News"), new_list(a, "Other")
    email = f"leaver@{d}"
    put(a, news["id"], email, f"stays@{d}")
    put(a, other["id"], email)
    account_id = tenant_a.account["id"]
    rid = recipient_id(account_id, email)
    campaign = send_to(account_id, email, opens=1)
    unsubscribe(account_id, campaign, email)
    stats_before = wiring.counters().read(account_id, campaign)
    assert stats_before["sent"] == 1 and stats_before["unsubscribed"] == 1

    status, body = a.delete(f"/v1/contacts/{path(email.upper())}")
    assert (status, body) == (204, None)
    assert (count(a, news["id"]), count(a, other["id"])) == (1, 0)
    assert_error(*a.get(f"/v1/contacts/{path(email)}"), 404, "not_found")
    assert [m["email"] for m in all_members(a, news["id"])] == [f"stays@{d}"]
    assert list(MembershipItem.query(f"{account_id}#L#{other['id']}")) == []
    assert list(EventItem.query(f"{account_id}#{rid}")) == []
    # the suppression stays, without the address
    kept = SuppressionItem.get(account_id, rid)
    assert kept.reason == "unsubscribe" and kept.email is None
    status, page = a.get("/v1/suppressions")
    assert status == 200 and email not in str(page)
    # the ledger item stays (stats, exactly-once), without the address
    item = wiring.ledger().get(account_id, campaign, rid)
    assert item is not None and item["status"] == "sent" and "email" not in item
    assert wiring.counters().read(account_id, campaign) == stats_before
    # what is left is no longer about a known address: a second erasure is a 404
    assert_error(*a.delete(f"/v1/contacts/{path(email)}"), 404, "not_found")
    export = a.get(f"/v1/contacts/{path(email)}/export")
    assert export[0] == 200 and export[1]["contact"] is None and export[1]["events"] == []
    assert export[1]["suppression"]["email"] is None
    assert [m["campaign_id"] for m in export[1]["messages"]] == [campaign]
    assert email not in str(export[1])[str(export[1]).index("'contact'"):]
    # and a re-import cannot resubscribe the person: the hash still suppresses them
    put(a, news["id"], email)
    assert status_of(a, email) == "unsubscribed"


def test_two_tenants_never_see_each_others_people(a: Client, b: Client, tenant_a: Tenant, d: str) -> None:
    lst_a, lst_b = new_list(a, "A's"), new_list(b, "B's")
    shared, only_a = f"shared@{d}", f"only-a@{d}"
    put(a, lst_a["id"], shared, only_a, secret="from A")
    put(b, lst_b["id"], shared, secret="from B")
    send_to(tenant_a.account["id"], only_a, opens=1)
    # B asking for A's contact by email: 404, though the address exists for A
    for route in (f"/v1/contacts/{path(only_a)}", f"/v1/contacts/{path(only_a)}/export"):
        assert_error(*b.get(route), 404, "not_found")
    assert_error(*b.delete(f"/v1/contacts/{path(only_a)}"), 404, "not_found")
    assert_error(*b.delete(f"/v1/suppressions/{path(only_a)}"), 404)
    # the same address in both tenants is two people
    assert b.get(f"/v1/contacts/{path(shared)}")[1]["attributes"] == {"secret": "from B"}
    assert a.get(f"/v1/contacts/{path(shared)}")[1]["attributes"] == {"secret": "from A"}
    assert b.get(f"/v1/contacts/{path(shared)}/export")[1]["messages"] == []
    # B erasing its own copy leaves A's untouched
    assert b.delete(f"/v1/contacts/{path(shared)}")[0] == 204
    assert a.get(f"/v1/contacts/{path(shared)}")[1]["attributes"] == {"secret": "from A"}
    assert count(a, lst_a["id"]) == 2
    # B suppressing the address does not suppress it for A; B's list shows only B's
    assert b.post("/v1/suppressions", {"email": only_a, "reason": "manual"})[0] == 201
    assert status_of(a, only_a) == "subscribed"
    assert only_a not in str(a.get("/v1/suppressions")[1])
    assert a.get(f"/v1/contacts/{path(only_a)}/export")[1]["suppression"] is None
    # A's list ids mean nothing to B
    for method in ("GET", "PATCH", "DELETE"):
        answer = b.call(method, f"/v1/lists/{lst_a['id']}", json_body={"name": "x"} if method == "PATCH" else None)
        assert_error(answer.status, answer.body, 404, "not_found")
    assert count(a, lst_a["id"]) == 2


# ---------------------------------------------------------------------------- suppressions
def test_manual_suppression_add_list_and_lift(a: Client, d: str) -> None:
    lst = new_list(a)
    email = f"pause@{d}"
    put(a, lst["id"], email)
    status, body = a.post("/v1/suppressions", {"email": f" Pause@{d.upper()} ", "reason": "manual"})
    assert status == 201, body
    assert body["email"] == email and body["reason"] == "manual" and body["campaign_id"] is None
    assert status_of(a, email) == "suppressed"
    # adding again is no change
    status, again = a.post("/v1/suppressions", {"email": email})
    assert status == 200 and again == body
    # a suppressed address that is not (yet) a contact is suppressed at import
    status, body = a.post("/v1/suppressions", {"email": f"stranger@{d}", "reason": "manual"})
    assert status == 201
    put(a, lst["id"], f"stranger@{d}")
    assert status_of(a, f"stranger@{d}") == "suppressed"
    # lifting it makes the contact subscribed again
    status, body = a.delete(f"/v1/suppressions/{path(email)}")
    assert (status, body) == (204, None)
    assert status_of(a, email) == "subscribed"
    assert_error(*a.delete(f"/v1/suppressions/{path(email)}"), 404, "not_found")
    kinds = [e["kind"] for e in a.get(f"/v1/contacts/{path(email)}/export")[1]["events"]]
    assert kinds == ["suppressed", "suppression_removed"]


@pytest.mark.parametrize("payload", [
    {"email": "not-an-email", "reason": "manual"},
    {"email": "ünï@example.com", "reason": "manual"},
    {"email": "x@example.com", "reason": "unsubscribe"},
    {"email": "x@example.com", "reason": "complaint"},
    {"email": "x@example.com", "reason": "bounce"},
    {"email": 5, "reason": "manual"},
    {"reason": "manual"},
    {"email": "x@example.com", "reason": "manual", "extra": 1},
])
def test_bad_suppression_bodies_are_422_and_change_nothing(a: Client, payload: dict[str, Any]) -> None:
    before = a.get("/v1/suppressions", query={"limit": 1000})[1]["items"]
    assert_error(*a.post("/v1/suppressions", payload), 422)
    assert a.get("/v1/suppressions", query={"limit": 1000})[1]["items"] == before


@pytest.mark.parametrize(("reason", "status_before", "lift", "status_after"), [
    ("bounce", "bounced", 204, "subscribed"),
    ("unsubscribe", "unsubscribed", 409, "unsubscribed"),
    ("complaint", "complained", 409, "complained"),
])
def test_only_manual_and_bounce_can_be_lifted(a: Client, tenant_a: Tenant, d: str, reason: str,
                                              status_before: str, lift: int, status_after: str) -> None:
    email = f"{reason}@{d}"
    suppress(tenant_a.account["id"], email, reason)
    lst = new_list(a)
    put(a, lst["id"], email)
    assert status_of(a, email) == status_before
    # a manual suppression never replaces the person's own choice
    status, body = a.post("/v1/suppressions", {"email": email, "reason": "manual"})
    if reason == "bounce":
        assert status == 201 and body["reason"] == "manual"
    else:
        assert status == 200 and body["reason"] == reason
    status, body = a.delete(f"/v1/suppressions/{path(email)}")
    if lift == 409:
        err = assert_error(status, body, 409, "suppression_not_removable", reason)
        assert err["details"] == {"reason": reason}
    else:
        assert status == 204, body
    assert status_of(a, email) == status_after
    # an import after the lift (or the refusal) never resubscribes the person's choice
    assert import_csv(a, lst["id"], f"email\n{email}\n").status == 200
    assert status_of(a, email) == status_after


def test_suppressions_page_with_opaque_cursors(a: Client, b: Client, d: str) -> None:
    wanted = {f"s{i}@{d}" for i in range(7)}
    for email in wanted:
        assert a.post("/v1/suppressions", {"email": email, "reason": "manual"})[0] == 201
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query: dict[str, Any] = {"limit": 3}
        if cursor:
            query["cursor"] = cursor
        status, body = a.get("/v1/suppressions", query=query)
        assert status == 200, body
        assert len(body["items"]) <= 3
        for item in body["items"]:
            assert set(item) == {"email", "reason", "created_at", "campaign_id"}
        seen.extend(i["email"] for i in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        last_cursor = cursor
    assert len(seen) == len(set(seen)) and wanted <= set(seen) and pages >= 3
    # a tampered cursor, or another tenant's, is a 400
    for bad in ("not-a-cursor", last_cursor[:-2] + "xx", last_cursor + "A", "e30"):
        assert_error(*a.get("/v1/suppressions", query={"cursor": bad}), 400, "invalid_cursor")
    assert_error(*b.get("/v1/suppressions", query={"cursor": last_cursor}), 400, "invalid_cursor")
    for limit in (0, 1001, -1):
        assert_error(*a.get("/v1/suppressions", query={"limit": limit}), 422)


def test_list_members_cursor_of_another_list_is_400(a: Client, d: str) -> None:
    one, two = new_list(a, "One"), new_list(a, "Two")
    put(a, one["id"], *(f"m{i}@{d}" for i in range(3)))
    status, body = a.get(f"/v1/lists/{one['id']}/contacts", query={"limit": 1})
    assert status == 200 and body["next_cursor"]
    assert_error(*a.get(f"/v1/lists/{two['id']}/contacts", query={"cursor": body["next_cursor"]}), 400,
                 "invalid_cursor")
