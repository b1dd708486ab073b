"""Opens and clicks, kept on the recipient's send-ledger item (messages table): the one write per event.

Each open or click is ONE UpdateItem on that recipient's ledger item (condition: the item exists,
so a token for a message Beacon never sent records nothing), with ReturnValues NONE; no counter
is written and nothing is read. Every figure in the stats is derived from these items: the stats
roll-up (beacon.tracking.rollup) sums each item's contribution from the ledger's stream, and the
campaign and automation stats read the roll-up, not these items:
- per-recipient counts are atomic `ADD`s on one item, so 20 threads opening the same email give
  exactly opens = 20, and "unique" is simply "items with opens > 0": exact by construction, and
  there is no second write that could fail after the first and leave totals and uniques apart;
- no campaign-wide counter item is written by tracking, so a million recipients opening at once
  spread over a million items (DynamoDB splits the campaign's item collection by sort key; the
  table has no LSI, so it may) instead of 16 counter shards;
- `Engagement.items` + beacon.tracking.engagement_stats.summarize is the brute-force count the
  roll-up is held to (the tests): a Query over the campaign's item collection (ProjectionExpression
  of the engagement attributes, FilterExpression skipping the untouched, but every item read and
  paid for), about recipients x 150 bytes, ~40k read units for a million recipients. No stats read
  in the product uses it any more (README, "Cost and scale").

Attributes (all optional; epoch seconds unless "_at", which are ISO strings):
  opens, human_opens, proxied_opens, machine_opens   pixel fetches by request class
  first_human_open                                    first human/proxied open (for the click window)
  last_open_at, open_client                           the last open and its client class (never a UA)
  clicks, link_{i}, machine_clicks                    clicks on campaign links, per link, request-machine
  human_click_log  list of  at * 65536 + link_index   each request-human click (for the sweep rules),
                   at most CLICK_LOG_CAP entries; later ones only add human_clicks_unlogged
  honeypot_hits    number set of the seconds the hidden honeypot link was fetched
  last_click_at, click_client
No IP address and no user agent is stored here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from beacon.db.conditions import applied
from beacon.db.connection import query_all
from beacon.db.keys import ledger_pk, ledger_pks

CLICK_LOG_CAP = 100
LINK_SHIFT = 65536
OPEN_KINDS = {"human": "human_opens", "proxied": "proxied_opens", "machine": "machine_opens"}
_ONE = {"N": "1"}
_BASE_FIELDS = ("sk", "opens", "human_opens", "proxied_opens", "machine_opens", "first_human_open", "clicks",
                "machine_clicks", "human_click_log", "human_clicks_unlogged", "honeypot_hits", "delivered_at",
                "sent_at")


# What targeting reads of a person's item (beacon.tracking.engagement_stats.read_by_a_person and
# clicked_by_a_person decide from these; beacon.audience.targeting reads them)
PERSON_FIELDS = ("sk", "status", "human_opens", "first_human_open", "clicks", "human_click_log",
                 "human_clicks_unlogged", "honeypot_hits", "delivered_at", "sent_at")
RANGE_READ_FACTOR = 4  # a key-range Query reads at most this many items per recipient asked for


def _projection(fields: tuple[str, ...]) -> dict[str, Any]:
    names = {f"#p{i}": f for i, f in enumerate(fields)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


class Engagement:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    @staticmethod
    def _key(account_id: str, campaign_id: str, recipient_id: str) -> dict[str, Any]:
        return {"pk": {"S": ledger_pk(account_id, campaign_id, recipient_id)}, "sk": {"S": recipient_id}}

    def _update(self, key: dict[str, Any], expr: str, values: dict[str, Any], names: dict[str, str] | None = None,
                condition: str = "attribute_exists(sk)") -> bool:
        """True if written; False if the item does not exist (or the extra condition failed)."""
        args: dict[str, Any] = {
            "TableName": self._table, "Key": key, "UpdateExpression": expr, "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            args["ExpressionAttributeNames"] = names
        return applied(self._client.update_item, **args)

    def record_open(self, account_id: str, campaign_id: str, recipient_id: str, *, kind: str, at: int,
                    at_iso: str, client: str) -> bool:
        """kind: human | proxied | machine. One UpdateItem."""
        expr = f"ADD opens :one, {OPEN_KINDS[kind]} :one SET last_open_at = :at, open_client = :cls"
        values: dict[str, Any] = {":one": _ONE, ":at": {"S": at_iso}, ":cls": {"S": client}}
        if kind != "machine":
            expr += ", first_human_open = if_not_exists(first_human_open, :t)"
            values[":t"] = {"N": str(at)}
        return self._update(self._key(account_id, campaign_id, recipient_id), expr, values)

    def record_click(self, account_id: str, campaign_id: str, recipient_id: str, *, link_index: int, human: bool,
                     at: int, at_iso: str, client: str) -> bool:
        """One UpdateItem; a second only for the (rare) human click past CLICK_LOG_CAP."""
        key = self._key(account_id, campaign_id, recipient_id)
        names = {"#l": f"link_{int(link_index)}"}
        values: dict[str, Any] = {":one": _ONE, ":at": {"S": at_iso}, ":cls": {"S": client}}
        tail = "SET last_click_at = :at, click_client = :cls"
        if not human:
            return self._update(key, f"ADD clicks :one, #l :one, machine_clicks :one {tail}", values, names)
        logged = {**values, ":entry": {"L": [{"N": str(at * LINK_SHIFT + int(link_index))}]},
                  ":empty": {"L": []}, ":cap": {"N": str(CLICK_LOG_CAP)}}
        if self._update(key, f"ADD clicks :one, #l :one {tail}, "
                        "human_click_log = list_append(if_not_exists(human_click_log, :empty), :entry)",
                        logged, names,
                        "attribute_exists(sk) AND (attribute_not_exists(human_click_log) "
                        "OR size(human_click_log) < :cap)"):
            return True
        # either the item does not exist (then this fails too) or the log is full
        return self._update(key, f"ADD clicks :one, #l :one, human_clicks_unlogged :one {tail}", values, names)

    def record_honeypot(self, account_id: str, campaign_id: str, recipient_id: str, *, at: int, at_iso: str,
                        client: str) -> bool:
        """The hidden link was fetched: a machine. One UpdateItem; never a click on a campaign link."""
        return self._update(self._key(account_id, campaign_id, recipient_id),
                            "ADD honeypot_hits :t SET last_click_at = :at, click_client = :cls",
                            {":t": {"NS": [str(at)]}, ":at": {"S": at_iso}, ":cls": {"S": client}})

    # ------------------------------------------------------------------ reading (stats)
    def _query(self, pk: str, link_count: int, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        fields = list(_BASE_FIELDS) + [f"link_{i}" for i in range(link_count)] + list(extra)
        names = {f"#f{i}": f for i, f in enumerate(fields)}
        args: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "FilterExpression": ("attribute_exists(opens) OR attribute_exists(clicks) "
                                 "OR attribute_exists(honeypot_hits)"),
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        return query_all(self._client, args)

    def items(self, account_id: str, campaign_id: str, link_count: int, *, parallel: bool = False,
              extra: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
        """The engaged ledger items of a campaign (raw DynamoDB attribute values): one Query per ledger
        partition key (beacon.db.keys); parallel: the 16 at once (large campaigns). `extra`: more
        attributes to read (the timeline's last_open_at, open_client, last_click_at, click_client);
        a Query's read units depend on the items' size, not on what is projected."""
        pks = ledger_pks(account_id, campaign_id)
        if not parallel:
            for pk in pks:
                yield from self._query(pk, link_count, extra)
            return
        from concurrent.futures import ThreadPoolExecutor  # the stats read only: not on the pixel's cold start

        with ThreadPoolExecutor(len(pks)) as pool:
            for chunk in pool.map(lambda pk: self._query(pk, link_count, extra), pks):
                yield from chunk

    # ------------------------------------------------------------------ reading (targeting)
    def of_recipients(self, account_id: str, campaign_id: str, recipient_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The ledger items (PERSON_FIELDS, raw) of these recipients of a campaign; absent: never sent to.

        Recipient ids are uniform hex and a page of contacts comes sorted by id, so the page's ids of
        one ledger partition lie in a narrow key range: one Query over that range (`sk BETWEEN first
        AND last`) reads them for a few read units in all (a Query is charged by the bytes it reads,
        ~300 B an item), where a BatchGetItem costs half a unit per key. When the campaign went to
        many people that the page does not hold, the range is dense: past RANGE_READ_FACTOR items per
        id asked for, the Query stops and those ids are read with BatchGetItem instead."""
        wanted = sorted(set(recipient_ids))
        by_shard: dict[str, list[str]] = {}
        for rid in wanted:
            by_shard.setdefault(rid[:1], []).append(rid)
        found: dict[str, dict[str, Any]] = {}
        dense: list[str] = []
        for rids in by_shard.values():
            pk = ledger_pk(account_id, campaign_id, rids[0])
            items = self._range(pk, rids[0], rids[-1], RANGE_READ_FACTOR * len(rids))
            if items is None:
                dense.extend(rids)
                continue
            asked = set(rids)
            found.update((i["sk"]["S"], i) for i in items if i["sk"]["S"] in asked)
        if dense:
            found.update(self._batch_get(account_id, campaign_id, dense))
        return found

    def _range(self, pk: str, first: str, last: str, cap: int) -> list[dict[str, Any]] | None:
        """The items with first <= sk <= last, or None if there are more than `cap`."""
        args: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":a": {"S": first}, ":b": {"S": last}},
            "Limit": cap + 1, **_projection(PERSON_FIELDS),
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self._client.query(**args)
            items.extend(page.get("Items", []))
            if len(items) > cap:
                return None
            if "LastEvaluatedKey" not in page:  # (1 MB pages: a range under the cap fits in one)
                return items
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            args["Limit"] = cap + 1 - len(items)

    def _batch_get(self, account_id: str, campaign_id: str, recipient_ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(recipient_ids), 100):
            keys = [self._key(account_id, campaign_id, rid) for rid in recipient_ids[start:start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, **_projection(PERSON_FIELDS)}}
            for attempt in range(10):
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    found[item["sk"]["S"]] = item
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise RuntimeError("DynamoDB kept keys unprocessed")
        return found

    def recipients_page(self, account_id: str, campaign_id: str, shard: int, cursor: dict[str, str] | None,
                        limit: int) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """Up to `limit` ledger items (PERSON_FIELDS and email, raw) of one of the campaign's ledger
        partitions (0-15) after `cursor`, and the cursor of the next page (None after the last)."""
        pk = ledger_pks(account_id, campaign_id)[shard]
        if cursor is not None and cursor.get("pk") != pk:
            raise ValueError("cursor is not one this API gave out")
        args: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}}, "Limit": limit,
            **_projection((*PERSON_FIELDS, "email")),
        }
        if cursor:
            args["ExclusiveStartKey"] = {"pk": {"S": cursor["pk"]}, "sk": {"S": cursor["sk"]}}
        page = self._client.query(**args)
        last = page.get("LastEvaluatedKey")
        return page.get("Items", []), ({"pk": last["pk"]["S"], "sk": last["sk"]["S"]} if last else None)
