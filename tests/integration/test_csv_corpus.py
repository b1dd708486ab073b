"""The CSV corpus in tests/data, driven through the API (POST /v1/lists/{id}/imports) against the
summaries in tests/data/expected_summaries.json; and the import's AWS-call budget (batched reads and
writes, no per-row round trip)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.integration.test_api import PASSWORD, Client, _load_handler, import_csv, new_list

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

DATA = Path(__file__).resolve().parents[1] / "data"
EXPECTED: dict[str, Any] = {k: v for k, v in json.loads((DATA / "expected_summaries.json").read_text("utf-8")).items()
                            if not k.startswith("_")}


@pytest.fixture(scope="module")
def me(aws: Any) -> Iterator[Client]:
    import beacon.wiring

    beacon.wiring.reset()
    api = Client(_load_handler().handler)
    status, body = api.post("/v1/accounts", {"company": "Corpus", "email": f"corpus-{uuid.uuid4().hex[:8]}@example.com",
                                             "password": PASSWORD})
    assert status == 201, body
    yield api.as_(body["api_key"])
    beacon.wiring.reset()


def test_every_corpus_file_has_an_expected_summary() -> None:
    files = {p.name for p in DATA.iterdir() if p.suffix in (".csv", ".txt")}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_imports_as_expected(me: Client, name: str) -> None:
    expected = EXPECTED[name]
    raw = (DATA / name).read_bytes()
    lst = new_list(me, name)
    answer = import_csv(me, lst["id"], raw, base64_body=True)
    assert answer.status == 200, answer.body
    body = answer.body
    assert (body["created"], body["updated"]) == (expected["created"], expected["updated"]), body
    assert [s["row"] for s in body["skipped"]] == [row for row, _ in expected["skipped"]], body["skipped"]
    for got, (_, phrase) in zip(body["skipped"], expected["skipped"], strict=True):
        assert phrase.lower() in got["reason"].lower(), got
    status, listed = me.get(f"/v1/lists/{lst['id']}")
    assert listed["contact_count"] == expected["created"]
    for email, attrs in expected["contacts"].items():
        status, contact = me.get(f"/v1/contacts/{quote(email, safe='')}")
        assert status == 200, (email, contact)
        assert lst["id"] in contact["list_ids"]
        assert {k: contact["attributes"].get(k) for k in attrs} == attrs, contact["attributes"]
    # the same file again changes nothing: same skips, everyone already there
    again = import_csv(me, lst["id"], raw, base64_body=True)
    assert again.status == 200
    assert (again.body["created"], again.body["updated"]) == (0, expected["created"])
    assert again.body["skipped"] == body["skipped"]
    assert me.get(f"/v1/lists/{lst['id']}")[1]["contact_count"] == expected["created"]


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    import botocore.client

    calls: dict[str, int] = {}
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        calls[operation] = calls.get(operation, 0) + 1
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return calls


def test_import_is_batched_not_a_round_trip_per_row(me: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = 1500
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["E-Mail", "Vorname", "Stadt"])
    for i in range(rows):
        writer.writerow([f"Person{i}@Batch.Example.com", f"Name; {i}", "Köln"])
    data = ("\ufeff" + out.getvalue()).encode("utf-8")
    lst = new_list(me, "Batch")
    calls = _count_calls(monkeypatch)
    answer = import_csv(me, lst["id"], data, base64_body=True)
    assert answer.status == 200, answer.body
    assert (answer.body["created"], answer.body["skipped"]) == (rows, [])
    # contacts + memberships in BatchWriteItem (25 a call), reads in BatchGetItem (100 a call)
    assert calls.get("BatchWriteItem", 0) <= 2 * rows // 25 + 2, calls
    assert calls.get("BatchGetItem", 0) <= 2 * rows // 100 + 2, calls
    assert sum(calls.values()) - calls.get("BatchWriteItem", 0) - calls.get("BatchGetItem", 0) <= 10, calls
    assert me.get(f"/v1/lists/{lst['id']}")[1]["contact_count"] == rows
    # re-importing the same file reads but writes nothing
    calls.clear()
    answer = import_csv(me, lst["id"], data, base64_body=True)
    assert (answer.body["created"], answer.body["updated"]) == (0, rows)
    assert calls.get("BatchWriteItem", 0) == 0, calls
    contact = me.get(f"/v1/contacts/{quote('person7@batch.example.com', safe='')}")[1]
    assert contact["attributes"] == {"vorname": "Name; 7", "stadt": "Köln"}
