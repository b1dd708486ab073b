"""template.yaml stays operable: what issue 13 added holds for every function, also the next one.

`problems(document)` lists what an operator would miss: a function without its own log group
(with the LogRetentionDays retention), without an Errors and a Throttles alarm that notify the
alerts topic, or with a broad or implicit policy; an alarm that wakes nobody; a table, DLQ or
secret that a stack deletion or replacement would destroy. The tests run it on template.yaml
(no problems) and on copies with a new, bare function or a broken resource (each is caught), so a
function added later without these fails here.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from beacon_local.resources import Resources
from beacon_local.template import Intrinsic, Template, load_yaml
from tests.unit.test_template import TEMPLATE

ALERTS = "AlertsTopic"
# SAM policy templates that grant more than an explicit statement would (Scan, DescribeTable,
# every item action on the table): functions say which actions they call instead
BROAD_POLICY_TEMPLATES = re.compile(r"^DynamoDB\w*Policy$|^AmazonDynamoDB|^AWSLambda_FullAccess$|FullAccess$")
NEVER_GRANTED = {"dynamodb:scan", "dynamodb:describetable", "dynamodb:*", "*", "sqs:*", "ses:*"}
PERSONAL_DATA_IN_ACCESS_LOGS = ("$context.path", "$context.identity.sourceIp", "$context.identity.userAgent",
                                "$context.requestOverride", "$context.authorizer")


def document() -> dict[str, Any]:
    return Template.load(TEMPLATE).document


def _ref(value: Any) -> str | None:
    if isinstance(value, Intrinsic) and value.fn in ("Ref", "Fn::GetAtt"):
        return str(value.arg if value.fn == "Ref" else value.arg[0])
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _of_type(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in doc["Resources"].items() if r.get("Type") == kind}


def _alarms_on(doc: dict[str, Any], metric: str, function: str) -> list[str]:
    return [lid for lid, alarm in _of_type(doc, "AWS::CloudWatch::Alarm").items()
            if alarm["Properties"].get("MetricName") == metric
            and any(_ref(d.get("Value")) == function and d.get("Name") == "FunctionName"
                    for d in alarm["Properties"].get("Dimensions") or [])]


def _dead_letter_queues(doc: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for queue in _of_type(doc, "AWS::SQS::Queue").values():
        target = _ref((queue["Properties"].get("RedrivePolicy") or {}).get("deadLetterTargetArn"))
        if target:
            found.add(target)
    for function in _of_type(doc, "AWS::Serverless::Function").values():
        config = function["Properties"].get("EventInvokeConfig") or {}
        target = _ref((((config.get("DestinationConfig") or {}).get("OnFailure")) or {}).get("Destination"))
        if target:
            found.add(target)
    return found


def function_problems(doc: dict[str, Any], lid: str) -> list[str]:
    props = doc["Resources"][lid]["Properties"]
    problems = []
    group = _ref((props.get("LoggingConfig") or {}).get("LogGroup"))
    log_group = doc["Resources"].get(group or "", {})
    if log_group.get("Type") != "AWS::Logs::LogGroup":
        problems.append(f"{lid}: no LoggingConfig.LogGroup pointing at a declared AWS::Logs::LogGroup")
    elif _ref(log_group["Properties"].get("RetentionInDays")) != "LogRetentionDays":
        problems.append(f"{lid}: its log group's RetentionInDays is not !Ref LogRetentionDays")
    for metric in ("Errors", "Throttles"):
        if not _alarms_on(doc, metric, lid):
            problems.append(f"{lid}: no {metric} alarm")
    policies = _list(props.get("Policies") or [])
    if not policies:
        problems.append(f"{lid}: no Policies (an explicit, least-privilege policy is required)")
    for policy in policies:
        if isinstance(policy, str):
            problems.append(f"{lid}: managed policy {policy}")
            continue
        statements = _list(policy.get("Statement") or []) if isinstance(policy, dict) else []
        if not statements:
            (name,) = policy
            if BROAD_POLICY_TEMPLATES.search(name):
                problems.append(f"{lid}: {name} grants more than the function calls; list the actions")
        for statement in statements:
            for action in _list(statement.get("Action") or []):
                if str(action).lower() in NEVER_GRANTED:
                    problems.append(f"{lid}: grants {action}")
            if any(str(a).lower().startswith("dynamodb:") for a in _list(statement.get("Action") or [])) and \
                    "*" in _list(statement.get("Resource")):
                problems.append(f"{lid}: DynamoDB actions on Resource *")
    return problems


def problems(doc: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for lid in _of_type(doc, "AWS::Serverless::Function"):
        found += function_problems(doc, lid)
    for lid, alarm in _of_type(doc, "AWS::CloudWatch::Alarm").items():
        for key in ("AlarmActions", "OKActions"):
            if ALERTS not in {_ref(a) for a in _list(alarm["Properties"].get(key) or [])}:
                found.append(f"{lid}: {key} does not notify {ALERTS}")
    keep = {*_of_type(doc, "AWS::DynamoDB::Table"), *_of_type(doc, "AWS::SecretsManager::Secret"),
            *_dead_letter_queues(doc)}
    for lid in sorted(keep):
        resource = doc["Resources"][lid]
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if resource.get(policy) != "Retain":
                found.append(f"{lid}: {policy} is not Retain")
    for lid in sorted(_dead_letter_queues(doc)):
        if not any(_ref(d.get("Value")) == lid for alarm in _of_type(doc, "AWS::CloudWatch::Alarm").values()
                   for d in alarm["Properties"].get("Dimensions") or []):
            found.append(f"{lid}: a DLQ without an alarm on its depth")
    for lid, group in _of_type(doc, "AWS::Logs::LogGroup").items():
        if _ref(group["Properties"].get("RetentionInDays")) != "LogRetentionDays":
            found.append(f"{lid}: RetentionInDays is not !Ref LogRetentionDays")
    return found


# ---------------------------------------------------------------- template.yaml itself
def test_template_yaml_has_no_operations_problems() -> None:
    assert problems(document()) == []


def test_every_function_has_its_log_group_alarms_and_explicit_policy() -> None:
    doc = document()
    functions = _of_type(doc, "AWS::Serverless::Function")
    assert len(functions) >= 7
    groups = {_ref(f["Properties"]["LoggingConfig"]["LogGroup"]) for f in functions.values()}
    assert len(groups) == len(functions)  # one each


def test_log_retention_defaults_to_30_days() -> None:
    assert document()["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_access_logs_name_the_route_never_the_path_ip_or_user_agent() -> None:
    settings = document()["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    assert _ref(settings["DestinationArn"]) == "ApiAccessLogGroup"
    fmt = settings["Format"]
    assert "$context.routeKey" in fmt
    for leak in PERSONAL_DATA_IN_ACCESS_LOGS:
        assert leak not in fmt


def test_ses_events_failures_go_to_a_dlq_with_an_alarm() -> None:
    doc = document()
    props = doc["Resources"]["SesEventsFunction"]["Properties"]
    on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS" and _ref(on_failure["Destination"]) == "SesEventsDLQ"
    sns = next(e for e in props["Events"].values() if e["Type"] == "SNS")
    assert _ref(sns["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]) == "SesEventsDLQ"
    statement = doc["Resources"]["SesEventsDLQPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert _ref(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == "SesEventsTopic"


def test_tracking_functions_have_a_concurrency_limit_that_can_be_turned_off() -> None:
    doc = document()
    for lid in ("TrackOpenFunction", "TrackClickFunction"):
        value = doc["Resources"][lid]["Properties"]["ReservedConcurrentExecutions"]
        assert isinstance(value, Intrinsic) and value.fn == "Fn::If"
        assert value.arg[0] == "HasTrackingReservation"
        assert _ref(value.arg[1]) == "TrackingReservedConcurrency"
    assert doc["Parameters"]["TrackingReservedConcurrency"]["Default"] == 50


def test_alert_email_subscribes_only_when_given() -> None:
    doc = document()
    subscription = doc["Resources"]["AlertEmailSubscription"]
    assert subscription["Condition"] == "HasAlertEmail"
    assert doc["Parameters"]["AlertEmail"]["Default"] == ""
    assert _ref(subscription["Properties"]["TopicArn"]) == ALERTS


def test_custom_domain_is_off_by_default_and_public_base_url_follows_it() -> None:
    doc = document()
    for lid in ("CustomDomain", "CustomDomainMapping"):
        assert doc["Resources"][lid]["Condition"] == "HasCustomDomain"
    assert doc["Resources"]["CustomDomainRecord"]["Condition"] == "HasHostedZone"
    template = Template(doc)

    def base_url(**parameters: str) -> str:
        values = {**template.parameter_defaults(), "Stage": "t", **parameters}
        res = Resources(template=template, stage="t", region="us-east-1", endpoint_url=None, parameters=values)
        return res.resolver().resolve_str(template.global_environment["BEACON_PUBLIC_BASE_URL"])

    assert base_url() == ""
    assert base_url(DomainName="t.example.com") == ""  # no certificate: no domain
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    assert base_url(DomainName="t.example.com", CertificateArn=cert) == "https://t.example.com"
    assert base_url(DomainName="t.example.com", CertificateArn=cert,
                    PublicBaseUrl="https://links.example.com") == "https://links.example.com"


# ---------------------------------------------------------------- the rules catch what they should
BARE_FUNCTION = """
Type: AWS::Serverless::Function
Properties:
  CodeUri: functions/webhooks/
  Handler: handler.handler
  Policies:
    - DynamoDBCrudPolicy: {TableName: !Ref ContactsTable}
