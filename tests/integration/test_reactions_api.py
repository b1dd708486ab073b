"""/v1/automations and /v1/webhooks in-process, every operation once: each answer is held to the OpenAPI
document by the client (tests/contract.py: its status documented for the operation, its body valid
against the documented model), and the refusals the document names answer their 4xx and change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from beacon import wiring
from beacon.shared.clock import now_iso
from tests.integration import test_api
from tests.integration.test_api import Client, assert_error, new_list

api = test_api.api
tenant_a, a = test_api.tenant_a, test_api.a

STEP: dict[str, Any] = {"after_seconds": 0, "subject": "Welcome {{ contact.first_name }}",
                        "from_email": "hello@alpha.example.com",
                        "html": '<p>Welcome <a href="https://alpha.example.com/start">start</a></p>'}


def test_an_automation_through_every_operation(a: Client) -> None:
    lst = new_list(a, "Automated")
    status, made = a.post("/v1/automations", {"name": "Welcome", "trigger": {"type": "subscribed",
                                                                             "list_id": lst["id"]},
                                              "steps": [STEP, {**STEP, "after_seconds": 86400, "subject": "Day 2"}]})
    assert status == 201 and made["status"] == "draft", made
    assert made["steps"][0]["links"] == ["https://alpha.example.com/start"]
    path = f"/v1/automations/{made['id']}"
    assert a.get(path) == (200, made)
    assert made["id"] in [i["id"] for i in a.get("/v1/automations")[1]["items"]]
    assert_error(*a.post(f"{path}/pause"), 409, "invalid_status")  # a draft is not paused
    status, changed = a.patch(path, {"name": "Hello"})
    assert status == 200 and changed["name"] == "Hello" and changed["steps"] == made["steps"]
    assert a.post(f"{path}/activate")[1]["status"] == "active"
    assert_error(*a.patch(path, {"name": "Again"}), 409, "automation_active")
    assert a.post(f"{path}/pause")[1]["status"] == "paused"
    status, stats = a.get(f"{path}/stats")
    assert status == 200 and (stats["entered"], [s["step"] for s in stats["steps"]]) == (0, [1, 2])
    assert a.call("DELETE", path).status == 204
    assert_error(*a.get(path), 404, "not_found")


@pytest.mark.parametrize(("change", "field"), [
    ({"after_seconds": True}, "after_seconds"),  # a boolean is no number of seconds
    ({"after_seconds": 366 * 86400 + 1}, "after_seconds"),
    ({"subject": "two\nlines"}, "subject"),
    ({"from_email": "x"}, "from_email"),
])
def test_a_step_the_document_refuses_is_refused(a: Client, change: dict[str, Any], field: str) -> None:
    lst = new_list(a, "Refused")
    before = len(a.get("/v1/automations")[1]["items"])
    body = {"name": "W", "trigger": {"type": "subscribed", "list_id": lst["id"]}, "steps": [{**STEP, **change}]}
    error = assert_error(*a.post("/v1/automations", body), 422, "validation_error")
    assert error["details"][0]["field"] == f"steps.0.{field}", error
    assert len(a.get("/v1/automations")[1]["items"]) == before


def test_a_webhook_through_every_operation(tenant_a: test_api.Tenant, a: Client) -> None:
    status, made = a.post("/v1/webhooks", {"url": "https://hooks.example.com/in",
                                           "events": ["email.opened", "contact.subscribed"]})
    assert status == 201 and made["secret"].startswith("whsec_"), made
    path = f"/v1/webhooks/{made['id']}"
    status, got = a.get(path)
    assert status == 200 and "secret" not in got and got["events"] == ["email.opened", "contact.subscribed"]
    assert made["id"] in [i["id"] for i in a.get("/v1/webhooks")[1]["items"]]
    status, off = a.patch(path, {"status": "disabled"})
    assert status == 200 and off["status"] == "disabled" and off["disabled_reason"]

    account_id = tenant_a.account["id"]
    for event_id in ("0" * 31 + "1", "0" * 31 + "2"):
        wiring.webhooks().add_delivery(account_id, made["id"], event_id, "contact.subscribed",
                                       '{"type": "contact.subscribed", "timestamp": "t", "data": {}}', 0.0, now_iso())
    status, page = a.get(f"{path}/deliveries", query={"limit": "1"})
    assert status == 200 and len(page["items"]) == 1 and page["next_cursor"], page
    status, rest = a.get(f"{path}/deliveries", query={"cursor": page["next_cursor"]})
    assert status == 200 and len(rest["items"]) == 1 and rest["next_cursor"] is None, rest
    assert_error(*a.get(f"{path}/deliveries", query={"cursor": "not-one"}), 400, "invalid_cursor")
    status, again = a.post(f"{path}/deliveries/{page['items'][0]['id']}/retry")
    assert status == 202 and again["id"] == page["items"][0]["id"] and again["status"] == "pending", again
    assert_error(*a.post(f"{path}/deliveries/{'f' * 32}/retry"), 404, "not_found")
    assert a.call("DELETE", path).status == 204
    assert_error(*a.get(path), 404, "not_found")


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "http://hooks.example.com/in"}, "url"),  # not https
    ({"url": "https://10.0.0.1/in"}, "url"),  # private
    ({"url": "https://169.254.169.254/latest/meta-data"}, "url"),  # the metadata address
    ({"url": "https://127.0.0.1/in"}, "url"),  # loopback (deployed, and in-process)
    ({"url": "https://user:pw@hooks.example.com/in"}, "url"),
    ({"events": ["email.sent"]}, "events.0"),  # no such event
    ({"include_machine": True, "events": ["contact.subscribed"]}, "include_machine"),  # no machine events
])
def test_a_webhook_the_api_refuses_is_not_created(a: Client, body: dict[str, Any], field: str) -> None:
    before = len(a.get("/v1/webhooks")[1]["items"])
    request = {"url": "https://hooks.example.com/in", "events": ["email.opened"], **body}
    error = assert_error(*a.post("/v1/webhooks", request), 422)
    assert error["details"][0]["field"] == field, error
    assert len(a.get("/v1/webhooks")[1]["items"]) == before
