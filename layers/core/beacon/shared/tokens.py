"""HMAC-signed tokens for the public routes (open pixel, tracked link, unsubscribe, signup confirmation).

Open, unsubscribe and signup-confirmation tokens are base64url( kind | account | campaign | recipient | issued | mac ):
- issued is the send time (uint32 epoch seconds), so the machine-click rules need no read;
- ids are the 16 raw bytes of Beacon's 32-hex-digit ids, so a token names no person;
- the mac is HMAC-SHA256 over everything before it, truncated to 128 bits.

A click token (v4, kind "k") is base64url( head | mac | link ), where head | mac is the above with
its own kind, and link = index | ciphertext | tag, the URL sealed with AES-GCM-SIV (RFC 8452, the
`cryptography` package):
- the key is derived from the secret for this one purpose with HKDF-SHA256;
- the associated data is account | campaign | index and the nonce is derived from them, so only
  Beacon can name a destination (no open redirect), and a link part spliced onto another
  campaign's head fails to open;
- AES-GCM-SIV is deterministic for one nonce and resists its reuse: the same URL of a campaign
  always seals the same way (the link part is the same in every email of a campaign and is
  computed once per campaign), and two different URLs leak nothing but that they differ;
- head | mac (69 bytes, a whole number of base64 groups) is computed once per email: a click
  token is two strings put together. A token's link part spliced onto another recipient's head
  of the same campaign only names a link that campaign has; the head part is per recipient.
`cryptography` is imported on the first click token only: the pixel and unsubscribe paths
never load it (cold start).
Click tokens of emails sent before v4 still verify: v3 (kind "l": link = index | ciphertext |
link mac, a SHAKE256 keystream keyed by the secret, the ids, the index and an HMAC-SHA256 link
mac as synthetic IV) and v2 (kind "c": head | index | ciphertext | mac over all of it, keystream
keyed by the head).

Verifying a token needs only the deployment secret.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

OPEN = b"o"
CLICK = b"c"  # what callers ask for; a v4 click token carries _CLICK_V4 (v3 _CLICK_V3, v2 CLICK)
UNSUBSCRIBE = b"u"
# a form signup's confirmation link: the campaign slot holds the signup (consent record) id, and
# `issued` the time the email went out (the link expires 7 days later: beacon.audience.consent)
CONFIRM = b"f"
_CLICK_V3 = b"l"
_CLICK_V4 = b"k"
_CLICKS = {CLICK, _CLICK_V3, _CLICK_V4}
_KINDS = {OPEN, UNSUBSCRIBE, CONFIRM, *_CLICKS}
_TAG_LEN = 16  # AES-GCM-SIV's tag
_AEAD_INFO = b"beacon/click-url/v4/aes-256-gcm-siv"
_MAC_LEN = 16
_HEAD_LEN = 1 + 16 * 3 + 4
_SIGNED_HEAD_LEN = _HEAD_LEN + _MAC_LEN  # 69 bytes = 92 base64 characters, no padding
MAX_TOKEN_LEN = 4096
# The link index of the hidden honeypot link in every tracked email (its url is empty): only
# machines follow it (beacon.message.compose adds it, beacon.tracking.opens_and_clicks records it as a machine).
HONEYPOT_LINK = 65535
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
_URLSAFE = bytes.maketrans(b"+/", b"-_")


class InvalidToken(ValueError):
    """The token is malformed, tampered with, or of another kind."""


@dataclass(frozen=True)
class TokenData:
    kind: bytes
    account_id: str
    campaign_id: str
    recipient_id: str
    issued_at: int = 0
    link_index: int = -1
    url: str = ""


@lru_cache(maxsize=256)
def _raw_ids(account_id: str, campaign_id: str) -> bytes:
    return bytes.fromhex(account_id) + bytes.fromhex(campaign_id)


def _xor(data: bytes, stream: bytes) -> bytes:
    n = len(data)
    if not n:
        return b""
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")).to_bytes(n, "big")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


class TokenSigner:
    def __init__(self, secret: bytes) -> None:
        mac_key = hmac.new(secret, b"beacon/token-mac/v2", hashlib.sha256).digest()
        self._mac_base = hmac.new(mac_key, digestmod=hashlib.sha256)  # keyed once, copied per token
        link_key = hmac.new(secret, b"beacon/click-link/v3", hashlib.sha256).digest()
        self._link_mac_base = hmac.new(link_key, digestmod=hashlib.sha256)
        self._enc_key = hmac.new(secret, b"beacon/click-url/v2", hashlib.sha256).digest()
        self._enc_key_v3 = hmac.new(secret, b"beacon/click-url/v3", hashlib.sha256).digest()
        self._secret = secret
        self._aead: Any = None  # AES-GCM-SIV under the HKDF-derived key, built on first use
        # the link part of a campaign's click tokens, the same in each of its emails
        self.link_part = lru_cache(maxsize=1024)(self._link_part)

    def _sealer(self) -> Any:
        """AES-256-GCM-SIV keyed by HKDF-SHA256(secret, info=this purpose): imported on first use."""
        if self._aead is None:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF

            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_AEAD_INFO).derive(self._secret)
            self._aead = AESGCMSIV(key)
        return self._aead

    @staticmethod
    def _nonce(ids: bytes, index: bytes) -> bytes:
        """12 bytes for one link of one campaign (GCM-SIV: a repeat only shows equal URLs)."""
        return hashlib.sha256(b"beacon/click-nonce/v4" + ids + index).digest()[:12]

    # ------------------------------------------------------------------ encoding
    def _mac(self, data: bytes) -> bytes:
        """HMAC-SHA256, truncated to 128 bits (the keyed state is copied, not rebuilt)."""
        h = self._mac_base.copy()
        h.update(data)
        return h.digest()[:_MAC_LEN]

    def _link_mac(self, ids: bytes, index: bytes, url: bytes) -> bytes:
        h = self._link_mac_base.copy()
        h.update(ids + index + url)
        return h.digest()[:_MAC_LEN]

    def _v3_keystream(self, ids: bytes, index: bytes, link_mac: bytes, length: int) -> bytes:
        return hashlib.shake_256(self._enc_key_v3 + ids + index + link_mac).digest(length)

    def _keystream(self, nonce: bytes, length: int) -> bytes:
        """v2: SHAKE256(key || the token's head and index)."""
        return hashlib.shake_256(self._enc_key + nonce).digest(length)

    @staticmethod
    def _rest(account_id: str, campaign_id: str, recipient_id: str, issued_at: int) -> bytes:
        return _raw_ids(account_id, campaign_id) + bytes.fromhex(recipient_id) \
            + (issued_at & 0xFFFFFFFF).to_bytes(4, "big")

    def _signed(self, kind: bytes, rest: bytes) -> bytes:
        data = kind + rest
        return data + self._mac(data)

    def _link_part(self, account_id: str, campaign_id: str, link_index: int, url: str) -> str:
        """base64url( index | AES-GCM-SIV ciphertext and tag ) of one link of one campaign."""
        if not 0 <= link_index < 65536:
            raise ValueError("link index out of range")
        ids = _raw_ids(account_id, campaign_id)
        index = link_index.to_bytes(2, "big")
        sealed = self._sealer().encrypt(self._nonce(ids, index), url.encode("utf-8"), ids + index)
        return _b64(index + sealed)

    def open_token(self, account_id: str, campaign_id: str, recipient_id: str, issued_at: int) -> str:
        return self.for_email(account_id, campaign_id, recipient_id, issued_at).open()

    def unsubscribe_token(self, account_id: str, campaign_id: str, recipient_id: str, issued_at: int) -> str:
        return self.for_email(account_id, campaign_id, recipient_id, issued_at).unsubscribe()

    def confirm_token(self, account_id: str, signup_id: str, recipient_id: str, issued_at: int) -> str:
        """The double opt-in link's token: account | signup | recipient | issued, signed."""
        return _b64(self._signed(CONFIRM, self._rest(account_id, signup_id, recipient_id, issued_at)))

    def click_token(
        self, account_id: str, campaign_id: str, recipient_id: str, issued_at: int, link_index: int, url: str
    ) -> str:
        return self.for_email(account_id, campaign_id, recipient_id, issued_at).click(link_index, url)

    def for_email(self, account_id: str, campaign_id: str, recipient_id: str, issued_at: int) -> EmailTokens:
        """The tokens of one email (its links share the part that depends on the recipient)."""
        return EmailTokens(self, account_id, campaign_id, self._rest(account_id, campaign_id, recipient_id,
                                                                     issued_at))

    # ------------------------------------------------------------------ decoding
    def verify(self, token: str, kind: bytes) -> TokenData:
        if not token or len(token) > MAX_TOKEN_LEN or not _ALPHABET.fullmatch(token):
            raise InvalidToken("not a token")
        try:
            raw = binascii.a2b_base64(token.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidToken("not base64url") from exc
        if len(raw) < _HEAD_LEN + _MAC_LEN:
            raise InvalidToken("too short")
        if _b64(raw) != token:
            raise InvalidToken("not the canonical spelling")  # one token, one spelling
        found = raw[:1]
        if found not in _KINDS or (found != kind and not (kind == CLICK and found in _CLICKS)):
            raise InvalidToken("wrong kind")
        if found == _CLICK_V4:
            return self._verify_click_v4(raw)
        if found == _CLICK_V3:
            return self._verify_click_v3(raw)
        data, mac = raw[:-_MAC_LEN], raw[-_MAC_LEN:]
        if not hmac.compare_digest(mac, self._mac(data)):
            raise InvalidToken("bad signature")
        account_id, campaign_id, recipient_id, issued_at = _head_fields(data)
        if kind != CLICK:
            if len(data) != _HEAD_LEN:
                raise InvalidToken("trailing data")
            return TokenData(kind, account_id, campaign_id, recipient_id, issued_at)
        if len(data) < _HEAD_LEN + 2:
            raise InvalidToken("no link")
        head = data[: _HEAD_LEN + 2]
        cipher = data[_HEAD_LEN + 2 :]
        url = _utf8(_xor(cipher, self._keystream(head, len(cipher))))
        link_index = int.from_bytes(head[_HEAD_LEN:], "big")
        return TokenData(kind, account_id, campaign_id, recipient_id, issued_at, link_index, url)

    def _verify_click_v4(self, raw: bytes) -> TokenData:
        if len(raw) < _SIGNED_HEAD_LEN + 2 + _TAG_LEN:
            raise InvalidToken("no link")
        head, mac = raw[:_HEAD_LEN], raw[_HEAD_LEN:_SIGNED_HEAD_LEN]
        if not hmac.compare_digest(mac, self._mac(head)):
            raise InvalidToken("bad signature")
        ids = head[1:33]
        index = raw[_SIGNED_HEAD_LEN : _SIGNED_HEAD_LEN + 2]
        from cryptography.exceptions import InvalidTag

        try:
            plain = self._sealer().decrypt(self._nonce(ids, index), raw[_SIGNED_HEAD_LEN + 2 :], ids + index)
        except InvalidTag as exc:
            raise InvalidToken("bad link signature") from exc
        account_id, campaign_id, recipient_id, issued_at = _head_fields(head)
        return TokenData(CLICK, account_id, campaign_id, recipient_id, issued_at,
                         int.from_bytes(index, "big"), _utf8(plain))

    def _verify_click_v3(self, raw: bytes) -> TokenData:
        if len(raw) < _SIGNED_HEAD_LEN + 2 + _MAC_LEN:
            raise InvalidToken("no link")
        head, mac = raw[:_HEAD_LEN], raw[_HEAD_LEN:_SIGNED_HEAD_LEN]
        if not hmac.compare_digest(mac, self._mac(head)):
            raise InvalidToken("bad signature")
        ids = head[1:33]
        index = raw[_SIGNED_HEAD_LEN : _SIGNED_HEAD_LEN + 2]
        cipher, link_mac = raw[_SIGNED_HEAD_LEN + 2 : -_MAC_LEN], raw[-_MAC_LEN:]
        plain = _xor(cipher, self._v3_keystream(ids, index, link_mac, len(cipher)))
        if not hmac.compare_digest(link_mac, self._link_mac(ids, index, plain)):
            raise InvalidToken("bad link signature")
        account_id, campaign_id, recipient_id, issued_at = _head_fields(head)
        return TokenData(CLICK, account_id, campaign_id, recipient_id, issued_at,
                         int.from_bytes(index, "big"), _utf8(plain))


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")  # bytes.translate: a table lookup per byte (str's: a dict's)


def _head_fields(data: bytes) -> tuple[str, str, str, int]:
    return data[1:17].hex(), data[17:33].hex(), data[33:49].hex(), int.from_bytes(data[49:53], "big")


def _utf8(plain: bytes) -> str:
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:  # only possible with a forged mac
        raise InvalidToken("bad url") from exc


class EmailTokens:
    """The tokens of one email: the recipient's signed head is built once; a click token is that
    head and the campaign's cached link part, put together."""

    __slots__ = ("_account_id", "_campaign_id", "_click_head", "_rest", "_signer")

    def __init__(self, signer: TokenSigner, account_id: str, campaign_id: str, rest: bytes) -> None:
        self._signer = signer
        self._account_id = account_id
        self._campaign_id = campaign_id
        self._rest = rest  # account, campaign, recipient, issued
        self._click_head = ""

    def open(self) -> str:
        return _b64(self._signer._signed(OPEN, self._rest))

    def unsubscribe(self) -> str:
        return _b64(self._signer._signed(UNSUBSCRIBE, self._rest))

    def click(self, link_index: int, url: str) -> str:
        return self.click_head() + self.link_part(link_index, url)

    def click_head(self) -> str:
        """The first 92 characters of each of this email's click tokens (kind, ids, issued, mac)."""
        if not self._click_head:
            self._click_head = _b64(self._signer._signed(_CLICK_V4, self._rest))
        return self._click_head

    def link_part(self, link_index: int, url: str) -> str:
        """The rest of a click token: the campaign's, the same string object in each of its emails
        (so whoever caches on it, beacon.message.mime, hashes it once)."""
        return self._signer.link_part(self._account_id, self._campaign_id, link_index, url)
