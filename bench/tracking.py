"""Tracking benchmarks (`make bench`): cold start of the three public handlers, warm CPU of the pixel,
and the DynamoDB calls each open and click makes. Every figure is a ratio against a floor measured
in the same run, or a count of calls. No network: DynamoDB answers come from an in-process stub
(a botocore before-send hook, or Endpoint._send in the cold-start subprocesses) returning "{}".

- tracking_init_ratio: fresh process; handler = import the handler module by path and serve one
  request (which creates the client and makes its first call; for unsubscribe the page, a GET);
  floor = `import botocore.session`, create a DynamoDB client and make one call. Median of RUNS
  runs each, interleaved. `unsubscribe_one_click_post` is the RFC 8058 POST, reported apart: it
  writes through the PynamoDB repositories (suppression, contact, audit event) and pays for them.
  Measured as the child's CPU time (process_time) from its first line: the benchmark machine is
  shared, and wall-clock cold starts there swing 2x from run to run; CPU time is the work done.
  Bytecode as deployed: the floor's botocore has its bytecode (pip wrote it at install; the Lambda
  runtime ships it), and the layer ships beacon's (layers/core/Makefile, compileall), so the
  package's bytecode is written first (layer_bytecode). Before, whether a child compiled beacon from
  source on every run depended on the caller's PYTHONDONTWRITEBYTECODE (set: ~20 ms of each cold
  start, ~10% of the ratio; unset: only the first run did). The handler file itself is compiled by
  each child, as in Lambda (the function's code is not precompiled).
- tracking_init_ratio_import_and_client: the issue's literal definition: handler = import the handler
  and build its first client (no request); floor = `import botocore.session` + create a DynamoDB client.
- pixel_warm_cpu_ratio: CPU (process_time) per warm pixel request over a bare botocore UpdateItem
  against the same stub: the median of 50 interleaved rounds of 300 requests each (5 rounds of 3,000
  gave anything from 1.06 to 1.40 on the same code: a garbage-collector pass or a busy neighbour in one
  long round moved the median).
- aws_calls_per_open / aws_calls_per_click: writes and reads per event, counted by a before-call hook.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUNS = 11
WARM_REQUESTS = 300  # a round's requests of each kind
WARM_ROUNDS = 50  # the ratio is the median of the rounds' ratios
SECRET = "bench-tracking-secret-0123456789abcdef"  # noqa: S105 - a throwaway key for the stubbed run
ACCOUNT, CAMPAIGN, RECIPIENT = "a1" * 16, "c2" * 16, "e3" * 16
ENV = {
    "BEACON_TOKEN_SECRET": SECRET, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "ACCOUNTS_TABLE": "b-accounts", "CONTACTS_TABLE": "b-contacts", "CAMPAIGNS_TABLE": "b-campaigns",
    "MESSAGES_TABLE": "b-messages", "SUPPRESSIONS_TABLE": "b-suppressions", "STATS_TABLE": "b-stats",
    "EVENTS_TABLE": "b-events", "POWERTOOLS_TRACE_DISABLED": "true",
}
WRITES = {"UpdateItem", "PutItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}

_STUB = textwrap.dedent("""
    import time
    t0 = time.process_time()
    import botocore.awsrequest, botocore.endpoint
    class _Raw:
        def stream(self, **_):
            yield b"{}"
    def _send(self, request):
        return botocore.awsrequest.AWSResponse(
            request.url, 200, {"x-amzn-requestid": "stub", "content-type": "application/x-amz-json-1.0"}, _Raw())
    botocore.endpoint.Endpoint._send = _send
