"""The FilterCriteria on the send ledger's stream (template.yaml) against the readers they guard:
a record the filter drops must be one that yields nothing. Lambda drops filtered records for good,
so a filter narrower than its reader would lose domain events (webhooks, automations) or stats."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from beacon.tracking.domain_events import read
from beacon_local.streams import parse_pattern, passes
from beacon_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, CAMPAIGN, RID = "a" * 32, "c" * 32, "e" * 32


def _filters(function: str) -> list[dict[str, Any]]:
    source = next(s for s in Template.load(ROOT / "template.yaml").stream_event_sources
                  if s.function == function and s.table == "MessagesTable")
    return [parse_pattern(p) for p in source.filters]


def _item(**attributes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": f"{ACCOUNT}#{CAMPAIGN}#7"}, "sk": {"S": RID},
                            "email": {"S": "p@example.com"}, "status": {"S": "sent"}}
    for name, value in attributes.items():
        item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
    return item


def _record(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"NewImage": new, "SequenceNumber": "1"}
    if old is not None:
        body["OldImage"] = old
    return {"eventID": "1", "eventName": "MODIFY" if old else "INSERT", "dynamodb": body}


# every way a ledger item changes: (old attributes, new attributes)
FLAGS = {"delivered_at": "2026-01-01T00:00:00Z", "bounced_at": "2026-01-01T00:00:00Z",
         "complained_at": "2026-01-01T00:00:00Z", "soft_bounced_at": "2026-01-01T00:00:00Z"}
COUNTS = [{}, {"opens": 1, "human_opens": 1}, {"opens": 2, "machine_opens": 2}, {"clicks": 1, "link_0": 1},
          {"opens": 1, "clicks": 3, "link_1": 3, "machine_clicks": 1}]


def _changes() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    changes: list[tuple[dict[str, Any], dict[str, Any]]] = []
    flag_sets = [dict(c) for n in range(3) for c in itertools.combinations(FLAGS.items(), n)]
    for old_flags, new_flags in itertools.product(flag_sets, flag_sets):
        if not set(old_flags) <= set(new_flags):
            continue
        for old_counts, new_counts in itertools.product(COUNTS, COUNTS):
            changes.append(({**old_flags, **old_counts}, {**new_flags, **new_counts}))
    return changes


def test_the_event_layers_ledger_filter_drops_only_records_without_events() -> None:
    filters = _filters("StreamEventsFunction")
    assert filters, "the event layer reads the ledger's stream through a filter"
    checked = 0
    for old, new in _changes():
        record = _record(_item(**old), _item(**new))
        if read(record, "messages"):
            assert passes(filters, record), (old, new)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("function", ["StreamEventsFunction", "StatsRollupFunction"])
def test_a_sends_claim_and_settle_invoke_neither_reader(function: str) -> None:
    filters = _filters(function)
    claim = {"pk": {"S": f"{ACCOUNT}#{CAMPAIGN}#7"}, "sk": {"S": RID}, "email": {"S": "p@example.com"},
             "status": {"S": "sending"}, "claim_id": {"S": "ab12"}, "claimed_at": {"N": "1700000000.000"}}
    settled = {**claim, "status": {"S": "sent"}, "ses_message_id": {"S": "m-1"},
               "settled_at": {"S": "2026-01-01T00:00:00Z"}, "sent_at": {"S": "2026-01-01T00:00:00Z"}}
    assert not passes(filters, _record(None, claim))
    assert not passes(filters, _record(claim, settled))
    delivered = {**settled, "delivered_at": {"S": "2026-01-01T00:00:05Z"}}
    assert passes(filters, _record(settled, delivered))
