"""beacon.shared.tokens: HMAC-signed open/click/unsubscribe tokens, verified without a database read."""

from __future__ import annotations

import base64
import hashlib
import string
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.shared.tokens import CLICK, MAX_TOKEN_LEN, OPEN, UNSUBSCRIBE, InvalidToken, TokenData, TokenSigner

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


HEAD = slice(0, 53 + 16)  # a v3 click token: kind, ids, issued, mac | index, ciphertext, link mac
LINK = slice(53 + 16, None)
CIPHER = slice(53 + 16 + 2, -16)


def test_a_campaign_link_part_is_the_same_for_every_recipient() -> None:
    a = _b64decode(signer.click_token(ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED, 0, URL))
    b = _b64decode(signer.click_token(ACCOUNT, CAMPAIGN, "f" * 32, ISSUED + 5, 0, URL))
    assert a[LINK] == b[LINK]  # computed once per campaign
    assert a[HEAD] != b[HEAD]  # the recipient part is signed per recipient
    other_campaign = _b64decode(signer.click_token(ACCOUNT, "e" * 32, RECIPIENT, ISSUED, 0, URL))
    assert other_campaign[CIPHER] != a[CIPHER]


def test_two_urls_at_one_index_never_share_a_keystream() -> None:
    """SIV: the keystream is keyed by the link mac, so personalised URLs of one campaign (one per
    recipient, same link index) do not leak their XOR."""
    urls = [URL.replace("jane.doe", name) for name in ("jane.doe", "john.roe", "anna.poe")]
    ciphers = [_b64decode(signer.click_token(ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED, 4, u))[CIPHER] for u in urls]
    for i in range(len(urls)):
        for j in range(i + 1, len(urls)):
            xor_c = bytes(x ^ y for x, y in zip(ciphers[i], ciphers[j], strict=True))
            xor_p = bytes(x ^ y for x, y in zip(urls[i].encode(), urls[j].encode(), strict=True))
            assert xor_c != xor_p


def test_a_link_part_spliced_onto_another_campaign_or_index_is_rejected() -> None:
    mine = _b64decode(signer.click_token(ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED, 2, URL))
    elsewhere = _b64decode(signer.click_token(ACCOUNT, "e" * 32, RECIPIENT, ISSUED, 2, "https://evil.example/"))
    with pytest.raises(InvalidToken):  # another campaign's destination under this campaign's head
        signer.verify(_b64encode(mine[HEAD] + elsewhere[LINK]), CLICK)
    moved = bytearray(mine)
    moved[53 + 16 + 1] ^= 1  # the index, alone
    with pytest.raises(InvalidToken):
        signer.verify(_b64encode(bytes(moved)), CLICK)


def test_a_link_part_on_another_recipient_of_the_same_campaign_names_that_recipient() -> None:
    """What a splice can do: attribute a link the campaign has to a recipient whose head one holds."""
    a = _b64decode(signer.click_token(ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED, 1, URL))
    b = _b64decode(signer.click_token(ACCOUNT, CAMPAIGN, "f" * 32, ISSUED, 0, "https://example.com/"))
    data = signer.verify(_b64encode(a[HEAD] + b[LINK]), CLICK)
    assert (data.recipient_id, data.link_index, data.url) == (RECIPIENT, 0, "https://example.com/")


def test_click_tokens_of_emails_sent_before_v3_still_verify() -> None:
    """v2: kind "c" | ids | issued | index | ciphertext (keystream keyed by the head) | mac over all."""
    head = b"c" + bytes.fromhex(ACCOUNT + CAMPAIGN + RECIPIENT) + ISSUED.to_bytes(4, "big") + (9).to_bytes(2, "big")
    raw = URL.encode()
    stream = signer._keystream(head, len(raw))
    data = head + bytes(x ^ y for x, y in zip(raw, stream, strict=True))
    token = _b64encode(data + signer._mac(data))
    assert signer.verify(token, CLICK) == TokenData(CLICK, ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED, 9, URL)
    forged = bytearray(data + signer._mac(data))
    forged[60] ^= 1
    with pytest.raises(InvalidToken):
        signer.verify(_b64encode(bytes(forged)), CLICK)
    with pytest.raises(InvalidToken):
        signer.verify(token, OPEN)


def test_email_tokens_match_the_signer() -> None:
    email = signer.for_email(*IDS, ISSUED)
    assert email.open() == signer.open_token(*IDS, ISSUED)
    assert email.unsubscribe() == signer.unsubscribe_token(*IDS, ISSUED)
    assert email.click(3, URL) == signer.click_token(*IDS, ISSUED, 3, URL)


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


