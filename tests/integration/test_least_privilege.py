"""The least-privilege check on moto: a call the template does not grant is refused as AWS would
refuse it, and changes nothing; what the template grants goes through."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from beacon_local.iam import Checker, Need, invoking
from beacon_local.resources import Resources

ACCOUNT = "123456789012"


def _client(aws: Resources) -> Any:
    return boto3.session.Session().client("dynamodb", region_name=aws.region)  # Beacon's credentials


def test_an_ungranted_call_is_refused_and_writes_nothing(clean_aws: Resources, least_privilege: Checker) -> None:
    table = clean_aws.tables["MessagesTable"]
    item = {"pk": {"S": "a#c#r"}, "sk": {"S": "r"}}
    seen = len(least_privilege.denials)
    with invoking("TrackOpenFunction"), pytest.raises(ClientError) as refused:
        _client(clean_aws).put_item(TableName=table, Item=item)  # the pixel may only UpdateItem
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "TrackOpenFunction is not allowed dynamodb:PutItem" in str(refused.value)
    denial = least_privilege.denials.pop()  # expected here: not a failure of this test
    assert len(least_privilege.denials) == seen
    assert denial.denied == [Need("dynamodb:PutItem", f"arn:aws:dynamodb:{clean_aws.region}:{ACCOUNT}:table/{table}")]
    assert "Item" not in _client(clean_aws).get_item(TableName=table, Key=item)


def test_a_granted_call_goes_through(clean_aws: Resources) -> None:
    table = clean_aws.tables["MessagesTable"]
    key = {"pk": {"S": "a#c#r"}, "sk": {"S": "r"}}
    with invoking("TrackOpenFunction"):
        _client(clean_aws).update_item(TableName=table, Key=key, UpdateExpression="SET opened = :t",
                                       ExpressionAttributeValues={":t": {"N": "1"}})
    assert _client(clean_aws).get_item(TableName=table, Key=key)["Item"]["opened"] == {"N": "1"}


def test_every_function_has_resolved_grants(least_privilege: Checker, aws: Resources) -> None:
    grants = least_privilege.permissions.grants
    assert set(grants) == set(aws.template.functions)
    for function, found in grants.items():
        assert found, function
        for grant in found:
            assert all(r == "*" or r.startswith("arn:aws:") for r in grant.resources), (function, grant)
    send = f"arn:aws:ses:{aws.region}:{ACCOUNT}:identity/acme.test"
    assert not least_privilege.permissions.denied("SendFunction", [Need("ses:SendEmail", send)])
    assert least_privilege.permissions.denied("DispatchFunction", [Need("ses:SendEmail", send)])
