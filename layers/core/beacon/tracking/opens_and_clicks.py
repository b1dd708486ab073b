"""Where an open or a click is recorded: verify the token, classify the request (human, proxy or
machine: beacon.tracking.classify), record it with ONE write (beacon.db.engagement).

Writes per event (no reads): an open, first or repeat, is one UpdateItem on the recipient's ledger
item; a click is one UpdateItem (a second only for a person's 101st+ human click on one email,
see beacon.db.engagement.CLICK_LOG_CAP); a honeypot fetch is one UpdateItem. Why no counter
write, and how totals, uniques and human/machine stay exact: beacon/db/engagement.py.

Nothing heavy is imported here: this is the pixel's cold start. A storage fault never breaks the
pixel or the redirect (the handlers catch and report it), and a slow one does not hold them: they
wait on the write at most a second (record_in_time).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Protocol

from beacon.db.conditions import transient
from beacon.db.engagement import Engagement
from beacon.shared.aws import TRACKING_CONNECT_TIMEOUT, TRACKING_READ_TIMEOUT
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


def is_safe_location(url: str) -> bool:
    """May the redirect send the reader there? An http(s) URL with no control or other
    non-printable character (a CR/LF would end the Location header and start another)."""
    return url[:8].lower().startswith(("http://", "https://")) and url.isprintable()


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


WRITE_BUDGET_SECONDS = 1.0  # how long the pixel or the redirect may wait on its write
ATTEMPT_SECONDS = TRACKING_CONNECT_TIMEOUT + TRACKING_READ_TIMEOUT  # the longest one write attempt takes
# The clock the retry decision reads when the caller gives none (the handlers): a module attribute,
# so a test can see (or set) what the decision saw instead of depending on the machine's speed.
retry_clock: Callable[[], float] = time.monotonic


def record_in_time(record: Callable[[Engagement, TokenData, Request], str], engagement: Engagement,
                   data: TokenData, request: Request, *, budget: float = WRITE_BUDGET_SECONDS,
                   clock: Callable[[], float] | None = None) -> str:
    """`record(...)` on the tracking client (one attempt ends within ATTEMPT_SECONDS: connection
    refused, a 500 or a throttle at once, a hang at the read timeout, a black hole at the connect
    timeout), tried a second time only if it failed transiently and a second attempt still fits in
    `budget`. So the pixel and the redirect answer within the budget whatever DynamoDB does; the
    caller counts what was not recorded. Nothing is abandoned on a timer: a write that succeeds,
    however slowly, is kept (the client's own timeouts bound how long one attempt can take)."""
    now = clock or retry_clock
    start = now()
    try:
        return record(engagement, data, request)
    except Exception as exc:
        if not transient(exc) or now() - start + ATTEMPT_SECONDS > budget:
            raise
    return record(engagement, data, request)
