"""How the /v1 API reads a JSON body: the resolver's deserializer (powertools calls it once per
request, after authentication). Besides json.loads it refuses, before anything is built from them:

- a document nested deeper than MAX_DEPTH (json.loads would recurse ~1,000 levels and fail with a
  RecursionError: a 500 before this), with a 400 `too_deep`;
- a lone UTF-16 surrogate written as an escape ("\\ud800": valid JSON, not text; nothing can store,
  render or send it), with a 422 `invalid_text` naming where it is.
"""

from __future__ import annotations

import json
import re
from typing import Any

from beacon.shared.errors import BadRequest, Unprocessable

MAX_DEPTH = 32
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deep the arrays and objects of a JSON text nest (counted only until past `limit`)."""
    if text.count("[") + text.count("{") <= limit:
        return min(text.count("[") + text.count("{"), limit)
    level = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub("", text)):
        if m.group() in "[{":
            level += 1
            if level > deepest:
                deepest = level
                if deepest > limit:
                    return deepest
        else:
            level -= 1
    return deepest


def lone_surrogate_at(value: Any, path: str = "") -> str | None:
    """Where in a parsed JSON value a string holds a lone surrogate ("" for the top), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    items: Any = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        where = f"{path}.{key}" if path and isinstance(key, str) else f"{path}[{key}]" if not isinstance(key, str) \
            else str(key)
        if isinstance(key, str) and lone_surrogate_at(key) is not None:
            return where
        found = lone_surrogate_at(item, where)
        if found is not None:
            return found
    return None


def loads(text: str | bytes | bytearray) -> Any:
    """json.loads, with the two refusals above."""
    if not isinstance(text, str):
        text = bytes(text).decode("utf-8")
    nested = depth(text)
    if nested > MAX_DEPTH:
        raise BadRequest(f"the JSON body is nested deeper than {MAX_DEPTH} levels", code="too_deep",
                         details={"max_depth": MAX_DEPTH})
    value = json.loads(text)
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        where = lone_surrogate_at(value)
        if where is not None:
            field = where or "body"
            raise Unprocessable(f"{field}: holds a lone UTF-16 surrogate (an \\ud800-\\udfff escape not in a pair); "
                                "send text as UTF-8", code="invalid_text",
                                details=[{"field": field, "message": "lone surrogate"}])
    return value
