"""One page of a tenant's items and the cursor of the next (every list endpoint: lists, campaigns,
API keys, domains, segments, forms, automations, webhooks, suppressions, a list's contacts). A
cursor is the last item's key, base64url JSON; one that does not name this tenant's partition and
the listed kind of item is refused (ValueError), so a cursor can never page into another tenant's
items or another kind."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, TypeVar

from beacon.shared.errors import BadRequest

if TYPE_CHECKING:  # the low-level pages (query_page_raw) serve the light public functions: no PynamoDB there
    from pynamodb.models import Model

M = TypeVar("M", bound="Model")


def encode_cursor(key: dict[str, str] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, str] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError("cursor is not one this API gave out") from exc
    if not isinstance(key, dict) or set(key) != {"pk", "sk"} or not all(isinstance(v, str) for v in key.values()):
        raise ValueError("cursor is not one this API gave out")
    return key


MAX_LIMIT = 1000


def query_page(model: type[M], pk: str, sk_prefix: str, limit: int, cursor: str | None, *,
               newest_first: bool = False) -> tuple[list[M], str | None]:
    """Up to `limit` items of partition `pk` whose sort key starts with `sk_prefix`, after `cursor`
    (as the API gave it out), and the cursor of the next page (None on the last). Reads at most
    limit + 1 items. A bad limit or cursor is a 400 (BadRequest)."""
    key = _checked(pk, sk_prefix, limit, cursor)
    items, last = _page(model, pk, sk_prefix, limit, key, newest_first)
    return items, encode_cursor(last)


def query_page_raw(client: Any, table: str, pk: str, sk_prefix: str, limit: int, cursor: str | None, *,
                   newest_first: bool = False) -> tuple[list[dict[str, Any]], str | None]:
    """query_page for the tables read with the low-level client: up to `limit` items (as DynamoDB
    answers them) of partition `pk` whose sort key starts with `sk_prefix`, and the next cursor."""
    key = _checked(pk, sk_prefix, limit, cursor)
    args: dict[str, Any] = {
        "TableName": table, "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":p": {"S": sk_prefix}},
        "ScanIndexForward": not newest_first, "Limit": limit + 1,
    }
    if key is not None:
        args["ExclusiveStartKey"] = {k: {"S": v} for k, v in key.items()}
    items: list[dict[str, Any]] = []
    while len(items) <= limit:
        page = client.query(**args)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        args["ExclusiveStartKey"], args["Limit"] = page["LastEvaluatedKey"], limit + 1 - len(items)
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, encode_cursor({"pk": pk, "sk": str(items[-1]["sk"]["S"])})


def _checked(pk: str, sk_prefix: str, limit: int, cursor: str | None) -> dict[str, str] | None:
    """The cursor's key, if it names this partition and kind of item; a bad limit or cursor is a 400."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", code="invalid_limit")
    try:
        key = decode_cursor(cursor)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_cursor") from exc
    if key is not None and (key.get("pk") != pk or not key.get("sk", "").startswith(sk_prefix)):
        raise BadRequest("cursor is not one this API gave out", code="invalid_cursor")
    return key


def _page(model: type[M], pk: str, sk_prefix: str, limit: int, cursor: dict[str, str] | None,
          newest_first: bool) -> tuple[list[M], dict[str, str] | None]:
    hash_key = model._hash_key_attribute()
    range_key = model._range_key_attribute()
    assert hash_key is not None and range_key is not None
    condition: Any = range_key.startswith(sk_prefix) if sk_prefix else None
    items = list(model.query(
        pk, condition, limit=limit + 1, page_size=limit + 1, scan_index_forward=not newest_first,
        last_evaluated_key={k: {"S": v} for k, v in cursor.items()} if cursor else None,
    ))
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    last = items[-1]
    return items, {"pk": pk, "sk": str(getattr(last, range_key.attr_name))}
