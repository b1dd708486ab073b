"""Accounts and access through the account handler in-process (API Gateway v2 events over moto):
sessions, API keys, the profile and password change, password reset by email, sender domains and
erasing a tenant. Two tenants prove that nothing crosses between them.
"""

from __future__ import annotations

import email
import json
import uuid
from collections.abc import Iterator
from email import policy
from typing import Any

import pytest
from moto.ses.models import ses_backends

from beacon_local.resources import ACCOUNT_ID
from beacon_local.ses import stop_verifying_identities, verify_identities_at_once
from tests.integration.conftest import REGION
from tests.integration.jobs_helper import run_job
from tests.integration.test_api import PASSWORD, Client, _load_handler, assert_error

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

SENDER_DOMAIN = "sender.beacon.test"  # the platform's own sender (BEACON_SENDER_EMAIL) in these tests


@pytest.fixture(scope="module")
def api(aws: Any) -> Iterator[Client]:
    import os

    import beacon.accounts.password_reset
    import beacon.wiring

    before = os.environ.get("BEACON_SENDER_EMAIL")
    os.environ["BEACON_SENDER_EMAIL"] = f"no-reply@{SENDER_DOMAIN}"
    beacon.wiring.reset()
    aws.clean()
    beacon.wiring.identities()._client.create_email_identity(EmailIdentity=SENDER_DOMAIN)
    beacon.wiring.reset()
    floor = beacon.accounts.password_reset.RESPONSE_FLOOR_SECONDS
    beacon.accounts.password_reset.RESPONSE_FLOOR_SECONDS = 0.0  # tests must not sleep; the floor is a constant
    yield Client(_load_handler().handler)
    beacon.accounts.password_reset.RESPONSE_FLOOR_SECONDS = floor
    if before is None:
        os.environ.pop("BEACON_SENDER_EMAIL", None)
    else:
        os.environ["BEACON_SENDER_EMAIL"] = before
    beacon.wiring.reset()


@pytest.fixture
def instant_verification(api: Client) -> Iterator[None]:
    """What the local stack does: every new SES domain identity is verified at once."""
    import beacon.shared.aws
    import beacon.wiring

    verify_identities_at_once(beacon.shared.aws.SESSION)
    beacon.wiring.reset()
    yield
    stop_verifying_identities(beacon.shared.aws.SESSION)
    beacon.wiring.reset()


def unique_email(tag: str = "owner") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


class Owner:
    def __init__(self, api: Client, company: str) -> None:
        self.email = unique_email(company.lower())
        self.password = PASSWORD
        status, body = api.post("/v1/accounts", {"company": company, "email": self.email, "password": PASSWORD,
                                                 "postal_address": "1 Owner Street\nSpringfield 12345"})
        assert status == 201, body
        self.id: str = body["account"]["id"]
        self.key: str = body["api_key"]
        self.client = api.as_(self.key)


@pytest.fixture
def alice(api: Client) -> Owner:
    return Owner(api, "Alice")


@pytest.fixture
def bob(api: Client) -> Owner:
    return Owner(api, "Bob")


def sign_in(api: Client, who: str, password: str) -> tuple[int, Any]:
    return api.post("/v1/sessions", {"email": who, "password": password})


def sent_to(address: str) -> list[email.message.EmailMessage]:
    found = []
    for message in ses_backends[ACCOUNT_ID][REGION].sent_messages:
        raw = getattr(message, "raw_data", None)
        if raw is None:
            continue
        parsed = email.message_from_string(raw if isinstance(raw, str) else raw.decode(), policy=policy.default)
        if address in str(parsed["To"]):
            found.append(parsed)
    return found


def reset_token_from(message: Any) -> str:
    text = message.get_body(("plain",)).get_content()
    marker = "/v1/password-resets/"
    start = text.index(marker) + len(marker)
    return text[start:].split()[0].strip("'")


