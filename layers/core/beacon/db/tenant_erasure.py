"""Erasing a tenant from every table (DELETE /v1/account, run by beacon.audience.jobs). Plain botocore:
it pages through each partition of the tenant with keys-only Queries and deletes 25 items per
BatchWriteItem.

Where the tenant's items live (see db/models.py and the repositories):
  accounts      pk=A#{account_id} (profile, keys, lists, segments, domains, forms, session/reset index) and
                the lookups they point at: E#{email}, K#{key hash}, S#/R#{token hash}, D#{domain}, F#{form},
                and each import job's items, J#{job_id} and its file's chunks J#{job_id}#{n} (IMPORT#{job_id})
  contacts      pk={account_id} (contacts, consent records), pk={account_id}#L#{list_id} (memberships)
  campaigns     pk={account_id}
  messages      pk={account_id}#{campaign_id}      stats  pk={account_id}#{campaign_id}
  events        pk={account_id}#{recipient_id}
  suppressions  pk={account_id}: kept, with `email` removed (only the recipient-id hash stays)
  automations   pk={account_id} (A#, ON#, S# items), pk={account_id}#E#{automation_id} (enrolments);
                each step's send ledger and counters as a campaign's (the step id), the automation's
                counters at stats pk={account_id}#{automation_id}
  webhooks      pk={account_id} (endpoints), pk={account_id}#WH#{webhook_id} (the delivery log)

The profile is deleted last, so an erasure cut short by the time budget leaves the account (read-only
while its erasure job runs) until the job's next step; every step is idempotent.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from beacon.db.keys import ledger_pks
from beacon.shared.config import Settings

TimeLeft = Callable[[], float]
CONTACTS_AT_ONCE = 10  # contacts whose events and memberships go before they do (a durable step)


class OutOfTime(Exception):
    pass


class TenantEraser:
    def __init__(self, client: Any, settings: Settings, time_left: TimeLeft) -> None:
        self._c = client
        self._s = settings
        self._time_left = time_left
        self.deleted = 0

    # ------------------------------------------------------------ plumbing
    def _keys(self, table: str, pk: str, *attributes: str) -> Iterator[dict[str, Any]]:
        names = {f"#a{i}": name for i, name in enumerate(("pk", "sk", *attributes))}
        kwargs: dict[str, Any] = {
            "TableName": table, "KeyConditionExpression": "#a0 = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}}, "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names, "ConsistentRead": True,
        }
        while True:
            if self._time_left() < 2.0:
                raise OutOfTime
            page = self._c.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete(self, table: str, keys: list[dict[str, Any]]) -> None:
        for start in range(0, len(keys), 25):
            requests = [{"DeleteRequest": {"Key": {"pk": k["pk"], "sk": k["sk"]}}} for k in keys[start:start + 25]]
            pending: dict[str, Any] = {table: requests}
            for attempt in range(8):
                answer = self._c.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
            else:
                raise RuntimeError(f"DynamoDB kept {len(pending.get(table, []))} deletes unprocessed")
            self.deleted += len(requests)

    def _delete_partition(self, table: str, pk: str) -> list[dict[str, Any]]:
        items = list(self._keys(table, pk))
        self._delete(table, items)
        return items

    # ------------------------------------------------------------ the tenant
    def campaigns(self, account_id: str) -> list[tuple[str, str]]:
        """(campaign id, status) of every campaign of the tenant."""
        return [(i["sk"]["S"], i.get("status", {}).get("S", ""))
                for i in self._keys(self._s.campaigns_table, account_id, "status")]

    def erase_ledgers(self, account_id: str) -> None:
        """First phase: every campaign's send-ledger items (a campaign whose ledger is gone is marked
        `ledger_erased` and skipped when the phase resumes). The ledger's stream may still carry
        changes of them to the stats roll-up for a few seconds, so the caller lets that pass before
        `erase` removes the campaigns' stats. Raises OutOfTime."""
        s = self._s
        for item in list(self._keys(s.campaigns_table, account_id, "ledger_erased")):
            if "ledger_erased" in item:
                continue
            self._erase_ledger(account_id, item["sk"]["S"])
            self._c.update_item(TableName=s.campaigns_table, Key={"pk": item["pk"], "sk": item["sk"]},
                                UpdateExpression="SET ledger_erased = :one",
                                ExpressionAttributeValues={":one": {"N": "1"}})

    def _erase_ledger(self, account_id: str, campaign_id: str) -> None:
        for pk in ledger_pks(account_id, campaign_id):
            self._delete_partition(self._s.messages_table, pk)

    def erase(self, account_id: str) -> None:
        """Everything but the suppressions (which lose their email). Raises OutOfTime when the time
        budget runs out first: call it again; every step leaves durable progress (what is deleted
        is not read again), so a tenant of any size is erased in a bounded number of calls.

        Order: per campaign its ledger, stats (counters, roll-up, timeline) and then the campaign;
        the tenant's send schedule; per page of contacts their events, memberships and then the
        contacts; the lists' remaining memberships; per suppression its events, then its email;
        automations and webhooks (erase_reactions); the account's items with the lookups they point
        at, the profile last."""
        s = self._s
        for item in list(self._keys(s.campaigns_table, account_id)):
            campaign_id = item["sk"]["S"]
            self._erase_ledger(account_id, campaign_id)
            self._delete_partition(s.stats_table, f"{account_id}#{campaign_id}")
            self._delete(s.campaigns_table, [item])
        self._delete_partition(s.stats_table, f"{account_id}#pace")  # beacon.db.tenant_pace
        self._erase_contacts(account_id)
        for item in self._keys(s.accounts_table, f"A#{account_id}"):
            if item["sk"]["S"].startswith("LIST#"):
                self._delete_partition(s.contacts_table, f"{account_id}#L#{item['sk']['S'][5:]}")
        for item in self._keys(s.suppressions_table, account_id, "email"):
            if "email" in item:
                self._delete_partition(s.events_table, f"{account_id}#{item['sk']['S']}")
                self._c.update_item(TableName=s.suppressions_table, Key={"pk": item["pk"], "sk": item["sk"]},
                                    UpdateExpression="REMOVE email")
        self._delete_partition(s.campaigns_table, account_id)  # anything else kept under the tenant's campaigns
        self.erase_reactions(account_id)
        self._erase_account_items(account_id)

    def erase_reactions(self, account_id: str) -> None:
        """The tenant's automations (enrolments, each step's ledger and counters, then the definitions)
        and webhooks (the delivery log, then the endpoints). Raises OutOfTime; idempotent."""
        s = self._s
        if not (s.automations_table and s.webhooks_table):
            return  # a deployment without them (an older environment): nothing of theirs to erase
        for item in list(self._keys(s.automations_table, account_id)):
            sk = item["sk"]["S"]
            if sk.startswith("A#"):
                automation_id = sk[2:]
                self._delete_partition(s.automations_table, f"{account_id}#E#{automation_id}")
                self._delete_partition(s.stats_table, f"{account_id}#{automation_id}")
            elif sk.startswith("S#"):
                step_id = sk[2:]
                self._erase_ledger(account_id, step_id)
                self._delete_partition(s.stats_table, f"{account_id}#{step_id}")
        self._delete_partition(s.automations_table, account_id)
        for item in list(self._keys(s.webhooks_table, account_id)):
            if item["sk"]["S"].startswith("WH#"):
                self._delete_partition(s.webhooks_table, f"{account_id}#WH#{item['sk']['S'][3:]}")
        self._delete_partition(s.webhooks_table, account_id)

    def _erase_contacts(self, account_id: str) -> None:
        """A page of contacts at a time: their events and memberships, then the contacts themselves."""
        s = self._s
        page: list[dict[str, Any]] = []

        def flush() -> None:
            memberships = [{"pk": {"S": f"{account_id}#L#{list_id}"}, "sk": {"S": c["sk"]["S"].removeprefix("C#")}}
                           for c in page for list_id in c.get("list_ids", {}).get("SS", [])]
            for contact in page:
                self._delete_partition(s.events_table, f"{account_id}#{contact['sk']['S'].removeprefix('C#')}")
            self._delete(s.contacts_table, memberships)
            self._delete(s.contacts_table, page)
            page.clear()

        for item in self._keys(s.contacts_table, account_id, "list_ids"):
            page.append(item)
            if len(page) == CONTACTS_AT_ONCE:
                flush()
        if page:
            flush()

    def _erase_account_items(self, account_id: str) -> None:
        s = self._s
        items = list(self._keys(s.accounts_table, f"A#{account_id}", "key_hash", "ref", "email", "domain", "chunks"))
        lookups: list[dict[str, Any]] = []
        profile: list[dict[str, Any]] = []
        for item in items:
            sk = item["sk"]["S"]
            if sk.startswith("IMPORT#"):  # an import job: its file's chunks, step, kept rows and record
                job_id = sk[7:]
                chunks = int(item.get("chunks", {}).get("N", "0"))
                lookups.extend({"pk": {"S": f"J#{job_id}#{n}"}, "sk": {"S": "CSV"}} for n in range(chunks))
                self._delete_partition(s.accounts_table, f"J#{job_id}")
            elif sk.startswith("KEY#") and "key_hash" in item:
                lookups.append({"pk": {"S": f"K#{item['key_hash']['S']}"}, "sk": {"S": "KEY"}})
            elif sk.startswith(("SESSION#", "RESET#")) and "ref" in item:
                lookups.append({"pk": item["ref"], "sk": {"S": sk.partition("#")[0]}})
            elif sk.startswith("FORM#"):  # the signup form itself, found by its id (beacon.db.forms)
                lookups.append({"pk": {"S": f"F#{sk[5:]}"}, "sk": {"S": "FORM"}})
            elif sk.startswith("DOMAIN#") and "domain" in item:
                lookups.append({"pk": {"S": f"D#{item['domain']['S']}"}, "sk": {"S": "CLAIM"}})
            elif sk == "PROFILE":
                profile.append(item)
                if "email" in item:
                    email = item["email"]["S"]
                    lookups.append({"pk": {"S": f"E#{email}"}, "sk": {"S": "CLAIM"}})
                    login = hashlib.sha256(email.encode()).hexdigest()
                    lookups.append({"pk": {"S": f"T#login#{login}"}, "sk": {"S": "COUNT"}})
        self._delete(s.accounts_table, lookups)
        self._delete(s.accounts_table, [i for i in items if i["sk"]["S"] != "PROFILE"])
        self._delete(s.accounts_table, profile)
