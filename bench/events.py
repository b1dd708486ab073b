"""The pixel and click paths with webhooks on (`make bench`): counts, not times.

A tenant with a webhook endpoint for email.opened and email.clicked (machine ones too) and a
recipient's send-ledger item, on moto in-process (the template's tables, their streams). The real
track_open and track_click handlers serve one open and one click; every DynamoDB call any client
makes meanwhile is counted (botocore's BaseClient._make_api_call). Then the messages table's stream
is read and turned into domain events as the stream_events function does.

- aws_calls_per_open_with_webhooks / aws_calls_per_click_with_webhooks: writes and reads per event.
- domain_events_with_webhooks: the events the stream gave for that open and click (2: the event
  costs the pixel path nothing; it is read off the one write).
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-events-secret-0123456789abcdef"  # noqa: S105 - a throwaway key for the moto run
ACCOUNT, CAMPAIGN = "a1" * 16, "c2" * 16
WRITES = {"UpdateItem", "PutItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5"

from _meter import load_handler  # noqa: E402  (bench/ is on the path: run.py's folder, or this file's)


@contextmanager
def _dynamodb_calls() -> Iterator[Counter[str]]:
    import botocore.client

    seen: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counted(self: Any, operation: str, params: Any) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            seen[operation] += 1
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = counted
    try:
        yield seen
    finally:
        botocore.client.BaseClient._make_api_call = original


def _event(token: str) -> dict[str, Any]:
    return {"version": "2.0", "pathParameters": {"token": token}, "headers": {"user-agent": BROWSER},
            "requestContext": {"http": {"method": "GET", "sourceIp": "198.51.100.7"}}}


def _figures(calls: Counter[str]) -> dict[str, int]:
    return {"writes": sum(n for op, n in calls.items() if op in WRITES),
            "reads": sum(n for op, n in calls.items() if op in READS),
            "other": sum(n for op, n in calls.items() if op not in WRITES | READS)}


def run() -> dict[str, Any]:
    import boto3
    import botocore.config
    from moto import mock_aws

    from beacon_local.moto_patches import bounded_streams, fast_transactions, serialised_dynamodb
    from beacon_local.resources import FAKE_CREDENTIALS, create_resources
    from beacon_local.streams import TableStream

    saved = dict(os.environ)
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.update({"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                       "POWERTOOLS_TRACE_DISABLED": "true"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with mock_aws(), fast_transactions(), serialised_dynamodb(), bounded_streams():
            resources = create_resources(ROOT / "template.yaml", stage="bench", region="us-east-1", secret=SECRET)
            os.environ.update(resources.environment())
            from beacon import wiring
            from beacon.db.keys import ledger_pk
            from beacon.shared.ids import recipient_id
            from beacon.tracking.domain_events import events_of
            from beacon.webhooks import endpoints

            wiring.reset()
            settings = wiring.settings()
            endpoints.create(wiring.webhooks(), settings.token_secret, ACCOUNT,
                             {"url": "https://hooks.example.com/in", "events": ["email.opened", "email.clicked"],
                              "include_machine": True}, allow_local=False)
            rid = recipient_id(ACCOUNT, "ann@example.com")
            issued = int(time.time()) - 86400
            dynamodb = resources.client("dynamodb")
            dynamodb.put_item(TableName=settings.messages_table, Item={
                "pk": {"S": ledger_pk(ACCOUNT, CAMPAIGN, rid)}, "sk": {"S": rid}, "email": {"S": "ann@example.com"},
                "status": {"S": "sent"}, "sent_at": {"S": "2026-01-01T00:00:00Z"}})
            streams = boto3.client("dynamodbstreams", region_name="us-east-1",
                                   config=botocore.config.Config(account_id_endpoint_mode="disabled"))
            reader = TableStream(dynamodb, streams, settings.messages_table)
            signer = wiring.signer()
            pixel, click = load_handler("track_open"), load_handler("track_click")
            with _dynamodb_calls() as opened:
                assert pixel(_event(signer.open_token(ACCOUNT, CAMPAIGN, rid, issued)), None)["statusCode"] == 200
            token = signer.click_token(ACCOUNT, CAMPAIGN, rid, issued, 0, "https://shop.example.com/a")
            with _dynamodb_calls() as clicked:
                assert click(_event(token), None)["statusCode"] == 302
            events = events_of(reader.read(), wiring.stream_deps())
            wiring.reset()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {"aws_calls_per_open_with_webhooks": _figures(opened),
            "aws_calls_per_click_with_webhooks": _figures(clicked),
            "domain_events_with_webhooks": sorted(e.type for e in events)}


if __name__ == "__main__":
    for key, value in run().items():
        sys.stdout.write(f"{key}: {value}\n")
