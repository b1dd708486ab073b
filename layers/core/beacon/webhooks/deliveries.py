"""Webhook deliveries: one per (event, endpoint), at least once, signed, retried with backoff.

fan_out (the `reactions` function, per domain event): a pending delivery item per endpoint that
asked for the event (a conditional Put keyed by the event id: a redelivered event adds nothing), and a
message on the webhook queue for each.

deliver (the `webhook_deliver` function, per message): the attempt is claimed first (a lease on the
item: duplicate messages collapse into one attempt), the endpoint is read (a disabled or deleted one
ends the delivery), the body is signed for this attempt and POSTed through the HTTP-out port (its
SSRF guard runs at every attempt). 2xx: succeeded. 410 Gone: the endpoint is disabled and the
delivery ends. Anything else (another status, a timeout, a refused address): the next attempt after
RETRY_SCHEDULE (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, with +-10 % jitter: the 8th and last
attempt comes ~27.6 hours after the first), then `failed` and a copy of the message on the DLQ. SQS
delays reach 900 s, so a longer wait is a chain of delayed messages, each re-checking the item.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from beacon.db.webhooks import Webhooks
from beacon.ports.http_out import HttpOut
from beacon.shared.clock import now_iso
from beacon.shared.errors import BadRequest, NotFound
from beacon.shared.observability import logger
from beacon.tracking.domain_events import DomainEvent
from beacon.webhooks.signing import derive_secret, headers

RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)  # seconds after attempts 1..7
LEASE_SECONDS = 60  # > the 10 s timeout: an attempt in flight is not started twice
MAX_DELAY = 900


class EmailOrigin(Protocol):
    def __call__(self, account_id: str, campaign_id: str) -> dict[str, Any]:
        """{"links": [...], "automation_id"?: ..., "step"?: ...} of a campaign or automation step id."""
        ...


class Queue(Protocol):
    def send(self, queue_url: str, bodies: list[dict[str, Any]], delay_seconds: int | list[int] = 0) -> None: ...


@dataclass
class WebhookDeps:
    webhooks: Webhooks
    queue: Queue
    queue_url: str
    dlq_url: str
    http: HttpOut
    deployment_secret: bytes
    origin: EmailOrigin
    clock: Callable[[], float] = time.time
    _origins: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def _wanted(endpoint: dict[str, Any], event: DomainEvent) -> bool:
    if endpoint.get("status") != "enabled" or event.type not in (endpoint.get("events") or []):
        return False
    return not event.machine or bool(endpoint.get("include_machine"))


def _enrich(event: DomainEvent, deps: WebhookDeps) -> dict[str, Any]:
    """The payload, with what the stream record did not hold: an automation step's ids, a link's URL."""
    payload = event.payload()
    data = dict(payload["data"])
    campaign_id = data.get("campaign_id")
    if event.type.startswith("email.") and campaign_id:
        key = (event.account_id, str(campaign_id))
        if key not in deps._origins:
            deps._origins[key] = deps.origin(*key)
        origin = deps._origins[key]
        if origin.get("automation_id"):
            data["automation_id"] = origin["automation_id"]
            data["step"] = int(origin.get("step", 0)) + 1  # steps are numbered from 1 in the API
            data["campaign_id"] = None
            data["step_id"] = campaign_id
        if event.type == "email.clicked":
            links = origin.get("links") or []
            index = data.get("link_index")
            data["url"] = links[index] if isinstance(index, int) and 0 <= index < len(links) else None
    data.pop("link_index", None)
    payload["data"] = data
    return payload


def fan_out(event: DomainEvent, deps: WebhookDeps) -> int:
    """Create and queue this event's deliveries; how many endpoints get it."""
    endpoints = [e for e in deps.webhooks.all(event.account_id) if _wanted(e, event)]
    if not endpoints:
        return 0
    body = json.dumps(_enrich(event, deps), separators=(",", ":"), ensure_ascii=False)
    now, at = deps.clock(), now_iso()
    messages = []
    for endpoint in endpoints:
        webhook_id = str(endpoint["webhook_id"])
        if not deps.webhooks.add_delivery(event.account_id, webhook_id, event.id, event.type, body, now, at):
            existing = deps.webhooks.delivery(event.account_id, webhook_id, event.id)
            if not existing or existing.get("status") != "pending" or existing.get("attempt_count"):
                continue  # delivered or under way already: the redelivered event adds nothing
        messages.append({"account_id": event.account_id, "webhook_id": webhook_id, "event_id": event.id})
    if messages:
        deps.queue.send(deps.queue_url, messages)
    return len(messages)


def next_delay(attempts_made: int) -> int | None:
    """Seconds until the next attempt after `attempts_made` attempts; None when they are used up."""
    if attempts_made < 1 or attempts_made > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[attempts_made - 1]
    return max(1, int(base * random.uniform(0.9, 1.1)))


def _requeue(deps: WebhookDeps, message: dict[str, Any], wait: float) -> None:
    deps.queue.send(deps.queue_url, [message], delay_seconds=min(MAX_DELAY, max(0, int(wait + 0.999))))