# ---------------------------------------------------------------------------- sessions
def test_session_token_works_like_an_api_key_until_it_expires(api: Client, alice: Owner) -> None:
    status, body = sign_in(api, alice.email.upper(), alice.password)
    assert status == 201, body
    assert set(body) == {"token", "expires_at"} and body["token"].startswith("bs_")
    assert body["expires_at"].endswith("Z")
    me = api.as_(body["token"])
    status, profile = me.get("/v1/account")
    assert status == 200 and profile["id"] == alice.id
    assert me.post("/v1/lists", {"name": "by session"})[0] == 201
    # expired (DynamoDB's TTL deletes lazily, so the expiry is checked on every read)
    from beacon.accounts.access import hash_key
    from beacon.db.models import SessionItem

    item = SessionItem.get(f"S#{hash_key(body['token'])}", "SESSION")
    item.update(actions=[SessionItem.expires_at.set(1)])
    assert_error(*me.get("/v1/account"), 401, "invalid_session")


def test_unknown_email_and_wrong_password_get_the_same_401(api: Client, alice: Owner) -> None:
    wrong = sign_in(api, alice.email, "not the password at all")
    unknown = sign_in(api, unique_email("nobody"), "not the password at all")
    e1 = assert_error(*wrong, 401, "invalid_credentials")
    e2 = assert_error(*unknown, 401, "invalid_credentials")
    assert e1 == e2


def test_repeated_failures_answer_429_with_retry_after_and_the_window_ends(api: Client, alice: Owner) -> None:
    for _ in range(5):
        assert_error(*sign_in(api, alice.email, "wrong password!!"), 401)
    for password in ("wrong password!!", alice.password):  # even the right one waits
        answer = api.call("POST", "/v1/sessions", json_body={"email": alice.email, "password": password})
        assert_error(answer.status, answer.body, 429, "too_many_attempts")
        assert 0 < int(answer.headers["retry-after"]) <= 15 * 60
    # the API key is not affected
    assert alice.client.get("/v1/account")[0] == 200
    # the window ends by itself (TTL); simulate its end
    from beacon.accounts.access import login_throttle_key
    from beacon.db.models import ThrottleItem

    ThrottleItem(pk=login_throttle_key(alice.email), sk="COUNT").update(actions=[ThrottleItem.expires_at.set(1)])
    status, body = sign_in(api, alice.email, alice.password)
    assert status == 201, body


@pytest.mark.parametrize("payload", [
    {}, {"email": "x@example.com"}, {"password": "x"}, {"email": 1, "password": "x"},
    {"email": "x@example.com", "password": None}, {"email": "x@example.com", "password": "x", "extra": 1},
    {"email": "x" * 300 + "@example.com", "password": "x"}, {"email": "a@example.com", "password": "p" * 5000},
    [], "string",
])
def test_session_body_validation(api: Client, payload: Any) -> None:
    status, body = api.post("/v1/sessions", payload)
    assert_error(status, body, 422)


def test_session_malformed_json_is_400(api: Client) -> None:
    answer = api.call("POST", "/v1/sessions", raw="{nope", content_type="application/json")
    assert_error(answer.status, answer.body, 400, "malformed_json")


@pytest.mark.parametrize("header", [
    "Bearer bs_", "Bearer bs_" + "A" * 43, "Bearer bs_" + "x" * 500, "Bearer bk_" + "A" * 43, "Bearer pr_abc",
    "Bearer bs_\u00e9\u00e9", "Basic dXNlcjpwYXNz", "Bearer", "bs_abc", "Bearer  ", "Bearer bs_a b",
])
def test_bad_tokens_of_every_shape_are_401(api: Client, header: str) -> None:
    answer = api.call("GET", "/v1/account", headers={"authorization": header})
    assert_error(answer.status, answer.body, 401)


