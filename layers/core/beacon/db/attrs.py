"""DynamoDB's attribute-value JSON ({"S": ...}, {"N": ...}) to and from plain Python values, for the
modules that talk plain botocore (the automations and webhooks tables, stream records)."""

from __future__ import annotations

import json
from typing import Any


def plain(value: dict[str, Any]) -> Any:
    """One attribute value as a plain value (numbers as int when whole, else float)."""
    if "S" in value:
        return value["S"]
    if "N" in value:
        number = float(value["N"])
        return int(number) if number.is_integer() else number
    if "BOOL" in value:
        return bool(value["BOOL"])
    if "NULL" in value:
        return None
    if "L" in value:
        return [plain(v) for v in value["L"]]
    if "M" in value:
        return {k: plain(v) for k, v in value["M"].items()}
    if "SS" in value:
        return sorted(value["SS"])
    if "NS" in value:
        return sorted(int(float(x)) for x in value["NS"])
    return None


def plain_item(item: dict[str, Any] | None) -> dict[str, Any]:
    return {k: plain(v) for k, v in (item or {}).items()}


def attr(value: Any) -> dict[str, Any]:
    """A plain value as an attribute value (dicts and lists as maps and lists)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, dict):
        return {"M": {str(k): attr(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [attr(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def item_of(values: dict[str, Any]) -> dict[str, Any]:
    return {k: attr(v) for k, v in values.items() if v is not None}


def json_attr(value: Any) -> dict[str, Any]:
    """A JSON document stored as a string (as PynamoDB's JSONAttribute does)."""
    return {"S": json.dumps(value, separators=(",", ":"))}
