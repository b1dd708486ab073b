"""SESv2 SendEmail in a third of botocore's CPU, with botocore's own parts.

The send path makes one SendEmail per recipient. Through a botocore client each call costs
~0.4 ms of CPU (measured, bench/send.py): the generic pipeline resolves the endpoint ruleset,
walks the input shape to serialise 50 KB of JSON, builds and signs the request through a dozen
event emissions, and parses the answer. `DirectSendEmail` sends the same HTTP request with less:

- the JSON body is written directly: the small fields through `json.dumps`, the raw message as
  its base64 text spliced in (base64's alphabet needs no JSON escaping, so the encoder does not
  scan 50 KB for characters to escape);
- the URL, region and signing name are the client's (`client.meta`), which botocore resolved
  when it built the client: FIPS, dual-stack and custom endpoints (`AWS_ENDPOINT_URL`, the local
  stack) included;
- it is signed by botocore's SigV4 signer with the client's credentials (refreshed as botocore
  refreshes them), its payload hash computed in steps that keep the GIL (`beacon.shared.aws`);
- it goes out through the client's own HTTP session (its pool of `max_pool_connections`);
- the client's `before-call`, `before-send` and `after-call` events are emitted as botocore emits
  them, so whatever hooks the client (moto, the local stack's SES simulator, a test stub, the
  Lambda recursion-detection header) sees the call as it would see botocore's;
- an error answer is parsed by botocore's rest-json parser and raised as botocore's ClientError;
  connection errors and 5xx answers are retried twice (jittered), as botocore's standard mode
  does; throttling is not retried here (the send path backs off and re-queues).

`BEACON_SES_DIRECT=0` sends through the botocore client instead (same requests, more CPU): the
switch exists because this path cannot be checked against SES itself from a test.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable
from typing import Any, cast

import botocore
import botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.hooks import first_non_none_response
from botocore.parsers import create_parser

from beacon.shared import aws

RETRIES = 2  # after the first attempt, for connection errors and 5xx answers
_RETRY_STATUS = frozenset({500, 502, 503, 504})
_USER_AGENT = f"beacon Botocore/{botocore.__version__}"


class InternalsChanged(RuntimeError):
    """botocore no longer has the private parts this module reads (see `internals`)."""


def internals(client: Any) -> tuple[Any, Any]:
    """(credentials, HTTP session) of a botocore client: `client._request_signer._credentials`
    and `client._endpoint.http_session`, which botocore has no public accessor for. Proven on the
    botocore range pyproject.toml pins; raises InternalsChanged if their shape is not the one
    this module relies on (then the sender falls back to the client's own pipeline)."""
    signer = getattr(client, "_request_signer", None)
    if signer is None or not hasattr(signer, "_credentials"):
        raise InternalsChanged("client._request_signer._credentials is gone")
    credentials = signer._credentials
    if credentials is not None and not callable(getattr(credentials, "get_frozen_credentials", None)):
        raise InternalsChanged("the signer's credentials have no get_frozen_credentials()")
    http = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if http is None or not callable(getattr(http, "send", None)):
        raise InternalsChanged("client._endpoint.http_session.send is gone")
    return credentials, http


def unsupported(client: Any) -> str | None:
    """Why this client's SendEmail needs botocore's full pipeline, or None. Checked when a sender
    is built, so a botocore model that starts to want more (checksums, compression, another
    signer or protocol), or a botocore whose private parts this module reads have changed, falls
    back to botocore instead of sending a request SES would refuse or breaking sends."""
    try:
        internals(client)
    except InternalsChanged as exc:
        return f"botocore {botocore.__version__} internals changed: {exc}"
    model = client.meta.service_model
    operation = model.operation_model("SendEmail")
    if model.protocol != "rest-json":
        return f"protocol {model.protocol}"
    if client.meta.config.signature_version not in ("v4", None):
        return f"signature version {client.meta.config.signature_version}"
    if operation.auth_type not in (None, "v4") or (operation.auth or ["aws.auth#sigv4"])[0] != "aws.auth#sigv4":
        return f"auth {operation.auth or operation.auth_type}"
    if operation.http_checksum or operation.request_compression:
        return "request checksum or compression"
    if operation.http.get("method") != "POST" or "{" in operation.http.get("requestUri", "{"):
        return f"http {operation.http}"
    return None


class DirectSendEmail:
    """Calls SESv2 SendEmail like `client.send_email(**params)` for a raw message."""

    def __init__(self, client: Any, sleep: Callable[[float], None] = time.sleep) -> None:
        meta = client.meta
        model = meta.service_model
        self._operation = model.operation_model("SendEmail")
        self._url = meta.endpoint_url.rstrip("/") + self._operation.http["requestUri"]
        self._region = meta.region_name
        self._signing_name = model.signing_name
        self._events = meta.events
        service = model.service_id.hyphenize()
        self._before_call = f"before-call.{service}.SendEmail"
        self._before_send = f"before-send.{service}.SendEmail"
        self._after_call = f"after-call.{service}.SendEmail"
        # botocore has no public accessor for these two; they are what the client itself uses
        self._credentials, self._http = internals(client)
        self._protocol = model.protocol
        self._sleep = sleep

    @staticmethod
    def body(params: dict[str, Any], raw: bytes) -> bytes:
        """The JSON botocore would send for `params` plus Content.Raw.Data = raw (same members and
        values; key order and spacing may differ, which JSON does not care about)."""
        head = json.dumps(params, separators=(",", ":"), ensure_ascii=True)
        if not head.startswith("{") or "Content" in params:
            raise ValueError("params: a JSON object without Content")
        joint = b'"Content":{"Raw":{"Data":"'
        if head != "{}":
            joint = b"," + joint
        return head[:-1].encode("ascii") + joint + base64.b64encode(raw) + b'"}}}'

    def __call__(self, params: dict[str, Any], raw: bytes) -> dict[str, Any]:
        """The parsed answer ({"MessageId": ...}); raises ClientError for an error answer."""
        body = self.body(params, raw)
        for attempt in range(RETRIES + 1):
            try:
                http, parsed = self._once(body)
            except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError):
                if attempt == RETRIES:
                    raise
            else:
                if http.status_code < 300:
                    return parsed
                if http.status_code not in _RETRY_STATUS or attempt == RETRIES:
                    raise botocore.exceptions.ClientError(cast(Any, parsed), "SendEmail")
            self._sleep(random.uniform(0.0, 0.25 * 2**attempt))
        raise AssertionError("unreachable")

    def _once(self, body: bytes) -> tuple[Any, dict[str, Any]]:
        context: dict[str, Any] = {}
        request_dict: dict[str, Any] = {
            "url_path": self._operation.http["requestUri"], "query_string": "", "method": "POST",
            "headers": {"Content-Type": "application/json", "User-Agent": _USER_AGENT},
            "body": body, "url": self._url, "context": context,
        }
        answered = first_non_none_response(self._events.emit(
            self._before_call, model=self._operation, params=request_dict, request_signer=None, context=context))
        if answered is not None:  # a hook answered instead of the service (as botocore allows)
            http, parsed = answered
        else:
            http, parsed = self._send(request_dict, context)
        self._events.emit(self._after_call, http_response=http, parsed=parsed, model=self._operation,
                          context=context)
        return http, parsed

    def _send(self, request_dict: dict[str, Any], context: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        credentials = self._credentials.get_frozen_credentials() if self._credentials is not None else None
        if credentials is None:
            raise botocore.exceptions.NoCredentialsError()
        body = request_dict["body"]
        request = AWSRequest("POST", request_dict["url"], data=body, headers=request_dict["headers"])
        request.context = context
        request.headers["X-Amz-Content-SHA256"] = aws.payload_sha256(body)
        SigV4Auth(credentials, self._signing_name, self._region).add_auth(request)
        headers: Any = request.headers
        for name, value in headers.items():  # as botocore's Endpoint.prepare_request does
            if isinstance(value, str):
                headers[name] = value.encode("utf-8")
        prepared = request.prepare()
        http = first_non_none_response(self._events.emit(self._before_send, request=prepared))
        if http is None:
            http = self._http.send(prepared)
        content = http.content
        if http.status_code < 300:
            parsed = json.loads(content) if content else {}
        else:
            answer = {"headers": http.headers, "status_code": http.status_code, "body": content}
            # a parser per answer, as botocore's Endpoint makes one per response
            parsed = create_parser(self._protocol).parse(answer, self._operation.output_shape)
        return http, parsed
