"""The console's cookie session (beacon.accounts.console_session, beacon.web.session_cookie): the cookie
is read strictly, only session tokens ride in it, and a change needs the session's CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from beacon.accounts import console_session
from beacon.accounts.access import hash_key
from beacon.shared.clock import epoch
from beacon.shared.errors import Forbidden, Unauthorized
from beacon.web.session_cookie import COOKIE, cleared_cookie, cookie_token, session_cookie

SECRET = b"unit-test-secret-0123456789abcdef"
TOKEN = "bs_" + "A" * 43
OTHER = "bs_" + "B" * 43


@dataclass
class FakeSession:
    account_id: str
    session_id: str
    expires_at: int
    deleting: int | None = None  # the account is being erased (beacon.audience.jobs)


class FakeCreds:
    def __init__(self, sessions: dict[str, FakeSession]) -> None:
        self.sessions = {hash_key(token): s for token, s in sessions.items()}
        self.ended: list[str] = []

    def session(self, token_hash: str) -> FakeSession | None:
        return self.sessions.get(token_hash)

    def end_session(self, token_hash: str) -> FakeSession | None:
        self.ended.append(token_hash)
        return self.sessions.pop(token_hash, None)


class FakeAccounts:
    def key_lookup(self, _digest: str) -> Any:
        raise AssertionError("a cookie never looks up an API key")


def creds(expires_in: int = 3600) -> FakeCreds:
    return FakeCreds({TOKEN: FakeSession("a" * 32, "s" * 32, epoch() + expires_in)})


def auth(token: str, *, changes: bool, csrf: str | None, store: FakeCreds | None = None) -> Any:
    return console_session.authenticate_cookie(FakeAccounts(), store or creds(), token,  # type: ignore[arg-type]
                                               changes=changes, csrf=csrf, secret=SECRET)


def test_the_csrf_token_belongs_to_one_session_and_one_secret() -> None:
    mine = console_session.csrf_token(SECRET, TOKEN)
    assert mine == console_session.csrf_token(SECRET, TOKEN)
    assert mine != console_session.csrf_token(SECRET, OTHER)
    assert mine != console_session.csrf_token(b"another-secret-0123456789abcdef", TOKEN)
    assert TOKEN not in mine and hash_key(TOKEN) not in mine and len(mine) == 43


def test_reads_need_no_csrf_token_and_changes_need_the_right_one() -> None:
    good = console_session.csrf_token(SECRET, TOKEN)
    assert auth(TOKEN, changes=False, csrf=None).account_id == "a" * 32
    assert auth(TOKEN, changes=True, csrf=good).via == "session"
    assert auth(TOKEN, changes=True, csrf=f"  {good} ").account_id == "a" * 32
    for wrong in (None, "", console_session.csrf_token(SECRET, OTHER), good[:-1], good + "x", "x" * 100_000,
                  "\udcff" * 43, "é" * 43, good.upper(), "null", TOKEN):
        with pytest.raises(Forbidden) as caught:
            auth(TOKEN, changes=True, csrf=wrong)
        assert caught.value.code == "csrf_failed" and caught.value.status == 403


@pytest.mark.parametrize("token", ["bk_" + "A" * 43, "A" * 46, "", "bs_", "bs_" + "A" * 300, "Bearer " + TOKEN,
                                   OTHER, "bs_\x00"])
def test_only_a_live_session_token_rides_in_the_cookie(token: str) -> None:
    with pytest.raises(Unauthorized):
        auth(token, changes=False, csrf=None)


def test_an_expired_session_is_401_before_any_csrf_check() -> None:
    with pytest.raises(Unauthorized):
        auth(TOKEN, changes=True, csrf=None, store=creds(expires_in=-1))


def test_sign_out_ends_only_a_session() -> None:
    store = creds()
    assert console_session.end_session(store, "bk_" + "A" * 43) is False  # type: ignore[arg-type]
    assert store.ended == []
    assert console_session.end_session(store, TOKEN) is True  # type: ignore[arg-type]
    assert console_session.end_session(store, TOKEN) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(("cookies", "expected"), [
    (None, None),
    ([], None),
    ([f"{COOKIE}={TOKEN}"], TOKEN),
    (["theme=dark", f"{COOKIE}={TOKEN}"], TOKEN),
    ([f"theme=dark; {COOKIE}={TOKEN}"], TOKEN),
    ([f'{COOKIE}="{TOKEN}"'], TOKEN),
    ([f" {COOKIE} = {TOKEN} "], TOKEN),
    ([f"{COOKIE}="], None),
    ([COOKIE], None),
    ([f"x{COOKIE}={TOKEN}"], None),
    ([f"{COOKIE}x={TOKEN}"], None),
    ([f"__host-beacon_session={TOKEN}"], None),  # the __Host- prefix is case-sensitive for browsers too
    (["===", ";;;", "", "\x00"], None),
    ([f"{COOKIE}={TOKEN}", f"{COOKIE}={OTHER}"], TOKEN),
    (["a=b"] * 60 + [f"{COOKIE}={TOKEN}"], None),  # past the first 50 cookies nothing is read
])
def test_the_cookie_is_read_strictly(cookies: list[str] | None, expected: str | None) -> None:
    assert cookie_token(cookies) == expected


def test_the_cookie_attributes() -> None:
    issued = str(session_cookie(TOKEN))
    assert issued.startswith(f"{COOKIE}={TOKEN}; ")
    for attribute in ("Path=/", "HttpOnly", "Secure", "SameSite=Strict", "Max-Age=43200"):
        assert attribute in issued
    assert "Domain" not in issued  # __Host- cookies must not name one
    cleared = str(cleared_cookie())
    assert cleared.startswith(f"{COOKIE}=; ") and "Max-Age=0" in cleared and "Secure" in cleared
