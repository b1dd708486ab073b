"""The send ledger: one item per (campaign, recipient), the guard against doubled and lost email.

Life of an item (attribute `status`):
  (absent) --claim--> sending --settle--> sent | failed
  (absent) --settle--> suppressed
  sending  --settle--> suppressed                     (suppressed while the batch was sending)
  sending  --release--> retry --claim--> sending     (SES throttled us: try again later)
  sending (stale, no SES event seen) --claim--> sending   (the sender crashed before SES answered)

A claim is a conditional Put before the SES call; a batch claims all its recipients in ONE
TransactWriteItems (claim_many), leaving out those another attempt already holds or settled.
Settling a batch is ONE TransactWriteItems
that updates every ledger item of the batch and the campaign's sharded counters together, so the
stats move exactly when the ledger does. Plain botocore: the expressions are easier to read raw.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from beacon.db.campaign_counters import Counters
from beacon.db.conditions import applied, cancellation_codes
from beacon.db.keys import ledger_pk

STALE_CLAIM_SECONDS = 300


@dataclass(frozen=True)
class Claim:
    recipient_id: str
    claim_id: str
    won: bool
    status: str  # the status found when the claim was lost (sent, failed, suppressed, sending)


@dataclass(frozen=True)
class Outcome:
    recipient_id: str
    email: str
    status: str  # sent | failed | suppressed
    claim_id: str | None = None
    ses_message_id: str | None = None
    error: str | None = None


class Ledger:
    def __init__(self, client: Any, table: str, stats_table: str) -> None:
        self._client = client
        self._table = table
        self._stats_table = stats_table

    @staticmethod
    def _key(account_id: str, campaign_id: str, recipient_id: str) -> dict[str, Any]:
        return {"pk": {"S": ledger_pk(account_id, campaign_id, recipient_id)}, "sk": {"S": recipient_id}}

    _CLAIM_CONDITION = "attribute_not_exists(sk) OR #s = :retry OR (#s = :sending AND claimed_at < :stale)"

    def _claim_put(self, account_id: str, campaign_id: str, recipient_id: str, email: str, claim_id: str,
                   now: float) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": {
                **self._key(account_id, campaign_id, recipient_id),
                "email": {"S": email},
                "recipient_key": {"S": f"{account_id}#{recipient_id}"},  # the by_recipient index
                "status": {"S": "sending"},
                "claim_id": {"S": claim_id},
                "claimed_at": {"N": f"{now:.3f}"},
            },
            "ConditionExpression": self._CLAIM_CONDITION,
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":retry": {"S": "retry"},
                ":sending": {"S": "sending"},
                ":stale": {"N": f"{now - STALE_CLAIM_SECONDS:.3f}"},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def claim_many(self, account_id: str, campaign_id: str, recipients: list[tuple[str, str]]) -> dict[str, Claim]:
        """Claim a batch's recipients ((recipient id, email) pairs, at most 99) in one transaction.

        The ones already held or settled by another attempt fail their condition: they are left
        out (their Claim has won=False) and the rest is claimed in the next round.
        """
        if len(recipients) > 99:
            raise ValueError("a claim transaction holds at most 99 recipients")
        claims: dict[str, Claim] = {}
        pending = list(dict.fromkeys(recipients))
        for attempt in range(6):
            if not pending:
                break
            now = time.time()
            ids = {rid: secrets.token_hex(8) for rid, _ in pending}
            items = [{"Put": self._claim_put(account_id, campaign_id, rid, email, ids[rid], now)}
                     for rid, email in pending]
            try:
                self._client.transact_write_items(TransactItems=items)
            except self._client.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons", [])
                codes = cancellation_codes(exc)
                lost = {i for i, code in enumerate(codes[: len(pending)]) if code == "ConditionalCheckFailed"}
                if lost:
                    for i in lost:
                        rid = pending[i][0]
                        status = reasons[i].get("Item", {}).get("status", {}).get("S", "unknown")
                        claims[rid] = Claim(rid, ids[rid], False, status)
                    pending = [p for i, p in enumerate(pending) if i not in lost]
                    continue
                if "TransactionConflict" in codes and attempt < 5:
                    time.sleep(0.05 * (2**attempt))
                    continue
                raise
            for rid, _ in pending:
                claims[rid] = Claim(rid, ids[rid], True, "sending")
            pending = []
        if pending:
            raise RuntimeError("could not claim the batch")
        return claims

    def release(self, account_id: str, campaign_id: str, recipient_id: str, claim_id: str) -> None:
        """Give a claim back (SES throttled): the next attempt may claim it again."""
        applied(self._client.update_item,  # False: the claim was no longer ours
                TableName=self._table,
                Key=self._key(account_id, campaign_id, recipient_id),
                UpdateExpression="SET #s = :retry REMOVE claim_id",
                ConditionExpression="claim_id = :mine",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":retry": {"S": "retry"}, ":mine": {"S": claim_id}})

    def settle(self, account_id: str, campaign_id: str, outcomes: list[Outcome], now_iso: str) -> int:
        """Write the batch's outcomes and add them to the campaign counters, all or nothing.

        An outcome whose item was settled meanwhile (a redelivery, or ses_events settling a crashed
        send) fails its condition; it is left out and the rest is written. Returns how many settled.
        """
        pending = list(outcomes)
        for _round in range(4):
            if not pending:
                return 0
            try:
                self._transact(self._settle_items(account_id, campaign_id, pending, now_iso))
                return len(pending)
            except self._client.exceptions.TransactionCanceledException as exc:
                reasons = cancellation_codes(exc)
                lost = {i for i, code in enumerate(reasons[: len(pending)]) if code == "ConditionalCheckFailed"}
                if not lost:
                    raise
                pending = [o for i, o in enumerate(pending) if i not in lost]
        raise RuntimeError("could not settle the batch")

    def _settle_items(self, account_id: str, campaign_id: str, outcomes: list[Outcome],
                      now_iso: str) -> list[dict[str, Any]]:
        if len(outcomes) > 99:
            raise ValueError("a settle transaction holds at most 99 recipients")
        counts = {"sent": 0, "failed": 0, "skipped_suppressed": 0}
        items: list[dict[str, Any]] = []
        for o in outcomes:
            key = self._key(account_id, campaign_id, o.recipient_id)
            if o.status == "suppressed" and not o.claim_id:  # suppressed before it was claimed
                counts["skipped_suppressed"] += 1
                items.append({"Put": {
                    "TableName": self._table,
                    "Item": {**key, "email": {"S": o.email}, "status": {"S": "suppressed"},
                             "recipient_key": {"S": f"{account_id}#{o.recipient_id}"},
                             "settled_at": {"S": now_iso}},
                    "ConditionExpression": "attribute_not_exists(sk) OR #s = :retry",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":retry": {"S": "retry"}},
                }})
                continue
            # sent, failed, or suppressed while claimed (the gate saw the suppression just before SES)
            counts["skipped_suppressed" if o.status == "suppressed" else o.status] += 1
            values: dict[str, Any] = {":st": {"S": o.status}, ":mine": {"S": o.claim_id or ""},
                                      ":at": {"S": now_iso}, ":sending": {"S": "sending"}}
            expr = "SET #s = :st, settled_at = :at"
            if o.ses_message_id:
                expr += ", ses_message_id = :mid, sent_at = :at"
                values[":mid"] = {"S": o.ses_message_id}
            names = {"#s": "status"}
            if o.error:
                expr += ", #e = :err"
                values[":err"] = {"S": o.error[:500]}
                names["#e"] = "error"
            items.append({"Update": {
                "TableName": self._table,
                "Key": key,
                "UpdateExpression": expr,
                "ConditionExpression": "claim_id = :mine AND #s = :sending",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }})
        items.append({"Update": Counters.update_args(
            self._stats_table, account_id, campaign_id, {k: v for k, v in counts.items() if v}
        )})
        return items

    def settle_by_event(self, account_id: str, campaign_id: str, recipient_id: str,
                        ses_message_id: str, now_iso: str) -> bool:
        """SES says it accepted a message whose sender never settled it (crash after the SES call)."""
        key = self._key(account_id, campaign_id, recipient_id)
        items = [
            {"Update": {
                "TableName": self._table,
                "Key": key,
                "UpdateExpression": "SET #s = :sent, ses_message_id = :mid, sent_at = :at, settled_at = :at",
                "ConditionExpression": "#s = :sending",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":sent": {"S": "sent"}, ":sending": {"S": "sending"},
                                              ":mid": {"S": ses_message_id}, ":at": {"S": now_iso}},
            }},
            {"Update": Counters.update_args(self._stats_table, account_id, campaign_id, {"sent": 1})},
        ]
        try:
            self._transact(items)
        except self._client.exceptions.TransactionCanceledException:
            return False
        return True

    def _transact(self, items: list[dict[str, Any]]) -> None:
        for attempt in range(5):
            try:
                self._client.transact_write_items(TransactItems=items)
                return
            except self._client.exceptions.TransactionCanceledException as exc:
                reasons = cancellation_codes(exc)
                if "TransactionConflict" in reasons and attempt < 4:
                    time.sleep(0.05 * (2**attempt))
                    continue
                raise

    def get(self, account_id: str, campaign_id: str, recipient_id: str) -> dict[str, Any] | None:
        answer = self._client.get_item(
            TableName=self._table, Key=self._key(account_id, campaign_id, recipient_id), ConsistentRead=True
        )
        item = answer.get("Item")
        if not item:
            return None
        return {k: (v.get("S") if "S" in v else v.get("N") if "N" in v else v) for k, v in item.items()}

    def delivery(self, account_id: str, campaign_id: str, recipient_id: str) -> tuple[str, bool] | None:
        """(status, delivered) of a ledger item, or None when there is none: what an SES event needs to
        know before it writes (an eventually consistent read of half a read unit; a write that would
        fail its condition costs a whole write unit, a transaction's two)."""
        item = self._client.get_item(TableName=self._table, Key=self._key(account_id, campaign_id, recipient_id),
                                     ProjectionExpression="#s, delivered_at",
                                     ExpressionAttributeNames={"#s": "status"}).get("Item")
        if item is None:
            return None
        return str((item.get("status") or {}).get("S") or ""), "delivered_at" in item

    def mark_delivered(self, account_id: str, campaign_id: str, recipient_id: str, now_iso: str) -> bool:
        """SES delivered it: delivered_at, once (one UpdateItem; the stats roll-up counts it from the
        ledger's stream, so no counter is written). True the first time only."""
        return applied(self._client.update_item, TableName=self._table,
                       Key=self._key(account_id, campaign_id, recipient_id), UpdateExpression="SET delivered_at = :at",
                       ConditionExpression="attribute_exists(sk) AND attribute_not_exists(delivered_at)",
                       ExpressionAttributeValues={":at": {"S": now_iso}})

    def mark(self, account_id: str, campaign_id: str, recipient_id: str, field: str, counter: str,
             now_iso: str) -> bool:
        """Set a once-only flag (delivered_at, bounced_at, complained_at, unsubscribed_at) on the item
        and add 1 to its campaign counter in the same transaction. True the first time only.
        """
        items = [
            {"Update": {
                "TableName": self._table,
                "Key": self._key(account_id, campaign_id, recipient_id),
                "UpdateExpression": "SET #f = :at",
                "ConditionExpression": "attribute_exists(sk) AND attribute_not_exists(#f)",
                "ExpressionAttributeNames": {"#f": field},
                "ExpressionAttributeValues": {":at": {"S": now_iso}},
            }},
            {"Update": Counters.update_args(self._stats_table, account_id, campaign_id, {counter: 1})},
        ]
        try:
            self._transact(items)
        except self._client.exceptions.TransactionCanceledException:
            return False
        return True
