"""The stack as `sam deploy` creates it: template.yaml translated by aws-sam-translator (with each
CodeUri/ContentUri packaged to S3, as `sam package` does) and created in moto's CloudFormation.

Tables, queues and DLQs, topics, functions, roles and their policies, event source mappings and
log groups are created by the stack with real names and resolved references. Moto's
CloudFormation does not create CloudWatch alarms, SNS subscriptions, event invoke configs or
ApiGatewayV2 resources; the alarms are put with the CloudWatch API from the translated template,
their references resolved to the stack's physical resources, so their actions are checked
against the real topic. Deleting the stack keeps what DeletionPolicy: Retain keeps.
"""

from __future__ import annotations

import ast
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import boto3
import pytest

from beacon_local.resources import Resources
from beacon_local.sam import ARTIFACT_BUCKET, artifact_key, translate
from beacon_local.template import Resolver, Template, _normalise

# moto's CloudFormation warns for each resource type it does not create (listed in the module doc)
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse .* not supported by moto")

STACK = "beacon-deploy"
STAGE = "deploy"
PARAMETERS = {"Stage": STAGE, "AlertEmail": "ops@example.com"}
ACCOUNT = "123456789012"


@dataclass
class Deployed:
    template: Template
    translated: dict[str, Any]
    physical: dict[str, str]  # logical id -> physical id
    region: str

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(service, region_name=self.region)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.translated["Resources"].items() if r["Type"] == kind}

    def resolver(self) -> Resolver:
        sqs = self.client("sqs")

        def ref(lid: str) -> Any:
            if lid in PARAMETERS:
                return PARAMETERS[lid]
            if lid in self.translated.get("Parameters", {}):
                return self.translated["Parameters"][lid].get("Default")
            return self.physical.get(lid, lid)  # lid: a resource moto's CloudFormation does not create

        def get_att(lid: str, attribute: str) -> Any:
            kind = self.translated["Resources"][lid]["Type"]
            if kind == "AWS::SQS::Queue":
                url = self.physical[lid]
                return {"QueueName": url.rsplit("/", 1)[-1], "Arn": sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]}[attribute]
            if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
                return f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{self.physical[lid]}"
            if kind == "AWS::Lambda::Function" and attribute == "Arn":
                return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.physical[lid]}"
            raise AssertionError(f"no attribute {attribute} of {lid} here")

        return Resolver(PARAMETERS, ref, get_att, region=self.region,
                        conditions=_normalise(self.translated.get("Conditions") or {}))


@pytest.fixture(scope="module")
def deployed(aws: Resources) -> Iterator[Deployed]:
    """The stack, created once for the module inside the session's moto (other names: Stage "deploy")."""
    template = aws.template
    translated = translate(template, PARAMETERS, region=aws.region)
    session = boto3.session.Session()
    s3 = session.client("s3", region_name=aws.region)
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    for lid, resource in template.resources.items():
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"):
            s3.put_object(Bucket=ARTIFACT_BUCKET, Key=artifact_key(lid), Body=package.getvalue())
    cfn = session.client("cloudformation", region_name=aws.region)
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(translated),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    summaries = cfn.get_paginator("list_stack_resources").paginate(StackName=STACK)
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
                for page in summaries for r in page["StackResourceSummaries"] if r.get("PhysicalResourceId")}
    yield Deployed(template, translated, physical, aws.region)


def test_the_stack_is_created(deployed: Deployed) -> None:
    stack = deployed.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["SesEventsDLQUrl"].endswith(f"/beacon-{STAGE}-ses-events-dlq")
    assert outputs["AlertsTopicArn"] == f"arn:aws:sns:{deployed.region}:{ACCOUNT}:beacon-{STAGE}-alerts"


def test_tables_have_the_template_keys_and_indexes(deployed: Deployed) -> None:
    dynamodb = deployed.client("dynamodb")
    tables = deployed.template.tables
    assert len(tables) == 9  # with automations and webhooks (issue 16)
    for lid, props in tables.items():
        name = deployed.physical[lid]
        assert name == f"beacon-{STAGE}-{lid.removesuffix('Table').lower()}"
        described = dynamodb.describe_table(TableName=name)["Table"]
        assert described["KeySchema"] == props["KeySchema"]
        assert {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])} == {
            i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])}


