"""Create the template's AWS resources in moto (in-process `mock_aws()` or a moto server).

Tables, queues (DLQs first, so a RedrivePolicy names the real DLQ ARN), topics and the SES
configuration set are created exactly as template.yaml declares them; `!Sub beacon-${Stage}-...`
names resolve with the Stage parameter. Secrets Manager is not used locally: every
AWS::SecretsManager::Secret gets a random local value (or a fixed one) that the
`{{resolve:secretsmanager:...}}` dynamic references in the environment resolve to.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.config
from botocore.exceptions import ClientError

from beacon_local.template import PSEUDO_PARAMETERS, Intrinsic, Resolver, Template, TemplateError

log = logging.getLogger(__name__)

ACCOUNT_ID = PSEUDO_PARAMETERS["AWS::AccountId"]
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# The local stack signs its own requests (pollers, the SES simulator, set-up) with this key, so
# the least-privilege check (beacon_local.iam) tells them from the functions' requests.
LOCAL_STACK_ACCESS_KEY = "BEACONLOCALSTACK"

# CloudFormation AWS::SQS::Queue property -> SQS queue attribute
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def aws_client(service: str, region: str, endpoint_url: str | None) -> Any:
    """A boto3 client for the local stack's own calls (never Beacon's `beacon.shared.aws.SESSION`)."""
    session: Any = boto3.session.Session(
        aws_access_key_id=LOCAL_STACK_ACCESS_KEY,
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=region,
    )
    # moto routes DynamoDB Streams by its regional endpoint, not botocore's account-based one
    extra: dict[str, Any] = {"account_id_endpoint_mode": "disabled"} if service == "dynamodbstreams" else {}
    return session.client(
        service,
        endpoint_url=endpoint_url,
        config=botocore.config.Config(read_timeout=30, retries={"max_attempts": 3}, max_pool_connections=32,
                                      **extra),
    )


def _attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _local_secret(props: Mapping[str, Any]) -> str:
    spec = props.get("GenerateSecretString") or {}
    length = int(spec.get("PasswordLength") or 64)
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    excluded = str(spec.get("ExcludeCharacters") or "")
    alphabet = "".join(c for c in alphabet if c not in excluded)
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _references(value: Any) -> Iterator[str]:
    """Logical ids a value points at through Ref/GetAtt/Sub."""
    if isinstance(value, Intrinsic):
        if value.fn == "Ref" and isinstance(value.arg, str):
            yield value.arg
        elif value.fn == "Fn::GetAtt" and isinstance(value.arg, list) and value.arg:
            yield str(value.arg[0])
        elif value.fn == "Fn::Sub":
            text = value.arg[0] if isinstance(value.arg, list) else value.arg
            for token in str(text).split("${")[1:]:
                yield token.split("}")[0].split(".")[0]
        yield from _references(value.arg)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _references(v)
    elif isinstance(value, list):
        for v in value:
            yield from _references(v)


@dataclass(frozen=True)
class Queue:
    name: str
    url: str
    arn: str


@dataclass
class Resources:
    """Physical names, URLs and ARNs of the created resources, by logical id."""

    template: Template
    stage: str
    region: str
    endpoint_url: str | None
    parameters: dict[str, Any]
    tables: dict[str, str] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    configuration_sets: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> local secret value
    secret_arns: dict[str, str] = field(default_factory=dict)
    secret_names: dict[str, str] = field(default_factory=dict)
    local_queues: dict[str, Queue] = field(default_factory=dict)  # created by the local stack itself

    # ------------------------------------------------------------ references
    def ref(self, logical_id: str) -> Any:
        if logical_id in self.parameters:
            return self.parameters[logical_id]
        if logical_id in self.tables:
            return self.tables[logical_id]
        if logical_id in self.queues:
            return self.queues[logical_id].url
        if logical_id in self.topics:
            return self.topics[logical_id]
        if logical_id in self.configuration_sets:
            return self.configuration_sets[logical_id]
        if logical_id in self.secret_arns:
            return self.secret_arns[logical_id]
        if logical_id in self.template.resources:
            log.debug("no local counterpart for %s; using a placeholder", logical_id)
            return f"local-{logical_id}"
        raise TemplateError(f"!Ref to unknown name {logical_id}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id in self.tables:
            name = self.tables[logical_id]
            arn = f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{name}"
            if attribute == "Arn":
                return arn
            if attribute == "StreamArn":
                return self.stream_arn(logical_id)
        if logical_id in self.queues:
            queue = self.queues[logical_id]
            answers = {"Arn": queue.arn, "QueueName": queue.name, "QueueUrl": queue.url}
            if attribute in answers:
                return answers[attribute]
        if logical_id in self.topics:
            arn = self.topics[logical_id]
            if attribute == "TopicArn":
                return arn
            if attribute == "TopicName":
                return arn.rsplit(":", 1)[-1]
        raise TemplateError(f"the local stack cannot resolve !GetAtt {logical_id}.{attribute}")

    def stream_arn(self, logical_id: str) -> str:
        """The latest stream of a table that declares a StreamSpecification (as moto labels it)."""
        table = self.client("dynamodb").describe_table(TableName=self.tables[logical_id])["Table"]
        if not table.get("LatestStreamArn"):
            raise TemplateError(f"{logical_id} has no stream (StreamSpecification)")
        return str(table["LatestStreamArn"])

    def resolver(self, parameters: Mapping[str, Any] | None = None) -> Resolver:
        params = dict(self.parameters)
        params.update(parameters or {})
        return Resolver(
            params,
            self.ref,
            self.get_att,
            region=self.region,
            conditions=self.template.conditions,
            mappings=self.template.mappings,
            secrets={self.secret_arns[lid]: value for lid, value in self.secrets.items()}
            | {self.secret_names[lid]: value for lid, value in self.secrets.items()},
        )

    def resolve(self, value: Any) -> Any:
        return self.resolver().resolve(value)

    # ------------------------------------------------------------ environment
    def aws_environment(self) -> dict[str, str]:
        """Region, fake credentials and (for a moto server) AWS_ENDPOINT_URL."""
        env = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region, **FAKE_CREDENTIALS}
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env

    def environment(self, overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Globals.Function.Environment.Variables resolved, plus the AWS variables.

        `overrides` replaces parameter values (e.g. {"PublicBaseUrl": "http://127.0.0.1:3000"}).
        """
        resolver = self.resolver(overrides)
        env = {name: resolver.resolve_str(value) for name, value in self.template.global_environment.items()}
        env.update(self.aws_environment())
        return env

    @property
    def ses_events_topic_arn(self) -> str | None:
        """Where SES event publishing goes: the configuration set's SNS destination, else the
        topic an SNS-triggered function subscribes to, else the only topic."""
        for props in self.template.configuration_set_event_destinations.values():
            destination = (props.get("EventDestination") or {}).get("SnsDestination") or {}
            if "TopicARN" in destination:
                return str(self.resolve(destination["TopicARN"]))
        for source in self.template.sns_event_sources:
            if source.topic in self.topics:
                return self.topics[source.topic]
        if len(self.topics) == 1:
            return next(iter(self.topics.values()))
        return None

    @property
    def configuration_set_name(self) -> str | None:
        return next(iter(self.configuration_sets.values()), None)

    def client(self, service: str) -> Any:
        return aws_client(service, self.region, self.endpoint_url)

    # ------------------------------------------------------------ test support
    def clean(self) -> None:
        """Delete every item of every table and empty every queue (tests share one setup)."""
        dynamodb = self.client("dynamodb")
        for name in self.tables.values():
            keys = [k["AttributeName"] for k in dynamodb.describe_table(TableName=name)["Table"]["KeySchema"]]
            paginator = dynamodb.get_paginator("scan")
            projection = ", ".join(f"#k{i}" for i in range(len(keys)))
            names = {f"#k{i}": key for i, key in enumerate(keys)}
            pending: list[dict[str, Any]] = []
            for page in paginator.paginate(
                TableName=name, ProjectionExpression=projection, ExpressionAttributeNames=names
            ):
                pending.extend(page.get("Items", []))
            for start in range(0, len(pending), 25):
                requests = [{"DeleteRequest": {"Key": item}} for item in pending[start : start + 25]]
                while requests:
                    answer = dynamodb.batch_write_item(RequestItems={name: requests})
                    requests = answer.get("UnprocessedItems", {}).get(name, [])
        sqs = self.client("sqs")
        for queue in [*self.queues.values(), *self.local_queues.values()]:
            try:
                sqs.purge_queue(QueueUrl=queue.url)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in {
                    "PurgeQueueInProgress",
                    "AWS.SimpleQueueService.PurgeQueueInProgress",
                }:
                    raise
                _drain(sqs, queue.url)


