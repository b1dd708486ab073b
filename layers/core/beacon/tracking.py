"""Opens and clicks: verify the token, classify, write the ledger item and the counters.

At most two DynamoDB writes an event and no reads; a storage fault never breaks the pixel
or the redirect (the handler catches and reports it). Imports nothing heavy: this is the
pixel's cold start.
"""

from __future__ import annotations

import base64

from beacon.classify import CLICK, OPEN, Signal, classify
from beacon.clock import epoch, now_iso
from beacon.db.counters import Counters
from beacon.db.engagement import Engagement
from beacon.tokens import CLICK as CLICK_TOKEN
from beacon.tokens import OPEN as OPEN_TOKEN
from beacon.tokens import InvalidToken, TokenData, TokenSigner

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


def record_open(engagement: Engagement, counters: Counters, data: TokenData, method: str, user_agent: str,
                ip: str, purpose: str = "") -> str | None:
    """Record one open; returns the machine rule that matched, or None for a human open."""
    machine = classify(Signal(OPEN, method, user_agent, ip, purpose, epoch() - data.issued_at))
    prior = engagement.record_open(data.account_id, data.campaign_id, data.recipient_id,
                                   human=machine is None, at=now_iso())
    if not prior.exists:
        return machine
    counters.add(data.account_id, data.campaign_id, {
        "opens_total": 1,
        "opens_unique": 1 if prior.opens == 0 else 0,
        "opens_human_unique": 1 if machine is None and prior.human_opens == 0 else 0,
        "opens_machine": 1 if machine else 0,
    })
    return machine


def record_click(engagement: Engagement, counters: Counters, data: TokenData, method: str, user_agent: str,
                 ip: str, purpose: str = "") -> str | None:
    machine = classify(Signal(CLICK, method, user_agent, ip, purpose, epoch() - data.issued_at))
    prior = engagement.record_click(data.account_id, data.campaign_id, data.recipient_id,
                                    link_index=data.link_index, human=machine is None, at=now_iso())
    if not prior.exists:
        return machine
    i = data.link_index
    counters.add(data.account_id, data.campaign_id, {
        "clicks_total": 1,
        "clicks_unique": 1 if prior.clicks == 0 else 0,
        "clicks_human_unique": 1 if machine is None and prior.human_clicks == 0 else 0,
        "clicks_machine": 1 if machine else 0,
        f"link_{i}_total": 1,
        f"link_{i}_unique": 1 if i not in prior.clicked_links else 0,
    })
    return machine
