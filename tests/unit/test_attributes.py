"""beacon.audience.attributes: what a template may read as {{ contact.<name> }}; no payment card numbers."""

from __future__ import annotations

from typing import Any

import pytest

from beacon.audience.attributes import (
    MAX_ATTRIBUTES,
    MAX_NAME,
    MAX_VALUE,
    InvalidAttributes,
    attribute_name,
    clean,
    looks_like_card_number,
)

# test numbers published by the card networks (they pass the Luhn check)
CARDS = [
    "4111111111111111",  # Visa
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    " 4111 1111 1111 1111 ",
    "4111 - 1111 - 1111 - 1111",
    "5555555555554444",  # Mastercard
    "5555 5555 5555 4444",
    "378282246310005",  # Amex, 15 digits
    "3782 822463 10005",
    "6011111111111117",  # Discover
    "3530111333300000",  # JCB
    "4222222222222",  # Visa, 13 digits
    "6011000990139424",
    "4111111111111111003",  # 19 digits, Luhn-valid
]

NOT_CARDS = [
    "123456789012",  # 12 digits
    "4111111111112",  # 13 digits, not Luhn
    "4111111111111112",  # 16 digits, not Luhn
    "4111 1111 1111 1112",
    "41111111111111111111",  # 20 digits
    "+1 (555) 123-4567",
    "+44 20 7946 0958",
    "+49 30 12345678",
    "0176 12345678",
    "(212) 555-0100",
    "2026-12-05",
    "DE89 3704 0044 0532 0130 00",  # an IBAN has letters
    "order 4111111111111112",
    "",
    "abc",
]


@pytest.mark.parametrize("value", CARDS)
def test_card_numbers_are_detected(value: str) -> None:
    assert looks_like_card_number(value)


@pytest.mark.parametrize("value", NOT_CARDS)
def test_other_numbers_are_not_cards(value: str) -> None:
    assert not looks_like_card_number(value)


@pytest.mark.parametrize("value", [*CARDS, 4111111111111111, 378282246310005])
def test_clean_refuses_card_numbers(value: str | int) -> None:
    with pytest.raises(InvalidAttributes, match="card"):
        clean({"note": value})


@pytest.mark.parametrize("value", NOT_CARDS)
def test_clean_accepts_phone_numbers_and_non_cards(value: str) -> None:
    assert clean({"phone": value}) == {"phone": value}


@pytest.mark.parametrize("value", [123456789012, 4111111111111112, 0, -5, 3.5, True, False, None])
def test_clean_accepts_scalars(value: Any) -> None:
    assert clean({"n": value}) == {"n": value}


def test_clean_keeps_values_and_normalises_names() -> None:
    raw = {"First Name": "Ann", "last-name": "Lee", "plan": "pro", "age": 42, "vip": True, "score": 9.5, "x": None}
    assert clean(raw) == {"first_name": "Ann", "last_name": "Lee", "plan": "pro", "age": 42, "vip": True,
                          "score": 9.5, "x": None}


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], ["x"], (1,), {1, 2}, b"bytes", object()])
def test_nested_and_non_scalar_values_are_refused(value: Any) -> None:
    with pytest.raises(InvalidAttributes):
        clean({"thing": value})


@pytest.mark.parametrize(
    "name",
    ["1abc", "first.name", "a$b", "na/me", "", "   ", "é", "名前", "a" * (MAX_NAME + 1), "__proto__!", "x(y)"],
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidAttributes):
        clean({name: "v"})


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(InvalidAttributes):
        clean({1: "v"})


def test_longest_allowed_name_is_accepted() -> None:
    assert clean({"a" * MAX_NAME: "v"}) == {"a" * MAX_NAME: "v"}


@pytest.mark.parametrize("key", ["email", "Email", "EMAIL", " email "])
def test_email_key_is_ignored(key: str) -> None:
    assert clean({key: "someone-else@example.com", "name": "Ann"}) == {"name": "Ann"}


def test_email_key_is_ignored_even_when_it_holds_a_card_number() -> None:
    assert clean({"email": "4111111111111111"}) == {}


def test_none_is_empty_and_non_objects_are_refused() -> None:
    assert clean(None) == {}
    assert clean({}) == {}
    for raw in ([], "x", 1, [("a", 1)]):
        with pytest.raises(InvalidAttributes):
            clean(raw)


def test_limits() -> None:
    assert len(clean({f"a{i}": i for i in range(MAX_ATTRIBUTES)})) == MAX_ATTRIBUTES
    with pytest.raises(InvalidAttributes):
        clean({f"a{i}": i for i in range(MAX_ATTRIBUTES + 1)})
    assert clean({"v": "x" * MAX_VALUE}) == {"v": "x" * MAX_VALUE}
    with pytest.raises(InvalidAttributes):
        clean({"v": "x" * (MAX_VALUE + 1)})


def test_nul_and_nan_are_refused() -> None:
    with pytest.raises(InvalidAttributes):
        clean({"v": "a\x00b"})
    with pytest.raises(InvalidAttributes):
        clean({"v": float("nan")})


def test_invalid_attributes_is_a_value_error() -> None:
    assert issubclass(InvalidAttributes, ValueError)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("First Name", "first_name"), ("  Plan  ", "plan"), ("last-name", "last_name"), ("E-mail 1 - Value",
     "e_mail_1_value"), ("ZIP\tCode", "zip_code"), ("MEMBER_RATING", "member_rating"), ("a  -  b", "a_b")],
)
def test_attribute_name(raw: str, expected: str) -> None:
    assert attribute_name(raw) == expected
