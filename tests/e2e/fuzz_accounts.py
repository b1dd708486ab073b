"""Accounts for the fuzz (tests/e2e/test_openapi_fuzz.py and its Schemathesis hooks)."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request

PASSWORD = "throwaway password"
POSTAL_ADDRESS = "1 Fuzz Street\nTestville 12345"  # needed before a send or a form


def _post(url: str, body: dict[str, str]) -> dict[str, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return dict(json.loads(answer.read()))


def sign_up(base: str, company: str = "Throwaway", email: str | None = None) -> str:
    """A new account's API key."""
    email = email or f"throwaway-{secrets.token_hex(6)}@fuzz.example"
    return _post(f"{base}/v1/accounts", {"company": company, "email": email, "password": PASSWORD,
                                          "postal_address": POSTAL_ADDRESS})["api_key"]


def session(base: str) -> str:
    """A session token (`bs_...`) of a new account: what signing out ends."""
    email = f"throwaway-{secrets.token_hex(6)}@fuzz.example"
    sign_up(base, email=email)
    return _post(f"{base}/v1/sessions", {"email": email, "password": PASSWORD})["token"]


def works(base: str, key: str) -> bool:
    """Whether the key still signs its account in (not revoked, the account not erased)."""
    request = urllib.request.Request(f"{base}/v1/account", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return bool(answer.status == 200)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return False
        raise
