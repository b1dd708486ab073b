"""Contact attributes: what a template may read as {{ contact.<name> }}."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

MAX_ATTRIBUTES = 50
MAX_NAME = 64
MAX_VALUE = 2000
RESERVED = {"email"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DIGITS = re.compile(r"\d")


class InvalidAttributes(ValueError):
    pass


def looks_like_card_number(value: str) -> bool:
    """13-19 digits (spaces and dashes allowed) that pass the Luhn check: a payment card."""
    if len(value) < 13:  # fewer than 13 characters hold fewer than 13 digits (most values: no scan)
        return False
    digits = "".join(_DIGITS.findall(value))
    if not 13 <= len(digits) <= 19 or len(value.replace(" ", "").replace("-", "")) != len(digits):
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@lru_cache(maxsize=1024)  # an import asks it for the same few column names on every row
def attribute_name(raw: str) -> str:
    """A CSV header or JSON key as a template name: trimmed, spaces/dashes to underscores."""
    name = re.sub(r"[\s\-]+", "_", raw.strip()).lower()
    return name


def is_attribute_name(name: str) -> bool:
    """A name as `clean` stores it (after `attribute_name`): letters, digits and _, not reserved."""
    return bool(_NAME.match(name)) and len(name) <= MAX_NAME and name not in RESERVED


def clean(raw: Any) -> dict[str, str | int | float | bool | None]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidAttributes("attributes must be an object")
    if len(raw) > MAX_ATTRIBUTES:
        raise InvalidAttributes(f"at most {MAX_ATTRIBUTES} attributes")
    out: dict[str, str | int | float | bool | None] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise InvalidAttributes("attribute names must be strings")
        name = attribute_name(key)
        if not _NAME.match(name) or len(name) > MAX_NAME:
            raise InvalidAttributes(f"attribute name {key!r} must be letters, digits and _ (max {MAX_NAME})")
        if name in RESERVED:
            continue
        if isinstance(value, bool) or value is None or isinstance(value, int | float):
            if isinstance(value, float) and value != value:  # NaN
                raise InvalidAttributes(f"attribute {name} is not a number")
            out[name] = value
        elif isinstance(value, str):
            if len(value) > MAX_VALUE:
                raise InvalidAttributes(f"attribute {name} is longer than {MAX_VALUE} characters")
            if "\x00" in value:
                raise InvalidAttributes(f"attribute {name} contains a NUL character")
            out[name] = value
        else:
            raise InvalidAttributes(f"attribute {name} must be a string, number, boolean or null")
        text = str(value)
        if isinstance(value, str | int) and looks_like_card_number(text):
            raise InvalidAttributes(f"attribute {name} looks like a payment card number; Beacon stores none")
    return out
