"""The stats roll-up: the send ledger's DynamoDB Stream (NEW_AND_OLD_IMAGES) into per-campaign
counters (beacon.db.stats_rollup), so reading a campaign's stats costs the same at 10 or 10 million
recipients, and the pixel and the click keep their one write and no read. An automation step's
emails are ledger items whose pk carries the step's id in the campaign id's place ({account}#{step
id}#{shard}; a step id is an id like a campaign's), so each step gets its own counters here, read by
beacon.automations.stats exactly as beacon.campaigns.stats reads a campaign's.

Each stream record of a ledger item adds contribution(new image) - contribution(old image)
(beacon.tracking.engagement_stats): summed over an item's changes this is contribution(final item),
so the roll-up equals the brute-force count over the ledger by construction. Exactly once per
record: the store's per-shard watermarks (see beacon.db.stats_rollup). A removed item (a tenant's
erasure) changes nothing: its campaign's counters are erased with it.

The event source (template.yaml, StatsRollupFunction) reads the stream with a tumbling window only
so that every event names its shard (`shardId`): the watermarks are per shard. Its filter passes
only records whose new image has delivered_at, opens, clicks or a honeypot hit (an item without
them adds nothing), so the claims and settles of a send do not invoke the function. Lag: the batching window
(5 s) plus one invocation (tens of ms): within 10 s of the pixel's write. SES deliveries are
counted here too (delivered_at: one write per Delivery event instead of a transaction with a counter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from beacon.db.stats_rollup import Part, Target, core_sk, counters_pk, hour_sk, links_sk, padded, slot_of
from beacon.shared.ids import is_id
from beacon.tracking.engagement_stats import change

MAX_RECORDS = 10_000  # Lambda's largest stream batch


class BadEvent(ValueError):
    """The event is not a stream batch this function can apply (misconfigured event source)."""


class Store(Protocol):
    def apply(self, target: Target, shard_id: str, parts: list[Part]) -> int: ...


@dataclass(frozen=True)
class Change:
    """One stream record of a ledger item."""

    sequence_number: str  # as the stream gave it: the batchItemFailures identifier
    seq: str  # zero-padded, comparable
    account_id: str
    campaign_id: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None


@dataclass
class Batch:
    shard_id: str
    changes: list[Change] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why each unusable record was passed over


def _image(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, dict) else None


def parse(event: Any) -> Batch:
    """A Lambda DynamoDB Streams event (with a tumbling window: `shardId`) -> its ledger changes.
    A record that is not a change of a ledger item is passed over (listed in `skipped`); an event
    that is not a stream batch at all raises BadEvent."""
    if not isinstance(event, dict):
        raise BadEvent("the event is not an object")
    shard_id = event.get("shardId")
    if not isinstance(shard_id, str) or not shard_id or len(shard_id) > 200:
        raise BadEvent("the event names no shard: the stats roll-up needs TumblingWindowInSeconds on its "
                       "event source (template.yaml)")
    records = event.get("Records") or []
    if not isinstance(records, list) or len(records) > MAX_RECORDS:
        raise BadEvent("Records is not a list of at most 10,000 records")
    batch = Batch(shard_id)
    for index, record in enumerate(records):
        problem = _change(record, batch)
        if problem:
            batch.skipped.append(f"record {index}: {problem}")
    return batch


def _change(record: Any, batch: Batch) -> str | None:
    if not isinstance(record, dict):
        return "not an object"
    body = record.get("dynamodb")
    if not isinstance(body, dict):
        return "no dynamodb section"
    raw_seq = body.get("SequenceNumber")
    if not isinstance(raw_seq, str):
        return "no sequence number"
    try:
        seq = padded(raw_seq)
    except ValueError as exc:
        return str(exc)
    name = record.get("eventName")
    if name == "REMOVE":
        return None  # an erased item: its campaign's roll-up goes with it
    if name not in ("INSERT", "MODIFY"):
        return f"unknown eventName {str(name)[:20]!r}"
    keys = body.get("Keys")
    key = keys.get("pk") if isinstance(keys, dict) else None
    pk = key.get("S") if isinstance(key, dict) else None
    parts = pk.split("#") if isinstance(pk, str) else []
    if len(parts) != 3 or not is_id(parts[0]) or not is_id(parts[1]):
        return "not a send-ledger item"
    old, new = _image(body.get("OldImage")), _image(body.get("NewImage"))
    if new is None:
        return "no new image (the stream must be NEW_AND_OLD_IMAGES)"
    if name == "MODIFY" and old is None:
        return "no old image (the stream must be NEW_AND_OLD_IMAGES)"
    batch.changes.append(Change(raw_seq, seq, parts[0], parts[1], old, new))
    return None


def plan(batch: Batch) -> dict[Target, list[Part]]:
    """What each roll-up item gets from the batch: per item, one Part per record that changes it."""
    slot = slot_of(batch.shard_id)
    targets: dict[Target, list[Part]] = {}
    for c in batch.changes:
        try:
            delta = change(c.old, c.new)
        except (KeyError, TypeError, ValueError, AttributeError):
            batch.skipped.append(f"sequence {c.sequence_number}: an image the stats cannot read")
            continue
        if not delta:
            continue
        pk = counters_pk(c.account_id, c.campaign_id)
        core: dict[str, int] = {}
        links: dict[str, int] = {}
        hours: dict[int, dict[str, int]] = {}
        for name, amount in delta.items():
            if name.startswith("t") and name[1:-2].isdigit():
                minute = int(name[1:-2])
                hours.setdefault(minute // 60, {})[f"m{minute % 60:02d}{name[-2:]}"] = amount
            elif name.startswith("l") and name[1:2].isdigit():
                links[name] = amount
            else:
                core[name] = amount
        if core:
            targets.setdefault(Target(pk, core_sk(slot)), []).append(Part(c.seq, core))
        if links:
            targets.setdefault(Target(pk, links_sk(slot)), []).append(Part(c.seq, links))
        for hour, amounts in hours.items():
            targets.setdefault(Target(pk, hour_sk(hour, slot)), []).append(Part(c.seq, amounts))
    return targets


@dataclass(frozen=True)
class Outcome:
    applied: int  # parts written now
    items: int  # roll-up items written
    failed_from: str | None  # the first record to deliver again (batchItemFailures), if any failed
    skipped: list[str]


def apply(event: Any, store: Store) -> Outcome:
    """Apply one stream batch. A roll-up item whose write failed makes the batch report its first
    record as failed: Lambda delivers it and every later record again, and the watermarks let
    through only what was not applied."""
    batch = parse(event)
    targets = plan(batch)
    applied = items = 0
    failed: list[str] = []
    by_seq = {c.seq: c.sequence_number for c in batch.changes}
    errors: list[Exception] = []
    for target, parts in targets.items():
        try:
            done = store.apply(target, batch.shard_id, parts)
        except Exception as exc:  # throttled, or a fault: that item's records come again
            errors.append(exc)
            failed.append(min(p.seq for p in parts))
            continue
        applied += done
        items += 1 if done else 0
    if failed and len(failed) == len(targets) and errors:
        raise errors[0]  # nothing written: fail the invocation, Lambda retries the batch
    return Outcome(applied, items, by_seq[min(failed)] if failed else None, batch.skipped)


def response(outcome: Outcome) -> dict[str, Any]:
    """The handler's answer: the tumbling window's (empty) state and the partial batch failure."""
    failures = [{"itemIdentifier": outcome.failed_from}] if outcome.failed_from else []
    return {"state": {}, "batchItemFailures": failures}
