"""Schemathesis hooks for the fuzz of the local stack (tests/e2e/test_openapi_fuzz.py).

Credentials: every operation runs as the fuzz's own tenant (BEACON_FUZZ_KEY), except the ones that
would destroy that credential — erasing the account, revoking an API key — which run as a throwaway
account (a new one as soon as the last one's key stopped working: most of these requests are refused
and destroy nothing, and a sign-up is slow on purpose), and signing out, which ends a throwaway account's
session token (an API key is no session: 400 not_a_session). Schemathesis also sends each authenticated request
without and with a wrong credential (its `ignored_auth` check).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

from tests.e2e.fuzz_accounts import session, sign_up, works

DESTRUCTIVE = {("DELETE", "/v1/account"), ("DELETE", "/v1/api-keys/{key_id}")}
SIGN_OUT = {("DELETE", "/v1/session")}


def _base() -> str:
    return os.environ["BEACON_FUZZ_URL"]


def _set_bearer(case: Any, key: str) -> None:
    case.headers = dict(case.headers or {})
    case.headers["Authorization"] = f"Bearer {key}"


def _destructive(ctx: Any) -> bool:
    return (ctx.operation.method.upper(), ctx.operation.path) in DESTRUCTIVE


def _sign_out(ctx: Any) -> bool:
    return (ctx.operation.method.upper(), ctx.operation.path) in SIGN_OUT


def _own_tenant(ctx: Any) -> bool:
    return not _destructive(ctx) and not _sign_out(ctx)


@schemathesis.auth(refresh_interval=None).apply_to(_destructive)
class ThrowawayAccount:
    """An account for the requests that erase an account or revoke a key: a new one once the last is gone."""

    def __init__(self) -> None:
        self.key: str | None = None

    def get(self, case: Any, ctx: Any) -> str:
        if self.key is None or not works(_base(), self.key):
            self.key = sign_up(_base())
        return self.key

    def set(self, case: Any, data: str, ctx: Any) -> None:
        _set_bearer(case, data)


@schemathesis.auth(refresh_interval=None).apply_to(_sign_out)
class ThrowawaySession:
    """A fresh session token for each sign-out."""

    def get(self, case: Any, ctx: Any) -> str:
        return session(_base())

    def set(self, case: Any, data: str, ctx: Any) -> None:
        _set_bearer(case, data)


@schemathesis.auth().apply_to(_own_tenant)
class FuzzTenant:
    """The fuzz's own tenant, for everything else."""

    def get(self, case: Any, ctx: Any) -> str:
        return os.environ["BEACON_FUZZ_KEY"]

    def set(self, case: Any, data: str, ctx: Any) -> None:
        _set_bearer(case, data)