# ---------------------------------------------------------------------------- API keys
def test_api_keys_create_list_and_revoke(api: Client, alice: Owner) -> None:
    status, created = alice.client.post("/v1/api-keys", {"name": " CI deploy "})
    assert status == 201, created
    assert set(created) == {"id", "name", "prefix", "created_at", "key"} and created["name"] == "CI deploy"
    new = api.as_(created["key"])
    assert new.get("/v1/account")[1]["id"] == alice.id
    status, listing = alice.client.get("/v1/api-keys")
    assert status == 200
    assert {k["id"] for k in listing["items"]} >= {created["id"]} and len(listing["items"]) == 2
    text = json.dumps(listing)
    assert created["key"] not in text and alice.key not in text and "key_hash" not in text
    assert all(set(k) == {"id", "name", "prefix", "created_at"} for k in listing["items"])
    status, _ = alice.client.delete(f"/v1/api-keys/{created['id']}")
    assert status == 204
    assert_error(*new.get("/v1/account"), 401)  # at once
    assert_error(*alice.client.delete(f"/v1/api-keys/{created['id']}"), 404, "not_found")
    # a key can revoke itself; the other keys keep working
    own_id = alice.client.get("/v1/api-keys")[1]["items"][0]["id"]
    spare = alice.client.post("/v1/api-keys", {"name": "spare"})[1]["key"]
    assert alice.client.delete(f"/v1/api-keys/{own_id}")[0] == 204
    assert_error(*alice.client.get("/v1/account"), 401)
    assert api.as_(spare).get("/v1/account")[0] == 200


def test_api_keys_of_another_tenant_are_404(api: Client, alice: Owner, bob: Owner) -> None:
    bob_key = bob.client.post("/v1/api-keys", {"name": "bob's"})[1]
    assert_error(*alice.client.delete(f"/v1/api-keys/{bob_key['id']}"), 404, "not_found")
    assert bob_key["id"] not in json.dumps(alice.client.get("/v1/api-keys")[1])
    assert api.as_(bob_key["key"]).get("/v1/account")[1]["id"] == bob.id


@pytest.mark.parametrize("path", ["/v1/api-keys/nope", "/v1/api-keys/" + "a" * 32, "/v1/api-keys/%00",
                                  "/v1/api-keys/" + "x" * 5000])
def test_unknown_key_ids_are_404(alice: Owner, path: str) -> None:
    assert_error(*alice.client.delete(path), 404)


@pytest.mark.parametrize("payload", [{}, {"name": ""}, {"name": "x" * 101}, {"name": 5}, {"name": "a\nb"},
                                     {"name": "ok", "scope": "all"}, {"name": "   "}])
def test_api_key_body_validation(alice: Owner, payload: Any) -> None:
    assert_error(*alice.client.post("/v1/api-keys", payload), 422)


def test_api_key_routes_need_authentication(api: Client) -> None:
    for method, path, body in (("GET", "/v1/api-keys", None), ("POST", "/v1/api-keys", {"name": "x"}),
                               ("DELETE", "/v1/api-keys/" + "a" * 32, None), ("GET", "/v1/domains", None),
                               ("POST", "/v1/domains", {"domain": "x.example.com"}),
                               ("GET", "/v1/domains/x.example.com", None), ("PATCH", "/v1/account", {"company": "x"}),
                               ("DELETE", "/v1/account", None)):
        answer = api.call(method, path, json_body=body)
        assert_error(answer.status, answer.body, 401)


# ---------------------------------------------------------------------------- profile and password
def test_patch_company_and_change_password(api: Client, alice: Owner) -> None:
    status, body = alice.client.patch("/v1/account", {"company": "  Alice & Co "})
    assert status == 200 and body["company"] == "Alice & Co"
    assert alice.client.get("/v1/account")[1]["company"] == "Alice & Co"
    session = sign_in(api, alice.email, alice.password)[1]["token"]
    other = sign_in(api, alice.email, alice.password)[1]["token"]
    # wrong current password: 422 wrong_password (not 401: the caller's credential is fine)
    err = assert_error(*api.as_(session).patch("/v1/account", {"current_password": "nope nope nope",
                                                                "new_password": "a new long password"}),
                       422, "wrong_password")
    assert err["details"][0]["field"] == "current_password"
    assert_error(*api.as_(session).patch("/v1/account", {"current_password": alice.password,
                                                          "new_password": "short"}), 422, "weak_password")
    assert_error(*api.as_(session).patch("/v1/account", {"new_password": "a new long password"}), 422,
                 mentions="current_password")
    status, _ = api.as_(session).patch("/v1/account", {"current_password": alice.password,
                                                        "new_password": "a new long password"})
    assert status == 200
    assert api.as_(session).get("/v1/account")[0] == 200  # the session that changed it stays
    assert_error(*api.as_(other).get("/v1/account"), 401)  # every other session is signed out
    assert alice.client.get("/v1/account")[0] == 200  # API keys are not sessions
    assert_error(*sign_in(api, alice.email, alice.password), 401)
    assert sign_in(api, alice.email, "a new long password")[0] == 201