# ---------------------------------------------------------------------------- v4 (AES-GCM-SIV) and old emails
# Tokens minted by the code before v4 (layers/core/beacon/tokens.py at commit bc43694), with SECRET and the ids
# above: emails already in inboxes carry tokens like these, and they must keep working.
V3_CLICK = ("bAEjRWeJq83vASNFZ4mrze_-3LqYdlQyEP7cuph2VDIQABEiM0RVZneImaq7zN3u_2lVuQA6Pb8-ohKtlweg3K_ShTKXAAPe3_hubPJe3"
            "WT5cRUZWTB9cZAGB75nQboRNb4_BajIhKFOWiZwKVQOCW8JmTxd9eLs3p08jqVsOifRfb46")
V3_CLICK_UNICODE = ("bAEjRWeJq83vASNFZ4mrze_-3LqYdlQyEP7cuph2VDIQABEiM0RVZneImaq7zN3u_2lVuQA6Pb8-ohKtlweg3K_ShTKX"
                    "__7Et9JHIaFbQqeoU_MVXzfssnGGOlqEYGY2Bl5JR35B2BJoY5KsJgbudC9k-FMBlA")
OLD_OPEN = "bwEjRWeJq83vASNFZ4mrze_-3LqYdlQyEP7cuph2VDIQABEiM0RVZneImaq7zN3u_2lVuQBq7W_Ww8f9MYM1qXevi7vj"
OLD_UNSUBSCRIBE = "dQEjRWeJq83vASNFZ4mrze_-3LqYdlQyEP7cuph2VDIQABEiM0RVZneImaq7zN3u_2lVuQAwsngul8nKxkEFp2ZjOrcl"


def test_tokens_minted_by_the_code_before_v4_still_verify() -> None:
    assert signer.verify(V3_CLICK, CLICK) == TokenData(
        CLICK, ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED, 3, "https://shop.example.com/p?id=42&ref=mail#top")
    assert signer.verify(V3_CLICK_UNICODE, CLICK).url == "https://example.com/päth?q=€"
    assert signer.verify(OLD_OPEN, OPEN) == TokenData(OPEN, ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED)
    assert signer.verify(OLD_UNSUBSCRIBE, UNSUBSCRIBE).recipient_id == RECIPIENT
    # open and unsubscribe tokens did not change: the same email's tokens are minted the same today
    assert signer.open_token(*IDS, ISSUED) == OLD_OPEN
    assert signer.unsubscribe_token(*IDS, ISSUED) == OLD_UNSUBSCRIBE


@pytest.mark.parametrize("position", range(0, 104, 7))
def test_a_tampered_v3_token_is_still_rejected(position: int) -> None:
    raw = bytearray(_b64decode(V3_CLICK))
    raw[position % len(raw)] ^= 0x20
    with pytest.raises(InvalidToken):
        signer.verify(_b64encode(bytes(raw)), CLICK)


def test_new_click_tokens_are_v4_sealed_with_aes_gcm_siv_under_an_hkdf_key() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = _b64decode(signer.click_token(*IDS, ISSUED, 3, URL))
    assert raw[:1] == b"k"
    ids, index = raw[1:33], raw[69:71]
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"beacon/click-url/v4/aes-256-gcm-siv").derive(
        SECRET)
    nonce = hashlib.sha256(b"beacon/click-nonce/v4" + ids + index).digest()[:12]
    # an independent decryption of the link part, with the associated data binding it to the campaign and link
    assert AESGCMSIV(key).decrypt(nonce, raw[71:], ids + index) == URL.encode()
    assert len(raw) == 69 + 2 + len(URL.encode()) + 16  # the same length as a v3 token


def test_a_v4_link_part_cannot_be_opened_under_another_campaign_or_link() -> None:
    mine = _b64decode(signer.click_token(ACCOUNT, CAMPAIGN, RECIPIENT, ISSUED, 2, URL))
    other_campaign = _b64decode(signer.click_token(ACCOUNT, "e" * 32, RECIPIENT, ISSUED, 2, URL))
    with pytest.raises(InvalidToken):
        signer.verify(_b64encode(mine[HEAD] + other_campaign[LINK]), CLICK)
    for position in (69, 70, 71, len(mine) - 1):  # index, ciphertext, tag
        flipped = bytearray(mine)
        flipped[position] ^= 1
        with pytest.raises(InvalidToken):
            signer.verify(_b64encode(bytes(flipped)), CLICK)


def test_the_pixel_and_unsubscribe_paths_do_not_import_cryptography() -> None:
    """A cold start of the open pixel pays nothing for the AEAD; the click path loads it."""
    code = textwrap.dedent(f"""
        import sys
        from beacon.shared.tokens import OPEN, UNSUBSCRIBE, CLICK, TokenSigner
        s = TokenSigner({SECRET!r})
        s.verify({OLD_OPEN!r}, OPEN); s.verify({OLD_UNSUBSCRIBE!r}, UNSUBSCRIBE)
        s.verify({V3_CLICK!r}, CLICK)  # an old click token needs no AEAD either
        before = "cryptography" in sys.modules
        s.verify(s.click_token(*{IDS!r}, {ISSUED}, 0, "https://example.com/"), CLICK)
        print(before, "cryptography" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
