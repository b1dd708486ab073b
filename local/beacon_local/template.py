"""Read template.yaml, the single source of truth for tables, queues, topics, functions and routes.

CloudFormation short tags (`!Ref X`, `!GetAtt X.Arn`, `!Sub ...`) and their long forms
(`{"Ref": X}`, `{"Fn::GetAtt": [...]}`) both load into one small representation, `Intrinsic`.
`Resolver` evaluates intrinsics against whatever the caller knows (parameters, physical names);
the local stack never keeps a second, hand-written copy of any name, key or route.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# short tag -> long form function name
_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "If": "Fn::If",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "FindInMap": "Fn::FindInMap",
    "Base64": "Fn::Base64",
    "Cidr": "Fn::Cidr",
    "Equals": "Fn::Equals",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Not": "Fn::Not",
    "ImportValue": "Fn::ImportValue",
    "GetAZs": "Fn::GetAZs",
    "Transform": "Fn::Transform",
    "Length": "Fn::Length",
    "ToJsonString": "Fn::ToJsonString",
}
_LONG_FORMS = frozenset(_SHORT_TAGS.values())

PSEUDO_PARAMETERS: dict[str, str] = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "beacon-local",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/beacon-local/local",
}


@dataclass(frozen=True)
class Intrinsic:
    """One CloudFormation intrinsic function: `fn` is the long name ("Ref", "Fn::GetAtt", ...)."""

    fn: str
    arg: Any

    def __repr__(self) -> str:
        return f"!{self.fn.removeprefix('Fn::')} {self.arg!r}"


class TemplateError(ValueError):
    """The template uses something the local stack cannot understand."""


# ---------------------------------------------------------------- YAML loading
class _Loader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags into `Intrinsic` values."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Intrinsic:
    fn = _SHORT_TAGS.get(tag_suffix)
    if fn is None:
        raise TemplateError(f"unknown CloudFormation tag !{tag_suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if fn == "Fn::GetAtt" and isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        value = [logical_id, attribute]
    return Intrinsic(fn, value)


_Loader.add_multi_constructor("!", _construct_tag)


def _normalise(value: Any) -> Any:
    """Turn long-form intrinsics ({"Ref": x}, {"Fn::Sub": ...}) into `Intrinsic` too."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key in _LONG_FORMS:
                inner = _normalise(inner)
                if key == "Fn::GetAtt" and isinstance(inner, str):
                    logical_id, _, attribute = inner.partition(".")
                    inner = [logical_id, attribute]
                return Intrinsic(key, inner)
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, Intrinsic):
        return Intrinsic(value.fn, _normalise(value.arg))
    return value


def load_yaml(text: str) -> dict[str, Any]:
    document = yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict):
        raise TemplateError("a template is a mapping")
    normalised = _normalise(document)
    assert isinstance(normalised, dict)
    return normalised


# ---------------------------------------------------------------- what the local stack needs
@dataclass(frozen=True)
class HttpRoute:
    method: str  # upper case; "ANY" matches every method
    path: str  # "/v1/{proxy+}", or "$default"
    function: str  # logical id

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsEventSource:
    function: str
    queue: str  # logical id of the AWS::SQS::Queue
    batch_size: int
    function_response_types: tuple[str, ...]
    maximum_concurrency: Any  # int, or an Intrinsic (e.g. !Ref SendMaxConcurrency); None if unset
    batching_window_seconds: int = 0
    enabled: bool = True

    @property
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class StreamEventSource:
    """A `Type: DynamoDB` event: the table's stream into a function, as Lambda's mapping reads it."""

    function: str
    table: str  # logical id of the AWS::DynamoDB::Table whose StreamArn it reads
    batch_size: int
    batching_window_seconds: int
    starting_position: str  # TRIM_HORIZON | LATEST
    tumbling_window_seconds: int
    function_response_types: tuple[str, ...]
    maximum_retry_attempts: int  # -1: until the records expire
    filters: tuple[str, ...]  # FilterCriteria patterns (JSON text), ORed
    enabled: bool = True
    bisect_on_error: bool = False  # BisectBatchOnFunctionError: a batch that raised is retried in halves
    on_failure: str | None = None  # DestinationConfig.OnFailure: the queue a batch out of retries is described to

    @property
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class SnsEventSource:
    function: str
    topic: str  # logical id of the AWS::SNS::Topic