""")
_HANDLER = _STUB + textwrap.dedent("""
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if sys.argv[3] == "request":
        post = sys.argv[4] == "POST"
        answer = module.handler({"version": "2.0", "pathParameters": {"token": sys.argv[2]},
                                 "headers": {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0"},
                                 "body": "List-Unsubscribe=One-Click" if post else None,
                                 "requestContext": {"http": {"method": sys.argv[4], "sourceIp": "198.51.100.7"}}},
                                None)
        assert answer["statusCode"] in (200, 302), answer
    else:
        import beacon.wiring as c
        c.unsubscribe_view() if "unsubscribe" in sys.argv[1] else c.tracking_engagement()
    print(time.process_time() - t0)
    assert not any(m in sys.modules for m in ("jinja2", "pydantic", "aws_lambda_powertools.utilities.idempotency")), \\
        sorted(m for m in ("jinja2", "pydantic") if m in sys.modules)
""")
_FLOOR = _STUB + textwrap.dedent("""
    import sys
    import botocore.session
    client = botocore.session.get_session().create_client("dynamodb", region_name="us-east-1")
    if sys.argv[1] == "request":
        client.update_item(TableName="t", Key={"pk": {"S": "a"}, "sk": {"S": "b"}}, UpdateExpression="ADD n :one",
                           ExpressionAttributeValues={":one": {"N": "1"}})
    print(time.process_time() - t0)
""")


def _tokens() -> dict[str, str]:
    from beacon.shared.tokens import TokenSigner

    signer = TokenSigner(SECRET.encode())
    issued = int(time.time()) - 86400
    return {
        "track_open": signer.open_token(ACCOUNT, CAMPAIGN, RECIPIENT, issued),
        "track_click": signer.click_token(ACCOUNT, CAMPAIGN, RECIPIENT, issued, 0, "https://shop.example.com/a"),
        "unsubscribe": signer.unsubscribe_token(ACCOUNT, CAMPAIGN, RECIPIENT, issued),
    }


def _run(code: str, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BEACON_", "POWERTOOLS_"))}
    env.update(ENV)
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"cold-start run failed: {out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def layer_bytecode() -> None:
    """beacon's bytecode, as the layer ships it (timestamp-checked here: the tree is edited)."""
    import compileall

    if not compileall.compile_dir(str(ROOT / "layers" / "core" / "beacon"), quiet=1):
        raise RuntimeError("beacon did not compile")


def cold_start(mode: str) -> dict[str, float]:
    layer_bytecode()
    tokens = _tokens()
    # (figure, function, method): the unsubscribe page (GET) and, apart, the RFC 8058 one-click POST
    variants = [(name, name, "GET") for name in tokens]
    if mode == "request":
        variants.append(("unsubscribe_one_click_post", "unsubscribe", "POST"))
    samples: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    samples["floor"] = []
    for _ in range(RUNS):  # interleaved, so a noisy moment hits every variant alike
        samples["floor"].append(_run(_FLOOR, mode))
        for name, function, method in variants:
            samples[name].append(_run(_HANDLER, str(ROOT / "functions" / function / "handler.py"), tokens[function],
                                      mode, method))
    floor = statistics.median(samples["floor"])
    return {name: round(statistics.median(s) / floor, 3) for name, s in samples.items() if name != "floor"} | {
        "floor_ms": round(floor * 1000, 1)}


class _Raw:
    def stream(self, **_: Any) -> Any:
        yield b"{}"


def _stub(request: Any, **_: Any) -> Any:
    import botocore.awsrequest

    return botocore.awsrequest.AWSResponse(
        request.url, 200, {"x-amzn-requestid": "stub", "content-type": "application/x-amz-json-1.0"}, _Raw())


def _in_process() -> tuple[Any, Any, Any, dict[str, str]]:
    """(pixel handler, click handler, the tracking client) in this process, with the stub installed."""

    os.environ.update(ENV)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from beacon import wiring

    wiring.reset()
    client = wiring.tracking_engagement()._client
    client.meta.events.register_first("before-send.dynamodb", _stub, unique_id="bench-stub")
    from _meter import load_handler

    return load_handler("track_open"), load_handler("track_click"), client, _tokens()


def _event(token: str) -> dict[str, Any]:
    return {"version": "2.0", "pathParameters": {"token": token},
            "headers": {"user-agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
                                      "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"},
            "requestContext": {"http": {"method": "GET", "sourceIp": "198.51.100.7"}}}


def warm_and_calls() -> dict[str, Any]:
    pixel, click, client, tokens = _in_process()
    calls: list[str] = []

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)

    def measured(fn: Any) -> dict[str, int]:
        calls.clear()
        fn()
        return {"writes": sum(c in WRITES for c in calls), "reads": sum(c in READS for c in calls),
                "other": sum(c not in WRITES | READS for c in calls)}

    client.meta.events.register("before-call.dynamodb", count, unique_id="bench-count")
    open_event, click_event = _event(tokens["track_open"]), _event(tokens["track_click"])
    # the stub answers alike whatever the item holds; the code path has no first/repeat branch (one
    # UpdateItem, ReturnValues NONE), which tests/integration/test_tracking.py checks against moto too
    per_open = {"first": measured(lambda: pixel(open_event, None)), "repeat": measured(lambda: pixel(open_event, None))}
    per_click = {"first": measured(lambda: click(click_event, None)),
                 "repeat": measured(lambda: click(click_event, None))}
    client.meta.events.unregister("before-call.dynamodb", unique_id="bench-count")

    args = {"TableName": "b-messages", "Key": {"pk": {"S": f"{ACCOUNT}#{CAMPAIGN}"}, "sk": {"S": RECIPIENT}},
            "UpdateExpression": "ADD opens :one", "ConditionExpression": "attribute_exists(sk)",
            "ExpressionAttributeValues": {":one": {"N": "1"}}}
    for _ in range(200):  # warm both paths
        pixel(open_event, None)
        client.update_item(**args)
    ratios = []
    for _ in range(WARM_ROUNDS):  # short rounds, interleaved: one slow moment (a GC pass) moves one ratio of many
        start = time.process_time()
        for _ in range(WARM_REQUESTS):
            client.update_item(**args)
        bare = time.process_time() - start
        start = time.process_time()
        for _ in range(WARM_REQUESTS):
            pixel(open_event, None)
        ratios.append((time.process_time() - start) / bare)
    client.meta.events.unregister("before-send.dynamodb", unique_id="bench-stub")
    from beacon import wiring

    wiring.reset()
    return {"pixel_warm_cpu_ratio": round(statistics.median(ratios), 3),
            "aws_calls_per_open": per_open, "aws_calls_per_click": per_click}


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    request = cold_start("request")
    figures["tracking_init_floor_ms"] = request.pop("floor_ms")
    figures["tracking_init_ratio"] = request
    literal = cold_start("client")
    figures["tracking_init_import_and_client_floor_ms"] = literal.pop("floor_ms")
    figures["tracking_init_ratio_import_and_client"] = literal
    figures.update(warm_and_calls())
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        sys.stdout.write(f"{key}: {value}\n")
