"""Promise 3 when DynamoDB misbehaves: the pixel always answers with the GIF and a valid link always
redirects, in time, whatever the database does. DynamoDB is replaced by a server on loopback with
real sockets, in five fault modes: the port refuses connections; it answers 500; it throttles; it
accepts and never answers; it is black-holed (the connection is never even accepted)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from beacon import wiring
from beacon.db.connection import bind
from beacon.shared import aws as aws_clients
from beacon.shared import observability
from beacon.shared.config import get_settings
from beacon.tracking import opens_and_clicks as tracking
from beacon_local.template import load_yaml
from tests.integration.test_tracking import BROWSER, GIF, event, load

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, CAMPAIGN, RECIPIENT = "a1" * 16, "c2" * 16, "e3" * 16
DESTINATION = "https://shop.example.com/a?b=c"
MODES = ["refused", "500", "throttled", "hangs", "black-holed"]

_500 = b'{"__type":"com.amazonaws#InternalServerError","message":"boom"}'
_THROTTLED = b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}'


class FaultyDynamoDB:
    """A TCP server on 127.0.0.1 that fails the way `mode` says; counts the requests it was sent."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        if mode == "refused":
            self._server.close()  # nothing listens on the port any more
        elif mode == "black-holed":
            self._server.listen(0)  # never accepted: once the backlog is full, connection attempts hang
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", self.port))
                self._held.append(filler)
            time.sleep(0.1)
        else:
            self._server.listen(16)
            self._server.settimeout(0.2)
            threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(5)
            try:
                if not conn.recv(65536):
                    conn.close()
                    continue
            except OSError:
                conn.close()
                continue
            self.requests += 1
            if self.mode == "hangs":
                self._held.append(conn)  # accepted, read, never answered
                continue
            failing = self.mode == "500"
            status, body = (b"500 Internal Server Error", _500) if failing else (b"400 Bad Request", _THROTTLED)
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/x-amz-json-1.0\r\n"
                         + b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for s in self._held:
            s.close()
        self._server.close()


@pytest.fixture
def faulty(request: pytest.FixtureRequest, aws: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyDynamoDB]:
    """The stack's own tables and secret (so the calls are checked against the functions' roles),
    with DynamoDB's endpoint pointed at the faulty server."""
    server = FaultyDynamoDB(request.param)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    monkeypatch.delenv(aws_clients.PATIENT_TRACKING_ENV, raising=False)  # the client AWS runs
    wiring.reset()
    yield server
    server.close()
    monkeypatch.undo()
    wiring.reset()
    bind(get_settings())  # the models back on moto


def function_timeout(logical_id: str) -> float:
    template = load_yaml((ROOT / "template.yaml").read_text())
    props = template["Resources"][logical_id]["Properties"]
    return float(props.get("Timeout") or template["Globals"]["Function"]["Timeout"])


FAILS_AT_ONCE = ("500", "throttled")  # an answer, at once: the retry decision may see a second attempt fit


class Stopwatch:
    """The clock the retry decision reads, keeping what it read. `frozen`: no time passes, as when an
    error comes back at once (a 500, a throttle) on an idle machine: a second attempt always fits, so
    the retry over real sockets is seen at any machine speed. Otherwise the real clock."""

    def __init__(self, frozen: bool) -> None:
        self.frozen = frozen
        self.readings: list[float] = []

    def __call__(self) -> float:
        self.readings.append(0.0 if self.frozen else time.monotonic())
        return self.readings[-1]

    def retry_fitted(self) -> bool:
        """Whether the first attempt failed early enough for a second one to fit in the budget."""
        start, failed = self.readings  # read when the write began and when its first attempt failed
        return failed - start + tracking.ATTEMPT_SECONDS <= tracking.WRITE_BUDGET_SECONDS


def answer(name: str, token: str, mode: str,
           monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], Stopwatch, list[str]]:
    faults: list[str] = []
    monkeypatch.setattr(observability, "count_fault", faults.append)  # what the handler imports
    stopwatch = Stopwatch(frozen=mode in FAILS_AT_ONCE)
    monkeypatch.setattr(tracking, "retry_clock", stopwatch)
    handler = load(name)
    reply = handler(event(token, ua=BROWSER), None)
    return reply, stopwatch, faults


