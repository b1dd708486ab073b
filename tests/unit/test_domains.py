"""Sender domains: the name parser, the SES status mapping, the subdomain rule and the local stack's
instant verification."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beacon.accounts.sender_domains import InvalidDomain, candidates, normalize
from beacon.ports.identities import FakeIdentities, status_of
from beacon_local.ses import _remember_identity, _verified_at_once


@pytest.mark.parametrize(("raw", "expected"), [
    ("Example.COM", "example.com"), (" mail.example.com. ", "mail.example.com"),
    ("bücher.example", "xn--bcher-kva.example"), ("a-b.co.uk", "a-b.co.uk"), ("x1.io", "x1.io"),
])
def test_normalize_accepts_domain_names(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", [
    "", " ", ".", "com", "localhost", "a..b.com", ".a.com", "-a.com", "a-.com", "a_b.com", "1.2.3.4",
    "exa mple.com", "a@b.com", "a/b.com", "*.a.com", "x" * 64 + ".com", ("a." * 130) + "com",
    "a.com\nx", "\x00.com", "ä" * 80 + ".com", 5, None, ["a.com"],
])
def test_normalize_refuses_everything_else(raw: Any) -> None:
    with pytest.raises(InvalidDomain):
        normalize(raw)


@given(st.text(max_size=300))
def test_normalize_never_raises_anything_but_invalid_domain(raw: str) -> None:
    try:
        name = normalize(raw)
    except InvalidDomain:
        return
    assert name.isascii() and name == name.lower() and len(name) <= 253 and "." in name
    assert normalize(name) == name


def test_candidates_are_the_domain_and_its_parents_but_not_the_tld() -> None:
    assert candidates("a.b.example.com") == ["a.b.example.com", "b.example.com", "example.com"]
    assert candidates("example.com") == ["example.com"]


@pytest.mark.parametrize(("answer", "status"), [
    ({"VerifiedForSendingStatus": True, "DkimAttributes": {"Status": "SUCCESS", "Tokens": ["a", "b", "c"]}},
     "verified"),
    ({"VerifiedForSendingStatus": False, "DkimAttributes": {"Status": "PENDING", "Tokens": ["a"]}}, "pending"),
    ({"VerifiedForSendingStatus": False, "DkimAttributes": {"Status": "FAILED"}}, "failed"),
    ({"VerificationStatus": "FAILED"}, "failed"),
    ({}, "pending"),
    ({"VerifiedForSendingStatus": "true"}, "pending"),  # only a real boolean true counts
])
def test_ses_answers_map_to_three_statuses(answer: dict[str, Any], status: str) -> None:
    assert status_of(answer).status == status


def test_fake_identities() -> None:
    fake = FakeIdentities(verify_at_once=False)
    created = fake.create("a.example.com")
    assert created.status == "pending" and len(created.dkim_tokens) == 3
    assert fake.status("a.example.com") == created and fake.status("b.example.com") is None
    fake.delete("a.example.com")
    assert fake.status("a.example.com") is None


def test_local_stack_verifies_domain_identities_at_once() -> None:
    context: dict[str, Any] = {}
    _remember_identity({"EmailIdentity": "news.example.com"}, context)
    parsed: dict[str, Any] = {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": False,
                              "DkimAttributes": {"Status": "NOT_STARTED"}}
    _verified_at_once(parsed, context)
    status = status_of(parsed)
    assert status.status == "verified" and len(set(status.dkim_tokens)) == 3
    again: dict[str, Any] = {"IdentityType": "DOMAIN"}
    _verified_at_once(again, context)
    assert again["DkimAttributes"]["Tokens"] == parsed["DkimAttributes"]["Tokens"]  # stable per domain
    email_identity: dict[str, Any] = {"IdentityType": "EMAIL_ADDRESS", "VerifiedForSendingStatus": False}
    _verified_at_once(email_identity, context)
    assert email_identity["VerifiedForSendingStatus"] is False
