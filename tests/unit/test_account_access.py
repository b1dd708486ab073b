"""Pure parts of accounts and access: password checks, the bearer-token parser, the reset email."""

from __future__ import annotations

import email
from email import policy
from typing import Any

import pytest

from beacon.accounts import access as accounts
from beacon.accounts.password_reset import reset_email
from beacon.shared.errors import Unauthorized, Unprocessable


class NoRepo:
    """Fails the test if authentication reads storage for a credential it should refuse unread."""

    def key_lookup(self, _hash: str) -> Any:
        raise AssertionError("looked up a credential that is malformed")

    def session(self, _hash: str) -> Any:
        raise AssertionError("looked up a credential that is malformed")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc", "Token bk_abc", "bk_abc",
                                    "Bearer abc", "Bearer pr_abc", "Bearer bk_" + "x" * 300,
                                    "Bearer bs_" + "x" * 300, "Bearer \u00e9bk_"])
def test_malformed_authorization_is_401_without_a_read(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        accounts.authenticate(NoRepo(), header, NoRepo())  # type: ignore[arg-type]


def test_api_keys_and_sessions_take_one_read_each() -> None:
    reads: list[str] = []

    class Repo:
        def key_lookup(self, digest: str) -> None:
            reads.append("key")

        def session(self, digest: str) -> None:
            reads.append("session")

    for header in ("Bearer bk_abc", "bearer bs_abc"):
        with pytest.raises(Unauthorized):
            accounts.authenticate(Repo(), header, Repo())  # type: ignore[arg-type]
    assert reads == ["key", "session"]


def test_verify_password() -> None:
    good = accounts.hasher().hash("correct horse battery")
    assert accounts.verify_password(good, "correct horse battery")
    assert not accounts.verify_password(good, "wrong")
    assert not accounts.verify_password(None, "correct horse battery")  # unknown account: dummy hash
    assert not accounts.verify_password("not-a-hash", "x")


@pytest.mark.parametrize("password", ["", "123456789", "x" * 1025])
def test_weak_or_absurd_passwords_are_422(password: str) -> None:
    with pytest.raises(Unprocessable) as info:
        accounts.check_password(password)
    assert info.value.code == "weak_password"


def test_reset_email_is_transactional_and_carries_only_the_link() -> None:
    link = "https://api.example.com/v1/password-resets/pr_abc\"<x>"
    raw = reset_email("ann@example.com", link, "no-reply@beacon.example")
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
    assert message["To"] == "ann@example.com" and "beacon.example" in message["From"]
    html_part = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "pr_abc&quot;&lt;x&gt;" in html_part and "<x>" not in html_part
    assert link in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