@pytest.mark.parametrize("payload", [{"company": ""}, {"company": "a\r\nb"}, {"company": "x" * 201},
                                     {"company": 3}, {"email": "new@example.com"}, {"password": "x" * 20},
                                     {"company": "   "}])
def test_patch_account_validation_changes_nothing(alice: Owner, payload: Any) -> None:
    before = alice.client.get("/v1/account")[1]
    assert_error(*alice.client.patch("/v1/account", payload), 422)
    assert alice.client.get("/v1/account")[1] == before


# ---------------------------------------------------------------------------- password reset
def test_password_reset_round_trip(api: Client, alice: Owner) -> None:
    session = sign_in(api, alice.email, alice.password)[1]["token"]
    status, body = api.post("/v1/password-resets", {"email": alice.email.upper()})
    assert status == 202, body
    mails = sent_to(alice.email)
    assert len(mails) == 1
    mail = mails[0]
    assert mail["Subject"] == "Reset your Beacon password"
    assert SENDER_DOMAIN in str(mail["From"])
    assert mail["List-Unsubscribe"] is None  # transactional: no unsubscribe header
    assert PASSWORD not in mail.as_string()
    token = reset_token_from(mail)
    assert token.startswith("pr_")
    # a weak password is refused and the token stays usable
    assert_error(*api.post(f"/v1/password-resets/{token}", {"password": "short"}), 422, "weak_password")
    answer = api.call("POST", f"/v1/password-resets/{token}", json_body={"password": "brand new password"})
    assert answer.status == 204, answer.raw
    assert_error(*api.post(f"/v1/password-resets/{token}", {"password": "another password"}), 410, "reset_gone")
    assert_error(*api.as_(session).get("/v1/account"), 401)  # sessions revoked
    assert_error(*sign_in(api, alice.email, alice.password), 401)
    assert sign_in(api, alice.email, "brand new password")[0] == 201


def test_password_reset_answers_the_same_for_unknown_email(api: Client, alice: Owner) -> None:
    nobody = unique_email("nobody")
    known = api.call("POST", "/v1/password-resets", json_body={"email": alice.email})
    unknown = api.call("POST", "/v1/password-resets", json_body={"email": nobody})
    assert (known.status, known.body) == (unknown.status, unknown.body) == (202, known.body)
    assert sent_to(nobody) == []


def test_password_reset_emails_at_most_three_an_hour(api: Client, alice: Owner) -> None:
    for _ in range(5):
        assert api.post("/v1/password-resets", {"email": alice.email})[0] == 202
    assert len(sent_to(alice.email)) == 3


def test_expired_reset_token_is_410(api: Client, alice: Owner) -> None:
    from beacon.accounts.access import hash_key
    from beacon.db.models import ResetItem

    api.post("/v1/password-resets", {"email": alice.email})
    token = reset_token_from(sent_to(alice.email)[-1])
    ResetItem(pk=f"R#{hash_key(token)}", sk="RESET").update(actions=[ResetItem.expires_at.set(1)])
    assert_error(*api.post(f"/v1/password-resets/{token}", {"password": "brand new password"}), 410)
    assert sign_in(api, alice.email, alice.password)[0] == 201


@pytest.mark.parametrize("token", ["x", "pr_", "pr_" + "A" * 43, "bs_" + "A" * 43, "pr_" + "x" * 300, "%20",
                                   "pr_..%2F..%2Fetc"])
def test_bad_reset_tokens_are_410(api: Client, token: str) -> None:
    assert_error(*api.post(f"/v1/password-resets/{token}", {"password": "brand new password"}), 410)


@pytest.mark.parametrize("payload", [{}, {"email": 5}, {"email": "not an email"}, {"email": "a@b.c", "x": 1},
                                     {"email": "a" * 300}])
def test_password_reset_request_validation(api: Client, payload: Any) -> None:
    assert_error(*api.post("/v1/password-resets", payload), 422)


