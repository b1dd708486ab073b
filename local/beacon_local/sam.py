"""template.yaml as CloudFormation sees it: translated by aws-sam-translator, as `sam deploy` does.

`sam package` first replaces every local CodeUri/ContentUri with the S3 object it uploaded; the
translation then turns each AWS::Serverless::* resource into plain CloudFormation (functions,
their IAM roles with the SAM policy templates expanded, event source mappings, permissions,
the HTTP API with its routes and stage, event invoke configs). `translate` does the same with
`s3://<bucket>/<LogicalId>.zip` as each artifact, so the result can be created as a stack (in
moto's CloudFormation) or read for what a deployed role would be allowed to do.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

from beacon_local.template import Intrinsic, Template, TemplateError

ARTIFACT_BUCKET = "beacon-artifacts"
_CODE_PROPERTY = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


def plain(value: Any) -> Any:
    """The template with intrinsics in their long JSON form ({"Ref": x}, {"Fn::Sub": ...})."""
    if isinstance(value, Intrinsic):
        return {value.fn: plain(value.arg)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def artifact_key(logical_id: str) -> str:
    return f"{logical_id}.zip"


def packaged(template: Template, bucket: str = ARTIFACT_BUCKET) -> dict[str, Any]:
    """The template as `sam package` leaves it: each local code path replaced by an S3 URI."""
    document = copy.deepcopy(plain(template.document))
    for logical_id, resource in (document.get("Resources") or {}).items():
        prop = _CODE_PROPERTY.get(resource.get("Type", ""))
        if prop and isinstance((resource.get("Properties") or {}).get(prop), str):
            resource["Properties"][prop] = f"s3://{bucket}/{artifact_key(logical_id)}"
    return document


def translate(
    template: Template,
    parameters: Mapping[str, Any] | None = None,
    *,
    region: str = "us-east-1",
    bucket: str = ARTIFACT_BUCKET,
) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would create (parameters: overrides of defaults)."""
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    document = packaged(template, bucket)
    # the translator needs a region for the ARNs it writes (the stack's region, at deploy time)
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        return dict(Translator(managed_policy_map={}, sam_parser=Parser()).translate(
            document, parameter_values=dict(parameters or {})))
    except InvalidDocumentException as exc:
        causes = "; ".join(str(getattr(c, "message", c)) for c in getattr(exc, "causes", []))
        raise TemplateError(f"SAM cannot translate the template: {causes or exc}") from exc
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


def function_roles(translated: Mapping[str, Any]) -> dict[str, str]:
    """Function logical id -> the logical id of the IAM role SAM made for it."""
    roles: dict[str, str] = {}
    for logical_id, resource in translated["Resources"].items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        role = (resource.get("Properties") or {}).get("Role")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            target = role["Fn::GetAtt"]
            roles[logical_id] = str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return roles
