"""Signup forms end to end in-process over moto (issue 14): the /v1/forms API through the account
handler, the public pages through functions/forms/handler.py with API Gateway events, the signup
queue (moto SQS, from template.yaml) drained into the signup step with an in-memory SES.

Form created, page rendered, POST -> pending + one confirmation email, GET confirm changes
nothing, POST confirm -> subscribed; expired and tampered tokens; identical answers whatever the
address's state; rate limits; the honeypot; consent in the contact and the export; erasure.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from beacon import wiring
from beacon.audience import signup as signup_mod
from beacon.audience.signup import SignupDeps, process
from beacon.ports.ses import FakeSender
from beacon.shared.ids import recipient_id
from beacon_local.iam import invoking
from beacon_local.resources import Resources
from tests.integration import test_api
from tests.integration.conftest import load_function
from tests.integration.jobs_helper import run_job
from tests.integration.test_api import Client, assert_error, new_list

api = test_api.api  # the API tests' module-scoped handler (autouse) and a signed-up tenant
tenant_a, tenant_b, a, b = test_api.tenant_a, test_api.tenant_b, test_api.a, test_api.b

ROOT = Path(__file__).resolve().parents[2]
CONSENT = "I agree to get the Alpha newsletter.\nUnsubscribe at any time: every email has a link."
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class Public:
    """Calls functions/forms/handler.py the way API Gateway does (payload 2.0), from a network of
    each test's own (the tests share a tenant, and the per-network limit counts per tenant)."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], ip: str) -> None:
        self.handler = handler
        self.ip = ip

    def call(self, method: str, path: str, body: str | None = None, content_type: str | None = None,
             ip: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        kind, _, value = path.strip("/").partition("/")
        hdrs = {"user-agent": BROWSER, "host": "127.0.0.1:3000", "x-forwarded-proto": "http", **(headers or {})}
        if content_type:
            hdrs["content-type"] = content_type
        event: dict[str, Any] = {
            "version": "2.0", "rawPath": path, "headers": hdrs,
            "pathParameters": {"form_id" if kind == "forms" else "token": value},
            "requestContext": {"domainName": "127.0.0.1:3000", "http": {"method": method, "path": path,
                                                                          "sourceIp": ip or self.ip}},
            "isBase64Encoded": False,
        }
        if body is not None:
            event["body"] = body
        answer = self.handler(event, None)
        return Reply(answer["statusCode"], {k.lower(): v for k, v in answer.get("headers", {}).items()},
                     answer.get("body") or "")

    def submit(self, form_id: str, fields: dict[str, str], ip: str | None = None) -> Reply:
        return self.call("POST", f"/forms/{form_id}", urlencode(fields), "application/x-www-form-urlencoded", ip)

    def submit_json(self, form_id: str, fields: dict[str, Any], ip: str | None = None) -> Reply:
        return self.call("POST", f"/forms/{form_id}", json.dumps(fields), "application/json", ip)


@pytest.fixture(scope="module")
def forms_handler(api: Client) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The forms function's handler, its calls held to the function's IAM statements."""
    return load_function("functions/forms", "beacon_forms_handler_under_test")


_networks = iter(range(1, 250))


@pytest.fixture
def public(forms_handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Public:
    return Public(forms_handler, f"198.51.{next(_networks)}.7")


class Signups:
    """The signup queue (moto SQS) drained into the signup step, with SES in memory."""

    def __init__(self, aws: Resources) -> None:
        self.sqs = aws.client("sqs")
        self.url = wiring.settings().signup_queue_url
        self.ses = FakeSender()

    def messages(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            batch = answer.get("Messages", [])
            if not batch:
                return found
            for m in batch:
                found.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])

    def run(self, clock: Callable[[], float] = time.time) -> list[str]:
        """The signup function's step (SES in memory), its calls held to the function's IAM statements."""
        deps = SignupDeps(wiring.signup_store(), self.ses, wiring.signer(), wiring.sender_check(), clock=clock)
        messages = self.messages()
        with invoking("SignupFunction"):
            return [process(m, deps) for m in messages]

    def emails_to(self, address: str) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.raw, policy=email.policy.default)  # type: ignore[misc]
                for e in self.ses.sent if e.to_address == address]


@pytest.fixture
def signups(aws: Resources, api: Client) -> Iterator[Signups]:
    queue = Signups(aws)
    queue.messages()  # nothing left over from another test
    yield queue


def unique(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def new_form(client: Client, list_ids: list[str], **overrides: Any) -> dict[str, Any]:
    body = {"name": "Alpha newsletter", "list_ids": list_ids, "from_email": "hello@alpha.example.com",
            "fields": [{"name": "first_name", "label": "First name", "required": True},
                       {"name": "city", "label": "City"}],
            "consent_text": CONSENT, **overrides}
    status, answer = client.post("/v1/forms", body)
    assert status == 201, answer
    return dict(answer)


def contact(client: Client, address: str) -> dict[str, Any]:
    status, body = client.get(f"/v1/contacts/{quote(address)}")
    assert status == 200, body
    return dict(body)


def confirm_path(message: email.message.EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"https?://[^/\s]+(/confirm/[A-Za-z0-9_-]+)", text)
    assert found, text
    return found.group(1)


def signed_up(public: Public, signups: Signups, form: dict[str, Any], address: str,
              **fields: str) -> email.message.EmailMessage:
    """Submit the form for `address` and run the signup step: its one confirmation email."""
    reply = public.submit(form["id"], {"email": address, "first_name": "Ann", **fields})
    assert reply.status == 200, reply.body
    assert signups.run() == ["sent"]
    (message,) = signups.emails_to(address)
    return message


# ------------------------------------------------------------------------------- the forms API
def test_form_api_creates_reads_changes_and_deletes_a_form(a: Client, b: Client) -> None:
    lst = new_list(a, "Form list")
    form = new_form(a, [lst["id"]], success_url="https://alpha.example.com/thanks")
    assert form["double_opt_in"] is True and form["list_ids"] == [lst["id"]]
    assert form["url"] == f"http://127.0.0.1:3000/forms/{form['id']}"
    embed = form["embed_html"]
    assert f'action="{form["url"]}"' in embed and 'method="post"' in embed
    assert 'name="email"' in embed and 'name="homepage"' in embed and 'tabindex="-1"' in embed
    assert "I agree to get the Alpha newsletter." in embed and "<label" in embed
    assert a.get(f"/v1/forms/{form['id']}")[1]["name"] == "Alpha newsletter"
    assert form["id"] in [f["id"] for f in a.get("/v1/forms")[1]["items"]]
    assert_error(*b.get(f"/v1/forms/{form['id']}"), 404)  # another tenant's form is not there
    assert form["id"] not in [f["id"] for f in b.get("/v1/forms")[1]["items"]]
    assert_error(*b.patch(f"/v1/forms/{form['id']}", {"name": "Mine now"}), 404)
    status, changed = a.patch(f"/v1/forms/{form['id']}", {"name": "Renamed <b>", "success_url": None})
    assert status == 200 and changed["name"] == "Renamed <b>" and changed["success_url"] is None, changed
    assert "Renamed &lt;b&gt;" in changed["embed_html"] and "Renamed <b>" not in changed["embed_html"]
    assert_error(*b.delete(f"/v1/forms/{form['id']}"), 404)
    assert a.delete(f"/v1/forms/{form['id']}")[0] == 204
    assert_error(*a.get(f"/v1/forms/{form['id']}"), 404)


@pytest.mark.parametrize(("change", "field"), [
    ({"double_opt_in": False}, "double_opt_in"),
    ({"list_ids": ["0" * 32]}, "list_ids"),
    ({"list_ids": []}, "list_ids"),
    ({"from_email": "hello@not-ours.example.org"}, "from_email"),
    ({"from_email": "h\u00e9llo@alpha.example.com"}, "from_email"),
    ({"fields": [{"name": "email", "label": "Email again"}]}, "fields"),
    ({"fields": [{"name": "homepage"}]}, "fields"),
    ({"fields": [{"name": "x"}, {"name": "x"}]}, "fields"),
    ({"fields": [{"name": "1bad"}]}, "fields"),
    ({"fields": [{"name": "city", "label": "City\r\nBcc: x"}]}, "fields"),
    ({"consent_text": "   "}, "consent_text"),
    ({"consent_text": "ok\x07"}, "consent_text"),
    ({"name": "line\nbreak"}, "name"),
    ({"success_url": "javascript:alert(1)"}, "success_url"),
    ({"success_url": "https://x.example.com/a b"}, "success_url"),
    ({"success_url": "//evil.example.com"}, "success_url"),
    ({"unknown": 1}, "unknown"),
])
def test_form_api_refuses_bad_forms_and_creates_nothing(a: Client, change: dict[str, Any], field: str) -> None:
    lst = new_list(a, "Refused")
    before = len(a.get("/v1/forms")[1]["items"])
    body = {"name": "F", "list_ids": [lst["id"]], "from_email": "hello@alpha.example.com", "consent_text": "Yes.",
            **change}
    status, answer = a.post("/v1/forms", body)
    err = assert_error(status, answer, 422)
    assert field in json.dumps(err), err
    assert len(a.get("/v1/forms")[1]["items"]) == before


def test_a_form_and_a_send_need_the_postal_address(api: Client) -> None:
    tenant = test_api._sign_up(api, "Postless")
    status, body = api.post("/v1/accounts", {"company": "NoAddress", "email": unique("noaddr"),
                                             "password": test_api.PASSWORD})
    assert status == 201 and body["account"]["postal_address"] is None
    owner = api.as_(body["api_key"])
    domain = f"{uuid.uuid4().hex[:8]}.example.com"
    test_api._add_domain(test_api.Tenant(owner, body["account"], body["api_key"]), domain)
    lst = new_list(owner, "L")
    form_body = {"name": "F", "list_ids": [lst["id"]], "from_email": f"hi@{domain}", "consent_text": "Yes."}
    assert_error(*owner.post("/v1/forms", form_body), 409, "postal_address_required", "postal address")
    assert owner.put(f"/v1/lists/{lst['id']}/contacts", [{"email": unique("r")}])[0] == 200
    camp = test_api.new_campaign(owner, [lst["id"]], from_email=f"news@{domain}")
    assert_error(*owner.post(f"/v1/campaigns/{camp['id']}/send", {}), 409, "postal_address_required")
    assert_error(*owner.patch("/v1/account", {"postal_address": "short"}), 422, mentions="postal_address")
    assert_error(*owner.patch("/v1/account", {"postal_address": "1 Main St\x00\nTown 12345"}), 422)
    status, account = owner.patch("/v1/account", {"postal_address": " NoAddress Ltd \r\n\r\n 1 Main St\nTown 12345 "})
    assert status == 200 and account["postal_address"] == "NoAddress Ltd\n1 Main St\nTown 12345", account
    assert owner.post("/v1/forms", form_body)[0] == 201
    assert owner.post(f"/v1/campaigns/{camp['id']}/send", {})[0] == 202
    assert tenant.account["postal_address"] == test_api.POSTAL_ADDRESS


# ------------------------------------------------------------------------------- the whole loop
def test_signup_pending_one_email_get_confirm_changes_nothing_post_confirms(
        a: Client, public: Public, signups: Signups) -> None:
    lst = new_list(a, "Loop")
    form = new_form(a, [lst["id"]])
    page = public.call("GET", f"/forms/{form['id']}")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert ">Email</label>" in page.body and ">First name</label>" in page.body and "Subscribe</button>" in page.body
    assert "<p>I agree to get the Alpha newsletter.</p>" in page.body
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    address = unique("ann")
    message = signed_up(public, signups, form, address, city="Lyon")
    # pending: counted apart, not on the list yet
    person = contact(a, address)
    assert person["status"] == "pending" and person["list_ids"] == []
    assert [(x["id"], x["status"], x["source"]) for x in person["lists"]] == [(lst["id"], "pending", "form")]
    (record,) = person["consent"]["signups"]
    assert record["status"] == "pending" and record["consent_text"] == CONSENT and record["confirmed_at"] is None
    network = public.ip.rpartition(".")[0] + ".0/24"
    assert record["submitted_from"] == {"network": network, "client": "desktop_browser"}
    assert record["fields"] == {"first_name": "Ann", "city": "Lyon"} and public.ip not in json.dumps(person)
    counts = test_api.get_list(a, lst["id"])
    assert (counts["contact_count"], counts["pending_count"]) == (0, 1)
    # the email: from the form's sender, says who asked and how to ignore it, the postal address, no unsubscribe
    assert message["From"] == "Alpha <hello@alpha.example.com>" and message["To"] == address
    assert "List-Unsubscribe" not in message and message["Subject"] == "Confirm your subscription to Alpha"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Alpha newsletter" in text and "Not you" in text and "Ignore this email" in text
    assert "1 Test Street" in text and "Springfield 12345" in text
    body_html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Confirm my subscription" in body_html and "1 Test Street" in body_html
    path = confirm_path(message)
    # GET (a link scanner, or the person) shows a button and changes nothing
    for method in ("GET", "HEAD"):
        shown = public.call(method, path)
        assert shown.status == 200 and '<form method="post"><button type="submit">Confirm</button>' in shown.body
    assert contact(a, address)["status"] == "pending"
    # POST confirms, once
    done = public.call("POST", path)
    assert done.status == 200 and "You are subscribed" in done.body
    person = contact(a, address)
    assert person["status"] == "subscribed" and person["list_ids"] == [lst["id"]]
    assert person["attributes"] == {"first_name": "Ann", "city": "Lyon"}
    assert [(x["status"], x["source"]) for x in person["lists"]] == [("subscribed", "form")]
    (record,) = person["consent"]["signups"]
    assert record["status"] == "confirmed" and record["confirmed_at"] and record["consent_text"] == CONSENT
    assert record["confirmed_from"]["network"] == network
    counts = test_api.get_list(a, lst["id"])
    assert (counts["contact_count"], counts["pending_count"]) == (1, 0)
    again = public.call("POST", path)
    assert again.status == 200 and "You are subscribed" in again.body
    assert test_api.get_list(a, lst["id"])["contact_count"] == 1
    exported = a.get(f"/v1/contacts/{quote(address)}/export")[1]
    assert exported["consent"]["signups"][0]["consent_text"] == CONSENT
    assert [e["kind"] for e in exported["events"]] == ["signup_confirmed"]


def test_tampered_and_expired_links_show_a_clear_page_and_change_nothing(
        a: Client, public: Public, signups: Signups) -> None:
    lst = new_list(a, "Links")
    form = new_form(a, [lst["id"]])
    address = unique("late")
    path = confirm_path(signed_up(public, signups, form, address))
    token = path.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for method in ("GET", "POST"):
        assert public.call(method, f"/confirm/{tampered}").status == 404
        assert public.call(method, "/confirm/" + "x" * 5000).status == 404
    data = wiring.signer().verify(token, b"f")
    old = wiring.signer().confirm_token(data.account_id, data.campaign_id, data.recipient_id,
                                        int(time.time()) - 8 * 86400)
    for method in ("GET", "POST"):
        answer = public.call(method, f"/confirm/{old}")
        assert answer.status == 410 and "expired" in answer.body and "Nothing was changed" in answer.body
    unsub = wiring.signer().unsubscribe_token(data.account_id, data.campaign_id, data.recipient_id, int(time.time()))
    assert public.call("POST", f"/confirm/{unsub}").status == 404  # another kind of token
    assert contact(a, address)["status"] == "pending"
    assert test_api.get_list(a, lst["id"])["contact_count"] == 0


# ------------------------------------------------------------------------------- no enumeration
def test_the_answer_is_the_same_whatever_the_address_and_the_honeypot_stores_nothing(
        a: Client, public: Public, signups: Signups) -> None:
    lst = new_list(a, "Same answer")
    form = new_form(a, [lst["id"]])
    subscribed, unsubscribed, bounced, pending = (unique(t) for t in ("sub", "unsub", "bounce", "pend"))
    assert a.put(f"/v1/lists/{lst['id']}/contacts", [{"email": subscribed}, {"email": unsubscribed}])[0] == 200
    store = wiring.signup_store()
    account_id = a.get("/v1/account")[1]["id"]
    for address, reason in ((unsubscribed, "unsubscribe"), (bounced, "bounce")):
        store._c.put_item(TableName=wiring.settings().suppressions_table, Item={
            "pk": {"S": account_id}, "sk": {"S": recipient_id(account_id, address)}, "reason": {"S": reason},
            "created_at": {"S": "2030-01-01T00:00:00.000Z"}, "email": {"S": address}})
    public.submit(form["id"], {"email": pending, "first_name": "P"})
    signups.run()
    answers = {}
    for name, address in (("new", unique("new")), ("pending", pending), ("subscribed", subscribed),
                          ("unsubscribed", unsubscribed), ("bounced", bounced)):
        answers[name] = public.submit(form["id"], {"email": address, "first_name": "X"})
        answers[name + " (json)"] = public.submit_json(form["id"], {"email": address, "first_name": "X"})
    answers["honeypot"] = public.submit(form["id"], {"email": unique("bot"), "first_name": "B", "homepage": "x"})
    answers["honeypot (json)"] = public.submit_json(form["id"], {"email": unique("bot"), "first_name": "B",
                                                                 "homepage": "http://spam.example"})
    html_answers = {k: v for k, v in answers.items() if "json" not in k}
    json_answers = {k: v for k, v in answers.items() if "json" in k}
    for group in (html_answers, json_answers):
        first = next(iter(group.values()))
        for name, reply in group.items():
            assert (reply.status, reply.headers, reply.body) == (first.status, first.headers, first.body), name
    assert answers["new"].status == 200 and "check your inbox" in answers["new"].body.lower()
    assert answers["new (json)"].json()["status"] == "check_your_inbox"
    assert answers["new"].headers["access-control-allow-origin"] == "*"
    outcomes = signups.run()  # the honeypot put nothing on the queue: 10 signups, not 12
    assert len(outcomes) == 10
    assert sorted(outcomes) == sorted(["sent"] * 2 + ["sent"] * 2 + ["already_subscribed"] * 2 + ["sent"] * 2
                                      + ["suppressed"] * 2)
    assert signups.emails_to(bounced) == []  # a hard bounce is never mailed
    assert len(signups.emails_to(unsubscribed)) == 2  # a person who unsubscribed may come back
    assert not [e for e in signups.ses.sent if e.to_address.startswith("bot-")]


def test_a_person_who_unsubscribed_comes_back_by_confirming_a_bounce_stays(
        a: Client, public: Public, signups: Signups) -> None:
    lst = new_list(a, "Back")
    form = new_form(a, [lst["id"]])
    address = unique("back")
    assert a.put(f"/v1/lists/{lst['id']}/contacts", [{"email": address}])[0] == 200
    account_id = a.get("/v1/account")[1]["id"]
    from beacon.audience import subscriptions
    from beacon.shared.tokens import TokenData

    rid = recipient_id(account_id, address)
    subscriptions.unsubscribe(wiring.subscription_deps(), TokenData(b"u", account_id, "0" * 32, rid), via="page")
    assert contact(a, address)["status"] == "unsubscribed"
    path = confirm_path(signed_up(public, signups, form, address))
    assert contact(a, address)["status"] == "unsubscribed"  # until the person confirms
    assert public.call("POST", path).status == 200
    person = contact(a, address)
    assert person["status"] == "subscribed"
    assert a.get(f"/v1/suppressions/{quote(address)}")[0] in (404, 405) or not any(
        s["email"] == address for s in a.get("/v1/suppressions")[1]["items"])
    kinds = [e["kind"] for e in a.get(f"/v1/contacts/{quote(address)}/export")[1]["events"]]
    assert "resubscribe" in kinds and "signup_confirmed" in kinds
    # a bounce that arrives before the confirmation: the link subscribes nobody
    other = unique("bounced")
    path = confirm_path(signed_up(public, signups, form, other))
    wiring.signup_store()._c.put_item(TableName=wiring.settings().suppressions_table, Item={
        "pk": {"S": account_id}, "sk": {"S": recipient_id(account_id, other)}, "reason": {"S": "bounce"},
        "created_at": {"S": "2030-01-01T00:00:00.000Z"}})
    assert public.call("GET", path).status == 409
    answer = public.call("POST", path)
    assert answer.status == 409 and "cannot send emails to this address" in answer.body
    assert contact(a, other)["status"] == "pending"


# ------------------------------------------------------------------------------- rate limits
def test_at_most_three_confirmation_emails_per_address_a_day(a: Client, public: Public, signups: Signups) -> None:
    lst = new_list(a, "Bomb")
    form = new_form(a, [lst["id"]])
    victim = unique("victim")
    for _ in range(5):
        assert public.submit(form["id"], {"email": victim, "first_name": "V"}).status == 200
    assert signups.run() == ["sent"] * 3 + ["limited"] * 2
    assert len(signups.emails_to(victim)) == 3
    again = public.submit(form["id"], {"email": victim, "first_name": "V"})
    assert again.status == 200, again.body
    assert signups.run(clock=lambda: time.time() + 86400 + 60) == ["sent"]  # a day later, one more


def test_one_network_gets_a_limited_number_of_signups_an_hour(a: Client, public: Public, signups: Signups) -> None:
    lst = new_list(a, "Network")
    form = new_form(a, [lst["id"]])
    for i in range(signup_mod.NETWORK_LIMIT):
        assert public.submit(form["id"], {"email": unique(f"n{i}"), "first_name": "N"}, ip=f"203.0.113.{i}"
                             ).status == 200
    refused = public.submit(form["id"], {"email": unique("over"), "first_name": "N"}, ip="203.0.113.250")
    assert refused.status == 429 and refused.headers["retry-after"] == "3600" and "network" in refused.body
    refused_json = public.submit_json(form["id"], {"email": unique("over"), "first_name": "N"}, ip="203.0.113.9")
    assert refused_json.status == 429 and refused_json.json()["error"]["code"] == "too_many_signups"
    ipv6 = [public.submit(form["id"], {"email": unique("v6"), "first_name": "N"}, ip=f"2001:db8:1:{i}::1")
            for i in range(signup_mod.NETWORK_LIMIT + 1)]
    assert [r.status for r in ipv6] == [200] * signup_mod.NETWORK_LIMIT + [429]  # one /48
    assert public.submit(form["id"], {"email": unique("other"), "first_name": "N"}, ip="192.0.2.1").status == 200
    assert len(signups.messages()) == 2 * signup_mod.NETWORK_LIMIT + 1


# ------------------------------------------------------------------------------- hostile input
@pytest.mark.parametrize(("fields", "status", "says"), [
    ({"first_name": "A"}, 422, "email: is required"),
    ({"email": "", "first_name": "A"}, 422, "email: is required"),
    ({"email": "not an address", "first_name": "A"}, 422, "email"),
    ({"email": "j\u00fcrgen@example.com", "first_name": "A"}, 422, "not ASCII"),
    ({"email": "a@example.com\r\nBcc: x@example.com", "first_name": "A"}, 422, "control character"),
    ({"email": "a@example.com"}, 422, "First name: is required"),
    ({"email": "a@example.com", "first_name": "A\r\nB"}, 422, "one line"),
    ({"email": "a@example.com", "first_name": "x" * 501}, 422, "longer than 500"),
    ({"email": "a@example.com", "first_name": "4111 1111 1111 1111"}, 422, "payment card"),
    ({"email": "a@example.com", "first_name": "A", "consent_version": "nope"}, 409, "form changed"),
])
def test_hostile_submissions_get_a_clear_answer_and_store_nothing(
        a: Client, public: Public, signups: Signups, fields: dict[str, str], status: int, says: str) -> None:
    lst = new_list(a, "Hostile")
    form = new_form(a, [lst["id"]])
    for reply in (public.submit(form["id"], fields), public.submit_json(form["id"], fields)):
        assert reply.status == status, reply.body
        assert says.lower() in html.unescape(reply.body).lower(), reply.body
    assert signups.messages() == []


def test_scripts_in_submitted_values_are_escaped_when_shown_again(a: Client, public: Public,
                                                                 signups: Signups) -> None:
    lst = new_list(a, "Escape")
    form = new_form(a, [lst["id"]])
    reply = public.submit(form["id"], {"email": "bad", "first_name": '"><script>alert(1)</script>',
                                       "city": "<img src=x onerror=alert(1)>"})
    assert reply.status == 422
    assert "<script>" not in reply.body and "<img src=x" not in reply.body
    assert "&lt;script&gt;" in reply.body and "&lt;img src=x" in reply.body  # kept, escaped, in the field
    assert signups.messages() == []


def test_bodies_that_are_too_large_malformed_or_odd(a: Client, public: Public, signups: Signups) -> None:
    lst = new_list(a, "Odd")
    form = new_form(a, [lst["id"]])
    fid = form["id"]
    huge = public.call("POST", f"/forms/{fid}", "email=a%40example.com&x=" + "y" * 200_000,
                       "application/x-www-form-urlencoded")
    assert huge.status == 413
    assert public.call("POST", f"/forms/{fid}", "[1,2]", "application/json").status == 400
    assert public.call("POST", f"/forms/{fid}", "{not json", "application/json").status == 400
    many = json.dumps({f"f{i}": "x" for i in range(100)})
    assert public.call("POST", f"/forms/{fid}", many, "application/json").status == 400
    assert public.submit_json(fid, {"email": ["a@example.com"], "first_name": "A"}).status == 422
    assert public.submit_json(fid, {"email": "a@example.com", "first_name": 7}).status == 422
    boundary = "XyZ"
    multipart = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                        for k, v in (("email", unique("mp")), ("first_name", "M"))) + f"--{boundary}--\r\n"
    assert public.call("POST", f"/forms/{fid}", multipart, f"multipart/form-data; boundary={boundary}").status == 200
    for path in ("/forms/" + "0" * 32, "/forms/../../etc", "/forms/" + "a" * 3000):
        assert public.call("GET", path).status == 404
        assert public.submit_json(path.removeprefix("/forms/"), {"email": "a@example.com"}).status == 404
    preflight = public.call("OPTIONS", f"/forms/{fid}", headers={"origin": "https://shop.example.org"})
    assert preflight.status == 204 and preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert len(signups.messages()) == 1  # only the multipart signup


def test_a_signup_keeps_the_consent_text_its_page_showed(a: Client, public: Public, signups: Signups) -> None:
    lst = new_list(a, "Versions")
    form = new_form(a, [lst["id"]])
    shown = public.call("GET", f"/forms/{form['id']}").body
    version = re.search(r'name="consent_version" value="([0-9a-f]+)"', shown).group(1)  # type: ignore[union-attr]
    assert a.patch(f"/v1/forms/{form['id']}", {"consent_text": "A new text."})[0] == 200
    address = unique("v")
    assert public.submit(form["id"], {"email": address, "first_name": "V", "consent_version": version}).status == 200
    signups.run()
    assert contact(a, address)["consent"]["signups"][0]["consent_text"] == CONSENT
    assert "A new text." in public.call("GET", f"/forms/{form['id']}").body


# ------------------------------------------------------------------------------- account-added contacts, erasure
def test_contacts_the_account_adds_are_subscribed_at_once_with_their_consent_source(
        a: Client, public: Public, signups: Signups) -> None:
    lst = new_list(a, "Vouched")
    other = new_list(a, "Imported")
    form = new_form(a, [lst["id"]])
    pending = unique("was-pending")
    signed_up(public, signups, form, pending)
    status, body = a.put(f"/v1/lists/{lst['id']}/contacts", [
        {"email": pending, "consent_source": "met at the fair"},
        {"email": unique("api"), "consent_source": "x\ny"},
    ])
    assert status == 200 and body["skipped"][0]["index"] == 1 and "consent_source" in body["skipped"][0]["reason"]
    person = contact(a, pending)
    assert person["status"] == "subscribed" and person["consent"]["consent_source"] == "met at the fair"
    assert [(x["status"], x["source"]) for x in person["lists"]] == [("subscribed", "api")]
    account_id = a.get("/v1/account")[1]["id"]
    item = wiring.signup_store()._c.get_item(TableName=wiring.settings().contacts_table, Key={
        "pk": {"S": account_id}, "sk": {"S": f"C#{recipient_id(account_id, pending)}"}})["Item"]
    assert item["status"]["S"] == "subscribed" and "expires_at" not in item  # no longer expires
    imported = unique("csv")
    answer = test_api.import_csv(a, other["id"], f"email\n{imported}\n", query={"consent_source": "shop checkout"})
    assert answer.status == 200, answer.body
    person = contact(a, imported)
    assert person["consent"]["consent_source"] == "shop checkout"
    assert [(x["status"], x["source"]) for x in person["lists"]] == [("subscribed", "import")]
    assert test_api.import_csv(a, other["id"], "email\nx@example.com\n",
                               query={"consent_source": "a\r\nb"}).status == 400


def test_erasure_removes_the_consent_record_with_the_person(a: Client, public: Public, signups: Signups) -> None:
    lst = new_list(a, "Erase")
    form = new_form(a, [lst["id"]])
    confirmed, waiting = unique("gone"), unique("waiting")
    assert public.call("POST", confirm_path(signed_up(public, signups, form, confirmed))).status == 200
    signed_up(public, signups, form, waiting)
    assert test_api.get_list(a, lst["id"])["pending_count"] == 1
    for address in (confirmed, waiting):
        assert a.delete(f"/v1/contacts/{quote(address)}")[0] == 204
        assert_error(*a.get(f"/v1/contacts/{quote(address)}/export"), 404)
    assert test_api.get_list(a, lst["id"])["pending_count"] == 0
    assert test_api.all_members(a, lst["id"]) == []


def test_erasing_the_account_takes_its_forms_and_consent_records(api: Client, public: Public,
                                                                  signups: Signups) -> None:
    tenant = test_api._sign_up(api, "Leaving")
    domain = f"{uuid.uuid4().hex[:8]}.example.com"
    test_api._add_domain(tenant, domain)
    owner = tenant.client
    lst = new_list(owner, "Gone soon")
    form = new_form(owner, [lst["id"]], from_email=f"hi@{domain}")
    confirmed, waiting = unique("c"), unique("w")
    assert public.call("POST", confirm_path(signed_up(public, signups, form, confirmed))).status == 200
    signed_up(public, signups, form, waiting)
    account_id = tenant.account["id"]
    assert len(wiring.signup_store().records_of(account_id, recipient_id(account_id, confirmed))) == 1
    status, job = owner.delete("/v1/account")  # a background job (issue 18), run here step by step
    assert status == 202, job
    run_job(job["id"])
    assert public.call("GET", f"/forms/{form['id']}").status == 404
    client = wiring.signup_store()._c
    for table, pk in ((wiring.settings().contacts_table, account_id),
                      (wiring.settings().contacts_table, f"{account_id}#L#{lst['id']}"),
                      (wiring.settings().accounts_table, f"F#{form['id']}")):
        left = client.query(TableName=table, KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": pk}})["Items"]
        assert left == [], (table, pk, left)