def test_password_reset_redeem_validation(api: Client) -> None:
    assert_error(*api.post("/v1/password-resets/pr_abc", {}), 422)
    assert_error(*api.post("/v1/password-resets/pr_abc", {"password": 12345678901}), 422)
    assert_error(*api.post("/v1/password-resets/pr_abc", {"password": "long enough!", "email": "x"}), 422)


# ---------------------------------------------------------------------------- sender domains
def test_domain_pending_until_verified_and_campaigns_need_it(api: Client, alice: Owner) -> None:
    domain = f"d{uuid.uuid4().hex[:8]}.example.org"
    status, body = alice.client.post("/v1/domains", {"domain": domain.upper() + "."})
    assert status == 201, body
    assert body["domain"] == domain and body["status"] == "pending"
    lst = alice.client.post("/v1/lists", {"name": "L"})[1]
    campaign = {"name": "N", "subject": "S", "from_email": f"news@{domain}", "list_ids": [lst["id"]],
                "html": "<p>Hi</p>", "text": "Hi"}
    err = assert_error(*alice.client.post("/v1/campaigns", campaign), 422, mentions="from_email")
    assert domain in err["message"]
    assert_error(*alice.client.post("/v1/campaigns", {**campaign, "from_email": "news@unregistered.example.org"}),
                 422, mentions="from_email")
    assert alice.client.post("/v1/domains", {"domain": domain})[0] == 200  # idempotent
    assert [d["domain"] for d in alice.client.get("/v1/domains")[1]["items"]] == [domain]


def test_verified_domain_with_dkim_records_allows_campaigns(api: Client, alice: Owner, bob: Owner,
                                                             instant_verification: None) -> None:
    domain = f"v{uuid.uuid4().hex[:8]}.example.org"
    status, body = alice.client.post("/v1/domains", {"domain": domain})
    assert status == 201 and body["status"] == "verified", body
    assert len(body["dkim_records"]) == 3
    for record in body["dkim_records"]:
        assert record["type"] == "CNAME"
        token = record["name"].split(".")[0]
        assert record["name"] == f"{token}._domainkey.{domain}"
        assert record["value"] == f"{token}.dkim.amazonses.com"
    status, got = alice.client.get(f"/v1/domains/{domain}")
    assert status == 200 and got["status"] == "verified"
    lst = alice.client.post("/v1/lists", {"name": "L"})[1]
    campaign = {"name": "N", "subject": "S", "list_ids": [lst["id"]], "html": "<p>Hi</p>", "text": "Hi"}
    assert alice.client.post("/v1/campaigns", {**campaign, "from_email": f"news@{domain}"})[0] == 201
    status, made = alice.client.post("/v1/campaigns", {**campaign, "from_email": f"news@mail.{domain}"})
    assert status == 201, made
    # a draft cannot be moved to a domain the tenant has not verified
    assert_error(*alice.client.patch(f"/v1/campaigns/{made['id']}", {"from_email": "news@elsewhere.example.org"}),
                 422, mentions="from_email")
    # another tenant: cannot claim it (409), cannot read it (404), cannot send from it (422)
    assert_error(*bob.client.post("/v1/domains", {"domain": domain}), 409, "domain_taken")
    assert_error(*bob.client.get(f"/v1/domains/{domain}"), 404, "not_found")
    assert_error(*bob.client.delete(f"/v1/domains/{domain}"), 404, "not_found")
    assert domain not in json.dumps(bob.client.get("/v1/domains")[1])
    bob_list = bob.client.post("/v1/lists", {"name": "L"})[1]
    assert_error(*bob.client.post("/v1/campaigns", {**campaign, "list_ids": [bob_list["id"]],
                                                    "from_email": f"news@{domain}"}), 422, mentions="from_email")
    # removing it frees the name
    assert alice.client.delete(f"/v1/domains/{domain}")[0] == 204
    assert_error(*alice.client.get(f"/v1/domains/{domain}"), 404)
    assert bob.client.post("/v1/domains", {"domain": domain})[0] == 201


@pytest.mark.parametrize("domain", ["", "localhost", "a..b.com", "-a.com", "a-.com", "1.2.3.4", "exa mple.com",
                                    "x" * 64 + ".com", "a.b/c", "a@b.com", "*.example.com", "é" * 300])
