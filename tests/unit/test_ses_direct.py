"""beacon.ports.ses_direct: the request botocore would send, its answers read as botocore reads them."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from typing import Any

import botocore.exceptions
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.credentials import RefreshableCredentials

from beacon.ports.ses import OutgoingEmail, SesRejected, SesThrottled, SesV2Sender
from beacon.ports.ses_direct import RETRIES, DirectSendEmail
from beacon.shared import aws

EMAIL = OutgoingEmail("News <news@acme.test>", "ann@example.com", b"Subject: hi\r\n\r\n" + bytes(range(256)) * 40,
                      {"account": "a" * 32, "campaign": "c" * 32, "recipient": "r" * 32})


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Any:
        yield self._body


class Stub:
    """Answers every request in-process (registered ahead of moto's stubber)."""

    def __init__(self, client: Any) -> None:
        self.requests: list[Any] = []
        self.answers: list[Any] = []  # (status, headers, body) or an exception, consumed in order
        client.meta.events.register_first("before-send", self)

    def __call__(self, request: Any, **_kwargs: Any) -> AWSResponse:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else (200, {}, b'{"MessageId":"m-1"}')
        if isinstance(answer, Exception):
            raise answer
        status, headers, body = answer
        return AWSResponse(request.url, status, {"Content-Type": "application/json", **headers}, _Raw(body))


def _client(region: str = "eu-west-1", **kwargs: Any) -> Any:
    from moto.core.models import botocore_stubber

    session = botocore.session.get_session()
    session.set_credentials("AKIDEXAMPLE", "secret", kwargs.pop("token", None))
    client = aws.quiet_gil(session.create_client("sesv2", region_name=region, config=aws.config(4), **kwargs))
    # every handler of before-send runs (the first answer wins): without this, moto's stubber would
    # also serve the request whenever another test module's mock_aws() is active
    client.meta.events.unregister("before-send", botocore_stubber)
    return client


def _sender(client: Any, sleeps: list[float] | None = None) -> SesV2Sender:
    sender = SesV2Sender(client, "beacon-test")
    sender._direct = DirectSendEmail(client, sleep=(sleeps if sleeps is not None else []).append)
    return sender


def test_the_request_is_the_one_botocore_sends() -> None:
    """Same URL, method, JSON members and values, content type; signed for the same service and
    region with the same credential; the payload hash is the body's."""
    direct_client, plain_client = _client(), _client()
    direct, plain = Stub(direct_client), Stub(plain_client)
    assert _sender(direct_client).send(EMAIL) == "m-1"
    assert SesV2Sender(plain_client, "beacon-test", direct=False).send(EMAIL) == "m-1"
    d, p = direct.requests[0], plain.requests[0]
    assert (d.method, d.url) == (p.method, p.url) == ("POST", "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails")
    assert json.loads(d.body) == json.loads(p.body)
    assert base64.b64decode(json.loads(d.body)["Content"]["Raw"]["Data"]) == EMAIL.raw
    assert d.headers["Content-Type"] == p.headers["Content-Type"]
    assert d.headers["X-Amz-Content-SHA256"].decode() == hashlib.sha256(d.body).hexdigest()
    scopes = [r.headers["Authorization"].decode().split("Credential=")[1].split(",")[0].split("/") for r in (d, p)]
    assert scopes[0][0] == "AKIDEXAMPLE" and scopes[0][2:] == ["eu-west-1", "ses", "aws4_request"]
    assert scopes[0] == scopes[1]


def test_the_signature_is_sigv4_over_what_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recomputed independently of the sender: the canonical request of the bytes that went out."""
    import hmac

    import botocore.auth

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: datetime.datetime(2026, 11, 26, 12, 0, 0))
    client = _client()
    stub = Stub(client)
    _sender(client).send(EMAIL)
    request = stub.requests[0]
    auth = request.headers["Authorization"].decode()
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    headers["host"] = "email.eu-west-1.amazonaws.com"
    canonical = "\n".join([
        "POST", "/v2/email/outbound-emails", "",
        *[f"{name}:{headers[name].strip()}" for name in signed], "",
        ";".join(signed), hashlib.sha256(request.body).hexdigest(),
    ])
    scope = "20261126/eu-west-1/ses/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", "20261126T120000Z", scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = b"AWS4secret"
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert auth.endswith("Signature=" + hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest())
    assert headers["x-amz-date"] == "20261126T120000Z"


def test_a_session_token_is_sent_and_signed() -> None:
    client = _client(token="session-token")
    stub = Stub(client)
    _sender(client).send(EMAIL)
    request = stub.requests[0]
    assert request.headers["X-Amz-Security-Token"] == b"session-token"
    assert b"x-amz-security-token" in request.headers["Authorization"]


def test_refreshable_credentials_are_refreshed_like_botocore_does() -> None:
    calls: list[int] = []

    def refresh() -> dict[str, str]:  # credentials that botocore wants refreshed (< 15 minutes left)
        calls.append(1)
        soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=12)
        return {"access_key": f"AK{len(calls)}", "secret_key": "s", "token": "t", "expiry_time": soon.isoformat()}

    client = _client()
    client._request_signer._credentials = RefreshableCredentials.create_from_metadata(
        refresh(), refresh, "test")
    stub = Stub(client)
    sender = _sender(client)
    sender.send(EMAIL)
    sender.send(EMAIL)
    keys = [r.headers["Authorization"].split(b"Credential=")[1].split(b"/")[0] for r in stub.requests]
    assert keys == [b"AK2", b"AK3"]  # expired each time: refreshed before each signature


def test_no_credentials_is_botocores_error() -> None:
    client = _client()
    client._request_signer._credentials = None
    Stub(client)
    with pytest.raises(botocore.exceptions.NoCredentialsError):
        _sender(client).send(EMAIL)


def test_the_endpoint_is_the_clients_own(monkeypatch: pytest.MonkeyPatch) -> None:
    for env, url in (("AWS_USE_FIPS_ENDPOINT", "https://email-fips.eu-west-1.amazonaws.com"),
                     ("AWS_ENDPOINT_URL_SESV2", "http://127.0.0.1:4566")):
        monkeypatch.setenv(env, "true" if env.startswith("AWS_USE") else url)
        client = _client()
        stub = Stub(client)
        _sender(client).send(EMAIL)
        assert stub.requests[0].url == url + "/v2/email/outbound-emails"
        monkeypatch.delenv(env)


def test_hooks_see_the_call_as_botocore_emits_it() -> None:
    """The local stack's SES simulator reads before-call's body and after-call's parsed answer."""
    client = _client()
    Stub(client)
    seen: dict[str, Any] = {}

    def before(params: dict[str, Any], context: dict[str, Any], **_kwargs: Any) -> None:
        seen["body"] = json.loads(params["body"])
        context["mark"] = 1

    def after(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_kwargs: Any) -> None:
        seen["after"] = (http_response.status_code, parsed["MessageId"], context.get("mark"))

    client.meta.events.register("before-call.sesv2.SendEmail", before)
    client.meta.events.register("after-call.sesv2.SendEmail", after)
    _sender(client).send(EMAIL)
    assert seen["body"]["Destination"] == {"ToAddresses": ["ann@example.com"]}
    assert seen["after"] == (200, "m-1", 1)


def test_lambdas_recursion_detection_header_is_added(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "send")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793")
    client = _client()
    stub = Stub(client)
    _sender(client).send(EMAIL)
    assert stub.requests[0].headers["X-Amzn-Trace-Id"] == b"Root=1-5759e988-bd862e3fe1be46a994272793"


@pytest.mark.parametrize(("status", "headers", "body", "raised"), [
    (400, {"x-amzn-ErrorType": "MessageRejected:http://internal.amazon.com/coral/"},
     b'{"message":"Email address is not verified."}', SesRejected),
    (400, {}, b'{"__type":"com.amazonaws.sesv2#BadRequestException","message":"bad"}', SesRejected),
    (429, {"x-amzn-ErrorType": "TooManyRequestsException"}, b'{"message":"Too many requests"}', SesThrottled),
    (400, {}, b'{"code":"LimitExceededException","message":"Daily limit"}', SesThrottled),
    (403, {}, b'{"__type":"AccessDeniedException"}', botocore.exceptions.ClientError),
    (400, {}, b"<html>not json at all", botocore.exceptions.ClientError),
])
def test_error_answers_are_read_as_botocore_reads_them(status: int, headers: dict[str, str], body: bytes,
                                                      raised: type[Exception]) -> None:
    client = _client()
    stub = Stub(client)
    stub.answers = [(status, headers, body)]
    with pytest.raises(raised):
        _sender(client).send(EMAIL)
    assert len(stub.requests) == 1  # refused, throttled: not retried here


def test_a_rejection_says_why() -> None:
    client = _client()
    stub = Stub(client)
    stub.answers = [(400, {"x-amzn-ErrorType": "MessageRejected"}, b'{"message":"Email address is not verified."}')]
    with pytest.raises(SesRejected, match=r"MessageRejected: Email address is not verified\."):
        _sender(client).send(EMAIL)


def test_server_errors_and_lost_connections_are_retried_then_succeed() -> None:
    client = _client()
    stub = Stub(client)
    stub.answers = [(503, {}, b'{"message":"unavailable"}'),
                    botocore.exceptions.EndpointConnectionError(endpoint_url="https://email"), ]
    sleeps: list[float] = []
    assert _sender(client, sleeps).send(EMAIL) == "m-1"
    assert len(stub.requests) == 3
    assert len(sleeps) == 2 and all(0 <= s <= 0.5 for s in sleeps)
    assert len({r.headers["Authorization"] for r in stub.requests}) >= 1  # each attempt signed afresh


def test_persistent_server_errors_are_raised_after_the_retries() -> None:
    client = _client()
    stub = Stub(client)
    stub.answers = [(500, {}, b'{"__type":"InternalFailure"}')] * (RETRIES + 1)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        _sender(client).send(EMAIL)
    assert caught.value.response["Error"]["Code"] == "InternalFailure"
    assert len(stub.requests) == RETRIES + 1
    stub.answers = [botocore.exceptions.ReadTimeoutError(endpoint_url="https://email")] * (RETRIES + 1)
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        _sender(client).send(EMAIL)


def test_the_body_is_exact_json_for_any_field_values() -> None:
    odd = {"FromEmailAddress": '"Zoë" <z@ex.test>', "Destination": {"ToAddresses": ["a\\b@ex.test"]},
           "EmailTags": [{"Name": "n", "Value": "\u2028\x00</script>"}]}
    raw = bytes(range(256))
    body = DirectSendEmail.body(odd, raw)
    assert body.isascii()
    assert json.loads(body) == {**odd, "Content": {"Raw": {"Data": base64.b64encode(raw).decode()}}}
    assert json.loads(DirectSendEmail.body({}, b"")) == {"Content": {"Raw": {"Data": ""}}}
    with pytest.raises(ValueError, match="without Content"):
        DirectSendEmail.body({"Content": {}}, raw)


def test_a_model_that_wants_more_than_the_direct_path_falls_back_to_botocore() -> None:
    from beacon.ports import ses_direct

    client = _client()
    assert ses_direct.unsupported(client) is None
    assert SesV2Sender(client)._direct is not None
    for attribute, value in (("http_checksum", {"requestChecksumRequired": True}),
                             ("request_compression", {"encodings": ["gzip"]}),
                             ("auth", ["aws.auth#sigv4a"])):
        patched = _client()
        op = patched.meta.service_model.operation_model("SendEmail")
        original = type(op)

        class Wants(original):  # type: ignore[misc,valid-type]
            pass

        setattr(Wants, attribute, property(lambda _self, v=value: v))
        op.__class__ = Wants
        patched.meta.service_model.operation_model = lambda _name, op=op: op  # type: ignore[method-assign]
        assert ses_direct.unsupported(patched)
        sender = SesV2Sender(patched)
        assert sender._direct is None
        stub = Stub(patched)
        if attribute == "auth":
            continue  # botocore itself would now sign with SigV4a (not installed here)
        assert sender.send(EMAIL) == "m-1" and len(stub.requests) == 1


def test_one_sender_serves_many_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = _client()
    stub = Stub(client)
    sender = _sender(client)
    emails = [OutgoingEmail(EMAIL.from_address, f"r{i}@example.com", EMAIL.raw + str(i).encode(), EMAIL.tags)
              for i in range(64)]
    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(sender.send, emails)) == ["m-1"] * 64
    seen = {}
    for request in stub.requests:
        body = json.loads(request.body)
        assert request.headers["X-Amz-Content-SHA256"].decode() == hashlib.sha256(request.body).hexdigest()
        seen[body["Destination"]["ToAddresses"][0]] = base64.b64decode(body["Content"]["Raw"]["Data"])
    assert seen == {e.to_address: e.raw for e in emails}