"""


def test_a_new_function_without_log_group_alarms_or_explicit_policy_is_caught() -> None:
    doc = copy.deepcopy(document())
    doc["Resources"]["WebhooksFunction"] = load_yaml(BARE_FUNCTION)
    found = problems(doc)
    assert any("WebhooksFunction: no LoggingConfig.LogGroup" in p for p in found)
    assert any("WebhooksFunction: no Errors alarm" in p for p in found)
    assert any("WebhooksFunction: no Throttles alarm" in p for p in found)
    assert any("WebhooksFunction: DynamoDBCrudPolicy grants more" in p for p in found)
    del doc["Resources"]["WebhooksFunction"]["Properties"]["Policies"]
    assert any("WebhooksFunction: no Policies" in p for p in problems(doc))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["Resources"]["ContactsTable"].pop("DeletionPolicy"), "ContactsTable: DeletionPolicy"),
        (lambda d: d["Resources"]["SendDLQ"].pop("UpdateReplacePolicy"), "SendDLQ: UpdateReplacePolicy"),
        (lambda d: d["Resources"]["SesEventsDLQ"].pop("DeletionPolicy"), "SesEventsDLQ: DeletionPolicy"),
        (lambda d: d["Resources"]["TokenSecret"].pop("DeletionPolicy"), "TokenSecret: DeletionPolicy"),
        (lambda d: d["Resources"]["SendQueueAgeAlarm"]["Properties"].pop("AlarmActions"),
         "SendQueueAgeAlarm: AlarmActions"),
        (lambda d: d["Resources"]["SendLogGroup"]["Properties"].update(RetentionInDays=3653),
         "SendLogGroup: RetentionInDays"),
        (lambda d: d["Resources"].pop("SesEventsDLQAlarm"), "SesEventsDLQ: a DLQ without an alarm"),
        (lambda d: d["Resources"]["TrackOpenFunction"]["Properties"]["Policies"][0]["Statement"][0].update(
            Action=["dynamodb:Scan"]), "TrackOpenFunction: grants dynamodb:Scan"),
    ],
)
def test_each_rule_catches_its_breakage(change: Any, expected: str) -> None:
    doc = copy.deepcopy(document())
    change(doc)
    assert any(expected in p for p in problems(doc)), problems(doc)


def test_the_local_stack_finds_the_on_failure_queue() -> None:
    template = Template(document())
    assert template.on_failure_queue("SesEventsFunction") == "SesEventsDLQ"
    assert template.on_failure_queue("SendFunction") is None  # an SQS-triggered function: its queue's DLQ


def test_samconfig_environments_set_only_valid_template_parameters() -> None:
    import shlex
    import tomllib

    config = tomllib.loads((TEMPLATE.parent / "samconfig.toml").read_text())
    parameters = document()["Parameters"]
    stacks = set()
    for env in ("dev", "prod"):
        deploy = config[env]["deploy"]["parameters"]
        stacks.add(config[env]["global"]["parameters"]["stack_name"])
        assert "CAPABILITY_IAM" in deploy["capabilities"]
        overrides = dict(item.split("=", 1) for item in shlex.split(deploy["parameter_overrides"]))
        assert overrides["Stage"] == env
        for name, value in overrides.items():
            spec = parameters[name]  # a KeyError names a parameter the template does not have
            if "AllowedValues" in spec:
                assert value in {str(v) for v in spec["AllowedValues"]}, (env, name, value)
            if "MinValue" in spec:
                assert float(value) >= float(spec["MinValue"]), (env, name, value)
    assert len(stacks) == 2  # dev and prod are separate stacks
