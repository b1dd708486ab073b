"""beacon_local.iam: the (action, resource) pairs AWS authorizes per request, and IAM matching."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSRequest

from beacon_local.iam import Grant, Need, Permissions, describe, request_needs

REGION = "us-east-1"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/"


def signed(url: str, body: dict[str, Any] | None, *, target: str | None = None, method: str = "POST",
           service: str = "dynamodb", key: str = "testing") -> Any:
    headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20260101/{REGION}/{service}/aws4_request, "
                                "SignedHeaders=host, Signature=00"}
    if target:
        headers["X-Amz-Target"] = target
    request = AWSRequest(method, url, data=json.dumps(body).encode() if body is not None else b"", headers=headers)
    return request.prepare()


def test_a_dynamodb_request_needs_its_operation_on_its_table_or_index() -> None:
    request = signed("https://dynamodb.us-east-1.amazonaws.com/", {"TableName": "t", "IndexName": "by_x"},
                     target="DynamoDB_20120810.Query")
    service, operation, params, region = describe(request) or ("", "", {}, "")
    assert (service, operation, region) == ("dynamodb", "Query", REGION)
    assert request_needs(service, operation, params, region) == [Need("dynamodb:Query", TABLE + "t/index/by_x")]


def test_a_transaction_needs_each_item_action_and_a_batch_its_own() -> None:
    params = {"TransactItems": [{"Put": {"TableName": "m"}}, {"Update": {"TableName": "s"}},
                                {"ConditionCheck": {"TableName": "m"}}]}
    assert request_needs("dynamodb", "TransactWriteItems", params, REGION) == [
        Need("dynamodb:PutItem", TABLE + "m"), Need("dynamodb:UpdateItem", TABLE + "s"),
        Need("dynamodb:ConditionCheckItem", TABLE + "m")]
    batch = {"RequestItems": {"a": [], "b": []}}
    assert request_needs("dynamodb", "BatchWriteItem", batch, REGION) == [
        Need("dynamodb:BatchWriteItem", TABLE + "a"), Need("dynamodb:BatchWriteItem", TABLE + "b")]


def test_sqs_batches_are_authorized_as_the_single_action_on_the_queue() -> None:
    request = signed("https://sqs.us-east-1.amazonaws.com/", {"QueueUrl": "https://x/123456789012/jobs"},
                     target="AmazonSQS.SendMessageBatch", service="sqs")
    service, operation, params, region = describe(request) or ("", "", {}, "")
    assert request_needs(service, operation, params, region) == [
        Need("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:jobs")]


def test_sesv2_send_needs_the_sender_identity_and_the_configuration_set() -> None:
    request = signed("https://email.us-east-1.amazonaws.com/v2/email/outbound-emails",
                     {"FromEmailAddress": "News <news@acme.test>", "ConfigurationSetName": "beacon-prod"},
                     service="ses")
    service, operation, params, region = describe(request) or ("", "", {}, "")
    assert (service, operation) == ("sesv2", "SendEmail")
    assert request_needs(service, operation, params, region) == [
        Need("ses:SendEmail", "arn:aws:ses:us-east-1:123456789012:identity/acme.test"),
        Need("ses:SendEmail", "arn:aws:ses:us-east-1:123456789012:configuration-set/beacon-prod")]
    identity = signed("https://email.us-east-1.amazonaws.com/v2/email/identities/acme.test", None,
                      method="DELETE", service="ses")
    assert describe(identity)[:2] == ("sesv2", "DeleteEmailIdentity")  # type: ignore[index]


def test_unsigned_and_local_stack_requests_are_not_described() -> None:
    body = {"TableName": "t"}
    assert describe(signed("https://x/", body, target="DynamoDB_20120810.GetItem", key="BEACONLOCALSTACK")) is None
    unsigned = AWSRequest("POST", "https://x/", data=b"{}", headers={"X-Amz-Target": "DynamoDB_20120810.GetItem"})
    assert describe(unsigned.prepare()) is None


@pytest.mark.parametrize(
    ("grant", "need", "allowed"),
    [
        (Grant(("dynamodb:GetItem",), (TABLE + "t",)), Need("dynamodb:GetItem", TABLE + "t"), True),
        (Grant(("dynamodb:GetItem",), (TABLE + "t",)), Need("dynamodb:GetItem", TABLE + "t2"), False),
        (Grant(("dynamodb:GetItem",), (TABLE + "t",)), Need("dynamodb:GetItem", TABLE + "t/index/i"), False),
        (Grant(("dynamodb:GetItem",), (TABLE + "t",)), Need("dynamodb:PutItem", TABLE + "t"), False),
        (Grant(("sqs:SendMessage*",), ("arn:aws:sqs:*:*:q",)), Need("sqs:SendMessage", "arn:aws:sqs:r:1:q"), True),
        (Grant(("SES:sendemail",), ("arn:aws:ses:r:1:identity/*",)),
         Need("ses:SendEmail", "arn:aws:ses:r:1:identity/acme.test"), True),
        (Grant(("dynamodb:Query",), (TABLE + "t",)), Need("dynamodb:Query", "*"), False),
    ],
)
def test_grants_match_actions_case_insensitively_and_resources_exactly_or_by_wildcard(
        grant: Grant, need: Need, allowed: bool) -> None:
    assert grant.allows(need) is allowed


def test_permissions_deny_what_no_statement_allows_and_ignore_unknown_functions() -> None:
    permissions = Permissions({"Fn": [Grant(("dynamodb:UpdateItem",), (TABLE + "m",))]})
    needs = [Need("dynamodb:UpdateItem", TABLE + "m"), Need("dynamodb:DeleteItem", TABLE + "m")]
    assert permissions.denied("Fn", needs) == [needs[1]]
    assert permissions.denied("NotATemplateFunction", needs) == []
