"""The local stack runs invocations of one function concurrently, in threads of one process (Lambda
never does: one invocation at a time per execution environment). The handlers must answer each
request as if it were alone: the API's powertools resolver keeps the current event on its class,
and the SQS handlers' batch processors keep the batch's results on the processor."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from beacon_local.http import RouteMatch, build_event
from beacon_local.runtime import LambdaContext
from beacon_local.template import HttpRoute

ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"fn_{name}_concurrency", ROOT / f"functions/{name}/handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


@pytest.fixture
def busy_switching() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def api_event(method: str, path: str, body: str = "") -> dict[str, Any]:
    match = RouteMatch(HttpRoute("ANY", "/v1/{proxy+}", "Api"), {"proxy": path.removeprefix("/v1/")})
    headers = [("content-type", "application/json")] if body else []
    return build_event(method=method, raw_path=path, raw_query="", headers=headers, body=body.encode(),
                       match=match, source_ip="127.0.0.1", domain_name="127.0.0.1:3000")


def context() -> LambdaContext:
    return LambdaContext(function_name="beacon-test-Api", memory_limit_in_mb=512,
                         invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:x", timeout_seconds=30)


def test_the_api_answers_each_of_many_simultaneous_requests_as_if_alone(clean_aws: object,
                                                                        busy_switching: None) -> None:
    handler = load("account")
    kinds = {
        "unauthenticated": (api_event("GET", "/v1/lists"), 401),
        "unknown route": (api_event("GET", "/v1/no-such-thing"), 404),
        "bad body": (api_event("POST", "/v1/accounts", '{"company": "Acme"}'), 422),
        "openapi": (api_event("GET", "/v1/openapi.json"), 200),
    }
    order = [name for _ in range(60) for name in kinds]
    go = threading.Event()

    def one(name: str) -> tuple[str, Any]:
        go.wait(10)
        try:
            return name, handler(kinds[name][0], context())["statusCode"]
        except Exception as exc:  # the answer API Gateway would turn into a 500
            return name, repr(exc)

    with ThreadPoolExecutor(32) as pool:
        futures = [pool.submit(one, name) for name in order]
        go.set()
        answers = [f.result() for f in futures]
    wrong = [(name, got) for name, got in answers if got != kinds[name][1]]
    assert not wrong, f"{len(wrong)} of {len(answers)} answered for another request or failed: {wrong[:6]}"
    assert json.loads(handler(kinds["openapi"][0], context())["body"])["openapi"].startswith("3.")


def sqs_event(bodies: list[tuple[str, str]]) -> dict[str, Any]:
    return {"Records": [{"messageId": mid, "receiptHandle": f"rh-{mid}", "body": body, "attributes": {},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}
                        for mid, body in bodies]}


@pytest.mark.parametrize(("function", "good_body"), [
    ("dispatch", '{"kind": "sweep"}'),
    ("send", '{"account_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "campaign_id": "01HZZZZZZZZZZZZZZZZZZZZZZY", '
             '"recipients": []}'),  # a campaign that does not exist: the batch is dropped
])
def test_each_sqs_invocation_reports_its_own_failed_records(clean_aws: object, busy_switching: None,
                                                           function: str, good_body: str) -> None:
    """Concurrent invocations, each a batch of a good message and a bad one: each answer names
    exactly its own bad record, never another invocation's, and none fails as a whole."""
    handler = load(function)
    go = threading.Event()

    def one(index: int) -> tuple[str, Any]:
        good, bad = f"good-{index}", f"bad-{index}"
        records = [(good, good_body), (bad, "not json")]
        go.wait(10)
        try:
            answer = handler(sqs_event(records if index % 2 else records[::-1]), context())
        except Exception as exc:  # the whole batch would be retried
            return bad, repr(exc)
        return bad, [f["itemIdentifier"] for f in answer["batchItemFailures"]]

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(one, i) for i in range(64)]
        go.set()
        answers = [f.result() for f in futures]
    wrong = [(bad, failed) for bad, failed in answers if failed != [bad]]
    assert not wrong, f"{len(wrong)} of {len(answers)} invocations reported other records: {wrong[:6]}"
