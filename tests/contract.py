"""Answers held to the API's OpenAPI document.

`Contract.check(method, path, status, headers, body)` fails when the answer's status is not documented
for its operation, or its body does not validate against the documented schema (response models
refuse additional properties, so an undocumented field fails too), or a JSON answer is not sent as
application/json. The in-process API tests (tests/integration/test_api.py's Client) run every answer
through it, so every status and body those tests provoke is checked against the document; the fuzz
(tests/e2e/test_openapi_fuzz.py) does the same over HTTP with generated requests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jsonschema


@dataclass
class Operation:
    method: str
    template: str
    spec: dict[str, Any]


@dataclass
class Contract:
    document: dict[str, Any]
    _routes: list[tuple[re.Pattern[str], str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # exact paths before templated ones, fewer parameters first: /v1/segments/count before /v1/segments/{id}
        for template in sorted(self.document["paths"], key=lambda t: (t.count("{"), -len(t))):
            pattern = re.sub(r"\\{([^}]+)\\}", "[^/]+", re.escape(template))
            self._routes.append((re.compile(f"^{pattern}$"), template))

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation for a request: the most specific path that matches (a literal one before a
        templated one), and on it the method; None when that path has no such method."""
        for pattern, template in self._routes:
            if pattern.match(path):
                spec = self.document["paths"][template].get(method.lower())
                return None if spec is None else Operation(method.upper(), template, spec)
        return None

    def documented_path(self, path: str) -> bool:
        return any(pattern.match(path) for pattern, _ in self._routes)

    def check(self, method: str, path: str, status: int, headers: dict[str, str], body: str) -> None:
        operation = self.operation(method, path)
        where = f"{method.upper()} {path} -> {status}"
        if operation is None:
            if self.documented_path(path) and method.upper() not in {"HEAD", "OPTIONS"}:
                assert status == 405 and headers.get("allow"), f"{where}: an undocumented method must be 405 + Allow"
            return
        responses = operation.spec["responses"]
        answer = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        assert answer is not None, (
            f"{where}: status {status} not documented for {operation.method} {operation.template} "
            f"(documented: {sorted(responses)}); declare it in that route's responses=answers(..., also={{{status}: "
            f"\"why\"}}) (docs/api.md, \"The OpenAPI document\"); body: {body[:500]}")
        content = answer.get("content") or {}
        if not content:
            assert not body, f"{where}: documented without a body, answered {body[:200]!r}"
            return
        schema = (content.get("application/json") or {}).get("schema")
        assert schema is not None, f"{where}: only JSON answers are documented here: {sorted(content)}"
        content_type = headers.get("content-type", "")
        assert content_type.startswith("application/json"), f"{where}: content-type {content_type!r}"
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise AssertionError(f"{where}: not JSON: {body[:200]!r}") from exc
        errors = sorted(self._validator(json.dumps(schema, sort_keys=True)).iter_errors(value), key=str)
        assert not errors, (f"{where}: the body does not match the document ({schema}); a field the API answers "
                            "needs its line in beacon/web/answers.py:\n"
                            + "\n".join(f"  at {list(e.absolute_path)}: {e.message}" for e in errors[:5]))

    @lru_cache(maxsize=256)  # noqa: B019 - one Contract per document, kept for the session
    def _validator(self, schema_json: str) -> jsonschema.Draft202012Validator:
        root = dict(json.loads(schema_json), components=self.document.get("components", {}))
        return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)

    def __hash__(self) -> int:
        return id(self)


_IN_PROCESS: list[Contract] = []


def in_process() -> Contract:
    """The document of the app in this process (beacon.web.app), built once."""
    if not _IN_PROCESS:
        from beacon.web.app import app

        _IN_PROCESS.append(Contract(json.loads(app.get_openapi_json_schema())))
    return _IN_PROCESS[0]