def test_invalid_domains_are_422(alice: Owner, domain: str) -> None:
    assert_error(*alice.client.post("/v1/domains", {"domain": domain}), 422, mentions="domain")


@pytest.mark.parametrize("payload", [{}, {"domain": 5}, {"domain": ["a.com"]}, {"domain": "a.com", "dkim": True}])
def test_domain_body_validation(alice: Owner, payload: Any) -> None:
    assert_error(*alice.client.post("/v1/domains", payload), 422)


def test_unicode_domain_is_stored_as_punycode(alice: Owner) -> None:
    status, body = alice.client.post("/v1/domains", {"domain": f"bücher-{uuid.uuid4().hex[:6]}.example"})
    assert status == 201, body
    assert body["domain"].startswith("xn--") and body["domain"].isascii()


# ---------------------------------------------------------------------------- erasure
def _items_of(aws: Any, account_id: str) -> dict[str, list[dict[str, Any]]]:
    import beacon.wiring

    client = beacon.wiring._raw_dynamodb()
    found: dict[str, list[dict[str, Any]]] = {}
    for table in aws.tables.values() if isinstance(aws.tables, dict) else aws.tables:
        for page in client.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                if account_id in json.dumps(item):
                    found.setdefault(table, []).append(item)
    return found


def test_delete_account_erases_everything_but_hashed_suppressions(api: Client, aws: Any, alice: Owner,
                                                                  bob: Owner, instant_verification: None) -> None:
    import beacon.wiring
    from beacon.db.audit_log import EventRepo
    from beacon.db.models import SuppressionItem
    from beacon.db.suppressions import SuppressionRepo
    from beacon.shared.clock import epoch, now_iso
    from beacon.shared.ids import recipient_id

    for owner in (alice, bob):
        c = owner.client
        domain = f"e{uuid.uuid4().hex[:8]}.example.org"
        assert c.post("/v1/domains", {"domain": domain})[0] == 201
        lst = c.post("/v1/lists", {"name": "L"})[1]
        people = [{"email": f"p{i}@example.com", "attributes": {"first_name": f"P{i}"}} for i in range(30)]
        assert c.put(f"/v1/lists/{lst['id']}/contacts", people)[0] == 200
        camp = c.post("/v1/campaigns", {"name": "N", "subject": "S", "from_email": f"news@{domain}",
                                        "list_ids": [lst["id"]], "html": "<p>Hi</p>", "text": "Hi"})[1]
        c.post("/v1/api-keys", {"name": "extra"})
        sign_in(api, owner.email, owner.password)
        api.post("/v1/password-resets", {"email": owner.email})
        rid = recipient_id(owner.id, "p0@example.com")
        beacon.wiring.ledger().claim_many(owner.id, camp["id"], [(rid, "p0@example.com")])
        beacon.wiring.counters().add(owner.id, camp["id"], {"sent": 1})
        EventRepo(30).put(owner.id, rid, "unsubscribe", now_iso(), epoch(), campaign_id=camp["id"])
        SuppressionRepo().add(SuppressionItem(pk=owner.id, sk=rid, email="p0@example.com", reason="unsubscribe",
                                              created_at=now_iso()))
        # automations (an enrolment, a step's ledger item) and webhooks (an endpoint, a delivery)
        step = {"after_seconds": 0, "subject": "Hi", "from_email": f"news@{domain}", "html": "<p>Hi</p>"}
        auto = c.post("/v1/automations", {"name": "W", "trigger": {"type": "subscribed", "list_id": lst["id"]},
                                          "steps": [step]})[1]
        assert c.post(f"/v1/automations/{auto['id']}/activate", {})[0] == 200
        step_id = beacon.wiring.automations().get(owner.id, auto["id"])["steps"][0]["id"]
        beacon.wiring.automations().enrol(owner.id, auto["id"], rid, 0, 0, now_iso())
        beacon.wiring.ledger().claim_many(owner.id, step_id, [(rid, "p0@example.com")])
        hook = c.post("/v1/webhooks", {"url": "https://hooks.example.com/in", "events": ["email.opened"]})[1]
        beacon.wiring.webhooks().add_delivery(owner.id, hook["id"], "e" * 32, "email.opened", "{}", 0.0, now_iso())
    bob_before = _items_of(aws, bob.id)
    assert len(_items_of(aws, alice.id)) >= 6  # every table holds something of alice's

    status, signed_in = sign_in(api, alice.email, alice.password)
    assert status == 201, signed_in
    status, job = alice.client.delete("/v1/account")
    assert status == 202 and (job["kind"], job["status"]) == ("erase_account", "queued"), job
    # read-only while it is being erased: reads answer, changes are refused (a second DELETE too)
    assert alice.client.get("/v1/account")[0] == 200
    assert_error(*alice.client.post("/v1/lists", {"name": "during"}), 409, "account_deleting")
    assert_error(*alice.client.post("/v1/api-keys", {"name": "during"}), 409, "account_deleting")
    assert_error(*sign_in(api, alice.email, alice.password), 409, "account_deleting")
    assert_error(*alice.client.delete("/v1/account"), 409, "account_deleting")
    assert api.as_(signed_in["token"]).delete("/v1/session")[0] == 204  # signing out still works
    assert alice.client.get(f"/v1/jobs/{job['id']}")[1]["status"] == "queued"
    assert_error(*bob.client.get(f"/v1/jobs/{job['id']}"), 404, "not_found")
    steps = run_job(job["id"], checks_per_step=40)  # a step's time runs out after some queries: several steps
    assert steps > 2
    left = _items_of(aws, alice.id)
    suppressions = beacon.wiring.bound().suppressions_table
    assert set(left) == {suppressions}, left
    assert all("email" not in item for item in left[suppressions])
    assert "p0@example.com" not in json.dumps(left)
    # the owner's email, keys and sessions are gone; the email can sign up again
    assert_error(*alice.client.get("/v1/account"), 401)
    assert_error(*sign_in(api, alice.email, alice.password), 401)
    assert api.post("/v1/accounts", {"company": "Again", "email": alice.email, "password": PASSWORD})[0] == 201
    # bob is untouched
    assert _items_of(aws, bob.id) == bob_before
    assert bob.client.get("/v1/account")[0] == 200


