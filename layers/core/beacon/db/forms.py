"""Signup forms (the accounts table), in plain botocore: the public page reads a form in one GetItem
without loading PynamoDB (its cold start), and the /v1 API uses the same code.

Form:   pk=F#{form_id}    sk=FORM              the whole form, found by its id alone (the public URL)
Index:  pk=A#{account_id} sk=FORM#{form_id}    the tenant's list of its forms (and what erasure follows)

`consent_versions` maps a short hash of every consent text the form ever showed to that text, so
a signup records the text exactly as the page (or an embedded copy of it) showed it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from beacon.db.conditions import applied
from beacon.db.paging import query_page_raw


@dataclass
class FormRecord:
    account_id: str
    form_id: str
    name: str
    list_ids: list[str]
    from_email: str
    from_name: str
    fields: list[dict[str, Any]]  # [{name, label, required}]
    consent_text: str
    consent_versions: dict[str, str]  # version -> text, every text the form ever showed
    success_url: str
    created_at: str
    updated_at: str
    double_opt_in: bool = True

    @property
    def consent_version(self) -> str:
        for version, text in self.consent_versions.items():
            if text == self.consent_text:
                return version
        return ""


def _item(form: FormRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": f"F#{form.form_id}"}, "sk": {"S": "FORM"},
        "account_id": {"S": form.account_id}, "form_id": {"S": form.form_id}, "name": {"S": form.name},
        "list_ids": {"L": [{"S": i} for i in form.list_ids]}, "from_email": {"S": form.from_email},
        "from_name": {"S": form.from_name}, "fields": {"S": json.dumps(form.fields)},
        "consent_text": {"S": form.consent_text}, "consent_versions": {"S": json.dumps(form.consent_versions)},
        "double_opt_in": {"BOOL": form.double_opt_in},
        "created_at": {"S": form.created_at}, "updated_at": {"S": form.updated_at},
    }
    if form.success_url:
        item["success_url"] = {"S": form.success_url}
    return item


def _form(item: dict[str, Any]) -> FormRecord:
    def s(name: str) -> str:
        return str(item.get(name, {}).get("S", ""))

    return FormRecord(
        account_id=s("account_id"), form_id=s("form_id"), name=s("name"),
        list_ids=[v["S"] for v in item.get("list_ids", {}).get("L", [])], from_email=s("from_email"),
        from_name=s("from_name"), fields=json.loads(s("fields") or "[]"), consent_text=s("consent_text"),
        consent_versions=json.loads(s("consent_versions") or "{}"), success_url=s("success_url"),
        created_at=s("created_at"), updated_at=s("updated_at"),
        double_opt_in=bool(item.get("double_opt_in", {}).get("BOOL", True)),
    )


class FormRepo:
    def __init__(self, client: Any, accounts_table: str) -> None:
        self._c = client
        self._table = accounts_table

    def get(self, form_id: str) -> FormRecord | None:
        """The form with this id, whoever owns it (the public page)."""
        item = self._c.get_item(TableName=self._table, Key={"pk": {"S": f"F#{form_id}"}, "sk": {"S": "FORM"}}
                                ).get("Item")
        return _form(item) if item else None

    def owned(self, account_id: str, form_id: str) -> FormRecord | None:
        """The form if this tenant owns it (another tenant's form is simply not found)."""
        form = self.get(form_id)
        return form if form is not None and form.account_id == account_id else None

    def page(self, account_id: str, limit: int, cursor: str | None) -> tuple[list[FormRecord], str | None]:
        """A page of the tenant's forms, newest first (ids sort by age): one Query and one BatchGetItem."""
        index, next_cursor = query_page_raw(self._c, self._table, f"A#{account_id}", "FORM#", limit, cursor,
                                            newest_first=True)
        ids = [i["sk"]["S"][5:] for i in index]
        found = {f.form_id: f for f in self._fetch(account_id, ids)}
        return [found[i] for i in ids if i in found], next_cursor

    def _fetch(self, account_id: str, ids: list[str]) -> list[FormRecord]:
        found: list[FormRecord] = []
        for start in range(0, len(ids), 100):
            request: dict[str, Any] = {self._table: {"Keys": [{"pk": {"S": f"F#{i}"}, "sk": {"S": "FORM"}}
                                                              for i in ids[start:start + 100]]}}
            while request:
                answer = self._c.batch_get_item(RequestItems=request)
                found += [_form(i) for i in answer.get("Responses", {}).get(self._table, [])]
                request = answer.get("UnprocessedKeys") or {}
        return [f for f in found if f.account_id == account_id]

    def create(self, form: FormRecord) -> None:
        self._c.transact_write_items(TransactItems=[
            {"Put": {"TableName": self._table, "Item": _item(form), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": self._table, "Item": {
                "pk": {"S": f"A#{form.account_id}"}, "sk": {"S": f"FORM#{form.form_id}"},
                "form_id": {"S": form.form_id}, "created_at": {"S": form.created_at}}}},
        ])

    def save(self, form: FormRecord) -> bool:
        """Replace the stored form (it must still exist and belong to the same tenant). True if saved."""
        return applied(self._c.put_item, TableName=self._table, Item=_item(form),
                       ConditionExpression="account_id = :a", ExpressionAttributeValues={":a": {"S": form.account_id}})

    def delete(self, account_id: str, form_id: str) -> bool:
        """True when the tenant had the form (both items are gone now)."""
        return applied(self._c.transact_write_items, TransactItems=[
            {"Delete": {"TableName": self._table, "Key": {"pk": {"S": f"F#{form_id}"}, "sk": {"S": "FORM"}},
                        "ConditionExpression": "account_id = :a",
                        "ExpressionAttributeValues": {":a": {"S": account_id}}}},
            {"Delete": {"TableName": self._table,
                        "Key": {"pk": {"S": f"A#{account_id}"}, "sk": {"S": f"FORM#{form_id}"}}}},
        ])
