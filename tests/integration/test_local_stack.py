"""The local stack's parts: template reading, resources, API Gateway events and routing, the
Lambda runtime, SQS/SNS pollers and the SES simulator — with tiny fake handlers, in moto."""

from __future__ import annotations

import base64
import email
import http.client
import json
import threading
import time
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from beacon_local.http import LocalHttpApi, RouteMatch, Router, build_event, to_http_answer
from beacon_local.pollers import Pollers, failed_ids
from beacon_local.resources import Resources, create_resources
from beacon_local.runtime import Runtime
from beacon_local.ses import SesSimulator, raw_bytes, simulator_outcome
from beacon_local.template import HttpRoute, Intrinsic, Resolver, Template, load_yaml

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- template
def test_short_and_long_form_tags_load_alike() -> None:
    doc = load_yaml(
        """
A: !Ref Stage
B: {"Ref": "Stage"}
C: !GetAtt Queue.Arn
D: {"Fn::GetAtt": ["Queue", "Arn"]}
E: !Sub ["${X}-${Stage}-${!Literal}", {X: !Ref Other}]
F: !Join [",", [a, !Ref Stage]]
G: !If [IsProd, big, small]
H: !Select [1, [a, b, c]]
"""
    )
    assert doc["A"] == doc["B"] == Intrinsic("Ref", "Stage")
    assert doc["C"] == doc["D"] == Intrinsic("Fn::GetAtt", ["Queue", "Arn"])
    resolver = Resolver(
        {"Stage": "dev", "Other": "o"},
        ref=lambda name: f"ref:{name}",
        get_att=lambda lid, att: f"{lid}.{att}",
        conditions={"IsProd": Intrinsic("Fn::Equals", [Intrinsic("Ref", "Stage"), "prod"])},
    )
    assert resolver.resolve(doc["C"]) == "Queue.Arn"
    assert resolver.resolve(doc["E"]) == "o-dev-${Literal}"
    assert resolver.resolve(doc["F"]) == "a,dev"
    assert resolver.resolve(doc["G"]) == "small"
    assert resolver.resolve(doc["H"]) == "b"


def test_template_accessors_read_the_real_template() -> None:
    template = Template.load(ROOT / "template.yaml")
    raw = template.resources
    assert set(template.tables) == {k for k, v in raw.items() if v["Type"] == "AWS::DynamoDB::Table"}
    assert set(template.queues) == {k for k, v in raw.items() if v["Type"] == "AWS::SQS::Queue"}
    assert {r.route_key for r in template.http_routes} >= {"GET /o/{token}", "GET /c/{token}", "GET /u/{token}",
                                                          "HEAD /u/{token}", "POST /u/{token}"}
    for source in template.sqs_event_sources:
        assert source.queue in template.queues
        assert source.function in template.functions
    for sns in template.sns_event_sources:
        assert sns.topic in template.topics
    for spec in template.functions.values():
        assert spec.timeout > 0 and spec.handler


# ---------------------------------------------------------------- resources
def test_resources_match_the_template(aws: Resources) -> None:
    dynamodb = aws.client("dynamodb")
    for lid, props in aws.template.tables.items():
        table = dynamodb.describe_table(TableName=aws.tables[lid])["Table"]
        assert table["KeySchema"] == props["KeySchema"]
        assert table["BillingModeSummary"]["BillingMode"] == props["BillingMode"]
        ttl = dynamodb.describe_time_to_live(TableName=aws.tables[lid])["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"] == "ENABLED") == ("TimeToLiveSpecification" in props)
    sqs = aws.client("sqs")
    for lid, props in aws.template.queues.items():
        attributes = sqs.get_queue_attributes(QueueUrl=aws.queues[lid].url, AttributeNames=["All"])["Attributes"]
        if "VisibilityTimeout" in props:
            assert attributes["VisibilityTimeout"] == str(props["VisibilityTimeout"])
        if "RedrivePolicy" in props:
            policy_ = json.loads(attributes["RedrivePolicy"])
            dlq = props["RedrivePolicy"]["deadLetterTargetArn"].arg[0]
            assert policy_["deadLetterTargetArn"] == aws.queues[dlq].arn
            assert int(policy_["maxReceiveCount"]) == props["RedrivePolicy"]["maxReceiveCount"]
    assert all(name.startswith("beacon-test-") for name in aws.tables.values())
    assert aws.ses_events_topic_arn in aws.topics.values()