def test_queues_redrive_to_their_dlqs(deployed: Deployed) -> None:
    sqs = deployed.client("sqs")
    for source, dlq in (("DispatchQueue", "dispatch-dlq"), ("SendQueue", "send-dlq"), ("SignupQueue", "signup-dlq"),
                        ("EventsQueue", "events-dlq"), ("AutomationQueue", "automation-dlq"),
                        ("WebhookQueue", "webhooks-dlq")):
        attributes = sqs.get_queue_attributes(QueueUrl=deployed.physical[source], AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"].endswith(f":beacon-{STAGE}-{dlq}")
        assert int(redrive["maxReceiveCount"]) == 5
    for dlq in ("DispatchDLQ", "SendDLQ", "SesEventsDLQ", "SignupDLQ", "StreamEventsDLQ", "EventsDLQ", "AutomationDLQ",
                "WebhookDLQ"):
        attributes = sqs.get_queue_attributes(QueueUrl=deployed.physical[dlq], AttributeNames=["All"])["Attributes"]
        assert attributes["MessageRetentionPeriod"] == "1209600"


def test_topics_exist(deployed: Deployed) -> None:
    arns = {t["TopicArn"] for t in deployed.client("sns").list_topics()["Topics"]}
    for name in ("ses-events", "alerts"):
        assert f"arn:aws:sns:{deployed.region}:{ACCOUNT}:beacon-{STAGE}-{name}" in arns


def test_functions_run_python312_on_arm64_with_the_layer_and_resolved_environment(deployed: Deployed) -> None:
    lambda_ = deployed.client("lambda")
    functions = deployed.template.functions
    # the pipeline's seven, the console (17), forms and signup (14), roll-up and jobs (18), four of issue 16
    assert len(functions) == 16
    for lid in functions:
        config = lambda_.get_function_configuration(FunctionName=deployed.physical[lid])
        assert config["Runtime"] == "python3.12"
        # moto's CloudFormation leaves Architectures out (x86_64): what the stack asks for
        assert deployed.translated["Resources"][lid]["Properties"]["Architectures"] == ["arm64"]
        (layer,) = deployed.translated["Resources"][lid]["Properties"]["Layers"]  # moto's CloudFormation
        assert deployed.translated["Resources"][layer["Ref"]]["Type"] == "AWS::Lambda::LayerVersion"  # drops it
        env = config["Environment"]["Variables"]
        assert env["CONTACTS_TABLE"] == f"beacon-{STAGE}-contacts"
        assert env["SEND_QUEUE_URL"] == deployed.physical["SendQueue"]
        assert env["BEACON_PUBLIC_BASE_URL"] == ""  # no PublicBaseUrl, no custom domain
    (layer,) = lambda_.list_layers()["Layers"]
    assert layer["LatestMatchingVersion"]["CompatibleRuntimes"] == ["python3.12"]
    for lid in ("TrackOpenFunction", "TrackClickFunction"):
        concurrency = lambda_.get_function_concurrency(FunctionName=deployed.physical[lid])
        assert concurrency["ReservedConcurrentExecutions"] == 50


def _policy(iam: Any, role: str, name: str) -> dict[str, Any]:
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):  # moto answers a CloudFormation-made inline policy as a Python literal
        return dict(ast.literal_eval(unquote(document)))
    return dict(document)


