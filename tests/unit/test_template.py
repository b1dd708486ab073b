"""template.yaml keeps the platform promises: runtime, batching, DLQs, tables, least privilege.

No network and no AWS: the template is read with a loader that understands CloudFormation's
short tags, and cfn-lint runs through its Python API.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus the CloudFormation short forms (!Ref, !GetAtt, !Sub, !If, ...)."""


def _cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


@cache
def template() -> dict[str, Any]:
    with TEMPLATE.open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return loaded


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


def functions() -> dict[str, dict[str, Any]]:
    return resources("AWS::Serverless::Function")


def function_prop(name: str, key: str) -> Any:
    props = functions()[name].get("Properties", {})
    return props.get(key, template()["Globals"]["Function"].get(key))


def ref_target(value: Any) -> str:
    """The logical id behind !Ref X or !GetAtt X.Attr."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise AssertionError(f"not a reference: {value!r}")


def sqs_sources() -> list[tuple[str, str, dict[str, Any]]]:
    """(function, queue logical id, event properties) for every SQS event source."""
    found = []
    for name, fn in functions().items():
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                found.append((name, ref_target(event["Properties"]["Queue"]), event["Properties"]))
    return found


def test_template_has_the_expected_functions() -> None:
    assert set(functions()) == {
        "AccountFunction",
        "DispatchFunction",
        "SendFunction",
        "TrackOpenFunction",
        "TrackClickFunction",
        "UnsubscribeFunction",
        "SesEventsFunction",
        "ConsoleFunction",  # the web console's files (issue 17)
        "FormsFunction",  # issue 14: the hosted signup form and the double opt-in confirmation
        "SignupFunction",  # issue 14: form signups from their queue (the confirmation email)
        "StatsRollupFunction",
        "JobsFunction",
        "StreamEventsFunction",  # the event layer: table streams -> domain events (issue 16)
        "ReactionsFunction",  # domain events -> automation enrolments, webhook deliveries
        "AutomationStepsFunction",  # automation steps sent by the campaigns' send code
        "WebhookDeliveryFunction",  # signed webhook deliveries
    }


def test_globals_set_python312_arm64_and_the_core_layer() -> None:
    glob = template()["Globals"]["Function"]
    assert glob["Runtime"] == "python3.12"
    assert glob["Architectures"] == ["arm64"]
    assert {"Ref": "CoreLayer"} in glob["Layers"]
    for name in functions():
        assert function_prop(name, "Runtime") == "python3.12", name
        assert function_prop(name, "Architectures") == ["arm64"], name
        assert {"Ref": "CoreLayer"} in function_prop(name, "Layers"), name


def test_core_layer_matches_the_runtime() -> None:
    layer = template()["Resources"]["CoreLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}


def test_sqs_event_sources_report_batch_item_failures() -> None:
    assert sqs_sources(), "expected SQS-triggered functions"
    for name, _queue, props in sqs_sources():
        assert props.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], name


def test_source_queues_have_a_dlq_and_a_long_enough_visibility_timeout() -> None:
    queues = resources("AWS::SQS::Queue")
    for name, queue_id, _props in sqs_sources():
        queue = queues[queue_id]["Properties"]
        redrive = queue.get("RedrivePolicy")
        assert redrive, f"{queue_id} has no RedrivePolicy"
        assert ref_target(redrive["deadLetterTargetArn"]) in queues, queue_id
        assert int(redrive["maxReceiveCount"]) >= 5, queue_id
        timeout = int(function_prop(name, "Timeout"))
        assert int(queue["VisibilityTimeout"]) >= 6 * timeout, (queue_id, name, timeout)


def test_tables_are_on_demand_with_point_in_time_recovery() -> None:
    tables = resources("AWS::DynamoDB::Table")
    assert tables
    for name, table in tables.items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name


def test_events_table_expires_items() -> None:
    ttl = template()["Resources"]["EventsTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl["Enabled"] is True
    assert ttl["AttributeName"]


@pytest.mark.parametrize("name", sorted(functions()))
def test_function_folder_builds_with_make(name: str) -> None:
    fn = functions()[name]
    assert fn.get("Metadata", {}).get("BuildMethod") == "makefile", name
    assert fn["Properties"]["Handler"] == "handler.handler", name
    folder = ROOT / fn["Properties"]["CodeUri"]
    assert (folder / "handler.py").is_file(), folder
    makefile = folder / "Makefile"
    assert makefile.is_file(), folder
    assert re.search(rf"^build-{name}:", makefile.read_text(), re.MULTILINE), makefile


def test_layer_folder_builds_with_make_and_ships_no_boto() -> None:
    folder = ROOT / template()["Resources"]["CoreLayer"]["Properties"]["ContentUri"]
    assert re.search(r"^build-CoreLayer:", (folder / "Makefile").read_text(), re.MULTILINE)
    assert (folder / "beacon" / "__init__.py").is_file()
    reqs = _requirements(folder / "requirements.txt")
    assert not {"boto3", "botocore"} & set(reqs)


def test_layer_requirements_match_pyproject() -> None:
    """pyproject's runtime deps are the layer's, plus boto3 that the Lambda runtime provides."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = dict(_split(line) for line in pyproject["project"]["dependencies"])
    declared.pop("boto3", None)
    declared.pop("botocore", None)  # pinned to a range for ses_direct; the runtime provides it too
    folder = ROOT / template()["Resources"]["CoreLayer"]["Properties"]["ContentUri"]
    assert _requirements(folder / "requirements.txt") == declared