def test_environment_resolves_every_global_variable(aws: Resources) -> None:
    env = aws.environment({"PublicBaseUrl": "http://127.0.0.1:9"})
    assert set(aws.template.global_environment) <= set(env)
    assert env["BEACON_PUBLIC_BASE_URL"] == "http://127.0.0.1:9"
    assert env["BEACON_STAGE"] == "test"
    for name, value in env.items():
        assert "{{resolve" not in value and not value.startswith("local-"), name
    table_vars = {k: v for k, v in env.items() if k.endswith("_TABLE")}
    assert set(table_vars.values()) <= set(aws.tables.values())


def test_secret_is_random_and_as_long_as_the_template_says(aws: Resources) -> None:
    other = create_resources(aws.template, stage="secrettest")
    (lid, props), = aws.template.secrets.items()
    value = other.secrets[lid]
    assert len(value) == props["GenerateSecretString"]["PasswordLength"] and value.isalnum()
    assert other.environment()["BEACON_TOKEN_SECRET"] == value


def test_clean_empties_tables_and_queues(aws: Resources) -> None:
    name = next(iter(aws.tables.values()))
    aws.client("dynamodb").put_item(TableName=name, Item={"pk": {"S": "x"}, "sk": {"S": "y"}})
    queue = next(iter(aws.queues.values()))
    aws.client("sqs").send_message(QueueUrl=queue.url, MessageBody="x")
    aws.clean()
    assert aws.client("dynamodb").scan(TableName=name)["Count"] == 0
    assert not aws.client("sqs").receive_message(QueueUrl=queue.url).get("Messages")


# ---------------------------------------------------------------- routing and events
ROUTES = [
    HttpRoute("ANY", "/v1/{proxy+}", "Api"),
    HttpRoute("GET", "/v1/openapi.json", "Docs"),
    HttpRoute("GET", "/v1/lists/{id}", "GetList"),
    HttpRoute("POST", "/u/{token}", "UnsubPost"),
    HttpRoute("GET", "/u/{token}", "UnsubGet"),
]


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/v1/openapi.json", "Docs", {}),
        ("POST", "/v1/openapi.json", "Api", {"proxy": "openapi.json"}),
        ("GET", "/v1/lists/abc", "GetList", {"id": "abc"}),
        ("DELETE", "/v1/lists/abc", "Api", {"proxy": "lists/abc"}),
        ("GET", "/v1/a/b/c", "Api", {"proxy": "a/b/c"}),
        ("HEAD", "/v1/lists/abc", "Api", {"proxy": "lists/abc"}),
        ("POST", "/u/t%2Bk", "UnsubPost", {"token": "t+k"}),
        ("HEAD", "/u/tok", None, None),
        ("GET", "/v1", None, None),
        ("GET", "/v1/", None, None),
        ("GET", "/u/tok/extra", None, None),
        ("GET", "/nope", None, None),
    ],
)
def test_routing_precedence(method: str, path: str, function: str | None, params: dict[str, str] | None) -> None:
    match = Router(ROUTES).match(method, path)
    if function is None:
        assert match is None
    else:
        assert match is not None and match.route.function == function
        assert match.path_parameters == params


def test_default_route_is_last() -> None:
    router = Router([HttpRoute("ANY", "$default", "Fallback"), HttpRoute("GET", "/o/{t}", "Open")])
    assert router.match("GET", "/o/x").route.function == "Open"  # type: ignore[union-attr]
    assert router.match("PUT", "/anything").route.route_key == "$default"  # type: ignore[union-attr]


