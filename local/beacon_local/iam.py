"""Least privilege, checked where the functions run locally.

Each function's deployed role is what SAM makes of its `Policies` (aws-sam-translator expands the
policy templates): `Permissions.from_template` reads those statements from the translated
template and resolves their ARNs to the local resources. While a `Checker` is installed, every
AWS request a function makes (attributed through `CURRENT_FUNCTION`, which the local runtime sets
for an invocation and which follows the work into thread pools) is compared with them, by the
(IAM action, resource ARN) pairs AWS itself authorizes for that request:

- DynamoDB: the operation on the table (or `table/T/index/I` for an index query); a
  TransactWriteItems needs PutItem/UpdateItem/DeleteItem/ConditionCheckItem per item, a
  TransactGetItems GetItem; BatchGetItem/BatchWriteItem are their own actions per table;
- SQS: SendMessageBatch is `sqs:SendMessage`, DeleteMessageBatch `sqs:DeleteMessage`, and so on,
  on the queue's ARN;
- SESv2: SendEmail needs `ses:SendEmail` on the sender's identity and the configuration set;
- anything else: `service:Operation` on "*".

`mode` "enforce" answers a request the role would not allow with AccessDeniedException, as AWS
would (`make test` runs the end-to-end suite so); "warn" logs it and lets it through (the default
of `beacon dev`, `BEACON_LOCAL_IAM`); "off" does not install the checker. Requests of the local
stack itself (pollers, the SES simulator) and of tests are not attributed to a function and
pass unchecked.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from beacon_local.resources import ACCOUNT_ID, LOCAL_STACK_ACCESS_KEY, Resources
from beacon_local.runtime import CURRENT_FUNCTION
from beacon_local.sam import function_roles, translate
from beacon_local.template import Template

log = logging.getLogger(__name__)

MODES = ("enforce", "warn", "off")

_TARGET = re.compile(r"^[A-Za-z0-9_]+\.(?P<op>[A-Za-z]+)$")
_SCOPE = re.compile(r"Credential=(?P<key>[^/]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
_SQS_ACTIONS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}


# ---------------------------------------------------------------- what a request needs
@dataclass(frozen=True)
class Need:
    action: str  # "dynamodb:UpdateItem"
    resource: str  # an ARN, or "*"


def _table_arn(region: str, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def dynamodb_needs(operation: str, params: Mapping[str, Any], region: str) -> list[Need]:
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [Need(f"dynamodb:{operation}", _table_arn(region, t)) for t in (params.get("RequestItems") or {})]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        needs = []
        for item in params.get("TransactItems") or []:
            for kind, body in item.items():
                needs.append(Need(f"dynamodb:{_TRANSACT_ACTIONS.get(kind, kind)}",
                                  _table_arn(region, str(body.get("TableName")))))
        return needs
    table = params.get("TableName")
    if table is None:
        return [Need(f"dynamodb:{operation}", "*")]
    return [Need(f"dynamodb:{operation}", _table_arn(region, str(table), params.get("IndexName")))]


def _queue_arn(url: str, region: str) -> str:
    parts = [p for p in urlsplit(url).path.split("/") if p]
    name = parts[-1] if parts else url
    return f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}"


def sqs_needs(operation: str, params: Mapping[str, Any], region: str) -> list[Need]:
    action = f"sqs:{_SQS_ACTIONS.get(operation, operation)}"
    if "QueueUrl" in params:
        return [Need(action, _queue_arn(str(params["QueueUrl"]), region))]
    if "QueueName" in params:
        return [Need(action, f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{params['QueueName']}")]
    return [Need(action, "*")]


def _identity_arn(region: str, identity: str) -> str:
    return f"arn:aws:ses:{region}:{ACCOUNT_ID}:identity/{identity}"


def ses_needs(operation: str, params: Mapping[str, Any], region: str) -> list[Need]:
    if operation in ("SendEmail", "SendRawEmail"):
        sender = str(params.get("FromEmailAddress") or params.get("Source") or "")
        if not sender and operation == "SendEmail":  # a raw message names its sender in its headers
            sender = _raw_sender(params)
        domain = sender.rpartition("@")[2].strip(" >") or "*"
        needs = [Need(f"ses:{operation}", _identity_arn(region, domain))]
        if params.get("ConfigurationSetName"):
            needs.append(Need(f"ses:{operation}",
                              f"arn:aws:ses:{region}:{ACCOUNT_ID}:configuration-set/{params['ConfigurationSetName']}"))
        return needs
    identity = params.get("EmailIdentity")
    return [Need(f"ses:{operation}", _identity_arn(region, str(identity)) if identity else "*")]


def _raw_sender(params: Mapping[str, Any]) -> str:
    import base64
    from email.utils import parseaddr

    data = ((params.get("Content") or {}).get("Raw") or {}).get("Data") or ""
    try:
        head = base64.b64decode(data)[:65536].split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    except ValueError:
        return ""
    for line in head.splitlines():
        if line.lower().startswith("from:"):
            return parseaddr(line[5:])[1]
    return ""


def request_needs(service: str, operation: str, params: Mapping[str, Any], region: str) -> list[Need]:
    """The (action, resource) pairs AWS authorizes for one API call."""
    if service == "dynamodb":
        return dynamodb_needs(operation, params, region)
    if service == "sqs":
        return sqs_needs(operation, params, region)
    if service in ("ses", "sesv2", "email"):
        return ses_needs(operation, params, region)
    return [Need(f"{service}:{operation}", "*")]


_SESV2_ROUTES = (
    ("POST", re.compile(r"^/v2/email/outbound-emails$"), "SendEmail"),
    ("POST", re.compile(r"^/v2/email/identities$"), "CreateEmailIdentity"),
    ("GET", re.compile(r"^/v2/email/identities/(?P<id>[^/]+)$"), "GetEmailIdentity"),
    ("DELETE", re.compile(r"^/v2/email/identities/(?P<id>[^/]+)$"), "DeleteEmailIdentity"),
)


def describe(request: Any) -> tuple[str, str, dict[str, Any], str] | None:
    """(service, operation, params, region) of a signed botocore request, or None if unknown."""
    headers = request.headers
    scope = _SCOPE.search(str(headers.get("Authorization") or ""))
    if scope is None or scope.group("key") == LOCAL_STACK_ACCESS_KEY:
        return None  # unsigned, or the local stack's own request (beacon_local.resources.aws_client)
    service, region = scope.group("service"), scope.group("region")
    body = request.body or b""
    if hasattr(body, "read"):
        return None  # a streamed body: not one of the JSON APIs checked here
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else str(body)
    params: dict[str, Any] = {}
    if text.startswith("{"):
        try:
            params = json.loads(text)
        except ValueError:
            params = {}
    target = headers.get("X-Amz-Target")
    if target:
        match = _TARGET.match(target.decode() if isinstance(target, bytes) else str(target))
        return (service, match.group("op"), params, region) if match else None
    if service in ("ses", "email"):
        path = urlsplit(request.url).path
        for method, pattern, operation in _SESV2_ROUTES:
            found = pattern.match(path)
            if request.method == method and found:
                if found.groupdict().get("id"):
                    params["EmailIdentity"] = unquote(found.group("id"))
                return "sesv2", operation, params, region
    return None


# ---------------------------------------------------------------- what a role allows
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(".".join(map(re.escape, p.split("?"))) for p in glob.split("*")) + "$",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    _compiled: tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", (tuple(_pattern(a) for a in self.actions),
                                               tuple(re.compile("^" + ".*".join(map(re.escape, r.split("*"))) + "$")
                                                     for r in self.resources)))

    def allows(self, need: Need) -> bool:
        actions, resources = self._compiled
        return any(a.match(need.action) for a in actions) and any(r.match(need.resource) for r in resources)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Permissions:
    """What each function's role may do (Allow statements of its inline policies)."""

    def __init__(self, grants: Mapping[str, list[Grant]]) -> None:
        self.grants = dict(grants)

    @classmethod
    def from_template(cls, template: Template, resources: Resources) -> Permissions:
        parameters = {k: str(v) for k, v in resources.parameters.items() if v is not None}
        translated = translate(template, parameters, region=resources.region)
        resolver = resources.resolver()
        grants: dict[str, list[Grant]] = {}
        for function, role in function_roles(translated).items():
            properties = translated["Resources"][role].get("Properties") or {}
            found: list[Grant] = []
            for policy in properties.get("Policies") or []:
                for statement in _as_list((policy.get("PolicyDocument") or {}).get("Statement") or []):
                    if statement.get("Effect") != "Allow" or "Action" not in statement:
                        continue
                    resolved = resolver.resolve(_intrinsics(statement.get("Resource", "*")))
                    found.append(Grant(tuple(str(a) for a in _as_list(statement["Action"])),
                                       tuple(str(r) for r in _as_list(resolved))))
            grants[function] = found
        return cls(grants)

    def denied(self, function: str, needs: list[Need]) -> list[Need]:
        grants = self.grants.get(function)
        if grants is None:
            return []  # not a template function: nothing to hold it to
        return [need for need in needs if not any(g.allows(need) for g in grants)]


