"""Where the DynamoDB code connects: the PynamoDB models bound to the tables template.yaml declares, and
the plain botocore client the hot paths use (tracking, the ledger, counters) without loading PynamoDB."""

from __future__ import annotations

from typing import Any

from beacon.shared.config import Settings


def bind(settings: Settings) -> None:
    """Point every model at its table (names come from template.yaml via the environment)."""
    from beacon.db.models import TABLE_OF_MODEL

    for model, field in TABLE_OF_MODEL.items():
        model.Meta.table_name = getattr(settings, field)
        model.Meta.region = settings.region
        model.Meta.host = settings.endpoint_url
        model._connection = None


def raw_client(region: str, endpoint_url: str | None) -> Any:
    """A plain botocore DynamoDB client for the hot paths (counters, tracking): no PynamoDB import."""
    from beacon.shared.aws import client

    return client("dynamodb", region, endpoint_url, 50)  # = sending.SEND_WORKERS


def query_all(client: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a low-level Query, page after page (`args` gains ExclusiveStartKey as it goes)."""
    found: list[dict[str, Any]] = []
    while True:
        page = client.query(**args)
        found.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return found
        args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
