"""`beacon dev` end to end with a tiny fake app: CLI start-up and shutdown, HTTP routes, the SQS
poller, the SES simulator on `beacon.shared.aws.SESSION` (outbox + events) and the SNS subscription."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from beacon_local.client import Client

pytestmark = pytest.mark.e2e

TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: prod}
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        CONFIG_SET: !Ref Ses
        JOBS_URL: !Ref Jobs
        STAGE: !Ref Stage
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/api/
      Handler: handler.handler
      Events:
        Send: {Type: HttpApi, Properties: {Path: "/send/{to}", Method: POST}}
        Enqueue: {Type: HttpApi, Properties: {Path: /jobs, Method: POST}}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/worker/
      Handler: handler.handler
      Events:
        Q: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 10}}
  SesEvents:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fns/events/
      Handler: handler.handler
      Events:
        N: {Type: SNS, Properties: {Topic: !Ref Topic}}
  Jobs:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Sub "fake-${Stage}-jobs"}
  Topic:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Sub "fake-${Stage}-ses-events"}
  Ses:
    Type: AWS::SES::ConfigurationSet
    Properties: {Name: !Sub "fake-${Stage}"}
  SesDestination:
    Type: AWS::SES::ConfigurationSetEventDestination
    Properties:
      ConfigurationSetName: !Ref Ses
      EventDestination:
        Name: sns
        Enabled: true
        MatchingEventTypes: [delivery, bounce, complaint]
        SnsDestination: {TopicARN: !Ref Topic}
"""

API = '''
import json, os
from beacon.shared.aws import client

def handler(event, context):
    region, endpoint = os.environ["AWS_REGION"], os.environ.get("AWS_ENDPOINT_URL")
    if event["routeKey"] == "POST /send/{to}":
        to = event["pathParameters"]["to"]
        raw = f"From: Fake <hello@fake.test>\\r\\nTo: {to}\\r\\nSubject: Test\\r\\n\\r\\nHi\\r\\n".encode()
        answer = client("sesv2", region, endpoint).send_email(
            FromEmailAddress="hello@fake.test", Destination={"ToAddresses": [to]},
            Content={"Raw": {"Data": raw}}, EmailTags=[{"Name": "campaign", "Value": "c1"}],
            ConfigurationSetName=os.environ["CONFIG_SET"])
        return {"statusCode": 202, "body": json.dumps({"message_id": answer["MessageId"]})}
    client("sqs", region, endpoint).send_message(QueueUrl=os.environ["JOBS_URL"], MessageBody=event["body"])
    return {"queued": True, "stage": os.environ["STAGE"]}
'''

WORKER = '''
import json, os
def handler(event, context):
    with open(os.environ["FAKE_LOG"], "a") as log:
        for record in event["Records"]:
            log.write(json.dumps({"kind": "job", "body": record["body"]}) + "\\n")
'''

EVENTS = '''
import json, os
def handler(event, context):
    with open(os.environ["FAKE_LOG"], "a") as log:
        for record in event["Records"]:
            log.write(json.dumps({"kind": "ses", "event": json.loads(record["Sns"]["Message"])}) + "\\n")
'''


@pytest.fixture(scope="module")
def fake_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fake-app")
    (root / "template.yaml").write_text(TEMPLATE)
    for name, code in {"api": API, "worker": WORKER, "events": EVENTS}.items():
        (root / "fns" / name).mkdir(parents=True)
        (root / "fns" / name / "handler.py").write_text(code)
    return root


def _log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_dev_runs_the_fake_app_and_stops_cleanly(fake_app: Path, dev_stack_factory: Callable[..., Any]) -> None:
    log_path = fake_app / "calls.jsonl"
    # the fake template has no Runtime or Policies (SAM could not deploy it): no roles to check against
    env = {"FAKE_LOG": str(log_path), "BEACON_LOCAL_IAM": "off"}
    stack = dev_stack_factory("--template", str(fake_app / "template.yaml"), env=env)
    api = Client(stack.base_url)

    queued = api.post("/jobs", data=b"hello", headers={"Content-Type": "text/plain"})
    assert queued.status == 200, stack.output()
    assert queued.json() == {"queued": True, "stage": "local"}
    ids = {}
    for to in ("ada@example.com", "bounce@simulator.amazonses.com"):
        sent = api.post(f"/send/{to}")
        assert sent.status == 202, f"{sent}\n{stack.output()}"
        ids[to] = sent.json()["message_id"]
    assert api.get("/nope").status == 404

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        calls = _log(log_path)
        if len([c for c in calls if c["kind"] == "ses"]) >= 2 and any(c["kind"] == "job" for c in calls):
            break
        time.sleep(0.2)
    calls = _log(log_path)
    assert {"kind": "job", "body": "hello"} in calls, stack.output()
    events = {c["event"]["eventType"]: c["event"] for c in calls if c["kind"] == "ses"}
    assert set(events) == {"Delivery", "Bounce"}, stack.output()
    assert events["Delivery"]["mail"]["messageId"] == ids["ada@example.com"]
    assert events["Delivery"]["mail"]["tags"]["campaign"] == ["c1"]
    assert events["Bounce"]["bounce"]["bouncedRecipients"][0]["emailAddress"] == "bounce@simulator.amazonses.com"
    emls = sorted(stack.outbox.glob("*.eml"))
    assert len(emls) == 2 and {p.name.split("-", 1)[1][:-4] for p in emls} == set(ids.values())
    assert b"Subject: Test" in emls[0].read_bytes()

    assert stack.stop() == 0
    assert "stopped" in stack.output()