def expected_requests(mode: str, stopwatch: Stopwatch) -> int:
    """The requests the fault server saw. Refused and black-holed: none ever arrives. A 500 or a
    throttle: two (the first failed at once, so the second fits). A hang uses its whole read timeout
    (real clock), so a second attempt never fits, however fast or slow the machine: one."""
    if mode in ("refused", "black-holed"):
        return 0
    if mode == "hangs":
        assert not stopwatch.retry_fitted()
        return 1
    assert stopwatch.retry_fitted()
    return 2


@pytest.mark.parametrize("faulty", MODES, indirect=True)
def test_the_pixel_answers_with_the_gif_in_time(faulty: FaultyDynamoDB, monkeypatch: pytest.MonkeyPatch) -> None:
    token = wiring.signer().open_token(ACCOUNT, CAMPAIGN, RECIPIENT, int(time.time()))
    reply, stopwatch, faults = answer("track_open", token, faulty.mode, monkeypatch)
    assert reply["statusCode"] == 200 and reply["headers"]["content-type"] == "image/gif"
    import base64

    assert base64.b64decode(reply["body"]) == GIF
    assert faults == ["open"], "the lost open is counted"
    assert faulty.requests == expected_requests(faulty.mode, stopwatch)


@pytest.mark.parametrize("faulty", MODES, indirect=True)
def test_a_link_redirects_in_time(faulty: FaultyDynamoDB, monkeypatch: pytest.MonkeyPatch) -> None:
    token = wiring.signer().click_token(ACCOUNT, CAMPAIGN, RECIPIENT, int(time.time()), 0, DESTINATION)
    reply, stopwatch, faults = answer("track_click", token, faulty.mode, monkeypatch)
    assert reply["statusCode"] == 302 and reply["headers"]["location"] == DESTINATION
    assert faults == ["click"]
    assert faulty.requests == expected_requests(faulty.mode, stopwatch)


def test_the_tracking_client_and_its_retry_fit_in_the_budget_and_the_functions_time(
        aws: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(aws_clients.PATIENT_TRACKING_ENV, raising=False)
    wiring.reset()
    config = wiring.tracking_engagement()._client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (aws_clients.TRACKING_CONNECT_TIMEOUT,
                                                            aws_clients.TRACKING_READ_TIMEOUT)
    assert config.retries["total_max_attempts"] == 1, "botocore makes no retry of its own (its backoff is seconds)"
    assert tracking.ATTEMPT_SECONDS <= tracking.WRITE_BUDGET_SECONDS
    for function in ("TrackOpenFunction", "TrackClickFunction"):
        assert function_timeout(function) / 4 >= tracking.WRITE_BUDGET_SECONDS  # well inside
    # the local stack's embedded moto: as patient as any other client (a slow answer there is no lost open)
    monkeypatch.setenv(aws_clients.PATIENT_TRACKING_ENV, "1")
    patient, usual = aws_clients.config(tracking=True), aws_clients.config()
    assert (patient.connect_timeout, patient.read_timeout, patient.retries) == (
        usual.connect_timeout, usual.read_timeout, usual.retries)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_second_attempt_only_when_it_still_fits_in_the_budget() -> None:
    from botocore.exceptions import ClientError, ReadTimeoutError

    clock = _Clock()
    attempts: list[float] = []

    def failing(took: float, exc: Exception) -> Any:
        def record(*_args: Any) -> str:
            attempts.append(clock.now)
            clock.now += took
            raise exc

        return record

    throttle = ClientError({"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
                           "UpdateItem")
    with pytest.raises(ClientError):  # failed at once: tried again, within the budget
        tracking.record_in_time(failing(0.01, throttle), None, None, None, clock=clock)  # type: ignore[arg-type]
    assert len(attempts) == 2
    attempts.clear()
    timeout = ReadTimeoutError(endpoint_url="http://x")
    with pytest.raises(ReadTimeoutError):  # used its whole attempt: no second one
        tracking.record_in_time(failing(tracking.ATTEMPT_SECONDS, timeout), None, None, None,  # type: ignore[arg-type]
                                clock=clock)
    assert len(attempts) == 1
    attempts.clear()
    refused = ClientError({"Error": {"Code": "ConditionalCheckFailedException"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "UpdateItem")
    with pytest.raises(ClientError):  # not transient: never again
        tracking.record_in_time(failing(0.0, refused), None, None, None, clock=clock)  # type: ignore[arg-type]
    assert len(attempts) == 1