def _split(requirement: str) -> tuple[str, str]:
    name = re.split(r"[=<>!~\[ ]", requirement, maxsplit=1)[0]
    _, _, pin = requirement.partition("==")
    return name.strip().lower(), pin.strip()


def _requirements(path: Path) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return dict(_split(line) for line in lines if line)


def _statements(policy: Any) -> list[dict[str, Any]]:
    if isinstance(policy, dict) and "Statement" in policy:
        stmts = policy["Statement"]
        return stmts if isinstance(stmts, list) else [stmts]
    return []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("name", sorted(functions()))
def test_function_policies_are_scoped_to_tables(name: str) -> None:
    tables = resources("AWS::DynamoDB::Table")
    for policy in _as_list(functions()[name]["Properties"].get("Policies", [])):
        assert not isinstance(policy, str), f"{name}: managed policy {policy} is not least privilege"
        for stmt in _statements(policy):
            actions = [a.lower() for a in _as_list(stmt["Action"])]
            assert "*" not in actions and "dynamodb:*" not in actions, name
            if any(a.startswith("dynamodb:") for a in actions):
                for resource in _as_list(stmt["Resource"]):
                    assert resource != "*", f"{name}: DynamoDB on Resource *"
                    index = re.fullmatch(r"\$\{(\w+)\.Arn\}/index/(\w+)", str(resource.get("Fn::Sub", "")))
                    if index:  # one index of one table: !Sub "${XTable.Arn}/index/name"
                        table, index_name = index.groups()
                        indexes = tables.get(table, {}).get("Properties", {}).get("GlobalSecondaryIndexes", [])
                        assert index_name in {i["IndexName"] for i in indexes}, (name, resource)
                        continue
                    assert ref_target(resource) in tables, (name, resource)
        if not _statements(policy):
            # A SAM policy template, e.g. {DynamoDBCrudPolicy: {TableName: !Ref XTable}}.
            ((template_name, args),) = policy.items()
            if template_name.startswith("DynamoDB"):
                assert ref_target(args["TableName"]) in tables, (name, template_name)


def test_cfn_lint_is_clean() -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(TEMPLATE, ManualArgs(regions=["us-east-1"]))
    problems = [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches]
    assert problems == []
