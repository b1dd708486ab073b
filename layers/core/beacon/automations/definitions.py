"""Automations: a trigger (a contact becomes subscribed on a list) and ordered email steps.

Life: draft --activate--> active --pause--> paused --activate--> active; any of them --delete-->.
While active, its trigger item makes the event layer pass "subscribed" events of its list on
(beacon.db.listeners); pausing removes it (nobody enters a paused automation) and holds every
pending step until the automation is active again. A draft or paused automation can be changed;
step n keeps its id (and so its send ledger: a contact that got step n never gets it again), new
steps get new ids.

Steps are validated as campaigns are (the same sandboxed template checks, header rules, size
limit and verified sender domain: beacon.campaigns.drafts.validate), and each has a campaign-like
id that its emails carry in their tokens and SES tags (beacon.db.automations explains why).
"""

from __future__ import annotations

from typing import Any

from beacon.accounts.sender_domains import SenderCheck
from beacon.campaigns.drafts import validate
from beacon.db.accounts import ListRepo
from beacon.db.automations import Automations
from beacon.db.models import CampaignItem
from beacon.shared.clock import now_iso
from beacon.shared.errors import BeaconError, Conflict, NotFound, invalid
from beacon.shared.ids import is_id, new_id
from beacon.shared.tokens import TokenSigner

MAX_STEPS = 25
MAX_AFTER_SECONDS = 366 * 86400  # "up to a year" (a leap year's too)
STEP_FIELDS = ("after_seconds", "subject", "from_email", "from_name", "reply_to", "html", "text")


def view(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["automation_id"],
        "name": item["name"],
        "status": item["status"],
        "trigger": {"type": "subscribed", "list_id": item["list_id"]},
        "steps": [{"id": s["id"], **{k: s.get(k) for k in STEP_FIELDS}, "links": list(s.get("links") or [])}
                  for s in item["steps"]],
        "created_at": item.get("created_at"),
        "updated_at": item.get("updated_at"),
    }


def _trigger(value: Any, lists: ListRepo, account_id: str) -> str:
    if not isinstance(value, dict) or value.get("type") != "subscribed":
        raise invalid("trigger", 'must be {"type": "subscribed", "list_id": "..."}')
    list_id = value.get("list_id")
    if not isinstance(list_id, str) or not is_id(list_id) or lists.get(account_id, list_id) is None:
        raise invalid("trigger.list_id", f"list {list_id} not found")
    return list_id


def _steps(raw: Any, name: str, previous: list[dict[str, Any]], lists: ListRepo, account_id: str, company: str,
           signer: TokenSigner, base_url: str, senders: SenderCheck) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_STEPS:
        raise invalid("steps", f"a list of 1 to {MAX_STEPS} steps")
    steps: list[dict[str, Any]] = []
    for index, step in enumerate(raw):
        where = f"steps[{index}]"
        if not isinstance(step, dict):
            raise invalid(where, "must be an object")
        unknown = set(step) - set(STEP_FIELDS) - {"id", "links"}
        if unknown:
            raise invalid(f"{where}.{sorted(unknown)[0]}", "unknown field")
        after = step.get("after_seconds")
        if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_AFTER_SECONDS:
            raise invalid(f"{where}.after_seconds", f"a whole number of seconds from 0 to {MAX_AFTER_SECONDS}")
        for text_field in ("subject", "from_email", "html"):
            if not isinstance(step.get(text_field), str) or not step[text_field].strip():
                raise invalid(f"{where}.{text_field}", "must be a non-empty string")
        for text_field in ("from_name", "reply_to", "text"):
            if step.get(text_field) is not None and not isinstance(step[text_field], str):
                raise invalid(f"{where}.{text_field}", "must be a string")
        fields = {"name": name, "subject": step["subject"], "from_email": step["from_email"],
                  "from_name": step.get("from_name") or "", "reply_to": step.get("reply_to") or "",
                  "html": step["html"], "text": step.get("text") or "", "list_ids": []}
        try:
            found_links = validate(fields, lists, account_id, company, signer, base_url, senders=senders)
        except BeaconError as exc:  # name the step: "steps[1].subject: ..."
            raise type(exc)(f"{where}.{exc.message}", code=exc.code, details=exc.details) from exc
        steps.append({
            "id": previous[index]["id"] if index < len(previous) else new_id(),
            "after_seconds": after, "subject": fields["subject"], "from_email": fields["from_email"],
            "from_name": fields["from_name"], "reply_to": fields["reply_to"], "html": fields["html"],
            "text": fields["text"], "links": found_links,
        })
    return steps


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise invalid("name", "must be 1 to 200 characters")
    return value.strip()


