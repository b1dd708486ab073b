"""The automations table (plain botocore): automations, their triggers, their steps' ids, and the
enrolment ledger that makes each step go to each contact exactly once.

Automation: pk={account_id}            sk=A#{automation_id}   name, status, list_id, steps (JSON)
Trigger:    pk={account_id}            sk=ON#{list_id}#{automation_id}   present while active: who
            listens to "subscribed" on a list is one Query (beacon.db.listeners)
Step:       pk={account_id}            sk=S#{step_id}   automation_id, step, links: a step's emails carry
            step_id where a campaign's carry the campaign id (tokens, SES tags, ledger partition), so
            tracking and ses_events work unchanged; this maps a step id back to its automation
Enrolment:  pk={account_id}#E#{automation_id} sk={recipient_id}
            status (active | completed | exited), step (the next one to send, 0-based), due_at,
            exit_reason; while a step is to come: wake_key = "w#{first hex digit of the recipient}" and
            wake_at (the sparse by_wake index the one-minute sweep reads).

Entering, completing and exiting move the automation's sharded counters (beacon.db.campaign_counters,
keyed by the automation id) in the same transaction as the enrolment, so the stats move exactly when
the enrolments do.
"""

from __future__ import annotations

import json
import time
from typing import Any

from beacon.db.attrs import attr, item_of, plain_item
from beacon.db.campaign_counters import Counters
from beacon.db.conditions import applied, cancellation_codes
from beacon.db.connection import query_all
from beacon.db.paging import query_page_raw

WAKE_INDEX = "by_wake"
WAKE_SHARDS = "0123456789abcdef"


def wake_key(recipient_id: str) -> str:
    return f"w#{recipient_id[:1]}"