def _drain(sqs: Any, url: str) -> None:
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        )
        if not messages:
            return
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


# ---------------------------------------------------------------- creation
def _table_request(name: str, props: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = props.get("SSESpecification")
    if sse:
        request["SSESpecification"] = {
            k2: sse[k1]
            for k1, k2 in (("SSEEnabled", "Enabled"), ("SSEType", "SSEType"), ("KMSMasterKeyId", "KMSMasterKeyId"))
            if k1 in sse
        }
    if props.get("TableClass"):
        request["TableClass"] = props["TableClass"]
    if props.get("Tags"):
        request["Tags"] = props["Tags"]
    return request


def _queue_order(queues: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Queues that others point at (DLQs) before the queues that point at them."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(lid: str) -> None:
        if lid in ordered:
            return
        if lid in visiting:
            raise TemplateError(f"queue {lid} is part of a reference cycle")
        visiting.add(lid)
        for dep in _references(queues[lid]):
            if dep in queues and dep != lid:
                visit(dep)
        visiting.discard(lid)
        ordered.append(lid)

    for lid in queues:
        visit(lid)
    return ordered


def create_resources(
    template: Template | str | Path,
    stage: str = "local",
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    *,
    parameters: Mapping[str, Any] | None = None,
    secret: str | None = None,
) -> Resources:
    """Create every table, queue, topic and the SES configuration set that the template declares.

    Works inside `moto.mock_aws()` (endpoint_url None) and against a moto server.
    `parameters` overrides template parameter defaults; `secret` fixes the value of every
    AWS::SecretsManager::Secret (default: random, as the template's GenerateSecretString says).
    """
    if not isinstance(template, Template):
        template = Template.load(template)
    params = template.parameter_defaults()
    params["Stage"] = stage
    params.update(parameters or {})
    res = Resources(template=template, stage=stage, region=region, endpoint_url=endpoint_url, parameters=params)
    resolver = res.resolver()

    def name_of(lid: str, props: Mapping[str, Any], key: str, suffix: str = "") -> str:
        if props.get(key) is not None:
            return str(resolver.resolve(props[key]))
        return f"beacon-{stage}-{lid}{suffix}"

    # secrets: local values, no Secrets Manager call
    for lid, props in template.secrets.items():
        name = name_of(lid, props, "Name")
        res.secrets[lid] = secret if secret is not None else _local_secret(props)
        res.secret_arns[lid] = f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{name}-local"
        res.secret_names[lid] = name

    dynamodb = res.client("dynamodb")
    for lid, props in template.tables.items():
        props = resolver.resolve(props)
        name = name_of(lid, props, "TableName")
        dynamodb.create_table(**_table_request(name, props))
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        res.tables[lid] = name
        log.debug("table %s -> %s", lid, name)

    sqs = res.client("sqs")
    for lid in _queue_order(template.queues):
        raw = template.queues[lid]
        fifo = bool(raw.get("FifoQueue"))
        name = name_of(lid, raw, "QueueName", ".fifo" if fifo else "")
        props = resolver.resolve({k: v for k, v in raw.items() if k != "QueueName"})
        attributes = {key: _attribute_value(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        for policy in ("RedrivePolicy", "RedriveAllowPolicy"):
            if props.get(policy):
                attributes[policy] = _attribute_value(props[policy])
        tags = {t["Key"]: t["Value"] for t in props.get("Tags") or []}
        request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if tags:
            request["tags"] = tags
        url = sqs.create_queue(**request)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        res.queues[lid] = Queue(name=name, url=url, arn=arn)
        log.debug("queue %s -> %s", lid, url)

    sns = res.client("sns")
    for lid, raw in template.topics.items():
        fifo = bool(raw.get("FifoTopic"))
        name = name_of(lid, raw, "TopicName", ".fifo" if fifo else "")
        props = resolver.resolve({k: v for k, v in raw.items() if k not in {"TopicName", "Subscription"}})
        attributes = {
            key: _attribute_value(props[key])
            for key in ("DisplayName", "FifoTopic", "ContentBasedDeduplication", "KmsMasterKeyId")
            if key in props
        }
        res.topics[lid] = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        log.debug("topic %s -> %s", lid, res.topics[lid])

    _create_ses(res, template, resolver)
    return res


def _create_ses(res: Resources, template: Template, resolver: Resolver) -> None:
    """The configuration set (and its SNS event destination) if moto supports them."""
    try:
        sesv2 = res.client("sesv2")
        for lid, raw in template.configuration_sets.items():
            name = str(resolver.resolve(raw["Name"])) if raw.get("Name") else f"beacon-{res.stage}-{lid}"
            res.configuration_sets[lid] = name
            props = resolver.resolve(raw)
            request: dict[str, Any] = {"ConfigurationSetName": name}
            if "ReputationOptions" in props:
                request["ReputationOptions"] = props["ReputationOptions"]
            if "SendingOptions" in props:
                request["SendingOptions"] = props["SendingOptions"]
            try:
                sesv2.create_configuration_set(**request)
            except Exception:  # moto may not support every option: the name is what matters
                log.debug("sesv2 create_configuration_set(%s) not supported", name, exc_info=True)
        ses = res.client("ses")
        for raw in template.configuration_set_event_destinations.values():
            props = resolver.resolve(raw)
            destination = props.get("EventDestination") or {}
            sns = destination.get("SnsDestination") or {}
            try:
                ses.create_configuration_set_event_destination(
                    ConfigurationSetName=props["ConfigurationSetName"],
                    EventDestination={
                        "Name": destination.get("Name", "sns"),
                        "Enabled": bool(destination.get("Enabled", True)),
                        "MatchingEventTypes": destination.get("MatchingEventTypes", []),
                        **({"SNSDestination": {"TopicARN": sns["TopicARN"]}} if sns else {}),
                    },
                )
            except Exception:
                log.debug("ses create_configuration_set_event_destination not supported", exc_info=True)
        for raw in template.email_identities.values():
            props = resolver.resolve(raw)
            try:
                sesv2.create_email_identity(EmailIdentity=props["EmailIdentity"])
            except Exception:
                log.debug("sesv2 create_email_identity not supported", exc_info=True)
    except Exception:
        log.debug("SES is not available in this moto; skipping the configuration set", exc_info=True)