def test_build_event_is_payload_2_0() -> None:
    match = RouteMatch(HttpRoute("ANY", "/v1/{proxy+}", "Api"), {"proxy": "lists/1"})
    event = build_event(
        method="POST",
        raw_path="/v1/lists/1",
        raw_query="a=1&a=2&b=x%20y",
        headers=[("Host", "127.0.0.1:3000"), ("X-Dup", "1"), ("x-dup", "2"), ("Cookie", "s=1; t=2"),
                 ("Content-Type", "application/json"), ("User-Agent", "ua")],
        body=b'{"k": "v"}',
        match=match,
        source_ip="127.0.0.1",
        domain_name="127.0.0.1:3000",
        now=1_700_000_000.5,
    )
    assert event["version"] == "2.0" and event["routeKey"] == "ANY /v1/{proxy+}"
    assert event["rawPath"] == "/v1/lists/1" and event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["cookies"] == ["s=1", "t=2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-dup"] == "1,2" and event["headers"]["host"] == "127.0.0.1:3000"
    assert event["pathParameters"] == {"proxy": "lists/1"}
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["http"] == {"method": "POST", "path": "/v1/lists/1", "protocol": "HTTP/1.1",
                           "sourceIp": "127.0.0.1", "userAgent": "ua"}
    assert ctx["stage"] == "$default" and ctx["domainName"] == "127.0.0.1:3000"
    assert ctx["timeEpoch"] == 1_700_000_000_500 and ctx["time"] == "14/Nov/2023:22:13:20 +0000"
    assert ctx["routeKey"] == event["routeKey"] and ctx["requestId"]


@pytest.mark.parametrize(
    ("content_type", "encoded"),
    [("text/csv", False), ("application/x-www-form-urlencoded", False), ("application/json; charset=utf-8", False),
     ("application/octet-stream", True), ("image/png", True), (None, True)],
)
def test_binary_bodies_are_base64(content_type: str | None, encoded: bool) -> None:
    headers = [("Content-Type", content_type)] if content_type else []
    match = RouteMatch(HttpRoute("POST", "/x", "F"), {})
    event = build_event(method="POST", raw_path="/x", raw_query="", headers=headers, body=b"a,b\n1,2",
                        match=match, source_ip="127.0.0.1", domain_name="127.0.0.1:1")
    assert event["isBase64Encoded"] is encoded
    assert (base64.b64decode(event["body"]) if encoded else event["body"].encode()) == b"a,b\n1,2"
    assert "queryStringParameters" not in event and "pathParameters" not in event and "cookies" not in event


def test_handler_answers_map_like_api_gateway() -> None:
    plain = to_http_answer({"ok": True})
    assert plain.status == 200 and json.loads(plain.body) == {"ok": True}
    assert ("Content-Type", "application/json") in plain.headers
    full = to_http_answer({
        "statusCode": 302, "headers": {"Location": "https://example.com/"}, "cookies": ["a=1", "b=2"],
        "multiValueHeaders": {"X-M": ["1", "2"]}, "body": base64.b64encode(b"\x00gif").decode(),
        "isBase64Encoded": True,
    })
    assert full.status == 302 and full.body == b"\x00gif"
    assert ("Location", "https://example.com/") in full.headers
    assert [v for n, v in full.headers if n == "Set-Cookie"] == ["a=1", "b=2"]
    assert [v for n, v in full.headers if n == "X-M"] == ["1", "2"]
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ["a", "b"]) == {"b"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ["a", "b"]) == {"a", "b"}
    assert failed_ids(None, ["a"]) == set() and failed_ids({"batchItemFailures": []}, ["a"]) == set()