def create(repo: Automations, lists: ListRepo, signer: TokenSigner, account_id: str, company: str,
           fields: dict[str, Any], base_url: str, *, senders: SenderCheck) -> dict[str, Any]:
    name = _name(fields.get("name"))
    list_id = _trigger(fields.get("trigger"), lists, account_id)
    steps = _steps(fields.get("steps"), name, [], lists, account_id, company, signer, base_url, senders)
    automation_id, now = new_id(), now_iso()
    item = {"name": name, "status": "draft", "list_id": list_id, "steps": steps, "base_url": base_url,
            "created_at": now, "updated_at": now}
    repo.put_steps(account_id, automation_id, steps)
    repo.create(account_id, automation_id, item)
    return view({**item, "automation_id": automation_id})


def require(repo: Automations, account_id: str, automation_id: str) -> dict[str, Any]:
    item = repo.get(account_id, automation_id) if is_id(automation_id) else None
    if item is None:
        raise NotFound("automation not found")
    return item


def update(repo: Automations, lists: ListRepo, signer: TokenSigner, account_id: str, company: str,
           automation_id: str, changes: dict[str, Any], base_url: str, *, senders: SenderCheck) -> dict[str, Any]:
    item = require(repo, account_id, automation_id)
    if item["status"] == "active":
        raise Conflict("pause the automation before changing it", code="automation_active")
    name = _name(changes["name"]) if changes.get("name") is not None else item["name"]
    list_id = (_trigger(changes["trigger"], lists, account_id) if changes.get("trigger") is not None
               else item["list_id"])
    steps = item["steps"]
    if changes.get("steps") is not None:
        steps = _steps(changes["steps"], name, item["steps"], lists, account_id, company, signer, base_url, senders)
    fields = {"name": name, "list_id": list_id, "steps": steps, "updated_at": now_iso()}
    repo.put_steps(account_id, automation_id, steps)
    if not repo.replace(account_id, automation_id, fields, only_status=("draft", "paused")):
        raise Conflict("the automation was activated meanwhile; pause it first", code="automation_active")
    return view({**item, **fields})


def set_status(repo: Automations, account_id: str, automation_id: str, action: str) -> dict[str, Any]:
    """activate (from draft or paused) or pause (from active). Idempotent for the same target."""
    item = require(repo, account_id, automation_id)
    target, allowed = ("active", ("draft", "paused")) if action == "activate" else ("paused", ("active",))
    if item["status"] == target:
        return view(item)
    if item["status"] not in allowed:
        raise Conflict(f"cannot {action} an automation that is {item['status']}", code="invalid_status")
    if not repo.set_status(account_id, automation_id, item["list_id"], allowed, target, now_iso()):
        raise Conflict("the automation changed meanwhile; try again", code="invalid_status")
    return view({**item, "status": target})


def delete(repo: Automations, account_id: str, automation_id: str) -> None:
    item = require(repo, account_id, automation_id)
    if not repo.delete(account_id, automation_id, item["list_id"], [s["id"] for s in item["steps"]]):
        raise NotFound("automation not found")


def step_campaign(account_id: str, item: dict[str, Any], index: int) -> CampaignItem:
    """Step `index` as the campaign the send code sends (never stored: the send code reads it through
    beacon.automations.progress.StepCampaigns)."""
    step = item["steps"][index]
    return CampaignItem(
        pk=account_id, sk=step["id"], campaign_id=step["id"], name=item["name"], subject=step["subject"],
        from_email=step["from_email"], from_name=step.get("from_name") or "", reply_to=step.get("reply_to") or "",
        list_ids=[item["list_id"]], html=step["html"], text=step.get("text") or "", track_opens=1, track_clicks=1,
        links=list(step.get("links") or []), status="sending", base_url=item.get("base_url") or "",
        created_at=item.get("created_at") or now_iso(), updated_at=item.get("updated_at") or now_iso(),
    )