def test_delete_account_refuses_while_a_campaign_is_sending(api: Client, alice: Owner,
                                                            instant_verification: None) -> None:
    domain = f"s{uuid.uuid4().hex[:8]}.example.org"
    alice.client.post("/v1/domains", {"domain": domain})
    lst = alice.client.post("/v1/lists", {"name": "L"})[1]
    alice.client.put(f"/v1/lists/{lst['id']}/contacts", [{"email": "x@example.com"}])
    camp = alice.client.post("/v1/campaigns", {"name": "N", "subject": "S", "from_email": f"news@{domain}",
                                               "list_ids": [lst["id"]], "html": "<p>Hi</p>", "text": "Hi"})[1]
    assert alice.client.post(f"/v1/campaigns/{camp['id']}/send", {})[0] == 202
    err = assert_error(*alice.client.delete("/v1/account"), 409, "campaign_active")
    assert camp["id"] in json.dumps(err)
    assert alice.client.get("/v1/account")[0] == 200


# ---------------------------------------------------------------------------- OpenAPI
def test_openapi_lists_the_account_routes(api: Client) -> None:
    status, doc = api.get("/v1/openapi.json")
    assert status == 200
    paths = doc["paths"]
    expected = {
        "/v1/sessions": {"post"}, "/v1/api-keys": {"get", "post"}, "/v1/api-keys/{key_id}": {"delete"},
        "/v1/account": {"get", "patch", "delete"}, "/v1/password-resets": {"post"},
        "/v1/password-resets/{token}": {"post"}, "/v1/domains": {"get", "post"},
        "/v1/domains/{domain}": {"get", "delete"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, paths[path].keys())
    # no payment card field anywhere in the API: no request or answer schema has a property like one
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            names.update(str(k).lower() for k in (node.get("properties") or {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert {"email", "password", "domain"} <= names
    card_words = {"card", "pan", "cvv", "cvc", "cvv2", "iban", "expiry"}
    assert not [n for n in names if "card" in n or card_words & set(n.split("_"))], names