def _intrinsics(value: Any) -> Any:
    """Long-form JSON intrinsics -> the local template's Intrinsic values, for its Resolver."""
    from beacon_local.template import _normalise

    return _normalise(value)


# ---------------------------------------------------------------- the checker
class AccessDenied(Exception):
    def __init__(self, function: str, denied: list[Need]) -> None:
        self.function = function
        self.denied = denied
        names = ", ".join(f"{n.action} on {n.resource}" for n in denied)
        super().__init__(f"{function} is not allowed {names} by template.yaml (its deployed role would "
                         "answer AccessDenied)")


MAX_DENIALS = 1000  # kept for inspection; a long `beacon dev` session in "warn" mode stops collecting


@dataclass
class Checker:
    permissions: Permissions
    mode: str = "enforce"
    denials: list[AccessDenied] = field(default_factory=list)
    used: set[tuple[str, Need]] = field(default_factory=set)  # each distinct (function, need) checked
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self, request: Any) -> AccessDenied | None:
        """None if allowed (or not a function's request); the denial otherwise (recorded)."""
        function = CURRENT_FUNCTION.get()
        if function is None or self.mode == "off":
            return None
        described = describe(request)
        if described is None:
            return None
        service, operation, params, region = described
        needs = request_needs(service, operation, params, region)
        denied = self.permissions.denied(function, needs)
        with self._lock:
            self.used.update((function, n) for n in needs)
            if not denied:
                return None
            denial = AccessDenied(function, denied)
            if len(self.denials) < MAX_DENIALS:
                self.denials.append(denial)
        log.warning("%s", denial)
        return denial if self.mode == "enforce" else None


