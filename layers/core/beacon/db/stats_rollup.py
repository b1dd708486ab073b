"""The stats roll-up (stats table): per campaign (and per automation step: its ledger items carry the
step id as their campaign id), the summed per-item contributions of its send-ledger items
(beacon.tracking.engagement_stats.contribution), kept by beacon.tracking.rollup from the ledger's
DynamoDB Stream. Reading a campaign's or a step's stats is one Query (`campaign`) of at most 48 small
items (32 roll-up items and the 16 delivery counter shards), whatever its size.

Items, in the campaign's counter partition (pk={account_id}#{campaign_id}, beside the delivery
counters s00..s15 of beacon.db.campaign_counters):
  sk=r{slot:02d}            deliveries, opens and clicks, the untimed timeline counts (under 1 KB: one
                            write unit an update)
  sk=l{slot:02d}            the per-link click counters (written by clicks only)
  sk=t#{hour}#{slot:02d}    the timeline counts of one hour (epoch hour), per minute: m{MM}{series}
The slot (0-15) is that of the stream shard that wrote it (crc32 of its shard id), so concurrent
shards seldom write one item and no item passes DynamoDB's 1,000 writes/s per partition key item.

Exactly once (a stream record can be delivered twice, and a failed batch is retried): every item
carries, per stream shard that wrote it, a watermark w_{hash of the shard id} = {s: the highest
sequence number applied to this item from that shard (40 digits, zero-padded), t: when}. A write
adds the deltas of a shard's records and raises the watermark in ONE conditional UpdateItem:
condition "no watermark, or watermark < the first of these records". Lambda reads a shard in order
and delivers a record again only after it was delivered before (a retry restarts at a failed
record), so a record at or below the watermark was applied: when the condition fails, the
watermark is read and only the records above it are applied. No transaction, no read in the
normal case. A watermark older than WATERMARK_KEEP_SECONDS (stream records live 24 h) is removed.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from beacon.db.conditions import written

SLOTS = 16
SEQ_DIGITS = 40  # DynamoDB Streams sequence numbers have 21 to 40 digits
WATERMARK_KEEP_SECONDS = 26 * 3600
ATTEMPTS = 5


def slot_of(shard_id: str) -> int:
    return zlib.crc32(shard_id.encode()) % SLOTS


def watermark_name(shard_id: str) -> str:
    return "w_" + hashlib.sha1(shard_id.encode()).hexdigest()[:12]  # noqa: S324 - a name, not a secret


def padded(sequence_number: str) -> str:
    """A sequence number as a string that compares like the number."""
    if not sequence_number.isdigit() or len(sequence_number) > SEQ_DIGITS:
        raise ValueError(f"not a stream sequence number: {sequence_number[:50]!r}")
    return sequence_number.rjust(SEQ_DIGITS, "0")


def counters_pk(account_id: str, campaign_id: str) -> str:
    return f"{account_id}#{campaign_id}"


def core_sk(slot: int) -> str:
    return f"r{slot:02d}"


def links_sk(slot: int) -> str:
    return f"l{slot:02d}"


def hour_sk(hour: int, slot: int) -> str:
    return f"t#{hour:08d}#{slot:02d}"


@dataclass(frozen=True)
class Target:
    """One roll-up item."""

    pk: str
    sk: str


@dataclass(frozen=True)
class Part:
    """What one stream record adds to one roll-up item (attribute name -> amount)."""

    seq: str  # padded sequence number
    amounts: Mapping[str, int]


class RollupStore:
    def __init__(self, client: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    # ------------------------------------------------------------------ writing
    def apply(self, target: Target, shard_id: str, parts: list[Part]) -> int:
        """Add the parts (records of one shard, any order) to the item, each exactly once.
        Returns how many parts were applied now (the others were applied before)."""
        name = watermark_name(shard_id)
        pending = sorted(parts, key=lambda p: p.seq)
        seen: str | None = None
        blind = True
        for _attempt in range(ATTEMPTS):
            if seen is not None:
                pending = [p for p in pending if p.seq > seen]
            if not pending:
                return 0
            amounts: dict[str, int] = {}
            for part in pending:
                for attr, amount in part.amounts.items():
                    amounts[attr] = amounts.get(attr, 0) + amount
            amounts = {k: v for k, v in amounts.items() if v}
            if blind:
                condition = "attribute_not_exists(#w) OR #w.#s < :first"
                values: dict[str, Any] = {":first": {"S": pending[0].seq}}
            elif seen is None:
                condition = "attribute_not_exists(#w)"
                values = {}
            else:
                condition = "#w.#s = :seen"
                values = {":seen": {"S": seen}}
            answer = self._write(target, name, pending[-1].seq, amounts, condition, values)
            if answer is not None:
                self._prune(target, answer.get("Attributes") or {})
                return len(pending)
            blind = False
            seen = self._watermark(target, name)
        raise RuntimeError(f"could not apply the roll-up of {target.sk} (too many concurrent writers)")

    def _write(self, target: Target, name: str, last: str, amounts: dict[str, int], condition: str,
               values: dict[str, Any]) -> dict[str, Any] | None:
        names = {"#w": name, "#s": "s"}
        adds = []
        for i, (attr, amount) in enumerate(sorted(amounts.items())):
            names[f"#a{i}"] = attr
            values[f":a{i}"] = {"N": str(int(amount))}
            adds.append(f"#a{i} :a{i}")
        values[":w"] = {"M": {"s": {"S": last}, "t": {"N": str(int(self._clock()))}}}
        expression = "SET #w = :w" + (" ADD " + ", ".join(adds) if adds else "")
        return written(self._client.update_item, TableName=self._table,
                       Key={"pk": {"S": target.pk}, "sk": {"S": target.sk}}, UpdateExpression=expression,
                       ConditionExpression=condition, ExpressionAttributeNames=names,
                       ExpressionAttributeValues=values, ReturnValues="ALL_NEW")

    def _watermark(self, target: Target, name: str) -> str | None:
        item = self._client.get_item(TableName=self._table, Key={"pk": {"S": target.pk}, "sk": {"S": target.sk}},
                                     ProjectionExpression="#w", ExpressionAttributeNames={"#w": name},
                                     ConsistentRead=True).get("Item") or {}
        mark = (item.get(name) or {}).get("M") or {}
        found = (mark.get("s") or {}).get("S")
        return str(found) if found else None

    def _prune(self, target: Target, item: Mapping[str, Any]) -> None:
        """Remove the watermarks of shards that wrote nothing here for WATERMARK_KEEP_SECONDS."""
        cutoff = self._clock() - WATERMARK_KEEP_SECONDS
        stale = [name for name, value in item.items() if name.startswith("w_")
                 and float(((value.get("M") or {}).get("t") or {}).get("N") or 0) < cutoff]
        if stale:
            names = {f"#x{i}": n for i, n in enumerate(stale)}
            self._client.update_item(TableName=self._table, Key={"pk": {"S": target.pk}, "sk": {"S": target.sk}},
                                     UpdateExpression="REMOVE " + ", ".join(names), ExpressionAttributeNames=names)

    # ------------------------------------------------------------------ reading
    def totals(self, account_id: str, campaign_id: str, *, consistent: bool = True) -> dict[str, int]:
        """The campaign's summed roll-up counters (every l.. and r.. item): one Query."""
        return _sum(self._query(counters_pk(account_id, campaign_id), "sk BETWEEN :a AND :b",
                                {":a": {"S": "l"}, ":b": {"S": "r~"}}, consistent))

    def campaign(self, account_id: str, campaign_id: str) -> tuple[dict[str, int], dict[str, int]]:
        """(delivery counters, roll-up counters) of a campaign in ONE Query: the s00..s15 items of
        beacon.db.campaign_counters and the l00..l15, r00..r15 roll-up items (at most 48 small items,
        as many as stream shards wrote: a handful)."""
        delivery: dict[str, int] = {}
        rollup: dict[str, int] = {}
        for item in self._query(counters_pk(account_id, campaign_id), "sk BETWEEN :a AND :b",
                                {":a": {"S": "l"}, ":b": {"S": "s~"}}, True):
            _add(delivery if item["sk"]["S"].startswith("s") else rollup, item)
        return delivery, rollup

    def timeline(self, account_id: str, campaign_id: str, *, consistent: bool = False) -> dict[str, int]:
        """The campaign's timeline counters in ONE Query: the per-minute counts of every hour item as
        t{minute}{series}, and the untimed u{series} of the r.. items (the s.. delivery counters in
        between are read too: sixteen small items at most)."""
        totals: dict[str, int] = {}
        for item in self._query(counters_pk(account_id, campaign_id), "sk BETWEEN :a AND :b",
                                {":a": {"S": "r"}, ":b": {"S": "t$"}}, consistent):
            sk = item["sk"]["S"]
            if sk.startswith("r"):
                for name, value in item.items():
                    if name.startswith("u") and "N" in value:
                        totals[name] = totals.get(name, 0) + int(value["N"])
            elif sk.startswith("t#"):
                hour = int(sk.split("#")[1])
                for name, value in item.items():
                    if name.startswith("m") and "N" in value and name[1:3].isdigit():
                        key = f"t{hour * 60 + int(name[1:3])}{name[3:]}"
                        totals[key] = totals.get(key, 0) + int(value["N"])
        return totals

    def _query(self, pk: str, sort_condition: str, values: dict[str, Any],
               consistent: bool) -> Iterable[dict[str, Any]]:
        args: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": f"pk = :pk AND {sort_condition}",
            "ExpressionAttributeValues": {":pk": {"S": pk}, **values}, "ConsistentRead": consistent,
        }
        while True:
            page = self._client.query(**args)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _add(totals: dict[str, int], item: Mapping[str, Any]) -> None:
    for name, value in item.items():
        if "N" in value:
            totals[name] = totals.get(name, 0) + int(value["N"])


def _sum(items: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for item in items:
        _add(totals, item)
    return totals