@pytest.fixture(scope="module")
def http_api() -> Iterator[tuple[LocalHttpApi, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        seen.append(event)
        if function == "Boom":
            raise RuntimeError("boom")
        if function == "Plain":
            return {"hello": event["pathParameters"]["name"]}
        return {"statusCode": 201, "headers": {"X-Route": event["routeKey"]}, "body": event.get("body") or ""}

    api = LocalHttpApi(
        [HttpRoute("GET", "/plain/{name}", "Plain"), HttpRoute("ANY", "/echo/{proxy+}", "Echo"),
         HttpRoute("GET", "/boom", "Boom")],
        invoke,
    )
    api.start()
    yield api, seen
    api.stop()


def _call(api: LocalHttpApi, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(api.host, api.port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, data


def test_http_server_routes_and_answers(http_api: tuple[LocalHttpApi, list[dict[str, Any]]]) -> None:
    api, seen = http_api
    status, headers, body = _call(api, "GET", "/plain/ada")
    assert (status, json.loads(body)) == (200, {"hello": "ada"})
    status, headers, body = _call(api, "PUT", "/echo/a/b?x=1", body=b"payload", headers={"Content-Type": "text/plain"})
    assert status == 201 and body == b"payload" and headers["x-route"] == "ANY /echo/{proxy+}"
    assert seen[-1]["requestContext"]["domainName"] == api.domain_name
    assert seen[-1]["queryStringParameters"] == {"x": "1"}
    status, headers, body = _call(api, "HEAD", "/plain/ada")
    assert (status, body) == (404, b"")
    status, _, body = _call(api, "GET", "/missing")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    status, _, body = _call(api, "GET", "/boom")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_http_server_reads_chunked_bodies(http_api: tuple[LocalHttpApi, list[dict[str, Any]]]) -> None:
    api, _ = http_api
    conn = http.client.HTTPConnection(api.host, api.port, timeout=10)
    conn.request("POST", "/echo/chunks", body=iter([b"ab", b"cd"]), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked", "Content-Type": "text/plain"})
    answer = conn.getresponse()
    assert (answer.status, answer.read()) == (201, b"abcd")
    conn.close()


def test_http_server_refuses_payloads_over_10_mb(http_api: tuple[LocalHttpApi, list[dict[str, Any]]]) -> None:
    api, seen = http_api
    before = len(seen)
    conn = http.client.HTTPConnection(api.host, api.port, timeout=10)
    conn.putrequest("POST", "/echo/big")
    conn.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    conn.endheaders()
    answer = conn.getresponse()
    assert answer.status == 413
    conn.close()
    assert len(seen) == before


# ---------------------------------------------------------------- runtime and pollers
HANDLERS = {
    "one": """
import os
NAME = "one"
def handler(event, context):
    return {"name": NAME, "fn": context.function_name, "left": context.get_remaining_time_in_millis(),
            "mem": context.memory_limit_in_mb, "arn": context.invoked_function_arn, "id": context.aws_request_id}
""",
    "two": """
NAME = "two"
def handler(event, context):
    return {"name": NAME}
""",
    "batch": """
import json, os
def handler(event, context):
    failures = []
    for record in event["Records"]:
        with open(os.environ["LOCAL_TEST_LOG"], "a") as log:
            log.write(json.dumps({"kind": "sqs", "record": record}) + "\\n")
        if record["body"] == "raise":
            raise RuntimeError("asked to")
        if record["body"] == "fail" and record["attributes"]["ApproximateReceiveCount"] == "1":
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
""",
    "notify": """
import json, os
def handler(event, context):
    with open(os.environ["LOCAL_TEST_LOG"], "a") as log:
        log.write(json.dumps({"kind": "sns", "event": event}) + "\\n")
""",
}

TEST_TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: prod}
  Workers: {Type: Number, Default: 3}
Globals:
  Function:
    Timeout: 7
    Environment:
      Variables:
        QUEUE_URL: !Ref Jobs
Resources:
  One:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fns/one/, Handler: handler.handler, MemorySize: 256}
  Two:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fns/two/, Handler: handler.handler}
  Batch:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/batch/
      Handler: handler.handler
      Events:
        Q:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: !Ref Workers}
  Notify:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/notify/
      Handler: handler.handler
      Events:
        N: {Type: SNS, Properties: {Topic: !Ref News}}
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub lt-${Stage}-jobs
      VisibilityTimeout: 60
      RedrivePolicy: {deadLetterTargetArn: !GetAtt JobsDLQ.Arn, maxReceiveCount: 2}
  JobsDLQ:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Sub "lt-${Stage}-jobs-dlq"}
  News:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Sub "lt-${Stage}-news"}