def test_roles_grant_each_function_only_its_statements(deployed: Deployed) -> None:
    iam = deployed.client("iam")
    messages = f"arn:aws:dynamodb:{deployed.region}:{ACCOUNT}:table/beacon-{STAGE}-messages"
    for lid in ("TrackOpenFunction", "TrackClickFunction"):
        role = deployed.physical[f"{lid}Role"]
        statements = [s for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
                      for s in _policy(iam, role, name)["Statement"]]
        assert [(s["Action"], s["Resource"]) for s in statements] == [(["dynamodb:UpdateItem"], messages)]
    every_action = set()
    for lid in deployed.template.functions:
        role = deployed.physical[f"{lid}Role"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            for statement in _policy(iam, role, name)["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                every_action.update(actions)
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else [
                    statement["Resource"]]
                assert "*" not in resources, (lid, statement)
    assert "dynamodb:Scan" not in every_action and "dynamodb:DescribeTable" not in every_action
    dlq = f"arn:aws:sqs:{deployed.region}:{ACCOUNT}:beacon-{STAGE}-ses-events-dlq"
    role = deployed.physical["SesEventsFunctionRole"]
    on_failure = [_policy(iam, role, n) for n in iam.list_role_policies(RoleName=role)["PolicyNames"]
                  if "OnFailure" in n]
    assert on_failure and on_failure[0]["Statement"][0]["Resource"] == dlq


def test_event_source_mappings_follow_the_template(deployed: Deployed) -> None:
    lambda_ = deployed.client("lambda")
    send = lambda_.list_event_source_mappings(FunctionName=deployed.physical["SendFunction"])["EventSourceMappings"]
    assert len(send) == 1
    assert send[0]["BatchSize"] == 1 and send[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert send[0]["EventSourceArn"].endswith(f":beacon-{STAGE}-send")
    assert send[0]["ScalingConfig"] == {"MaximumConcurrency": 2}  # the SendMaxConcurrency default
    dispatch = lambda_.list_event_source_mappings(
        FunctionName=deployed.physical["DispatchFunction"])["EventSourceMappings"]
    assert [m["EventSourceArn"].rsplit(":", 1)[-1] for m in dispatch] == [f"beacon-{STAGE}-dispatch"]


def test_log_groups_keep_logs_for_the_retention_parameter(deployed: Deployed) -> None:
    logs = deployed.client("logs")
    groups = {g["logGroupName"]: g.get("retentionInDays")
              for g in logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/beacon-{STAGE}-")["logGroups"]}
    assert len(groups) == 16 and set(groups.values()) == {30}  # one per function
    access = logs.describe_log_groups(logGroupNamePrefix=f"/aws/apigateway/beacon-{STAGE}-")["logGroups"]
    assert [g.get("retentionInDays") for g in access] == [30]
    for lid, resource in deployed.of_type("AWS::Lambda::Function").items():
        group = resource["Properties"]["LoggingConfig"]["LogGroup"]
        assert deployed.physical[group["Ref"]] in groups, lid


def test_alarms_notify_the_alerts_topic(deployed: Deployed) -> None:
    cloudwatch = deployed.client("cloudwatch")
    resolver = deployed.resolver()
    alarms = deployed.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 9 * 2 + 9
    for lid, resource in alarms.items():
        props = resolver.resolve(_normalise(resource["Properties"]))
        cloudwatch.put_metric_alarm(AlarmName=f"{STACK}-{lid}", **props)
    topic = f"arn:aws:sns:{deployed.region}:{ACCOUNT}:beacon-{STAGE}-alerts"
    found = cloudwatch.describe_alarms(AlarmNamePrefix=f"{STACK}-")["MetricAlarms"]
    assert len(found) == len(alarms)
    for alarm in found:
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic], alarm["AlarmName"]
    errors = {a["Dimensions"][0]["Value"] for a in found if a.get("MetricName") == "Errors"}
    assert errors == {deployed.physical[lid] for lid in deployed.template.functions}


def test_deleting_the_stack_keeps_the_tables_dlqs_and_token_secret(deployed: Deployed) -> None:
    retained = [lid for lid, r in deployed.translated["Resources"].items() if r.get("DeletionPolicy") == "Retain"]
    assert set(retained) >= {*deployed.template.tables, "DispatchDLQ", "SendDLQ", "SesEventsDLQ", "SignupDLQ",
                             "StreamEventsDLQ", "EventsDLQ", "AutomationDLQ", "WebhookDLQ", "TokenSecret"}
    for lid in retained:
        assert deployed.translated["Resources"][lid]["UpdateReplacePolicy"] == "Retain"
    deployed.client("cloudformation").delete_stack(StackName=STACK)
    tables = set(deployed.client("dynamodb").list_tables()["TableNames"])
    assert {deployed.physical[lid] for lid in deployed.template.tables} <= tables
    queues = " ".join(deployed.client("sqs").list_queues(QueueNamePrefix=f"beacon-{STAGE}-").get("QueueUrls", []))
    for dlq in ("dispatch-dlq", "send-dlq", "ses-events-dlq", "signup-dlq"):
        assert f"beacon-{STAGE}-{dlq}" in queues
    assert f"beacon-{STAGE}-send " not in queues + " "  # the work queue itself goes with the stack
    if "TokenSecret" in deployed.physical:  # moto's CloudFormation creates the secret
        secret = deployed.client("secretsmanager").describe_secret(SecretId=f"beacon-{STAGE}-token-secret")
        assert "DeletedDate" not in secret
