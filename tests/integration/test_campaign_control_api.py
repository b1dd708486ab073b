"""Campaign control through the account handler in-process (API Gateway v2 events over moto):
POST /v1/campaigns/{id}/send with send_at, /pause, /resume, /cancel and /test, and the size limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest

import beacon.web.routes.campaigns as campaigns_api
from beacon.ports.ses import FakeSender
from tests.integration import test_api
from tests.integration.test_api import Client, assert_error, new_campaign, new_list

# the API tests' fixtures: one module-scoped handler (autouse) and two signed-up tenants
api = test_api.api
tenant_a, tenant_b, a, b = test_api.tenant_a, test_api.tenant_b, test_api.a, test_api.b


def _later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.fixture
def campaign(a: Client) -> dict[str, Any]:
    lst = new_list(a, "Control")
    status, body = a.put(f"/v1/lists/{lst['id']}/contacts", [{"email": "ctl@example.com"}])
    assert status == 200, body
    return new_campaign(a, [lst["id"]])


@pytest.fixture
def fake_ses(monkeypatch: pytest.MonkeyPatch) -> FakeSender:
    sender = FakeSender()
    monkeypatch.setattr(campaigns_api, "ses", lambda: sender)
    return sender


def test_send_at_schedules_and_cancel_ends_it(a: Client, campaign: dict[str, Any]) -> None:
    path = f"/v1/campaigns/{campaign['id']}"
    when = _later(days=2)
    status, body = a.post(f"{path}/send", {"send_at": when})
    assert status == 202 and body["status"] == "scheduled", body
    assert body["send_at"].endswith("Z")
    got = a.get(path)[1]
    assert (got["status"], got["send_at"]) == ("scheduled", body["send_at"])
    assert_error(*a.post(f"{path}/send", {}), 409)
    assert_error(*a.post(f"{path}/pause"), 409)
    assert_error(*a.post(f"{path}/resume"), 409)
    assert_error(*a.patch(path, {"name": "late edit"}), 409)
    status, body = a.post(f"{path}/cancel")
    assert (status, body["status"]) == (200, "cancelled")
    assert_error(*a.post(f"{path}/cancel"), 409)
    assert a.get(f"{path}/stats")[1]["status"] == "cancelled"


@pytest.mark.parametrize("send_at", ["2020-01-01T00:00:00Z", "2031-01-01T09:00:00", "tomorrow", "",
                                     "2030-13-01T00:00:00Z"])
def test_bad_send_at_is_422_and_changes_nothing(a: Client, campaign: dict[str, Any], send_at: str) -> None:
    path = f"/v1/campaigns/{campaign['id']}"
    assert_error(*a.post(f"{path}/send", {"send_at": send_at}), 422)
    assert a.get(path)[1]["status"] == "draft"


def test_send_at_more_than_a_year_away_or_not_a_string_is_422(a: Client, campaign: dict[str, Any]) -> None:
    path = f"/v1/campaigns/{campaign['id']}"
    assert_error(*a.post(f"{path}/send", {"send_at": _later(days=366)}), 422)
    assert_error(*a.post(f"{path}/send", {"send_at": 1893456000}), 422)
    assert_error(*a.post(f"{path}/send", {"send_at": _later(days=1), "extra": 1}), 422)
    assert a.get(path)[1]["status"] == "draft"


def test_pause_resume_cancel_answer_the_new_status(a: Client, campaign: dict[str, Any]) -> None:
    path = f"/v1/campaigns/{campaign['id']}"
    assert_error(*a.post(f"{path}/pause"), 409)  # a draft is not sending
    assert_error(*a.post(f"{path}/cancel"), 409)  # a draft is deleted, not cancelled
    assert a.post(f"{path}/send", {})[1]["status"] == "sending"
    assert a.post(f"{path}/pause") == (200, {"id": campaign["id"], "status": "paused"})
    assert a.get(path)[1]["status_reason"] == "paused by the user"
    assert_error(*a.post(f"{path}/pause"), 409)
    assert a.post(f"{path}/resume") == (200, {"id": campaign["id"], "status": "sending"})
    assert_error(*a.post(f"{path}/resume"), 409)
    assert a.post(f"{path}/cancel") == (200, {"id": campaign["id"], "status": "cancelled"})
    for action in ("pause", "resume", "cancel"):
        assert_error(*a.post(f"{path}/{action}"), 409)
    stats = a.get(f"{path}/stats")[1]
    assert stats["status"] == "cancelled" and "not_sent" in stats


def test_control_of_another_tenants_or_an_unknown_campaign_is_404(a: Client, b: Client,
                                                                    campaign: dict[str, Any]) -> None:
    for action in ("pause", "resume", "cancel"):
        assert_error(*b.post(f"/v1/campaigns/{campaign['id']}/{action}"), 404)
        assert_error(*a.post(f"/v1/campaigns/{'0' * 32}/{action}"), 404)
        assert_error(*a.post(f"/v1/campaigns/..%2F/{action}"), 404)
    assert_error(*b.post(f"/v1/campaigns/{campaign['id']}/send", {"send_at": _later(days=1)}), 404)
    assert_error(*b.post(f"/v1/campaigns/{campaign['id']}/test", {"to": ["x@example.com"]}), 404)
    assert a.get(f"/v1/campaigns/{campaign['id']}")[1]["status"] == "draft"


def test_test_send_reaches_the_addresses_marked_as_a_test_and_touches_no_stats(
        a: Client, campaign: dict[str, Any], fake_ses: FakeSender) -> None:
    path = f"/v1/campaigns/{campaign['id']}"
    status, body = a.post(f"{path}/test", {"to": ["Boss@Example.com", "qa@example.com", "qa@example.com"]})
    assert status == 202, body
    assert sorted(body["sent_to"]) == ["boss@example.com", "qa@example.com"]
    assert sorted(e.to_address for e in fake_ses.sent) == ["boss@example.com", "qa@example.com"]
    msg = message_from_bytes(fake_ses.sent[0].raw, policy=policy.default)
    assert str(msg["Subject"]).startswith("[Test] Hello")
    assert msg["List-Unsubscribe"]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "/o/" not in html and "/c/" not in html  # no pixel, no tracked links: nothing is counted
    # the law's footer is in a test email as in the campaign's: the company and its postal address
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Alpha<br>" + test_api.POSTAL_ADDRESS.replace("\n", "<br>") in html
    assert "Alpha\n" + test_api.POSTAL_ADDRESS in text.replace("\r\n", "\n")
    # no campaign tag: ses_events counts nothing (no ledger, no stats), but a hard bounce or complaint
    # of a test email suppresses its recipient (beacon.tracking.ses_events)
    assert set(fake_ses.sent[0].tags) == {"account", "recipient", "kind"} and fake_ses.sent[0].tags["kind"] == "test"
    stats = a.get(f"{path}/stats")[1]
    assert (stats["status"], stats["sent"], stats["recipients"]) == ("draft", 0, 0)
    assert a.get(path)[1]["status"] == "draft"  # a test send is not a send


@pytest.mark.parametrize("payload", [{"to": []}, {"to": [f"p{i}@example.com" for i in range(11)]},
                                     {"to": ["not an address"]}, {"to": "a@example.com"}, {}, {"to": [1]},
                                     {"to": ["ok@example.com", "bad\r\nBcc: x@evil.test"]}])
def test_test_send_refuses_bad_recipients_and_sends_nothing(a: Client, campaign: dict[str, Any],
                                                           fake_ses: FakeSender, payload: Any) -> None:
    assert_error(*a.post(f"/v1/campaigns/{campaign['id']}/test", payload), 422)
    assert fake_ses.sent == []


def test_test_send_when_ses_throttles_is_429(a: Client, campaign: dict[str, Any], fake_ses: FakeSender) -> None:
    fake_ses.throttle_next = 1
    assert_error(*a.post(f"/v1/campaigns/{campaign['id']}/test", {"to": ["qa@example.com"]}), 429)


def test_a_message_over_the_ses_size_limit_is_refused_at_save(a: Client) -> None:
    lst = new_list(a, "Huge")
    # 20,000 loop rounds of 147 characters: a small template that renders to 2.9 million characters
    # (under the render's bound) and, quoted-printable, to ~17 MB, over SES's 10 MB
    html = "<html><body>{% for i in range(20000) %}<p>" + "é" * 140 + "</p>{% endfor %}</body></html>"
    status, body = a.post("/v1/campaigns", {
        "name": "Huge", "subject": "Big", "from_email": "news@alpha.example.com", "list_ids": [lst["id"]],
        "html": html, "text": "hi"})
    assert_error(status, body, 422, mentions="bytes")
    created = new_campaign(a, [lst["id"]])
    assert_error(*a.patch(f"/v1/campaigns/{created['id']}", {"html": html}), 422, mentions="bytes")
    assert a.get(f"/v1/campaigns/{created['id']}")[1]["html"] != html
