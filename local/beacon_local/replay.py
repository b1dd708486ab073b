"""Replaying the SES events that ses_events could not apply (`beacon replay-ses-events`).

SNS invokes ses_events asynchronously; an event that still fails after Lambda's two retries is
sent to the SesEventsDLQ by the function's OnFailure destination, and one SNS itself could not
deliver (the function throttled or missing) by the subscription's redrive policy. Each is a
bounce, complaint or delivery not yet applied: an address that should be suppressed. Once the
cause is fixed, `replay` reads the queue and applies each event again by invoking the function
with the event it originally got; only what succeeded is deleted, the rest stays for the next
try. ses_events is idempotent per event (once-only flags on the ledger item, conditional
suppressions), so a replayed event that had half-applied applies the rest only.

A DLQ message is one of:
- a Lambda destination record: {"version": "1.0", "requestContext": {...}, "requestPayload": <the
  SNS event>, "responsePayload": {"errorMessage": ...}};
- an SNS notification SNS could not deliver: {"Type": "Notification", "MessageId", "TopicArn",
  "Message", ...}, which is wrapped into the SNS event Lambda would have received.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], None]  # applies one Lambda event, raises if it failed


_SNS_RECORD_KEYS = frozenset({"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                              "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes"})


class Unreadable(ValueError):
    """A DLQ message that holds no SES event ses_events could be invoked with."""


@dataclass
class Replayed:
    applied: int = 0
    failed: int = 0
    unreadable: int = 0
    errors: list[str] = field(default_factory=list)


def lambda_event(body: str) -> dict[str, Any]:
    """The event to invoke ses_events with, from one DLQ message body."""
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise Unreadable("not JSON") from exc
    if not isinstance(message, dict):
        raise Unreadable("not a JSON object")
    payload = message.get("requestPayload")
    if isinstance(payload, dict) and isinstance(payload.get("Records"), list):
        return payload  # an OnFailure destination record: the event as Lambda got it
    if message.get("Type") == "Notification" and isinstance(message.get("Message"), str):
        # SNS's JSON spells two keys differently from the Lambda event's Sns record
        renamed = {"SigningCertURL": "SigningCertUrl", "UnsubscribeURL": "UnsubscribeUrl"}
        sns = {renamed.get(key, key): value for key, value in message.items()
               if renamed.get(key, key) in _SNS_RECORD_KEYS}
        return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "replay",
                             "Sns": sns}]}
    raise Unreadable("neither a Lambda destination record nor an SNS notification")


def replay(sqs: Any, queue_url: str, invoke: Invoke, *, limit: int | None = None, visibility: int = 300,
           dry_run: bool = False) -> Replayed:
    """Apply every event of the DLQ once (at most `limit`); delete each that applied.

    A message that fails is left in the queue (visible again after `visibility` seconds, so this
    pass does not take it twice); an unreadable one is left too and reported. With `dry_run`
    nothing is invoked or deleted: the messages are only read and classified.
    """
    result = Replayed()
    seen: set[str] = set()
    while limit is None or len(seen) < limit:
        want = 10 if limit is None else max(1, min(10, limit - len(seen)))
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=want, WaitTimeSeconds=1,
                                       VisibilityTimeout=visibility).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            try:
                event = lambda_event(message.get("Body") or "")
            except Unreadable as exc:
                result.unreadable += 1
                result.errors.append(f"{message['MessageId']}: unreadable ({exc})")
                continue
            if dry_run:
                result.applied += 1
                continue
            try:
                invoke(event)
            except Exception as exc:
                result.failed += 1
                result.errors.append(f"{message['MessageId']}: {exc}")
                log.warning("replay of %s failed: %s", message["MessageId"], exc)
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            result.applied += 1
    return result


class InvocationFailed(RuntimeError):
    """The function answered with an error (Lambda's FunctionError)."""


def lambda_invoker(lambda_client: Any, function_name: str) -> Invoke:
    """Invoke the deployed function synchronously; its error is raised as InvocationFailed."""

    def invoke(event: dict[str, Any]) -> None:
        answer = lambda_client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                      Payload=json.dumps(event).encode())
        if answer.get("FunctionError"):
            raise InvocationFailed(answer["Payload"].read().decode("utf-8", "replace")[:500])

    return invoke


def stack_targets(cloudformation: Any, stack: str) -> tuple[str, str]:
    """(DLQ URL, function name) from a deployed stack's outputs."""
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}
    try:
        return outputs["SesEventsDLQUrl"], outputs["SesEventsFunctionName"]
    except KeyError as exc:
        raise ValueError(f"stack {stack} has no output {exc}: deployed before the SES events DLQ?") from exc


def destination_record(event: dict[str, Any], function_arn: str, error: BaseException, attempts: int) -> dict[str, Any]:
    """What Lambda sends to an OnFailure destination after the retries of an asynchronous event
    (the local stack sends the same)."""
    from datetime import UTC, datetime

    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
        "requestContext": {"requestId": "local", "functionArn": f"{function_arn}:$LATEST",
                           "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": str(error)[:500], "errorType": type(error).__name__},
    }
