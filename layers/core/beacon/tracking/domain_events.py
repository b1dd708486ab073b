"""The event layer: what happened, as domain events, derived from the data itself.

Every change Beacon makes is already a write to a table; DynamoDB Streams hand each write to the
`stream_events` function with the item's old and new image, and this module reads the events off
them. So the pixel and click paths keep their ONE write and no read (an open is `opens` growing on a
send-ledger item), and every path that subscribes or unsubscribes someone (API, CSV import, a
confirmed form signup, the unsubscribe page and its one-click POST, a suppression) produces its event
without knowing about events at all.

  table          change                                                   event
  messages       delivered_at / bounced_at / complained_at appears        email.delivered / bounced / complained
                 opens grows                                              email.opened  (machine: machine_opens grew)
                 clicks grows                                             email.clicked (machine: a request rule
                                                                          or a sweep rule said so)
  contacts       a membership is created subscribed, or goes              contact.subscribed (list_id, source)
                 pending -> subscribed
  suppressions   an "unsubscribe" suppression appears                     contact.unsubscribed
                 it is lifted (the page's undo)                           contact.subscribed (source resubscribe)
  campaigns      status becomes "sent"                                    campaign.sent

An event goes onto the events queue only if the tenant listens (beacon.db.listeners: an enabled
webhook endpoint that asked for its type, or an active automation on the list). A stream record can
be delivered twice: an event's id is derived from the record's eventID, and every consumer writes
conditionally on it (a webhook delivery per event id, an enrolment per contact).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from beacon.db.engagement import LINK_SHIFT
from beacon.tracking.classify import ClickFacts, classify_click
from beacon.tracking.engagement_stats import epoch

EVENT_TYPES = ("contact.subscribed", "contact.unsubscribed", "email.delivered", "email.bounced",
               "email.complained", "email.opened", "email.clicked", "campaign.sent")
MACHINE_TYPES = ("email.opened", "email.clicked")
SOURCES = ("messages", "contacts", "suppressions", "campaigns")


class BadEvent(ValueError):
    """A message on the events queue that is not an event this module wrote."""


@dataclass(frozen=True)
class DomainEvent:
    id: str  # 32 hex digits: the time in ms, then a hash of the stream record and type
    type: str
    account_id: str
    timestamp: str  # ISO 8601 UTC, when the change was written
    data: dict[str, Any]
    machine: bool = False
    # routing for automations (not part of a webhook's payload)
    list_id: str | None = None
    recipient_id: str | None = None
    automations: bool = False  # may start automations on list_id (a CSV import only if asked)

    def message(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "account_id": self.account_id, "timestamp": self.timestamp,
                "data": self.data, "machine": self.machine, "list_id": self.list_id,
                "recipient_id": self.recipient_id, "automations": self.automations}

    @classmethod
    def from_message(cls, body: Any) -> DomainEvent:
        if not isinstance(body, dict):
            raise BadEvent("an event is a JSON object")
        try:
            event = cls(id=str(body["id"]), type=str(body["type"]), account_id=str(body["account_id"]),
                        timestamp=str(body["timestamp"]), data=dict(body["data"]), machine=bool(body.get("machine")),
                        list_id=body.get("list_id"), recipient_id=body.get("recipient_id"),
                        automations=bool(body.get("automations")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadEvent(f"not an event: {exc}") from exc
        if event.type not in EVENT_TYPES:
            raise BadEvent(f"unknown event type {event.type!r}")
        return event

    def payload(self) -> dict[str, Any]:
        """The webhook body: {type, timestamp, data} (Standard Webhooks)."""
        return {"type": self.type, "timestamp": self.timestamp, "data": self.data}


# ----------------------------------------------------------------------------- reading records
def _s(image: dict[str, Any], name: str) -> str | None:
    value = image.get(name)
    return value.get("S") if isinstance(value, dict) else None


def _n(image: dict[str, Any], name: str) -> int:
    value = image.get(name)
    if isinstance(value, dict) and "N" in value:
        try:
            return int(float(value["N"]))
        except ValueError:
            return 0
    return 0


def _when(record: dict[str, Any]) -> float:
    raw = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, datetime):
        return raw.timestamp()
    return datetime.now(UTC).timestamp()


def event_id(record: dict[str, Any], event_type: str) -> str:
    """Stable for one stream record and type (a redelivered record gives the same id)."""
    digest = hashlib.sha256(f"{record.get('eventID', '')}|{event_type}".encode()).hexdigest()[:20]
    return f"{int(_when(record) * 1000) & 0xFFFFFFFFFFFF:012x}{digest}"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Found:
    type: str
    account_id: str
    data: dict[str, Any]
    machine: bool = False
    list_id: str | None = None
    recipient_id: str | None = None
    automations: bool = False
    check_contact: bool = False  # subscribed only if the contact's status is "subscribed" (read later)


def _ledger(old: dict[str, Any], new: dict[str, Any]) -> list[_Found]:
    pk, rid = _s(new, "pk") or "", _s(new, "sk") or ""
    parts = pk.split("#")
    if len(parts) != 3 or not rid:
        return []
    account_id, campaign_id = parts[0], parts[1]
    base = {"email": _s(new, "email"), "campaign_id": campaign_id}
    found: list[_Found] = []
    for flag, kind in (("delivered_at", "email.delivered"), ("bounced_at", "email.bounced"),
                       ("complained_at", "email.complained")):
        if flag in new and flag not in old:
            found.append(_Found(kind, account_id, dict(base), recipient_id=rid))
    if _n(new, "opens") > _n(old, "opens"):
        people = ("human_opens", "proxied_opens")
        human = sum(_n(new, f) for f in people) > sum(_n(old, f) for f in people)
        machine = not human and _n(new, "machine_opens") > _n(old, "machine_opens")
        found.append(_Found("email.opened", account_id, {**base, "machine": machine,
                                                          "client": _s(new, "open_client")},
                            machine=machine, recipient_id=rid))
    if _n(new, "clicks") > _n(old, "clicks"):
        link = next((int(name[5:]) for name in new if name.startswith("link_") and name[5:].isdigit()
                     and _n(new, name) > _n(old, name)), None)
        machine = _click_is_machine(old, new)
        found.append(_Found("email.clicked", account_id, {**base, "link_index": link, "machine": machine,
                                                           "client": _s(new, "click_client")},
                            machine=machine, recipient_id=rid))
    return found


def _click_is_machine(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """The click this record added: machine by a request rule (machine_clicks grew), by a sweep rule
    (judged on the new image, as the stats judge it), or human."""
    if _n(new, "machine_clicks") > _n(old, "machine_clicks"):
        return True
    log_new = (new.get("human_click_log") or {}).get("L") or []
    log_old = (old.get("human_click_log") or {}).get("L") or []
    if len(log_new) <= len(log_old):
        return False  # a human click past the log's cap (human_clicks_unlogged): no sweep facts kept
    at, _link = divmod(int(float(log_new[-1].get("N", "0"))), LINK_SHIFT)
    hits = [int(float(x)) for x in (new.get("honeypot_hits") or {}).get("NS", [])]
    window = epoch(_s(new, "delivered_at")) or epoch(_s(new, "sent_at"))
    first_open = _n(new, "first_human_open") or None
    return classify_click(ClickFacts(at, window, first_open, hits)) is not None


def _contacts(old: dict[str, Any], new: dict[str, Any]) -> list[_Found]:
    pk, rid = _s(new, "pk") or "", _s(new, "sk") or ""
    if "#L#" not in pk or not rid:
        return []  # a contact item: status changes come from the suppressions table
    account_id, _, list_id = pk.partition("#L#")
    status, was = _s(new, "status"), _s(old, "status") if old else None
    if old and not (was == "pending" and (status or "subscribed") == "subscribed"):
        return []
    if status not in (None, "subscribed"):
        return []  # pending (a form signup waiting for its confirmation)
    source = _s(new, "source") or "api"
    automations = source != "import" or bool((new.get("trigger_automations") or {}).get("BOOL"))
    # the contact itself must be subscribed too: an API add or import writes a subscribed membership
    # for someone unsubscribed or bounced as well (who stays so); a confirmed form signup made them subscribed
    return [_Found("contact.subscribed", account_id, {"email": _s(new, "email"), "list_id": list_id,
                                                       "source": source},
                   list_id=list_id, recipient_id=rid, automations=automations, check_contact=True)]


def _suppressions(old: dict[str, Any], new: dict[str, Any]) -> list[_Found]:
    if new:
        if _s(new, "reason") != "unsubscribe" or _s(old, "reason") == "unsubscribe":
            return []
        return [_Found("contact.unsubscribed", _s(new, "pk") or "",
                       {"email": _s(new, "email"), "campaign_id": _s(new, "campaign_id") or None},
                       recipient_id=_s(new, "sk"))]
    if _s(old, "reason") == "unsubscribe":  # lifted: the person's own undo on the unsubscribe page
        return [_Found("contact.subscribed", _s(old, "pk") or "",
                       {"email": _s(old, "email"), "list_id": None, "source": "resubscribe"},
                       recipient_id=_s(old, "sk"))]
    return []


def _campaigns(old: dict[str, Any], new: dict[str, Any]) -> list[_Found]:
    if _s(new, "status") != "sent" or _s(old, "status") == "sent":
        return []
    return [_Found("campaign.sent", _s(new, "pk") or "", {
        "campaign_id": _s(new, "campaign_id") or _s(new, "sk"), "name": _s(new, "name"),
        "recipients": _n(new, "recipients"), "finished_at": _s(new, "finished_at")})]


_READERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[_Found]]] = {
    "messages": _ledger, "contacts": _contacts, "suppressions": _suppressions, "campaigns": _campaigns,
}


def table_name(record: dict[str, Any]) -> str:
    """The table of a stream record: arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>."""
    arn = str(record.get("eventSourceARN") or "")
    _, _, rest = arn.partition(":table/")
    return rest.split("/", 1)[0]


def read(record: dict[str, Any], source: str) -> list[_Found]:
    """What one stream record of the `source` table says happened (nothing, usually)."""
    body = record.get("dynamodb") or {}
    old, new = body.get("OldImage") or {}, body.get("NewImage") or {}
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    reader = _READERS.get(source)
    return reader(old, new) if reader else []


# ----------------------------------------------------------------------------- publishing
class Wanted(Protocol):
    def wants(self, event_type: str, machine: bool, list_id: str | None, automations: bool) -> bool: ...


class Listeners(Protocol):
    def of(self, account_id: str) -> Wanted: ...


class ContactStatuses(Protocol):
    def __call__(self, account_id: str, recipient_ids: list[str]) -> dict[str, str]: ...


class EventQueue(Protocol):
    def send(self, queue_url: str, bodies: list[dict[str, Any]], delay_seconds: int | list[int] = 0) -> None: ...


@dataclass
class StreamDeps:
    sources: dict[str, str]  # table name -> "messages" | "contacts" | "suppressions" | "campaigns"
    listeners: Listeners
    contact_statuses: ContactStatuses
    queue: EventQueue
    events_queue_url: str
    _wants: dict[str, Wanted] = field(default_factory=dict)


def events_of(records: Iterable[dict[str, Any]], deps: StreamDeps) -> list[DomainEvent]:
    """The domain events of a batch of stream records that someone listens to, in record order."""
    found: list[tuple[dict[str, Any], _Found]] = []
    for record in records:
        source = deps.sources.get(table_name(record))
        if source is None:
            continue
        found.extend((record, f) for f in read(record, source) if f.account_id)
    wants: dict[str, Wanted] = {}  # one lookup per tenant per batch
    for _record, f in found:
        if f.account_id not in wants:
            wants[f.account_id] = deps.listeners.of(f.account_id)
    kept = [(r, f) for r, f in found if wants[f.account_id].wants(f.type, f.machine, f.list_id, f.automations)]
    to_check: dict[str, list[str]] = {}
    for _record, f in kept:
        if f.check_contact and f.recipient_id:
            to_check.setdefault(f.account_id, []).append(f.recipient_id)
    statuses = {account: deps.contact_statuses(account, rids) for account, rids in to_check.items()}
    events: list[DomainEvent] = []
    for record, f in kept:
        if f.check_contact and statuses.get(f.account_id, {}).get(f.recipient_id or "") != "subscribed":
            continue
        events.append(DomainEvent(id=event_id(record, f.type), type=f.type, account_id=f.account_id,
                                  timestamp=_iso(_when(record)), data=f.data, machine=f.machine,
                                  list_id=f.list_id, recipient_id=f.recipient_id, automations=f.automations))
    return events


def publish(records: list[dict[str, Any]], deps: StreamDeps) -> int:
    """Put the batch's wanted events on the events queue (all or an exception: the stream retries)."""
    events = events_of(records, deps)
    if events:
        deps.queue.send(deps.events_queue_url, [e.message() for e in events])
    return len(events)
