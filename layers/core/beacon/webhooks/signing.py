"""Standard Webhooks signatures (https://www.standardwebhooks.com/): the secret and the headers.

A delivery carries `webhook-id` (the event's id, the same on every retry and replay, so a receiver
can drop duplicates), `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature:
v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the base64-decoded part of the
`whsec_...` secret.

The secret is shown once, when the endpoint is created, and never stored: it is derived each time
from the deployment secret (BEACON_TOKEN_SECRET, the one that signs tracking tokens) and the
endpoint's random `salt`. A copy of the table alone (a backup, an export) holds no secret; whoever
holds the deployment secret could derive them all, exactly as they could forge every tracking
token. Encrypting a stored secret under a key held beside the code would protect it no better.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "whsec_"


def derive_secret(deployment_secret: bytes, account_id: str, webhook_id: str, salt: str) -> str:
    key = hmac.new(deployment_secret, b"beacon/webhook-secret/v1", hashlib.sha256).digest()
    raw = hmac.new(key, f"{account_id}|{webhook_id}|{salt}".encode(), hashlib.sha256).digest()
    return PREFIX + base64.b64encode(raw).decode("ascii")


def signature(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def headers(secret: str, msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, msg_id, timestamp, body)}
