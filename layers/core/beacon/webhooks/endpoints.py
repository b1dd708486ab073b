"""A tenant's webhook endpoints: create (the secret shown once), list, read, change, delete."""

from __future__ import annotations

import secrets
from typing import Any

from beacon.db.webhooks import Webhooks
from beacon.ports.http_out import Refused, check_url
from beacon.shared.clock import now_iso
from beacon.shared.errors import NotFound, invalid
from beacon.shared.ids import new_id
from beacon.tracking.domain_events import EVENT_TYPES, MACHINE_TYPES
from beacon.webhooks.signing import derive_secret

MAX_ENDPOINTS = 20


def view(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["webhook_id"],
        "url": item["url"],
        "events": list(item.get("events") or []),
        "include_machine": bool(item.get("include_machine")),
        "status": item.get("status", "enabled"),
        "disabled_reason": item.get("disabled_reason") or None,
        "created_at": item.get("created_at"),
        "updated_at": item.get("updated_at"),
    }


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise invalid("events", f"a non-empty list of: {', '.join(EVENT_TYPES)}")
    unknown = [e for e in value if e not in EVENT_TYPES]
    if unknown:
        raise invalid("events", f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(value))


def _url(value: Any, allow_local: bool) -> str:
    try:
        check_url(value, allow_local)
    except Refused as exc:
        raise invalid("url", str(exc)) from exc
    return str(value)


def create(repo: Webhooks, deployment_secret: bytes, account_id: str, fields: dict[str, Any],
           allow_local: bool) -> dict[str, Any]:
    url = _url(fields.get("url"), allow_local)
    events = _events(fields.get("events"))
    include_machine = fields.get("include_machine", False)
    if not isinstance(include_machine, bool):
        raise invalid("include_machine", "must be true or false")
    if include_machine and not set(events) & set(MACHINE_TYPES):
        raise invalid("include_machine", "only email.opened and email.clicked have machine events")
    if len(repo.all(account_id)) >= MAX_ENDPOINTS:
        raise invalid("url", f"an account has at most {MAX_ENDPOINTS} webhook endpoints", code="too_many_webhooks")
    webhook_id, salt, now = new_id(), secrets.token_hex(16), now_iso()
    item = {"url": url, "events": events, "include_machine": include_machine, "status": "enabled",
            "salt": salt, "created_at": now, "updated_at": now}
    repo.create(account_id, webhook_id, item)
    return {**view({**item, "webhook_id": webhook_id}),
            "secret": derive_secret(deployment_secret, account_id, webhook_id, salt)}


def require(repo: Webhooks, account_id: str, webhook_id: str) -> dict[str, Any]:
    item = repo.get(account_id, webhook_id)
    if item is None:
        raise NotFound("webhook not found")
    return item


def update(repo: Webhooks, account_id: str, webhook_id: str, changes: dict[str, Any],
           allow_local: bool) -> dict[str, Any]:
    """Change url, events, include_machine, or status ("enabled" re-enables an endpoint a 410 disabled)."""
    item = require(repo, account_id, webhook_id)
    fields: dict[str, Any] = {}
    if changes.get("url") is not None:
        fields["url"] = _url(changes["url"], allow_local)
    if changes.get("events") is not None:
        fields["events"] = _events(changes["events"])
    if changes.get("include_machine") is not None:
        if not isinstance(changes["include_machine"], bool):
            raise invalid("include_machine", "must be true or false")
        fields["include_machine"] = changes["include_machine"]
    if changes.get("status") is not None:
        if changes["status"] not in ("enabled", "disabled"):
            raise invalid("status", "must be 'enabled' or 'disabled'")
        fields["status"] = changes["status"]
        fields["disabled_reason"] = "" if changes["status"] == "enabled" else "disabled by the account"
    if not fields:
        return view(item)
    fields["updated_at"] = now_iso()
    if not repo.update(account_id, webhook_id, fields):
        raise NotFound("webhook not found")
    return view({**item, **fields})


def delete(repo: Webhooks, account_id: str, webhook_id: str) -> None:
    if not repo.delete(account_id, webhook_id):
        raise NotFound("webhook not found")