@dataclass(frozen=True)
class QueueSchedule:
    """An AWS::Events::Rule with a rate() schedule whose target is one of the template's queues."""

    rule: str
    queue: str  # logical id of the AWS::SQS::Queue
    seconds: int  # the rate, in seconds
    body: str  # the target's Input


_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def parse_rate(expression: str) -> int:
    """`rate(1 minute)` -> 60 (seconds)."""
    text = expression.strip()
    if not (text.startswith("rate(") and text.endswith(")")):
        raise TemplateError(f"the local stack runs rate() schedules only, got {expression!r}")
    value, _, unit = text[5:-1].strip().partition(" ")
    if not value.isdigit() or int(value) < 1 or unit.strip() not in _RATE_UNITS:
        raise TemplateError(f"bad schedule expression {expression!r}")
    return int(value) * _RATE_UNITS[unit.strip()]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: str
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, Any] = field(default_factory=dict)  # the function's own variables
    events: dict[str, Any] = field(default_factory=dict)


def _logical_id(value: Any, what: str) -> str:
    """`!Ref X` or `!GetAtt X.Arn` -> "X"."""
    if isinstance(value, Intrinsic):
        if value.fn == "Ref" and isinstance(value.arg, str):
            return value.arg
        if value.fn == "Fn::GetAtt" and isinstance(value.arg, list) and value.arg:
            return str(value.arg[0])
    raise TemplateError(f"{what}: the local stack needs a !Ref or !GetAtt to a template resource, got {value!r}")