def _denied_response(request: Any, denial: AccessDenied) -> Any:
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    body = json.dumps({"__type": "AccessDeniedException", "message": str(denial), "Message": str(denial)})
    headers = {"x-amzn-ErrorType": "AccessDeniedException", "Content-Type": "application/x-amz-json-1.0",
               "x-amzn-RequestId": "local-iam-check"}
    return AWSResponse(request.url, 400, headers, MockRawResponse(body.encode()))


_installed: list[Checker] = []
_install_lock = threading.Lock()


def install(checker: Checker) -> Callable[[], None]:
    """Check every AWS request made from now on (HTTP to a moto server, or moto in-process);
    thread pools carry the invoking function along. Returns the function that uninstalls it."""
    from botocore.httpsession import URLLib3Session
    from moto.core.botocore_stubber import BotocoreStubber

    with _install_lock:
        _installed.append(checker)
        if len(_installed) > 1:
            return lambda: _uninstall(checker)
        originals = {
            "send": URLLib3Session.send,
            "stub": BotocoreStubber.__call__,
            "submit": concurrent.futures.ThreadPoolExecutor.submit,
        }

        def send(self: Any, request: Any) -> Any:
            denial = _check(request)
            return _denied_response(request, denial) if denial else originals["send"](self, request)

        def stub(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            denial = _check(request) if self.enabled else None  # else it goes out over HTTP: `send`
            if denial:
                return _denied_response(request, denial)
            return originals["stub"](self, event_name, request, **kwargs)

        def submit(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            context = contextvars.copy_context()
            return originals["submit"](self, context.run, fn, *args, **kwargs)

        URLLib3Session.send = send
        BotocoreStubber.__call__ = stub  # type: ignore[method-assign]
        concurrent.futures.ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]
        _originals.update(originals)
    return lambda: _uninstall(checker)


_originals: dict[str, Any] = {}


def _check(request: Any) -> AccessDenied | None:
    for checker in list(_installed):
        denial = checker.check(request)
        if denial:
            return denial
    return None


def _uninstall(checker: Checker) -> None:
    from botocore.httpsession import URLLib3Session
    from moto.core.botocore_stubber import BotocoreStubber

    with _install_lock:
        if checker in _installed:
            _installed.remove(checker)
        if _installed or not _originals:
            return
        URLLib3Session.send = _originals.pop("send")
        BotocoreStubber.__call__ = _originals.pop("stub")  # type: ignore[method-assign]
        concurrent.futures.ThreadPoolExecutor.submit = _originals.pop("submit")  # type: ignore[method-assign]


@contextlib.contextmanager
def invoking(function: str) -> Iterator[None]:
    """Attribute the requests made inside the block to `function` (a generator for contextlib)."""
    token = CURRENT_FUNCTION.set(function)
    try:
        yield
    finally:
        CURRENT_FUNCTION.reset(token)


def attributed(function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """`handler`, with the requests of each call attributed to the template function `function`
    (for tests that load a handler themselves instead of through the local runtime)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        with invoking(function):
            return handler(*args, **kwargs)

    return call
