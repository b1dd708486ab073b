"""beacon.shared.aws: the clients' GIL-quiet handlers sign exactly what botocore would have signed."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import botocore.session
from botocore.awsrequest import AWSResponse

from beacon.shared import aws


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Any:
        yield self._body


def _client(service: str, quiet: bool) -> tuple[Any, list[Any]]:
    session = botocore.session.get_session()
    session.set_credentials("AKIDEXAMPLE", "secret")
    client = session.create_client(service, region_name="eu-west-1", config=aws.config(4))
    if quiet:
        aws.quiet_gil(client)
    seen: list[Any] = []

    def stub(request: Any, **_kwargs: Any) -> AWSResponse:
        seen.append(request)
        body = b'{"MessageId":"m"}' if service == "sesv2" else b""
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw(body))

    client.meta.events.register_first("before-send", stub)  # ahead of moto, whose stubber every session has
    return client, seen


def _send(client: Any, size: int) -> None:
    client.send_email(FromEmailAddress="a@example.com", Destination={"ToAddresses": ["b@example.com"]},
                      Content={"Raw": {"Data": b"x" * size}})


def test_a_large_body_is_hashed_in_steps_and_the_hash_is_signed() -> None:
    client, seen = _client("sesv2", quiet=True)
    _send(client, 40_000)
    request = seen[0]
    assert request.headers["X-Amz-Content-SHA256"].decode() == hashlib.sha256(request.body).hexdigest()
    signed = request.headers["Authorization"].decode().split("SignedHeaders=")[1].split(",")[0].split(";")
    assert "x-amz-content-sha256" in signed
    assert aws.payload_sha256(request.body) == hashlib.sha256(request.body).hexdigest()


def test_the_signature_is_the_one_botocore_computes_for_the_same_request(monkeypatch: Any) -> None:
    """With the header present botocore signs it as-is; a plain client given the same header (and
    clock) computes the same signature, so the hash in steps changes nothing on the wire."""
    import datetime

    import botocore.auth

    now = datetime.datetime(2026, 11, 26, 12, 0, 0)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now)
    quiet, quiet_seen = _client("sesv2", quiet=True)
    plain, plain_seen = _client("sesv2", quiet=False)
    header = {}

    def same_header(request: Any, **_kwargs: Any) -> None:
        request.headers["X-Amz-Content-SHA256"] = header["value"]

    plain.meta.events.register("before-sign", same_header)
    _send(quiet, 5_000)
    header["value"] = quiet_seen[0].headers["X-Amz-Content-SHA256"].decode()
    _send(plain, 5_000)
    q, p = quiet_seen[0], plain_seen[0]
    assert q.headers["X-Amz-Date"] == p.headers["X-Amz-Date"] == b"20261126T120000Z"
    assert q.body == p.body
    assert q.headers["Authorization"] == p.headers["Authorization"]


def test_a_small_body_is_left_to_botocore() -> None:
    client, seen = _client("sesv2", quiet=True)
    _send(client, 100)
    assert "X-Amz-Content-SHA256" not in seen[0].headers


def test_each_call_gets_its_own_uuid4_invocation_id() -> None:
    client, seen = _client("sesv2", quiet=True)
    for _ in range(3):
        _send(client, 10)
    ids = [uuid.UUID(r.headers["amz-sdk-invocation-id"].decode()) for r in seen]
    assert len(set(ids)) == 3
    assert all(i.version == 4 for i in ids)


def test_s3_clients_are_left_alone(monkeypatch: Any) -> None:
    """S3's signer owns X-Amz-Content-SHA256 (UNSIGNED-PAYLOAD, chunked uploads): no handler there."""
    calls: list[str] = []
    monkeypatch.setattr(aws, "_payload_hash", lambda **_kw: calls.append("hash"))
    monkeypatch.setattr(aws, "_invocation_id", lambda **_kw: calls.append("id"))
    s3, s3_seen = _client("s3", quiet=True)
    s3.put_object(Bucket="b", Key="k", Body=b"x" * 10_000)
    assert s3_seen and calls == []
    ses, _ = _client("sesv2", quiet=True)
    _send(ses, 10_000)
    assert sorted(calls) == ["hash", "id"]