class Template:
    """A parsed SAM template with accessors for what the local stack runs."""

    def __init__(self, document: dict[str, Any], path: Path | None = None) -> None:
        self.document = document
        self.path = path

    @classmethod
    def load(cls, path: str | Path) -> Template:
        path = Path(path)
        return cls(load_yaml(path.read_text(encoding="utf-8")), path.resolve())

    @property
    def root(self) -> Path:
        """Directory that CodeUri paths are relative to."""
        return self.path.parent if self.path else Path.cwd()

    # ------------------------------------------------------------ raw sections
    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return dict(self.document.get("Parameters") or {})

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.document.get("Resources") or {})

    @property
    def conditions(self) -> dict[str, Any]:
        return dict(self.document.get("Conditions") or {})

    @property
    def mappings(self) -> dict[str, Any]:
        return dict(self.document.get("Mappings") or {})

    @property
    def globals_function(self) -> dict[str, Any]:
        return dict((self.document.get("Globals") or {}).get("Function") or {})

    @property
    def global_environment(self) -> dict[str, Any]:
        """Globals.Function.Environment.Variables, unresolved."""
        return dict((self.globals_function.get("Environment") or {}).get("Variables") or {})

    def parameter_defaults(self) -> dict[str, Any]:
        return {name: spec.get("Default") for name, spec in self.parameters.items()}

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """logical id -> Properties for every resource of this type, in template order."""
        return {
            lid: dict(res.get("Properties") or {})
            for lid, res in self.resources.items()
            if res.get("Type") == resource_type
        }

    # ------------------------------------------------------------ resources
    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::DynamoDB::Table")

    @property
    def queues(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::SQS::Queue")

    @property
    def topics(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::SNS::Topic")

    @property
    def secrets(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::SecretsManager::Secret")

    @property
    def configuration_sets(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::SES::ConfigurationSet")

    @property
    def configuration_set_event_destinations(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::SES::ConfigurationSetEventDestination")

    @property
    def email_identities(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::SES::EmailIdentity")

    @property
    def functions(self) -> dict[str, FunctionSpec]:
        glob = self.globals_function
        out: dict[str, FunctionSpec] = {}
        for lid, props in self.of_type("AWS::Serverless::Function").items():
            code_uri = props.get("CodeUri")
            if not isinstance(code_uri, str):
                raise TemplateError(f"{lid}: the local stack needs CodeUri to be a local path")
            out[lid] = FunctionSpec(
                logical_id=lid,
                code_uri=code_uri,
                handler=str(props.get("Handler") or glob.get("Handler") or "handler.handler"),
                timeout=int(props.get("Timeout") or glob.get("Timeout") or 3),
                memory_size=int(props.get("MemorySize") or glob.get("MemorySize") or 128),
                environment=dict((props.get("Environment") or {}).get("Variables") or {}),
                events=dict(props.get("Events") or {}),
            )
        return out

    # ------------------------------------------------------------ event sources
    @property
    def queue_schedules(self) -> list[QueueSchedule]:
        """EventBridge rules that put a fixed message on one of the template's queues on a rate."""
        found: list[QueueSchedule] = []
        for lid, props in self.of_type("AWS::Events::Rule").items():
            if not props.get("ScheduleExpression") or props.get("State", "ENABLED") != "ENABLED":
                continue
            seconds = parse_rate(str(props["ScheduleExpression"]))
            for target in props.get("Targets") or []:
                queue = _logical_id(target.get("Arn"), f"{lid} target")
                if queue in self.queues:
                    found.append(QueueSchedule(lid, queue, seconds, str(target.get("Input") or "{}")))
        return found

    def _events(self, event_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        found = []
        for lid, spec in self.functions.items():
            for name, event in spec.events.items():
                if isinstance(event, dict) and event.get("Type") == event_type:
                    found.append((lid, name, dict(event.get("Properties") or {})))
        return found

    @property
    def http_routes(self) -> list[HttpRoute]:
        routes = []
        for lid, _name, props in self._events("HttpApi"):
            path = props.get("Path")
            method = props.get("Method")
            if path is None and method is None:
                routes.append(HttpRoute("ANY", "$default", lid))
                continue
            routes.append(HttpRoute(str(method or "ANY").upper(), str(path or "/"), lid))
        return routes

    @property
    def sqs_event_sources(self) -> list[SqsEventSource]:
        sources = []
        for lid, name, props in self._events("SQS"):
            scaling = props.get("ScalingConfig") or {}
            sources.append(
                SqsEventSource(
                    function=lid,
                    queue=_logical_id(props.get("Queue"), f"{lid}.Events.{name}.Queue"),
                    batch_size=int(props.get("BatchSize") or 10),
                    function_response_types=tuple(props.get("FunctionResponseTypes") or ()),
                    maximum_concurrency=scaling.get("MaximumConcurrency"),
                    batching_window_seconds=int(props.get("MaximumBatchingWindowInSeconds") or 0),
                    enabled=props.get("Enabled", True) is not False,
                )
            )
        return sources

    def on_failure_queue(self, function: str) -> str | None:
        """The queue (logical id) of the function's asynchronous OnFailure destination, if SQS."""
        props = (self.resources.get(function) or {}).get("Properties") or {}
        on_failure = ((props.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}).get("OnFailure") or {}
        if on_failure.get("Type") != "SQS" or "Destination" not in on_failure:
            return None
        queue = _logical_id(on_failure["Destination"], f"{function}.EventInvokeConfig OnFailure")
        return queue if queue in self.queues else None

    @property
    def stream_event_sources(self) -> list[StreamEventSource]:
        sources = []
        for lid, name, props in self._events("DynamoDB"):
            stream = props.get("Stream")
            if not (isinstance(stream, Intrinsic) and stream.fn == "Fn::GetAtt"
                    and list(stream.arg)[1:] == ["StreamArn"]):
                raise TemplateError(f"{lid}.Events.{name}.Stream: the local stack needs !GetAtt <Table>.StreamArn")
            filters = (props.get("FilterCriteria") or {}).get("Filters") or []
            on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            sources.append(StreamEventSource(
                function=lid,
                table=str(stream.arg[0]),
                batch_size=int(props.get("BatchSize") or 100),
                batching_window_seconds=int(props.get("MaximumBatchingWindowInSeconds") or 0),
                starting_position=str(props.get("StartingPosition") or "TRIM_HORIZON"),
                tumbling_window_seconds=int(props.get("TumblingWindowInSeconds") or 0),
                function_response_types=tuple(props.get("FunctionResponseTypes") or ()),
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                filters=tuple(str(f.get("Pattern")) for f in filters if isinstance(f, dict) and f.get("Pattern")),
                enabled=props.get("Enabled", True) is not False,
                bisect_on_error=props.get("BisectBatchOnFunctionError") is True,
                on_failure=_logical_id(on_failure, f"{lid}.Events.{name}.DestinationConfig.OnFailure")
                if on_failure is not None else None,
            ))
        return sources

    @property
    def sns_event_sources(self) -> list[SnsEventSource]:
        return [
            SnsEventSource(function=lid, topic=_logical_id(props.get("Topic"), f"{lid}.Events.{name}.Topic"))
            for lid, name, props in self._events("SNS")
        ]


# ---------------------------------------------------------------- evaluation
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:secretsmanager:(?P<id>.+?):SecretString(?::(?P<rest>[^}]*))?\}\}")


class Resolver:
    """Evaluates intrinsics. `ref(name)` and `get_att(name, attribute)` answer for resources."""

    def __init__(
        self,
        parameters: Mapping[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
        *,
        region: str = "us-east-1",
        conditions: Mapping[str, Any] | None = None,
        mappings: Mapping[str, Any] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        self.parameters = dict(parameters)
        self._ref = ref
        self._get_att = get_att
        self.region = region
        self._conditions = dict(conditions or {})
        self._mappings = dict(mappings or {})
        self._secrets = dict(secrets or {})

    def pseudo(self, name: str) -> Any:
        if name == "AWS::Region":
            return self.region
        if name == "AWS::NoValue":
            return None
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        raise TemplateError(f"unknown pseudo parameter {name}")

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(name)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(self._conditions[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Intrinsic):
            return self._intrinsic(value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str) and "{{resolve:" in value:
            return self._dynamic_references(value)
        return value

    def resolve_str(self, value: Any) -> str:
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        return "" if resolved is None else str(resolved)

    def _dynamic_references(self, text: str) -> str:
        def secret(match: re.Match[str]) -> str:
            secret_id = match.group("id")
            if secret_id not in self._secrets:
                raise TemplateError(f"no local value for secret {secret_id}")
            return self._secrets[secret_id]

        return _DYNAMIC_REFERENCE.sub(secret, text)

    def _sub(self, template: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self.resolve_str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                return str(self._get_att(logical_id, attribute))
            return str(self.ref(name))

        return self._dynamic_references(_SUB_VARIABLE.sub(replace, template))

    def _intrinsic(self, value: Intrinsic) -> Any:
        fn, arg = value.fn, value.arg
        if fn == "Ref":
            return self.ref(str(arg))
        if fn == "Fn::GetAtt":
            logical_id, attribute = (self.resolve(a) for a in arg)
            return self._get_att(str(logical_id), str(attribute))
        if fn == "Fn::Sub":
            if isinstance(arg, list):
                text, variables = arg[0], arg[1] if len(arg) > 1 else {}
            else:
                text, variables = arg, {}
            return self._sub(str(text), variables)
        if fn == "Fn::Join":
            delimiter, items = arg
            resolved = self.resolve(items)
            return str(delimiter).join(self.resolve_str(i) for i in resolved)
        if fn == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if fn == "Fn::Split":
            delimiter, text = arg
            return self.resolve_str(text).split(str(delimiter))
        if fn == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(str(name)) else when_false)
        if fn == "Fn::Equals":
            left, right = (self.resolve(a) for a in arg)
            return str(left) == str(right)
        if fn == "Fn::Not":
            return not self.resolve(arg[0])
        if fn == "Fn::And":
            return all(self.resolve(a) for a in arg)
        if fn == "Fn::Or":
            return any(self.resolve(a) for a in arg)
        if fn == "Condition":
            return self.condition(str(arg))
        if fn == "Fn::FindInMap":
            name, top, second = (self.resolve_str(a) for a in arg[:3])
            return self._mappings[name][top][second]
        if fn == "Fn::Base64":
            return base64.b64encode(self.resolve_str(arg).encode()).decode()
        if fn == "Fn::Length":
            return len(self.resolve(arg))
        if fn == "Fn::GetAZs":
            return [f"{self.region}{z}" for z in "abc"]
        raise TemplateError(f"the local stack cannot evaluate {value!r}")


def find_template(start: Path | None = None) -> Path:
    """template.yaml in the current directory or a parent, else the repository's own."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "template.yaml"
        if candidate.is_file():
            return candidate
    packaged = Path(__file__).resolve().parents[2] / "template.yaml"
    if packaged.is_file():
        return packaged
    raise FileNotFoundError("no template.yaml found (pass --template)")
