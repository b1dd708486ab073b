"""Where an open or a click is recorded: verify the token, classify the request (human, proxy or
machine: beacon.tracking.classify), record it with ONE write (beacon.db.engagement).

Writes per event (no reads): an open, first or repeat, is one UpdateItem on the recipient's ledger
item; a click is one UpdateItem (a second only for a person's 101st+ human click on one email,
see beacon.db.engagement.CLICK_LOG_CAP); a honeypot fetch is one UpdateItem. Why no counter
write, and how totals, uniques and human/machine stay exact: beacon/db/engagement.py.

Nothing heavy is imported here: this is the pixel's cold start. A storage fault never breaks the
pixel or the redirect (the handlers catch and report it).
"""

from __future__ import annotations

import base64
from typing import Protocol

from beacon.db.engagement import Engagement
from beacon.shared.clock import epoch, now_iso
from beacon.shared.tokens import CLICK as CLICK_TOKEN
from beacon.shared.tokens import HONEYPOT_LINK, InvalidToken, TokenData, TokenSigner
from beacon.shared.tokens import OPEN as OPEN_TOKEN
from beacon.tracking.classify import (
    CLICK,
    OPEN,
    Signal,
    classify,
    client_class,
    image_proxy,
)


class Request(Protocol):
    """What recording needs of a request (beacon.web.request.PublicRequest is one)."""

    def signal(self, kind: str) -> Signal: ...


# The classic 43-byte transparent 1x1 GIF.
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")


def verify_open(signer: TokenSigner, token: str) -> TokenData | None:
    try:
        return signer.verify(token, OPEN_TOKEN)
    except InvalidToken:
        return None


def verify_click(signer: TokenSigner, token: str) -> TokenData | None:
    try:
        return signer.verify(token, CLICK_TOKEN)
    except InvalidToken:
        return None


def is_honeypot(data: TokenData) -> bool:
    return data.link_index == HONEYPOT_LINK and data.url == ""


def record_open(engagement: Engagement, data: TokenData, request: Request) -> str:
    """Record one open (one write); returns the client class it was stored as."""
    signal = request.signal(OPEN)
    machine = classify(signal)
    kind = "machine" if machine else "proxied" if image_proxy(signal) else "human"
    client = client_class(signal, machine)
    engagement.record_open(data.account_id, data.campaign_id, data.recipient_id, kind=kind, at=epoch(),
                           at_iso=now_iso(), client=client)
    return client


def record_click(engagement: Engagement, data: TokenData, request: Request) -> str:
    """Record one click, or one honeypot fetch (one write); returns the stored client class."""
    signal = request.signal(CLICK)
    machine = classify(signal)
    client = client_class(signal, machine)
    ids = (data.account_id, data.campaign_id, data.recipient_id)
    if is_honeypot(data):
        engagement.record_honeypot(*ids, at=epoch(), at_iso=now_iso(), client=client)
        return client
    engagement.record_click(*ids, link_index=data.link_index, human=machine is None, at=epoch(), at_iso=now_iso(),
                            client=client)
    return client