class Automations:
    def __init__(self, client: Any, table: str, stats_table: str) -> None:
        self._client = client
        self._table = table
        self._stats = stats_table

    # ------------------------------------------------------------------ automations
    @staticmethod
    def _key(account_id: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": account_id}, "sk": {"S": sk}}

    @staticmethod
    def _decode(item: dict[str, Any]) -> dict[str, Any]:
        found = plain_item(item)
        found["steps"] = json.loads(found.get("steps") or "[]")
        return found

    def create(self, account_id: str, automation_id: str, fields: dict[str, Any]) -> None:
        item = {**self._key(account_id, f"A#{automation_id}"),
                **item_of({**fields, "automation_id": automation_id, "steps": json.dumps(fields["steps"])})}
        self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(sk)")

    def get(self, account_id: str, automation_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=self._key(account_id, f"A#{automation_id}"),
                                     ConsistentRead=True).get("Item")
        return self._decode(item) if item else None

    def all(self, account_id: str) -> list[dict[str, Any]]:
        return [self._decode(i) for i in self._query(account_id, "A#")]

    def page(self, account_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the tenant's automations, newest first (ids sort by age)."""
        items, next_cursor = query_page_raw(self._client, self._table, account_id, "A#", limit, cursor,
                                            newest_first=True)
        return [self._decode(i) for i in items], next_cursor

    def _query(self, pk: str, prefix: str | None, projection: str | None = None) -> list[dict[str, Any]]:
        args: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":p": {"S": prefix or ""}},
        }
        if not prefix:
            args["KeyConditionExpression"] = "pk = :pk"
            del args["ExpressionAttributeValues"][":p"]
        if projection:
            args["ProjectionExpression"] = projection
        return query_all(self._client, args)

    def replace(self, account_id: str, automation_id: str, fields: dict[str, Any], only_status: tuple[str, ...]
                ) -> bool:
        """Overwrite name/list_id/steps while the status is one of `only_status`."""
        values = {":name": attr(fields["name"]), ":list": attr(fields["list_id"]),
                  ":steps": {"S": json.dumps(fields["steps"])}, ":at": attr(fields["updated_at"])}
        allowed = [f":o{i}" for i in range(len(only_status))]
        values.update({f":o{i}": {"S": s} for i, s in enumerate(only_status)})
        return applied(self._client.update_item, TableName=self._table, Key=self._key(account_id, f"A#{automation_id}"),
                       UpdateExpression="SET #n = :name, list_id = :list, steps = :steps, updated_at = :at",
                       ConditionExpression=f"#s IN ({', '.join(allowed)})",
                       ExpressionAttributeNames={"#n": "name", "#s": "status"}, ExpressionAttributeValues=values)

    def set_status(self, account_id: str, automation_id: str, list_id: str, from_status: tuple[str, ...],
                   to_status: str, at: str) -> bool:
        """Move the status and, in the same transaction, add (active) or remove (otherwise) the trigger."""
        allowed = [f":o{i}" for i in range(len(from_status))]
        values = {":to": {"S": to_status}, ":at": {"S": at}, **{f":o{i}": {"S": s} for i, s in enumerate(from_status)}}
        trigger = self._key(account_id, f"ON#{list_id}#{automation_id}")
        items: list[dict[str, Any]] = [{"Update": {
            "TableName": self._table, "Key": self._key(account_id, f"A#{automation_id}"),
            "UpdateExpression": "SET #s = :to, updated_at = :at",
            "ConditionExpression": f"#s IN ({', '.join(allowed)})",
            "ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": values,
        }}]
        if to_status == "active":
            items.append({"Put": {"TableName": self._table, "Item": {
                **trigger, "automation_id": {"S": automation_id}, "list_id": {"S": list_id}}}})
        else:
            items.append({"Delete": {"TableName": self._table, "Key": trigger}})
        return self._transact(items)

    def delete(self, account_id: str, automation_id: str, list_id: str, step_ids: list[str]) -> bool:
        keys = [f"ON#{list_id}#{automation_id}", *(f"S#{s}" for s in step_ids)]
        if not applied(self._client.delete_item, TableName=self._table,
                       Key=self._key(account_id, f"A#{automation_id}"), ConditionExpression="attribute_exists(sk)"):
            return False
        for sk in keys:
            self._client.delete_item(TableName=self._table, Key=self._key(account_id, sk))
        return True

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """True if applied; False if a condition did not hold (a conflict is retried)."""
        for attempt in range(5):
            try:
                self._client.transact_write_items(TransactItems=items)
                return True
            except self._client.exceptions.TransactionCanceledException as exc:
                codes = cancellation_codes(exc)
                if "ConditionalCheckFailed" in codes:
                    return False
                if "TransactionConflict" in codes and attempt < 4:
                    time.sleep(0.05 * (2**attempt))
                    continue
                raise
        return False

    # ------------------------------------------------------------------ steps and triggers
    def put_steps(self, account_id: str, automation_id: str, steps: list[dict[str, Any]]) -> None:
        for index, step in enumerate(steps):
            self._client.put_item(TableName=self._table, Item={
                **self._key(account_id, f"S#{step['id']}"),
                **item_of({"automation_id": automation_id, "step": index, "links": list(step.get("links") or [])})})

    def step_of(self, account_id: str, step_id: str) -> dict[str, Any] | None:
        """{automation_id, step, links} of a step id; None for anything else (a campaign's id)."""
        item = self._client.get_item(TableName=self._table, Key=self._key(account_id, f"S#{step_id}")).get("Item")
        return plain_item(item) if item else None

    def active_lists(self, account_id: str) -> dict[str, list[str]]:
        """list id -> the automations active on it (the triggers)."""
        found: dict[str, list[str]] = {}
        for item in self._query(account_id, "ON#", "list_id, automation_id"):
            found.setdefault(item["list_id"]["S"], []).append(item["automation_id"]["S"])
        return found

    # ------------------------------------------------------------------ enrolments
    @staticmethod
    def _enrolment_key(account_id: str, automation_id: str, recipient_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"{account_id}#E#{automation_id}"}, "sk": {"S": recipient_id}}

    def _counter(self, account_id: str, automation_id: str, name: str) -> dict[str, Any]:
        return {"Update": Counters.update_args(self._stats, account_id, automation_id, {name: 1})}

    def enrol(self, account_id: str, automation_id: str, recipient_id: str, due_at: int, wake_at: int,
              at: str) -> bool:
        """Enter a contact (step 0 due at `due_at`) and count it. False if it had entered before."""
        item = {**self._enrolment_key(account_id, automation_id, recipient_id), **item_of({
            "status": "active", "step": 0, "due_at": due_at, "wake_key": wake_key(recipient_id),
            "wake_at": wake_at, "entered_at": at, "updated_at": at})}
        return self._transact([
            {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(sk)"}},
            self._counter(account_id, automation_id, "entered"),
        ])

    def enrolments(self, account_id: str, automation_id: str, recipient_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The enrolments among `recipient_ids` (consistent BatchGetItem, 100 a call)."""
        found: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(recipient_ids))
        for start in range(0, len(ids), 100):
            request: dict[str, Any] = {self._table: {
                "Keys": [self._enrolment_key(account_id, automation_id, r) for r in ids[start:start + 100]],
                "ConsistentRead": True}}
            for _attempt in range(8):
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    found[item["sk"]["S"]] = plain_item(item)
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05)
        return found

    def advance(self, account_id: str, automation_id: str, recipient_id: str, from_step: int, due_at: int,
                wake_at: int, at: str) -> bool:
        """Step `from_step` is done: the next one is due at `due_at`. False if already moved on."""
        return applied(self._client.update_item, TableName=self._table,
                       Key=self._enrolment_key(account_id, automation_id, recipient_id),
                       UpdateExpression="SET step = :next, due_at = :due, wake_key = :wk, wake_at = :wake, "
                                        "updated_at = :at",
                       ConditionExpression="#s = :active AND step = :from",
                       ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":next": {"N": str(from_step + 1)}, ":due": {"N": str(due_at)},
                                                  ":wk": {"S": wake_key(recipient_id)}, ":wake": {"N": str(wake_at)},
                                                  ":at": {"S": at}, ":active": {"S": "active"},
                                                  ":from": {"N": str(from_step)}})

    def finish(self, account_id: str, automation_id: str, recipient_id: str, status: str, at: str, *,
               from_step: int | None = None, reason: str | None = None) -> bool:
        """active -> completed (after the last step, `from_step`) or exited (`reason`), counted once."""
        values: dict[str, Any] = {":st": {"S": status}, ":at": {"S": at}, ":active": {"S": "active"}}
        condition = "#s = :active"
        expr = "SET #s = :st, updated_at = :at"
        if from_step is not None:
            condition += " AND step = :from"
            values[":from"] = {"N": str(from_step)}
            values[":next"] = {"N": str(from_step + 1)}
            expr += ", step = :next"
        if reason:
            expr += ", exit_reason = :why"
            values[":why"] = {"S": reason}
        return self._transact([
            {"Update": {"TableName": self._table, "Key": self._enrolment_key(account_id, automation_id, recipient_id),
                        "UpdateExpression": expr + " REMOVE wake_key, wake_at", "ConditionExpression": condition,
                        "ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": values}},
            self._counter(account_id, automation_id, "completed" if status == "completed" else "exited"),
        ])

    def due(self, shard: str, until: int, limit: int) -> list[dict[str, Any]]:
        """Enrolments whose wake time is at or before `until` (one shard of the by_wake index)."""
        page = self._client.query(TableName=self._table, IndexName=WAKE_INDEX,
                                  KeyConditionExpression="wake_key = :k AND wake_at <= :until",
                                  ExpressionAttributeValues={":k": {"S": f"w#{shard}"}, ":until": {"N": str(until)}},
                                  Limit=limit)
        return [plain_item(i) for i in page.get("Items", [])]

    def snooze(self, pk: str, recipient_id: str, wake_at: int, new_wake_at: int) -> bool:
        """Move an enrolment's wake time on (its step was queued): False if someone else moved it."""
        return applied(self._client.update_item, TableName=self._table,
                       Key={"pk": {"S": pk}, "sk": {"S": recipient_id}},
                       UpdateExpression="SET wake_at = :new", ConditionExpression="wake_at = :old",
                       ExpressionAttributeValues={":new": {"N": str(new_wake_at)}, ":old": {"N": str(wake_at)}})

    def active_page(self, account_id: str, automation_id: str, after: str | None, limit: int = 500
                    ) -> tuple[list[dict[str, Any]], str | None]:
        """Active enrolments of an automation, a page at a time (resume and purge jobs)."""
        args: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "#s = :active", "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":pk": {"S": f"{account_id}#E#{automation_id}"},
                                          ":active": {"S": "active"}},
            "Limit": limit,
        }
        if after:
            args["ExclusiveStartKey"] = self._enrolment_key(account_id, automation_id, after)
        page = self._client.query(**args)
        last = page.get("LastEvaluatedKey")
        return [plain_item(i) for i in page.get("Items", [])], (last["sk"]["S"] if last else None)

    def delete_enrolments(self, account_id: str, automation_id: str, recipient_ids: list[str]) -> None:
        for start in range(0, len(recipient_ids), 25):
            requests = [{"DeleteRequest": {"Key": self._enrolment_key(account_id, automation_id, r)}}
                        for r in recipient_ids[start:start + 25]]
            for _attempt in range(8):
                answer = self._client.batch_write_item(RequestItems={self._table: requests})
                requests = answer.get("UnprocessedItems", {}).get(self._table, [])
                if not requests:
                    break
                time.sleep(0.05)

    def enrolment_pages(self, account_id: str, automation_id: str) -> list[str]:
        """Every enrolled recipient id (any status), for the purge of a deleted automation."""
        return [i["sk"]["S"] for i in self._query(f"{account_id}#E#{automation_id}", None, "sk")]
