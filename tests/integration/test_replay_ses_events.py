"""`beacon replay-ses-events` on moto: SES events waiting in the SesEventsDLQ are applied again by
the real ses_events handler (as its template function, held to its IAM statements); only what
applied is deleted. Hostile and unreadable messages stay, and are reported."""

from __future__ import annotations

import json
from typing import Any

import pytest

from beacon.db.suppressions import SuppressionRepo
from beacon.shared.ids import recipient_id
from beacon_local.replay import Unreadable, destination_record, lambda_event, replay
from beacon_local.resources import Resources
from tests.integration.pipeline_world import World, make_world
from tests.integration.test_ses_events import Ctx, _handler, sample


@pytest.fixture
def sent(clean_aws: Resources) -> tuple[World, str, list[str]]:
    world = make_world()
    people = ["ann@example.com", "bob@example.com", "cy@example.com"]
    campaign = world.campaign([world.new_list(people)])
    world.run_all()
    return world, campaign, people


def _dlq(aws: Resources) -> tuple[Any, str]:
    return aws.client("sqs"), aws.queues["SesEventsDLQ"].url


def _left(aws: Resources) -> list[str]:
    """The bodies still in the DLQ (once the 1 s visibility of those the replay left has passed)."""
    sqs, url = _dlq(aws)
    bodies: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                  WaitTimeSeconds=0 if bodies else 3).get("Messages", [])
        fresh = [m["Body"] for m in got if m["Body"] not in bodies]
        if not fresh:
            return bodies
        bodies.extend(fresh)


def _invoker() -> Any:
    handler = _handler()  # the ses_events function's handler, its calls held to its role

    def invoke(event: dict[str, Any]) -> None:
        handler(event, Ctx())

    return invoke


def test_failed_events_are_applied_and_deleted_the_rest_stays(sent: tuple[World, str, list[str]],
                                                              clean_aws: Resources) -> None:
    world, campaign, people = sent
    sqs, url = _dlq(clean_aws)
    bounce = sample("ses_bounce_permanent.json", world.account_id, campaign, people[0])
    complaint = sample("ses_complaint.json", world.account_id, campaign, people[1])
    fn = "arn:aws:lambda:us-east-1:123456789012:function:beacon-test-SesEventsFunction"
    # what Lambda's OnFailure destination sends after the retries
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(destination_record(bounce, fn, RuntimeError("x"), 3)))
    # what the SNS subscription's redrive policy sends: the raw SNS notification
    raw = {k.replace("Url", "URL"): v for k, v in complaint["Records"][0]["Sns"].items()}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(raw))
    sqs.send_message(QueueUrl=url, MessageBody="{not json")

    result = replay(sqs, url, _invoker(), visibility=1)

    assert (result.applied, result.failed, result.unreadable) == (2, 0, 1)
    suppressed = SuppressionRepo().suppressed(
        world.account_id, [recipient_id(world.account_id, p) for p in people])
    assert suppressed == {recipient_id(world.account_id, p) for p in people[:2]}
    stats = world.stats(campaign)
    assert (stats["bounced"], stats["complained"]) == (1, 1)
    assert _left(clean_aws) == ["{not json"]


def test_an_event_that_fails_again_stays_for_the_next_try(sent: tuple[World, str, list[str]],
                                                          clean_aws: Resources) -> None:
    world, campaign, people = sent
    sqs, url = _dlq(clean_aws)
    bounce = sample("ses_bounce_permanent.json", world.account_id, campaign, people[2])
    body = json.dumps(destination_record(bounce, "arn:fn", RuntimeError("DynamoDB throttled"), 3))
    sqs.send_message(QueueUrl=url, MessageBody=body)

    def still_broken(event: dict[str, Any]) -> None:
        raise RuntimeError("still throttled")

    first = replay(sqs, url, still_broken, visibility=1)
    assert (first.applied, first.failed) == (0, 1) and "still throttled" in first.errors[0]
    assert _left(clean_aws) == [body]
    dry = replay(sqs, url, still_broken, visibility=1, dry_run=True)
    assert (dry.applied, dry.failed) == (1, 0) and _left(clean_aws) == [body]  # read, not applied, kept

    second = replay(sqs, url, _invoker(), visibility=1)  # the cause fixed
    assert (second.applied, second.failed) == (1, 0)
    assert _left(clean_aws) == []
    rid = recipient_id(world.account_id, people[2])
    assert SuppressionRepo().suppressed(world.account_id, [rid]) == {rid}
    assert replay(sqs, url, _invoker()).applied == 0  # an empty queue: nothing to do


@pytest.mark.parametrize(
    "body",
    ["", "null", "[]", "42", json.dumps({"requestPayload": "x"}), json.dumps({"requestPayload": {"Records": 1}}),
     json.dumps({"Type": "Notification"}), json.dumps({"Type": "SubscriptionConfirmation", "Message": "m"}),
     "x" * 300_000],
)
def test_hostile_dlq_messages_are_unreadable(body: str) -> None:
    with pytest.raises(Unreadable):
        lambda_event(body)


def test_both_dlq_shapes_give_the_event_lambda_got() -> None:
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": "{}"}}]}
    assert lambda_event(json.dumps(destination_record(event, "arn:fn", ValueError("no"), 3))) == event
    raw = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:t", "Message": "{\"a\": 1}",
           "Timestamp": "2026-01-01T00:00:00.000Z", "SigningCertURL": "https://c", "UnsubscribeURL": "https://u"}
    (record,) = lambda_event(json.dumps(raw))["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["Message"] == "{\"a\": 1}" and record["Sns"]["MessageId"] == "m-1"
    assert record["Sns"]["SigningCertUrl"] == "https://c" and record["Sns"]["UnsubscribeUrl"] == "https://u"