"""


@pytest.fixture(scope="module")
def fake_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("app")
    (root / "template.yaml").write_text(TEST_TEMPLATE)
    for name, code in HANDLERS.items():
        (root / "fns" / name).mkdir(parents=True)
        (root / "fns" / name / "handler.py").write_text(code)
    return root


def test_runtime_loads_each_handler_py_apart(fake_app: Path) -> None:
    runtime = Runtime(Template.load(fake_app / "template.yaml"))
    assert runtime.invoke("Two", {}) == {"name": "two"}
    answer = runtime.invoke("One", {})
    assert answer["name"] == "one" and answer["fn"] == "beacon-local-One" and answer["mem"] == 256
    assert 0 < answer["left"] <= 7000 and answer["arn"].endswith(":function:beacon-local-One")
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(runtime.invoke("One", {}))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r["id"] for r in results}) == 8


def _read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _until(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


def test_pollers_deliver_sqs_batches_and_sns_notifications(
    aws: Resources, fake_app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_path = tmp_path / "calls.jsonl"
    monkeypatch.setenv("LOCAL_TEST_LOG", str(log_path))
    template = Template.load(fake_app / "template.yaml")
    resources = create_resources(template, stage="pollertest")
    runtime = Runtime(template)
    pollers = Pollers(resources, runtime.invoke)
    pollers.start()
    try:
        assert sum(1 for p in pollers.pollers if p.name == "Jobs->Batch") == 3  # MaximumConcurrency
        sqs = resources.client("sqs")
        jobs = resources.queues["Jobs"]
        for body in ("ok-1", "fail", "ok-2"):
            sqs.send_message(QueueUrl=jobs.url, MessageBody=body,
                             MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}})
        resources.client("sns").publish(TopicArn=resources.topics["News"], Message='{"hello": 1}', Subject="s")

        def settled() -> list[dict[str, Any]] | None:
            calls = _read_log(log_path)
            bodies = [c["record"]["body"] for c in calls if c["kind"] == "sqs"]
            done = bodies.count("fail") == 2 and {"ok-1", "ok-2"} <= set(bodies)
            return calls if done and any(c["kind"] == "sns" for c in calls) else None

        calls = _until(settled)
        assert calls, _read_log(log_path)
        sqs_calls = [c["record"] for c in calls if c["kind"] == "sqs"]
        assert [r["body"] for r in sqs_calls].count("ok-1") == 1  # succeeded records were deleted
        retried = [r for r in sqs_calls if r["body"] == "fail"]
        assert [r["attributes"]["ApproximateReceiveCount"] for r in retried] == ["1", "2"]
        record = sqs_calls[0]
        assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == jobs.arn
        assert record["awsRegion"] == "us-east-1" and record["md5OfBody"] and record["receiptHandle"]
        assert record["messageAttributes"]["kind"]["stringValue"] == "test"
        sns_event = next(c["event"] for c in calls if c["kind"] == "sns")
        (sns_record,) = sns_event["Records"]
        assert sns_record["EventSource"] == "aws:sns"
        assert sns_record["Sns"]["Message"] == '{"hello": 1}' and sns_record["Sns"]["Type"] == "Notification"
        assert sns_record["Sns"]["TopicArn"] == resources.topics["News"] and sns_record["Sns"]["Subject"] == "s"
        time.sleep(1.5)
        attrs = sqs.get_queue_attributes(QueueUrl=jobs.url, AttributeNames=["All"])["Attributes"]
        assert attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"

        # a handler that raises deletes nothing: the record comes back until the DLQ takes it
        sqs.send_message(QueueUrl=jobs.url, MessageBody="raise")
        dlq = resources.queues["JobsDLQ"]
        moved = _until(lambda: sqs.receive_message(QueueUrl=dlq.url, WaitTimeSeconds=1).get("Messages"), 20)
        assert moved and moved[0]["Body"] == "raise"
        raised = [c for c in _read_log(log_path) if c["kind"] == "sqs" and c["record"]["body"] == "raise"]
        assert len(raised) == 2  # maxReceiveCount
    finally:
        pollers.stop()


# ---------------------------------------------------------------- SES simulator
def _raw_email(to: str, subject: str = "Hi") -> bytes:
    msg = email.message.EmailMessage()
    msg["From"] = "News <news@sim.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["List-Unsubscribe"] = "<http://127.0.0.1/u/x>"
    msg.set_content("text")
    msg.add_alternative("<p>html</p>", subtype="html")
    return msg.as_bytes()


def test_ses_simulator_writes_the_outbox_and_publishes_events(aws: Resources, tmp_path: Path) -> None:
    assert aws.ses_events_topic_arn is not None
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="ses-sim-test")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=aws.ses_events_topic_arn, Protocol="sqs", Endpoint=arn)

    session = botocore.session.get_session()
    simulator = SesSimulator(tmp_path / "outbox", aws.ses_events_topic_arn).install(session)
    try:
        client = session.create_client("sesv2", region_name="us-east-1")
        recipients = ["ada@example.com", "bounce@simulator.amazonses.com", "complaint+x@simulator.amazonses.com"]
        ids = {}
        for to in recipients:
            raw = _raw_email(to)
            ids[to] = client.send_email(
                FromEmailAddress="news@sim.example", Destination={"ToAddresses": [to]},
                Content={"Raw": {"Data": raw}}, ConfigurationSetName=aws.configuration_set_name,
                EmailTags=[{"Name": "campaign", "Value": "c1"}, {"Name": "recipient", "Value": to.split("@")[0]}],
            )["MessageId"]
            assert simulator.written[-1].read_bytes() == raw
            assert simulator.written[-1].name.endswith(f"-{ids[to]}.eml")
        assert simulator.flush()
    finally:
        simulator.stop()

    events = []
    for _ in range(10):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            events.append(json.loads(json.loads(message["Body"])["Message"]))
        if len(events) >= 3:
            break
    by_type = {e["eventType"]: e for e in events}
    assert set(by_type) == {"Delivery", "Bounce", "Complaint"} and len(events) == 3
    delivery = by_type["Delivery"]
    assert delivery["mail"]["messageId"] == ids["ada@example.com"]
    assert delivery["mail"]["destination"] == ["ada@example.com"]
    assert delivery["mail"]["tags"]["campaign"] == ["c1"] and delivery["mail"]["tags"]["recipient"] == ["ada"]
    assert delivery["mail"]["tags"]["ses:configuration-set"] == [aws.configuration_set_name]
    assert delivery["mail"]["commonHeaders"]["subject"] == "Hi"
    assert delivery["delivery"]["recipients"] == ["ada@example.com"]
    assert delivery["delivery"]["smtpResponse"].startswith("250")
    bounce = by_type["Bounce"]["bounce"]
    assert bounce["bounceType"] == "Permanent"
    assert bounce["bouncedRecipients"][0]["emailAddress"] == "bounce@simulator.amazonses.com"
    complaint = by_type["Complaint"]["complaint"]
    assert complaint["complainedRecipients"] == [{"emailAddress": "complaint+x@simulator.amazonses.com"}]
    parsed = email.message_from_bytes(Path(simulator.written[0]).read_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"


def test_ses_helpers() -> None:
    assert raw_bytes(b"abc") == b"abc"
    assert raw_bytes(base64.b64encode(b"From: a\r\n\r\nx").decode()) == b"From: a\r\n\r\nx"
    assert raw_bytes("From: a@b.c\r\n\r\nbody") == b"From: a@b.c\r\n\r\nbody"
    assert simulator_outcome("Bounce <BOUNCE@simulator.amazonses.com>") == "Bounce"
    assert simulator_outcome("success@simulator.amazonses.com") == "Delivery"
    assert simulator_outcome("bounce@example.com") == "Delivery"
