"""HTTP out: the port webhooks are delivered through, with its SSRF guard, and an in-memory fake.

Deployed, a target must be https and every address its name resolves to must be public: loopback,
private (RFC 1918, ULA), link-local (so the instance metadata address 169.254.169.254), shared/CGNAT
(100.64.0.0/10), multicast, unspecified, reserved and other special-purpose addresses are refused —
checked at every delivery, not only when the endpoint was created (DNS can change). The connection
goes to the very address that was checked (no second lookup a rebinding DNS server could answer
differently); TLS still verifies the certificate for the host name (SNI). Redirects are never
followed (a 3xx is an answer like any other non-2xx). One request takes at most `timeout` seconds
in all (a watchdog closes the socket), and at most 4 KiB of the answer is read.

`allow_local` (the local stack only, BEACON_WEBHOOKS_ALLOW_LOCAL) also allows http:// and https://
to 127.0.0.1 / localhost, so a developer can point a webhook at a receiver on their machine.
`only_local` (BEACON_WEBHOOKS_ONLY_LOCAL, set for the local stack the API fuzz runs on) refuses every other
host before any DNS lookup: endpoints the fuzz makes up (any public https URL is a valid one) are never
delivered to.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 4096
MAX_URL_LENGTH = 2048
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("169.254.170.2"),
             ipaddress.ip_address("fd00:ec2::254")}
_LOCAL_NAMES = {"127.0.0.1", "localhost"}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The target is not one Beacon may connect to (the reason says why)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, what goes on the request line


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, DNS, connect, TLS or timeout: see error)
    error: str | None = None
    body: str = ""
    ms: int = 0


class HttpOut(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer: ...


def forbidden(address: Address) -> str | None:
    """Why Beacon must not connect to this address, or None for a public unicast one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return forbidden(embedded) or ("an IPv4 address inside IPv6" if address.ipv4_mapped else None)
    if address in _METADATA:
        return "the cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a shared (CGNAT) address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a special-purpose address"
    return None


def check_url(url: str, allow_local: bool = False) -> Target:
    """The parts of a webhook URL Beacon may deliver to (the address is checked when connecting)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise Refused(f"the URL must be 1 to {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise Refused("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a URL: {exc}") from exc
    host = (parts.hostname or "").lower()
    if not host:
        raise Refused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("the URL must not carry a user name or password")
    if parts.fragment:
        raise Refused("the URL must not have a #fragment")
    local = allow_local and host in _LOCAL_NAMES
    if parts.scheme != "https" and not (local and parts.scheme == "http"):
        raise Refused("the URL must be https" + (" (or http://127.0.0.1 locally)" if allow_local else ""))
    try:
        literal: Address | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None and not local:
        reason = forbidden(literal)
        if reason:
            raise Refused(f"{host} is {reason}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host.strip("[]"), port or (443 if parts.scheme == "https" else 80), path)


Resolve = Callable[[str, int], list[str]]
Connect = Callable[[tuple[str, int], float], socket.socket]


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _connect(address: tuple[str, int], timeout: float) -> socket.socket:
    return socket.create_connection(address, timeout=timeout)


@dataclass
class GuardedHttpOut:
    allow_local: bool = False
    only_local: bool = False
    timeout: float = TIMEOUT_SECONDS
    resolver: Resolve = resolve
    connector: Connect = _connect
    tls: ssl.SSLContext = field(default_factory=ssl.create_default_context)

    def addresses(self, target: Target) -> list[str]:
        """The checked addresses of the target (all of them must be allowed)."""
        if self.only_local and target.host not in _LOCAL_NAMES:
            raise Refused(f"{target.host}: this stack delivers only to 127.0.0.1 and localhost")
        try:
            found = self.resolver(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise Refused(f"{target.host} does not resolve: {exc}") from exc
        if not found:
            raise Refused(f"{target.host} does not resolve")
        local = self.allow_local and target.host in _LOCAL_NAMES
        for text in found:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if local and address.is_loopback:
                continue
            reason = forbidden(address)
            if reason:
                raise Refused(f"{target.host} resolves to {text}, {reason}")
        return found

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.monotonic()
        try:
            target = check_url(url, self.allow_local)
            address = self.addresses(target)[0]
        except Refused as exc:
            return Answer(None, f"refused: {exc}", ms=int((time.monotonic() - started) * 1000))
        deadline = started + self.timeout
        try:
            status, text = self._exchange(target, address, body, headers, deadline)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            late = time.monotonic() >= deadline - 0.05
            reason = f"timeout after {self.timeout:.0f} s" if late else f"{type(exc).__name__}: {exc}"
            return Answer(None, reason, ms=int((time.monotonic() - started) * 1000))
        return Answer(status, None, text, int((time.monotonic() - started) * 1000))

    def _exchange(self, target: Target, address: str, body: bytes, headers: dict[str, str],
                  deadline: float) -> tuple[int, str]:
        raw = self.connector((address, target.port), max(0.1, deadline - time.monotonic()))
        sock: socket.socket = raw
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, (raw,))
        watchdog.daemon = True
        watchdog.start()
        try:
            if target.scheme == "https":
                sock = self.tls.wrap_socket(raw, server_hostname=target.host)
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            connection = http.client.HTTPConnection(target.host, target.port, timeout=deadline - time.monotonic())
            connection.sock = sock  # the checked address, already connected: no second DNS lookup
            request_headers = {"Content-Type": "application/json", "User-Agent": "Beacon-Webhooks/1",
                               "Content-Length": str(len(body)), **headers}
            connection.request("POST", target.path, body=body, headers=request_headers)
            response = connection.getresponse()
            text = response.read(MAX_ANSWER_BYTES).decode("utf-8", "replace")
            connection.close()
            return response.status, text
        finally:
            watchdog.cancel()
            sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@dataclass
class Sent:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class FakeHttpOut:
    """Answers from a script per URL (status codes, in turn; the last repeats), 200 by default."""

    script: dict[str, list[int | None]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    allow_local: bool = True

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        try:
            check_url(url, self.allow_local)
        except Refused as exc:
            return Answer(None, f"refused: {exc}")
        self.sent.append(Sent(url, body, dict(headers)))
        answers = self.script.get(url) or [200]
        status = answers.pop(0) if len(answers) > 1 else answers[0]
        return Answer(status, None if status else "timeout after 10 s")
