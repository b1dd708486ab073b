"""Accounts and access over HTTP against `beacon dev`: sign-in, a password reset whose email lands in
the outbox, a sender domain the local stack verifies at once, and erasing the account."""

from __future__ import annotations

import email
import time
from collections.abc import Callable
from email import policy
from pathlib import Path
from typing import Any

import pytest

from beacon_local.client import Client

pytestmark = pytest.mark.e2e


def reset_mail(outbox: Path, to: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if to in str(message["To"]) and "password" in str(message["Subject"]).lower():
                return message
        time.sleep(0.2)
    raise AssertionError(f"no reset email for {to} in {outbox}")


def test_account_lifecycle_over_http(dev_stack_factory: Callable[..., Any]) -> None:
    stack = dev_stack_factory()
    api = Client(stack.base_url)
    owner = "owner@lifecycle.example.com"
    signup = api.expect(201, "POST", "/v1/accounts", json_body={"company": "Lifecycle", "email": owner,
                                                                 "password": "correct horse battery"})
    session = api.expect(201, "POST", "/v1/sessions", json_body={"email": owner, "password": "correct horse battery"})
    me = Client(stack.base_url, session["token"])
    assert me.expect(200, "GET", "/v1/account")["id"] == signup["account"]["id"]

    domain = me.expect(201, "POST", "/v1/domains", json_body={"domain": "lifecycle.example.com"})
    assert domain["status"] == "verified" and len(domain["dkim_records"]) == 3
    assert me.expect(200, "GET", "/v1/domains/lifecycle.example.com")["status"] == "verified"

    assert api.post("/v1/password-resets", {"email": owner}).status == 202
    message = reset_mail(stack.outbox, owner)
    assert message["List-Unsubscribe"] is None
    text = message.get_body(("plain",)).get_content()
    token = text[text.index("/v1/password-resets/") + len("/v1/password-resets/"):].split()[0]
    assert api.post(f"/v1/password-resets/{token}", {"password": "a brand new password"}).status == 204
    assert api.post(f"/v1/password-resets/{token}", {"password": "a brand new password"}).status == 410
    assert me.get("/v1/account").status == 401  # the reset signed the session out

    keyed = Client(stack.base_url, signup["api_key"])
    erasure = keyed.request("DELETE", "/v1/account")
    assert erasure.status == 202
    job = erasure.json()["id"]
    assert keyed.request("POST", "/v1/lists", json_body={"name": "too late"}).status == 409  # read-only now
    deadline = time.monotonic() + 60
    while keyed.get(f"/v1/jobs/{job}").status == 200 and time.monotonic() < deadline:  # the jobs function runs it
        time.sleep(0.5)
    assert keyed.get("/v1/account").status == 401
    assert api.post("/v1/sessions", {"email": owner, "password": "a brand new password"}).status == 401