def deliver(message: dict[str, Any], deps: WebhookDeps) -> str:
    """One attempt of one delivery, if it is due. Returns what happened (for logs and tests)."""
    try:
        account_id, webhook_id, event_id = (str(message[k]) for k in ("account_id", "webhook_id", "event_id"))
    except (KeyError, TypeError):
        logger.warning("webhook message dropped: not a delivery", extra={"body": str(message)[:200]})
        return "dropped"
    item = deps.webhooks.delivery(account_id, webhook_id, event_id)
    if item is None or item.get("status") != "pending":
        return "done"
    now = deps.clock()
    due = float(item.get("next_attempt_at") or 0)
    if due > now + 1:
        _requeue(deps, message, due - now)  # a wait longer than SQS delays: one more hop
        return "waiting"
    if not deps.webhooks.claim(account_id, webhook_id, event_id, now, LEASE_SECONDS):
        return "busy"
    endpoint = deps.webhooks.get(account_id, webhook_id)
    if endpoint is None or endpoint.get("status") != "enabled":
        deps.webhooks.finish(account_id, webhook_id, event_id, "failed",
                             "endpoint deleted" if endpoint is None else "endpoint disabled")
        return "endpoint_off"
    body = str(item["body"])
    secret = derive_secret(deps.deployment_secret, account_id, webhook_id, str(endpoint["salt"]))
    timestamp = int(deps.clock())
    answer = deps.http.post(str(endpoint["url"]), body.encode(),
                            headers(secret, f"msg_{event_id}", timestamp, body))
    attempt = {"at": now_iso(), "status_code": answer.status, "error": answer.error, "ms": answer.ms,
               "answer": answer.body[:256]}
    made = int(item.get("attempt_count") or 0) + 1
    if answer.status is not None and 200 <= answer.status < 300:
        deps.webhooks.record_attempt(account_id, webhook_id, event_id, attempt, "succeeded", None)
        return "succeeded"
    if answer.status == 410:
        deps.webhooks.record_attempt(account_id, webhook_id, event_id, attempt, "failed", None)
        deps.webhooks.disable(account_id, webhook_id, "the endpoint answered 410 Gone", now_iso())
        logger.info("webhook endpoint disabled by 410", extra={"webhook_id": webhook_id})
        return "gone"
    delay = next_delay(made)
    if delay is None:
        deps.webhooks.record_attempt(account_id, webhook_id, event_id, attempt, "failed", None)
        deps.queue.send(deps.dlq_url, [{**message, "reason": "retries used up"}])
        logger.warning("webhook delivery failed for good", extra={"webhook_id": webhook_id, "event_id": event_id})
        return "failed"
    deps.webhooks.record_attempt(account_id, webhook_id, event_id, attempt, "pending", int(now) + delay)
    _requeue(deps, message, delay)
    return "retrying"


# ----------------------------------------------------------------------------- the delivery log
def view(item: dict[str, Any]) -> dict[str, Any]:
    status = item.get("status")
    return {
        "id": item["event_id"],
        "webhook_id_header": f"msg_{item['event_id']}",
        "type": item.get("type"),
        "status": status,
        "created_at": item.get("created_at"),
        "attempts": list(item.get("attempts") or []),
        "next_attempt_at": _iso(item.get("next_attempt_at")) if status == "pending" else None,
        "final_reason": item.get("final_reason") or None,
        "payload": json.loads(item["body"]) if item.get("body") else None,
    }


def _iso(epoch: Any) -> str | None:
    if not isinstance(epoch, int | float):
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def log(repo: Webhooks, account_id: str, webhook_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    if not 1 <= limit <= 100:
        raise BadRequest("limit must be between 1 and 100")
    if cursor is not None and not (len(cursor) == 32 and all(c in "0123456789abcdef" for c in cursor)):
        raise BadRequest("cursor is not one this API gave out", code="invalid_cursor")
    items, after = repo.deliveries(account_id, webhook_id, limit, cursor)
    return {"items": [view(i) for i in items], "next_cursor": after}


def replay(deps: WebhookDeps, account_id: str, webhook_id: str, event_id: str) -> dict[str, Any]:
    """Send a delivery again now, whatever became of it (same webhook-id, a new timestamp and signature)."""
    if not deps.webhooks.replay(account_id, webhook_id, event_id, deps.clock()):
        raise NotFound("delivery not found")
    deps.queue.send(deps.queue_url, [{"account_id": account_id, "webhook_id": webhook_id, "event_id": event_id}])
    item = deps.webhooks.delivery(account_id, webhook_id, event_id)
    if item is None:  # expired (30 days) between the replay and this read
        raise NotFound("delivery not found")
    return view(item)


def deliver_batch(records: list[tuple[str, str]], deps: WebhookDeps) -> list[str]:
    """An SQS batch of (message id, body), delivered in parallel (each attempt takes up to 10 s);
    the ids of the messages that failed (to be retried by SQS)."""
    def one(record: tuple[str, str]) -> str | None:
        message_id, body = record
        try:
            outcome = deliver(json.loads(body), deps)
        except ValueError:
            logger.warning("webhook message dropped: not JSON", extra={"message_id": message_id})
            return None
        except Exception:
            logger.exception("webhook delivery failed; SQS retries it", extra={"message_id": message_id})
            return message_id
        logger.debug("webhook delivery", extra={"message_id": message_id, "outcome": outcome})
        return None

    if not records:
        return []
    with ThreadPoolExecutor(max(1, min(10, len(records)))) as pool:
        return [m for m in pool.map(one, records) if m]
