"""HMAC-signed tokens for the public routes (open pixel, tracked link, unsubscribe).

A token is base64url( kind | account | campaign | recipient | issued | body | mac ):
- issued is the send time (uint32 epoch seconds), so the machine-click rules need no read;
- ids are the 16 raw bytes of Beacon's 32-hex-digit ids, so a token names no person;
- a click token's body is the link index and the destination URL, encrypted with a SHAKE256
  keystream keyed by the secret and the token's head (the URL may carry personal data), so a
  redirect needs no database read;
- the mac is HMAC-SHA256 over everything before it, truncated to 128 bits.
Verifying a token needs only the deployment secret. Standard library only (pixel cold start).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache

OPEN = b"o"
CLICK = b"c"
UNSUBSCRIBE = b"u"
_KINDS = {OPEN, CLICK, UNSUBSCRIBE}
_MAC_LEN = 16
_HEAD_LEN = 1 + 16 * 3 + 4
MAX_TOKEN_LEN = 4096
# The link index of the hidden honeypot link in every tracked email (its url is empty): only
# machines follow it (beacon.composer adds it, beacon.tracking records it as a machine).
HONEYPOT_LINK = 65535
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


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
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")).to_bytes(n, "big")


class TokenSigner:
    def __init__(self, secret: bytes) -> None:
        mac_key = hmac.new(secret, b"beacon/token-mac/v2", hashlib.sha256).digest()
        self._mac_base = hmac.new(mac_key, digestmod=hashlib.sha256)  # keyed once, copied per token
        self._enc_key = hmac.new(secret, b"beacon/click-url/v2", hashlib.sha256).digest()

    # ------------------------------------------------------------------ encoding
    def _mac(self, data: bytes) -> bytes:
        """HMAC-SHA256, truncated to 128 bits (a send signs ~35 tokens an email: the keyed state is copied)."""
        h = self._mac_base.copy()
        h.update(data)
        return h.digest()[:_MAC_LEN]

    def _keystream(self, nonce: bytes, length: int) -> bytes:
        """SHAKE256(key || nonce) as the keystream; the nonce (the token's head) differs per
        recipient and link, so no two URLs share a keystream."""
        return hashlib.shake_256(self._enc_key + nonce).digest(length)

    def _encode(self, data: bytes) -> str:
        return base64.urlsafe_b64encode(data + self._mac(data)).rstrip(b"=").decode("ascii")

    @staticmethod
    def _head(kind: bytes, account_id: str, campaign_id: str, recipient_id: str, issued_at: int) -> bytes:
        return (
            kind
            + _raw_ids(account_id, campaign_id)
            + bytes.fromhex(recipient_id)
            + (issued_at & 0xFFFFFFFF).to_bytes(4, "big")
        )

    def open_token(self, account_id: str, campaign_id: str, recipient_id: str, issued_at: int) -> str:
        return self._encode(self._head(OPEN, account_id, campaign_id, recipient_id, issued_at))

    def unsubscribe_token(self, account_id: str, campaign_id: str, recipient_id: str, issued_at: int) -> str:
        return self._encode(self._head(UNSUBSCRIBE, account_id, campaign_id, recipient_id, issued_at))

    def click_token(
        self, account_id: str, campaign_id: str, recipient_id: str, issued_at: int, link_index: int, url: str
    ) -> str:
        if not 0 <= link_index < 65536:
            raise ValueError("link index out of range")
        head = self._head(CLICK, account_id, campaign_id, recipient_id, issued_at) + link_index.to_bytes(2, "big")
        raw = url.encode("utf-8")
        cipher = _xor(raw, self._keystream(head, len(raw)))
        return self._encode(head + cipher)

    # ------------------------------------------------------------------ decoding
    def verify(self, token: str, kind: bytes) -> TokenData:
        if not token or len(token) > MAX_TOKEN_LEN or not _ALPHABET.fullmatch(token):
            raise InvalidToken("not a token")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidToken("not base64url") from exc
        if len(raw) < _HEAD_LEN + _MAC_LEN:
            raise InvalidToken("too short")
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
            raise InvalidToken("not the canonical spelling")  # one token, one spelling
        data, mac = raw[:-_MAC_LEN], raw[-_MAC_LEN:]
        if not hmac.compare_digest(mac, self._mac(data)):
            raise InvalidToken("bad signature")
        if data[:1] != kind or data[:1] not in _KINDS:
            raise InvalidToken("wrong kind")
        account_id, campaign_id, recipient_id = (data[i : i + 16].hex() for i in (1, 17, 33))
        issued_at = int.from_bytes(data[49:53], "big")
        if kind != CLICK:
            if len(data) != _HEAD_LEN:
                raise InvalidToken("trailing data")
            return TokenData(kind, account_id, campaign_id, recipient_id, issued_at)
        if len(data) < _HEAD_LEN + 2:
            raise InvalidToken("no link")
        head = data[: _HEAD_LEN + 2]
        cipher = data[_HEAD_LEN + 2 :]
        plain = _xor(cipher, self._keystream(head, len(cipher)))
        try:
            url = plain.decode("utf-8")
        except UnicodeDecodeError as exc:  # only possible with a forged mac
            raise InvalidToken("bad url") from exc
        link_index = int.from_bytes(head[_HEAD_LEN:], "big")
        return TokenData(kind, account_id, campaign_id, recipient_id, issued_at, link_index, url)
