"""Contacts through an automation: entering, each step sent exactly once when it is due, leaving.

Entering (`enter`, from a contact.subscribed domain event): for each automation active on the list, a
conditional Put of the contact's enrolment (beacon.db.automations): a redelivered event, or a second
subscription later, enters nobody twice.

Timing: step n is due `after_seconds` after step n-1 was sent (step 1 after entering). A wait of up
to 900 s is an SQS message delayed by exactly that (and the enrolment's wake time is set a
WATCHDOG later, in case that message is lost); a longer wait is only the enrolment's wake time in
the sparse by_wake index, which the one-minute sweep reads for what is due within the next minute
and queues with its exact delay. (EventBridge Scheduler one-time schedules were the other way: $1
per million, but CreateSchedule is limited to 50 calls/s per account by default and a schedule per
enrolment and step is an API call and an item to clean up; the index costs one Query per shard
per minute and one write per long wait.)

Sending (`run_step`, the automation queue): right before the send, the automation must be active
(paused: the step is held; `resume` queues it again), the enrolment must still be at this step,
and the contact must exist (erasure), be subscribed (an unsubscribe, complaint or bounce) and still
be on the trigger list; otherwise the contact leaves the automation (exited, with the reason). Then
the step goes through the same send code as a campaign's batch (beacon.sending.send.send_batch:
suppression check, tenant pacing, the send ledger's claim before SES and settle after it, tracking
links, pixel and unsubscribe footer), as a campaign whose id is the step's id (step_campaign). A
recipient the ledger settled moves to the next step (a conditional update on the step number, so a
redelivered message moves nobody twice); one the ledger found already settled by an earlier attempt
(a crash after the send) moves on too, without a second email.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any, Protocol

from beacon.automations.definitions import step_campaign
from beacon.db.automations import WAKE_SHARDS, Automations
from beacon.db.batch_state import BatchView
from beacon.db.models import CampaignItem, ContactItem
from beacon.sending.batches import BATCH_SIZE
from beacon.sending.deps import BatchState, SendDeps
from beacon.sending.send import BatchResult, send_batch
from beacon.shared.clock import now_iso
from beacon.shared.observability import logger
from beacon.tracking.domain_events import DomainEvent

MAX_DELAY = 900  # SQS's longest message delay
WATCHDOG = 900  # a queued step not done this long after it was due is queued again by the sweep
PAUSED_SNOOZE = 86400  # a paused automation's due enrolments are looked at again a day later (or on resume)
SWEEP_AHEAD = 60  # the sweep queues what is due before its next run
SWEEP_LIMIT = 500  # enrolments per shard per sweep; more: the sweep queues itself again at once


class Contacts(Protocol):
    def get_many(self, account_id: str, recipient_ids: list[str]) -> dict[str, ContactItem]: ...


class LedgerStatus(Protocol):
    def get(self, account_id: str, campaign_id: str, recipient_id: str) -> dict[str, Any] | None: ...


class Queue(Protocol):
    def send(self, queue_url: str, bodies: list[dict[str, Any]], delay_seconds: int | list[int] = 0) -> None: ...


class StepCampaigns:
    """What send_batch reads as "the campaign": the step of an automation, built from its definition."""

    def __init__(self, account_id: str, item: dict[str, Any], index: int) -> None:
        self._campaign = step_campaign(account_id, item, index)

    @property
    def campaign(self) -> CampaignItem:
        return self._campaign

    def get(self, account_id: str, campaign_id: str, consistent: bool = False) -> CampaignItem | None:
        if campaign_id != self._campaign.campaign_id or account_id != self._campaign.pk:
            return None
        return self._campaign

    # A step has no lifecycle of its own (its automation's status is checked before each send), so
    # nothing moves it, schedules it or checkpoints a dispatch of it: the send code never asks these.
    def transition(self, item: CampaignItem, from_status: str, to_status: str, now: str, *,
                   reason: str | None = None) -> bool:
        return False

    def start_scheduled(self, item: CampaignItem, now: str) -> bool:
        return False

    def checkpoint(self, item: CampaignItem, expected_seq: int, list_index: int, cursor: str | None,
                   added: int, done: bool, now: str) -> bool:
        return False

    def due(self, now: str, limit: int = 500) -> list[tuple[str, str]]:
        return []

    def record_segment(self, item: CampaignItem, definition: dict[str, Any]) -> bool:
        return False


class StepBatchState:
    """What the send gate reads for a step: the step itself as "the campaign" (always sending: the
    automation's status is checked before each step) and the batch's suppressions, read strongly
    consistent as for a campaign's batch (an unsubscribe or suppression answered is seen by the next
    email of the step)."""

    def __init__(self, reader: BatchState, campaign: CampaignItem) -> None:
        self._reader = reader
        self._campaign = campaign

    def read(self, account_id: str, campaign_id: str, recipient_ids: Collection[str], *,
             full: bool = False, with_campaign: bool = True) -> BatchView:
        # the suppressions only: a step is no item of the campaigns table (nor may this function read it)
        view = self._reader.read(account_id, campaign_id, recipient_ids, with_campaign=False)
        if campaign_id != self._campaign.campaign_id or account_id != self._campaign.pk:
            return BatchView(None, view.suppressed)
        return BatchView(self._campaign.status, view.suppressed, self._campaign if full else None)


@dataclass
class AutomationDeps:
    automations: Automations
    contacts: Contacts
    ledger: LedgerStatus
    queue: Queue
    queue_url: str  # the automation queue: step messages, and the send code's put-back batches
    send_deps: SendDeps | None = None  # the campaigns' send dependencies (the step sender only)
    send: Callable[[dict[str, Any], SendDeps], BatchResult] = send_batch
    clock: Callable[[], float] = time.time


def _message(account_id: str, automation_id: str, step: int, recipient_ids: list[str]) -> dict[str, Any]:
    return {"kind": "step", "account_id": account_id, "automation_id": automation_id, "step": step,
            "recipients": [{"rid": r} for r in recipient_ids]}


def _queue_steps(deps: AutomationDeps, account_id: str, automation_id: str, step: int,
                 due: dict[str, int]) -> None:
    """Queue step `step` for recipients due within MAX_DELAY ({rid: due_at}), one message per delay."""
    now = deps.clock()
    by_delay: dict[int, list[str]] = {}
    for rid, due_at in due.items():
        by_delay.setdefault(min(MAX_DELAY, max(0, int(due_at - now + 0.999))), []).append(rid)
    bodies: list[dict[str, Any]] = []
    delays: list[int] = []
    for delay, rids in sorted(by_delay.items()):
        for start in range(0, len(rids), BATCH_SIZE):
            bodies.append(_message(account_id, automation_id, step, rids[start:start + BATCH_SIZE]))
            delays.append(delay)
    if bodies:
        deps.queue.send(deps.queue_url, bodies, delay_seconds=delays)


def _wake(now: float, due_at: int) -> tuple[int, bool]:
    """(wake_at, queue it now?): a step due within MAX_DELAY is queued now, the sweep is its watchdog."""
    if due_at - now <= MAX_DELAY:
        return due_at + WATCHDOG, True
    return due_at, False


# ----------------------------------------------------------------------------- entering
def enter(event: DomainEvent, deps: AutomationDeps) -> int:
    """Enrol the contact of a contact.subscribed event in the automations active on its list."""
    if event.type != "contact.subscribed" or not event.automations or not event.list_id or not event.recipient_id:
        return 0
    entered = 0
    for automation_id in deps.automations.active_lists(event.account_id).get(event.list_id, []):
        item = deps.automations.get(event.account_id, automation_id)
        if item is None or item["status"] != "active" or item["list_id"] != event.list_id or not item["steps"]:
            continue
        now = deps.clock()
        due_at = math.ceil(now) + int(item["steps"][0]["after_seconds"])
        wake_at, queue_now = _wake(now, due_at)
        if deps.automations.enrol(event.account_id, automation_id, event.recipient_id, due_at, wake_at, now_iso()):
            entered += 1
        else:  # entered before: queue step 1 again only if it is still the pending one (a crash before queuing)
            found = deps.automations.enrolments(event.account_id, automation_id, [event.recipient_id])
            enrolment = found.get(event.recipient_id)
            if not enrolment or enrolment.get("status") != "active" or int(enrolment.get("step", -1)) != 0:
                continue
            due_at = int(enrolment["due_at"])
            queue_now = due_at - now <= MAX_DELAY
        if queue_now:
            _queue_steps(deps, event.account_id, automation_id, 0, {event.recipient_id: due_at})
    return entered


# ----------------------------------------------------------------------------- one step
def _advance(deps: AutomationDeps, account_id: str, item: dict[str, Any], step: int, rids: list[str]) -> int:
    automation_id, steps = item["automation_id"], item["steps"]
    now, at = deps.clock(), now_iso()
    moved = 0
    if step + 1 >= len(steps):
        for rid in rids:
            moved += deps.automations.finish(account_id, automation_id, rid, "completed", at, from_step=step)
        return moved
    due_at = math.ceil(now) + int(steps[step + 1]["after_seconds"])
    wake_at, queue_now = _wake(now, due_at)
    ready: dict[str, int] = {}
    for rid in rids:
        if deps.automations.advance(account_id, automation_id, rid, step, due_at, wake_at, at):
            moved += 1
            ready[rid] = due_at
    if queue_now and ready:
        _queue_steps(deps, account_id, automation_id, step + 1, ready)
    return moved


def _exit(deps: AutomationDeps, account_id: str, automation_id: str, rid: str, reason: str) -> None:
    if deps.automations.finish(account_id, automation_id, rid, "exited", now_iso(), reason=reason):
        logger.info("contact left the automation", extra={"automation_id": automation_id, "reason": reason})


def run_step(body: dict[str, Any], deps: AutomationDeps) -> str:
    """Send step `body["step"]` of an automation to the recipients of the message that are due."""
    account_id, automation_id, step = str(body["account_id"]), str(body["automation_id"]), int(body["step"])
    rids = list(dict.fromkeys(str(r["rid"]) for r in body.get("recipients") or []))
    item = deps.automations.get(account_id, automation_id)
    if item is None:
        return "deleted"  # its purge job removes the enrolments
    if item["status"] != "active":
        return "held"  # paused: `resume` queues what is due when it is active again
    enrolments = deps.automations.enrolments(account_id, automation_id, rids)
    now = deps.clock()
    due: list[str] = []
    early: dict[str, int] = {}
    for rid in rids:
        enrolment = enrolments.get(rid)
        if not enrolment or enrolment.get("status") != "active" or int(enrolment.get("step", -1)) != step:
            continue  # done already (a redelivered message), or left
        if int(enrolment.get("due_at") or 0) > now:  # never early: due_at is rounded up
            early[rid] = int(enrolment["due_at"])
            continue
        due.append(rid)
    if early:
        _queue_steps(deps, account_id, automation_id, step, {r: d for r, d in early.items() if d - now <= MAX_DELAY})
    if step >= len(item["steps"]):  # the automation lost steps while paused: these are done
        for rid in due:
            deps.automations.finish(account_id, automation_id, rid, "completed", now_iso(), from_step=step - 1)
        return "completed"
    contacts = deps.contacts.get_many(account_id, due) if due else {}
    recipients: list[dict[str, Any]] = []
    for rid in due:
        contact = contacts.get(rid)
        if contact is None:
            _exit(deps, account_id, automation_id, rid, "erased")
        elif contact.status != "subscribed":
            _exit(deps, account_id, automation_id, rid, contact.status or "unsubscribed")
        elif item["list_id"] not in (contact.list_ids or set()):
            _exit(deps, account_id, automation_id, rid, "left_list")
        else:
            recipients.append({"rid": rid, "email": contact.email, "attributes": contact.attributes or {}})
    if not recipients:
        return "nothing_due"
    assert deps.send_deps is not None, "the step sender needs the send dependencies"
    step_id = item["steps"][step]["id"]
    send_body = {"kind": "step", "account_id": account_id, "automation_id": automation_id, "step": step,
                 "campaign_id": step_id, "recipients": recipients}
    if body.get("attempt"):
        send_body["attempt"] = int(body["attempt"])
    campaigns = StepCampaigns(account_id, item, step)
    send_deps = replace(deps.send_deps, campaigns=campaigns, send_queue_url=deps.queue_url,
                        batch_state=StepBatchState(deps.send_deps.batch_state, campaigns.campaign))
    result = deps.send(send_body, send_deps)
    settled = {o.recipient_id: o.status for o in result.outcomes}
    for r in recipients:
        if r["rid"] not in settled:  # not settled by this attempt: settled before it (a redelivery)?
            found = deps.ledger.get(account_id, step_id, r["rid"])
            if found and found.get("status") in ("sent", "failed", "suppressed"):
                settled[r["rid"]] = str(found["status"])
    for rid, status in settled.items():
        if status == "suppressed":
            _exit(deps, account_id, automation_id, rid, "suppressed")
    _advance(deps, account_id, item, step, [rid for rid, status in settled.items() if status in ("sent", "failed")])
    return "sent"


# ----------------------------------------------------------------------------- the sweep, resume, purge
def sweep(deps: AutomationDeps) -> int:
    """Queue every step due before the next sweep (and any queued step lost past its watchdog)."""
    now = deps.clock()
    queued = 0
    more = False
    statuses: dict[str, str | None] = {}
    for shard in WAKE_SHARDS:
        found = deps.automations.due(shard, int(now) + SWEEP_AHEAD, SWEEP_LIMIT)
        more = more or len(found) >= SWEEP_LIMIT
        groups: dict[tuple[str, str, int], dict[str, int]] = {}
        for enrolment in found:
            pk, rid = str(enrolment["pk"]), str(enrolment["sk"])
            account_id, _, automation_id = pk.partition("#E#")
            if pk not in statuses:
                item = deps.automations.get(account_id, automation_id)
                statuses[pk] = item["status"] if item else None
            due_at, wake_at = int(enrolment.get("due_at") or 0), int(enrolment["wake_at"])
            if statuses[pk] != "active":  # held while paused (resume queues it), gone if deleted (purge)
                deps.automations.snooze(pk, rid, wake_at, int(now) + PAUSED_SNOOZE)
                continue
            if deps.automations.snooze(pk, rid, wake_at, max(due_at, int(now)) + WATCHDOG):
                groups.setdefault((account_id, automation_id, int(enrolment.get("step") or 0)), {})[rid] = due_at
        for (account_id, automation_id, step), due in groups.items():
            _queue_steps(deps, account_id, automation_id, step, due)
            queued += len(due)
    if more:
        deps.queue.send(deps.queue_url, [{"kind": "sweep"}])
    return queued


def resume(body: dict[str, Any], deps: AutomationDeps) -> int:
    """After activate: queue the held steps that are due (a page of enrolments, then the next page)."""
    account_id, automation_id = str(body["account_id"]), str(body["automation_id"])
    item = deps.automations.get(account_id, automation_id)
    if item is None or item["status"] != "active":
        return 0
    page, after = deps.automations.active_page(account_id, automation_id, body.get("after"))
    now = deps.clock()
    pk = f"{account_id}#E#{automation_id}"
    by_step: dict[int, dict[str, int]] = {}
    for enrolment in page:
        rid, due_at = str(enrolment["sk"]), int(enrolment.get("due_at") or 0)
        wake_at, queue_now = _wake(now, max(due_at, int(now)))
        if enrolment.get("wake_at") is not None:
            deps.automations.snooze(pk, rid, int(enrolment["wake_at"]), wake_at)
        if queue_now:
            by_step.setdefault(int(enrolment.get("step") or 0), {})[rid] = due_at
    for step, due in by_step.items():
        _queue_steps(deps, account_id, automation_id, step, due)
    if after:
        deps.queue.send(deps.queue_url, [{"kind": "resume", "account_id": account_id,
                                          "automation_id": automation_id, "after": after}])
    return sum(len(d) for d in by_step.values())


def purge(body: dict[str, Any], deps: AutomationDeps) -> int:
    """After delete: remove the automation's enrolments (its steps' ledger items stay, as a campaign's do)."""
    account_id, automation_id = str(body["account_id"]), str(body["automation_id"])
    if deps.automations.get(account_id, automation_id) is not None:
        return 0
    rids = deps.automations.enrolment_pages(account_id, automation_id)
    deps.automations.delete_enrolments(account_id, automation_id, rids)
    return len(rids)


def handle(body: dict[str, Any], deps: AutomationDeps) -> str:
    """One message of the automation queue."""
    kind = body.get("kind")
    if kind == "sweep":
        return f"swept {sweep(deps)}"
    if kind == "resume":
        return f"resumed {resume(body, deps)}"
    if kind == "purge":
        return f"purged {purge(body, deps)}"
    if kind == "step" and body.get("account_id") and body.get("automation_id") and "step" in body:
        return run_step(body, deps)
    logger.warning("automation message dropped", extra={"kind": str(kind)[:40]})
    return "dropped"
