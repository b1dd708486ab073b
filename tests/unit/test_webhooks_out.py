"""Webhook signatures against the independent `standardwebhooks` implementation, and the HTTP-out
SSRF guard. No test connects anywhere but 127.0.0.1: refused targets are refused before any
connection, and the connector is a spy that fails the test if it is handed anything else."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from beacon.ports.http_out import GuardedHttpOut, Refused, check_url
from beacon.webhooks.signing import derive_secret, headers, signature
from tests.webhook_receiver import Receiver

SECRET = derive_secret(b"deployment-secret-0123456789abcdef", "a" * 32, "b" * 32, "salt")


def test_the_secret_is_a_whsec_key_derived_per_endpoint() -> None:
    assert SECRET.startswith("whsec_") and len(base64.b64decode(SECRET[6:])) == 32
    assert derive_secret(b"deployment-secret-0123456789abcdef", "a" * 32, "b" * 32, "salt") == SECRET
    others = {derive_secret(b"deployment-secret-0123456789abcdef", "a" * 32, "c" * 32, "salt"),
              derive_secret(b"deployment-secret-0123456789abcdef", "a" * 32, "b" * 32, "pepper"),
              derive_secret(b"another-deployment-secret-0123456", "a" * 32, "b" * 32, "salt")}
    assert SECRET not in others and len(others) == 3


def test_signatures_verify_with_standardwebhooks() -> None:
    body = json.dumps({"type": "email.opened", "timestamp": "2026-01-01T00:00:00Z", "data": {"x": "é"}})
    import time

    now = int(time.time())
    sent = headers(SECRET, "msg_123", now, body)
    assert Webhook(SECRET).verify(body, sent)["type"] == "email.opened"
    assert signature(SECRET, "msg_123", now, body) == Webhook(SECRET).sign("msg_123", _dt(now), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace("opened", "clicked"), sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, {**sent, "webhook-id": "msg_124"})


def _dt(epoch: int):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


@pytest.mark.parametrize("url, why", [
    ("http://hooks.example.com/x", "https"),
    ("https://user:pw@hooks.example.com/", "user name"),
    ("https://hooks.example.com/#frag", "fragment"),
    ("https://hooks.example.com/a b", "whitespace"),
    ("https://hooks.example.com/\r\nX: y", "whitespace"),
    ("https:///nohost", "no host"),
    ("ftp://hooks.example.com/", "https"),
    ("https://127.0.0.1/", "loopback"),
    ("https://10.0.0.1/", "private"),
    ("https://192.168.1.1/", "private"),
    ("https://172.16.0.1/", "private"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://[fd00:ec2::254]/", "metadata"),
    ("https://[::1]/", "loopback"),
    ("https://[::ffff:127.0.0.1]/", "loopback"),
    ("https://100.64.0.1/", "CGNAT"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://224.0.0.1/", "multicast"),
    ("https://[fe80::1]/", "link-local"),
    ("https://hooks.example.com:99999/", "URL"),
    ("https://" + "a" * 3000 + ".com/", "characters"),
    ("", "characters"),
])
def test_check_url_refuses(url: str, why: str) -> None:
    with pytest.raises(Refused, match=why):
        check_url(url)


def test_check_url_accepts_public_https_and_locally_http_127() -> None:
    target = check_url("https://hooks.example.com:8443/in?x=1")
    assert (target.host, target.port, target.path) == ("hooks.example.com", 8443, "/in?x=1")
    assert check_url("http://127.0.0.1:9000/hook", allow_local=True).port == 9000
    with pytest.raises(Refused):
        check_url("http://127.0.0.1:9000/hook")  # deployed: neither http nor loopback
    with pytest.raises(Refused):
        check_url("http://10.0.0.1/hook", allow_local=True)  # locally too, only 127.0.0.1
    with pytest.raises(Refused):
        check_url("http://hooks.example.com/", allow_local=True)


class Spy:
    """A connector that only ever connects to 127.0.0.1, and records every address it was given."""

    def __init__(self) -> None:
        self.addresses: list[tuple[str, int]] = []

    def __call__(self, address: tuple[str, int], timeout: float) -> socket.socket:
        self.addresses.append(address)
        assert address[0] == "127.0.0.1", f"tried to connect to {address}"
        return socket.create_connection(address, timeout=timeout)


def _fixed(mapping: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return mapping[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize("addresses", [["10.0.0.1"], ["169.254.169.254"], ["93.184.216.34", "192.168.0.7"],
                                       ["::1"], ["127.0.0.1"], ["100.100.100.200"]])
def test_a_name_resolving_to_a_forbidden_address_is_refused_before_connecting(addresses: list[str]) -> None:
    spy = Spy()
    http = GuardedHttpOut(resolver=_fixed({"rebind.example.com": addresses}), connector=spy)
    answer = http.post("https://rebind.example.com/hook", b"{}", {})
    assert answer.status is None and answer.error and answer.error.startswith("refused:")
    assert spy.addresses == []


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


def test_deployed_mode_refuses_127_0_0_1_and_local_mode_posts_to_it(receiver: Receiver) -> None:
    spy = Spy()
    deployed = GuardedHttpOut(connector=spy)
    assert deployed.post(f"{receiver.base_url}/hook", b"{}", {}).error.startswith("refused:")  # type: ignore[union-attr]
    assert spy.addresses == [] and receiver.received == []
    local = GuardedHttpOut(allow_local=True, connector=spy)
    answer = local.post(f"{receiver.base_url}/hook", b'{"a":1}', {"webhook-id": "msg_1"})
    assert answer.status == 200 and receiver.received[0].payload == {"a": 1}
    assert receiver.received[0].headers["webhook-id"] == "msg_1"


def test_only_local_mode_refuses_any_other_host_before_looking_it_up(receiver: Receiver) -> None:
    """The local stack the API fuzz runs on (BEACON_WEBHOOKS_ONLY_LOCAL): an endpoint it made up with a public
    https URL is never resolved nor connected to; a local receiver still gets its deliveries."""
    resolve = _fixed({"localhost": ["127.0.0.1"], "hooks.example.com": ["93.184.216.34"]})
    spy = Spy()
    http = GuardedHttpOut(allow_local=True, only_local=True, resolver=resolve, connector=spy)
    for url in ("https://hooks.example.com/in", "https://93.184.216.34/in"):
        answer = http.post(url, b"{}", {})
        assert answer.status is None and answer.error and "only to 127.0.0.1" in answer.error, answer
    assert resolve.calls == [] and spy.addresses == []  # type: ignore[attr-defined]
    port = int(receiver.base_url.rsplit(":", 1)[1])
    assert http.post(f"http://localhost:{port}/hook", b"{}", {}).status == 200
    assert spy.addresses == [("127.0.0.1", port)] and len(receiver.received) == 1


def test_a_redirect_is_an_answer_never_followed(receiver: Receiver) -> None:
    receiver.redirects["/hook"] = "http://10.0.0.1/internal"
    spy = Spy()
    answer = GuardedHttpOut(allow_local=True, connector=spy).post(f"{receiver.base_url}/hook", b"{}", {})
    assert answer.status == 302
    assert [a[0] for a in spy.addresses] == ["127.0.0.1"] and len(receiver.received) == 1


def test_the_checked_address_is_the_one_connected_to_with_one_lookup(receiver: Receiver) -> None:
    port = int(receiver.base_url.rsplit(":", 1)[1])
    resolve = _fixed({"localhost": ["127.0.0.1"]})
    spy = Spy()
    http = GuardedHttpOut(allow_local=True, resolver=resolve, connector=spy)
    assert http.post(f"http://localhost:{port}/hook", b"{}", {}).status == 200
    assert resolve.calls == ["localhost"] and spy.addresses == [("127.0.0.1", port)]  # type: ignore[attr-defined]


def test_a_receiver_that_never_answers_times_out() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    try:
        port = server.getsockname()[1]
        answer = GuardedHttpOut(allow_local=True, timeout=0.5).post(f"http://127.0.0.1:{port}/", b"{}", {})
        assert answer.status is None and "timeout" in (answer.error or "")
    finally:
        for sock in accepted:
            sock.close()
        server.close()
