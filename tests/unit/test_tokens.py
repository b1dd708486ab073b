"""beacon.tokens: HMAC-signed open/click/unsubscribe tokens, verified without a database read."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.tokens import CLICK, MAX_TOKEN_LEN, OPEN, UNSUBSCRIBE, InvalidToken, TokenData, TokenSigner

SECRET = b"unit-test-secret-0123456789abcdef"
ACCOUNT = "0123456789abcdef0123456789abcdef"
CAMPAIGN = "fedcba9876543210fedcba9876543210"
RECIPIENT = "00112233445566778899aabbccddeeff"
ISSUED = 1_767_225_600
IDS = (ACCOUNT, CAMPAIGN, RECIPIENT)
URL = "https://shop.example.com/account/prefs?email=jane.doe%2Bnews@example.org&name=Jane%20Doe#top"
ALPHABET = string.ascii_letters + string.digits + "-_"

signer = TokenSigner(SECRET)


def _b64decode(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _all_tokens() -> list[tuple[str, bytes]]:
    return [
        (signer.open_token(*IDS, ISSUED), OPEN),
        (signer.unsubscribe_token(*IDS, ISSUED), UNSUBSCRIBE),
        (signer.click_token(*IDS, ISSUED, 3, URL), CLICK),
    ]


# ---------------------------------------------------------------------------- round trips


def test_open_token_round_trip() -> None:
    token = signer.open_token(*IDS, ISSUED)
    assert signer.verify(token, OPEN) == TokenData(OPEN, ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED)


def test_unsubscribe_token_round_trip() -> None:
    token = signer.unsubscribe_token(*IDS, ISSUED)
    data = signer.verify(token, UNSUBSCRIBE)
    assert (data.kind, data.account_id, data.campaign_id, data.recipient_id, data.issued_at) == (
        UNSUBSCRIBE, ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED,
    )


@pytest.mark.parametrize(
    ("index", "url"),
    [
        (0, "https://example.com/"),
        (1, URL),
        (65535, "http://example.com/" + "päth/ünïcode/" * 5 + "?q=€"),
        (7, "https://example.com/" + "x" * 1500),
    ],
)
def test_click_token_round_trip(index: int, url: str) -> None:
    token = signer.click_token(*IDS, ISSUED, index, url)
    data = signer.verify(token, CLICK)
    assert (data.account_id, data.campaign_id, data.recipient_id) == IDS
    assert (data.issued_at, data.link_index, data.url) == (ISSUED, index, url)


def test_tokens_are_url_safe_and_unpadded() -> None:
    for token, _ in _all_tokens():
        assert set(token) <= set(ALPHABET)


@pytest.mark.parametrize("index", [-1, 65536])
def test_click_link_index_out_of_range_is_refused(index: int) -> None:
    with pytest.raises(ValueError):
        signer.click_token(*IDS, ISSUED, index, URL)


def test_click_token_does_not_reveal_the_url() -> None:
    token = signer.click_token(*IDS, ISSUED, 0, URL)
    raw = _b64decode(token)
    secrets_in_url = ["jane.doe", "example.org", "Jane", "prefs", "shop.example.com", "https", "email="]
    for part in secrets_in_url:
        assert part.lower() not in token.lower()
        assert part.encode() not in raw
        assert part.lower().encode() not in raw.lower()


def test_same_url_for_two_recipients_gives_unrelated_ciphertexts() -> None:
    a = _b64decode(signer.click_token(ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED, 0, URL))
    b = _b64decode(signer.click_token(ACCOUNT, CAMPAIGN, "f" * 32, ISSUED, 0, URL))
    body = slice(1 + 16 * 3 + 4 + 2, -16)
    assert a[body] != b[body]
    # no keystream reuse across recipients: the two ciphertexts of one URL differ
    assert bytes(x ^ y for x, y in zip(a[body], b[body], strict=True)) != bytes(len(URL))


# ---------------------------------------------------------------------------- tampering


@pytest.mark.parametrize(("token", "kind"), _all_tokens(), ids=["open", "unsubscribe", "click"])
def test_every_single_flipped_byte_is_rejected(token: str, kind: bytes) -> None:
    raw = _b64decode(token)
    for i in range(len(raw)):
        for mask in (0x01, 0x80, 0xFF):
            forged = bytearray(raw)
            forged[i] ^= mask
            with pytest.raises(InvalidToken):
                signer.verify(_b64encode(bytes(forged)), kind)


@pytest.mark.parametrize(("token", "kind"), _all_tokens(), ids=["open", "unsubscribe", "click"])
def test_truncated_tokens_are_rejected(token: str, kind: bytes) -> None:
    for cut in range(len(token)):
        with pytest.raises(InvalidToken):
            signer.verify(token[:cut], kind)
    raw = _b64decode(token)
    for cut in range(1, len(raw)):
        with pytest.raises(InvalidToken):
            signer.verify(_b64encode(raw[:-cut]), kind)


@pytest.mark.parametrize(("token", "kind"), _all_tokens(), ids=["open", "unsubscribe", "click"])
def test_extended_tokens_are_rejected(token: str, kind: bytes) -> None:
    raw = _b64decode(token)
    for extra in (b"\x00", b"A", b"\x00" * 3, b"junk" * 10):
        with pytest.raises(InvalidToken):
            signer.verify(_b64encode(raw + extra), kind)
        with pytest.raises(InvalidToken):
            signer.verify(_b64encode(extra + raw), kind)
    for suffix in ("A", "AA", "AAAA", "AAAAAAAA"):
        with pytest.raises(InvalidToken):
            signer.verify(token + suffix, kind)


def test_wrong_kind_is_rejected() -> None:
    for token, kind in _all_tokens():
        for other in {OPEN, CLICK, UNSUBSCRIBE} - {kind}:
            with pytest.raises(InvalidToken):
                signer.verify(token, other)
        with pytest.raises(InvalidToken):
            signer.verify(token, b"x")


def test_kind_byte_swapped_with_the_original_mac_is_rejected() -> None:
    for token, kind in _all_tokens():
        raw = _b64decode(token)
        for other in {OPEN, CLICK, UNSUBSCRIBE} - {kind}:
            with pytest.raises(InvalidToken):
                signer.verify(_b64encode(other + raw[1:]), other)


def test_other_secret_is_rejected() -> None:
    other = TokenSigner(SECRET + b"!")
    for token, kind in _all_tokens():
        with pytest.raises(InvalidToken):
            other.verify(token, kind)
    assert other.open_token(*IDS, ISSUED) != signer.open_token(*IDS, ISSUED)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "A",
        "====",
        "not a token",
        "AAAA" * 30,
        "A" * (MAX_TOKEN_LEN + 1),
        "A" * 1_000_000,
        "é" * 100,
        "💥" * 80,
        "\x00" * 100,
        "<script>alert(1)</script>" * 5,
        "../../etc/passwd" * 8,
        "%41" * 100,
        "Zm9v" * 25 + "!!",
    ],
    ids=lambda g: f"{g[:12]!r}..{len(g)}",
)
def test_garbage_is_rejected(garbage: str) -> None:
    for kind in (OPEN, CLICK, UNSUBSCRIBE):
        with pytest.raises(InvalidToken):
            signer.verify(garbage, kind)


@pytest.mark.parametrize(("token", "kind"), _all_tokens(), ids=["open", "unsubscribe", "click"])
def test_unicode_lookalikes_in_a_token_are_rejected(token: str, kind: bytes) -> None:
    # a fullwidth or accented letter in place of an ASCII one
    for i in (0, len(token) // 2, len(token) - 1):
        for ch in ("\uff21", "é", "\u200b"):  # fullwidth A, e acute, zero-width space
            with pytest.raises(InvalidToken):
                signer.verify(token[:i] + ch + token[i + 1 :], kind)


@pytest.mark.parametrize(("token", "kind"), _all_tokens(), ids=["open", "unsubscribe", "click"])
def test_non_canonical_spellings_of_a_valid_token_are_rejected(token: str, kind: bytes) -> None:
    mid = len(token) // 2
    variants = [
        token[:mid] + "." + token[mid:],
        token[:mid] + "!" + token[mid:],
        token + "\n",
        " " + token,
        token + "====",
        token[:mid] + "=" + token[mid:],
    ]
    for variant in variants:
        with pytest.raises(InvalidToken):
            signer.verify(variant, kind)


@settings(max_examples=200, deadline=None, database=None)
@given(st.one_of(st.text(max_size=300), st.text(alphabet=ALPHABET, min_size=60, max_size=400)))
def test_random_strings_never_verify(candidate: str) -> None:
    for kind in (OPEN, CLICK, UNSUBSCRIBE):
        try:
            signer.verify(candidate, kind)
        except InvalidToken:
            continue
        pytest.fail(f"random string verified as {kind!r}: {candidate!r}")


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(min_size=0, max_size=400))
def test_random_bytes_encoded_never_verify(raw: bytes) -> None:
    token = _b64encode(raw)
    for kind in (OPEN, CLICK, UNSUBSCRIBE):
        with pytest.raises(InvalidToken):
            signer.verify(token, kind)


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 65535),
    st.text(max_size=200),
    st.binary(min_size=16, max_size=16),
)
def test_click_round_trip_property(issued: int, index: int, url: str, recipient: bytes) -> None:
    token = signer.click_token(ACCOUNT, CAMPAIGN, recipient.hex(), issued, index, url)
    data = signer.verify(token, CLICK)
    assert (data.recipient_id, data.issued_at, data.link_index, data.url) == (recipient.hex(), issued, index, url)
