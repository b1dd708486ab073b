"""The template's HttpApi routes on 127.0.0.1, with API Gateway HTTP API (payload 2.0) events.

Routing follows API Gateway's precedence: the most specific route wins — literal path segments
before `{param}` segments before a greedy `{proxy+}`, a route for the request's method before
`ANY`, and `$default` last. HTTP APIs do not route HEAD to GET routes: HEAD reaches only HEAD or
ANY routes, anything unmatched is 404 `{"message":"Not Found"}`. Request payloads above 10 MB
are refused with 413 like API Gateway; a handler exception is a 500
`{"message":"Internal Server Error"}` with the traceback in the log.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from beacon_local.resources import ACCOUNT_ID
from beacon_local.template import HttpRoute

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API request payload limit
LISTEN_BACKLOG = 1024  # connections waiting to be accepted
_TEXT_TYPES = ("json", "xml", "javascript", "x-www-form-urlencoded", "csv", "yaml", "graphql")
_LITERAL, _PARAM, _GREEDY, _DEFAULT = 0, 1, 2, 3

Invoke = Callable[[str, dict[str, Any]], Any]


# ---------------------------------------------------------------- routing
@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    path_parameters: dict[str, str]


def _segments(path: str) -> list[str]:
    return path.split("/")[1:] if path.startswith("/") else path.split("/")


def _match_path(pattern: str, path: str) -> dict[str, str] | None:
    """Path parameters if `path` matches `pattern` ("/o/{token}", "/v1/{proxy+}"), else None."""
    wanted, given = _segments(pattern), _segments(path)
    params: dict[str, str] = {}
    for index, segment in enumerate(wanted):
        if segment.startswith("{") and segment.endswith("+}"):
            rest = "/".join(given[index:])
            if index != len(wanted) - 1 or not rest:
                return None
            params[segment[1:-2]] = unquote(rest)
            return params
        if index >= len(given):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            if not given[index]:
                return None
            params[segment[1:-1]] = unquote(given[index])
        elif segment != given[index]:
            return None
    return params if len(given) == len(wanted) else None


def _precedence(route: HttpRoute) -> tuple[tuple[int, ...], int]:
    if route.path == "$default":
        return (_DEFAULT,), 2
    kinds = tuple(
        _GREEDY if s.startswith("{") and s.endswith("+}") else _PARAM if s.startswith("{") else _LITERAL
        for s in _segments(route.path)
    )
    return kinds, 1 if route.method == "ANY" else 0


class Router:
    def __init__(self, routes: Iterable[HttpRoute]) -> None:
        self.routes = sorted(routes, key=_precedence)

    def match(self, method: str, path: str) -> RouteMatch | None:
        method = method.upper()
        for route in self.routes:  # most specific first
            if route.method not in (method, "ANY"):
                continue
            if route.path == "$default":
                return RouteMatch(route, {})
            params = _match_path(route.path, path)
            if params is not None:
                return RouteMatch(route, params)
        return None


# ---------------------------------------------------------------- event and response
def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";")[0].strip().lower()
    return media.startswith("text/") or any(t in media for t in _TEXT_TYPES)


def request_id() -> str:
    return base64.b64encode(secrets.token_bytes(10)).decode().rstrip("=") + "="


def build_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    match: RouteMatch,
    source_ip: str,
    domain_name: str,
    protocol: str = "HTTP/1.1",
    request_id_: str | None = None,
    now: float | None = None,
    api_id: str = "local",
    scheme: str = "http",
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event."""
    now = time.time() if now is None else now
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    port = domain_name.rpartition(":")[2] if ":" in domain_name else ("443" if scheme == "https" else "80")
    joined.setdefault("x-forwarded-for", source_ip)
    joined.setdefault("x-forwarded-port", port)
    joined.setdefault("x-forwarded-proto", scheme)

    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value

    rid = request_id_ or request_id()
    host = domain_name.split(":")[0]
    moment = datetime.fromtimestamp(now, UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": domain_name,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": rid,
        "routeKey": match.route.route_key,
        "stage": "$default",
        "time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if body:
        if is_text(joined.get("content-type")):
            try:
                event["body"] = body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    return event


@dataclass
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_answer(status: int, payload: Any) -> HttpAnswer:
    return HttpAnswer(status, [("Content-Type", "application/json")], json.dumps(payload).encode())


def to_http_answer(result: Any) -> HttpAnswer:
    """Map a handler's return value to HTTP the way API Gateway (payload 2.0) does."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # no statusCode: API Gateway assumes 200, JSON content, the value as the body
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpAnswer(200, [("Content-Type", "application/json")], body.encode())
    status = int(result["statusCode"])
    if not 100 <= status <= 599:
        raise ValueError(f"invalid statusCode {status}")
    headers: list[tuple[str, str]] = []
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(v)) for v in values)
    for name, value in (result.get("headers") or {}).items():
        headers = [(n, v) for n, v in headers if n.lower() != str(name).lower()]
        headers.append((str(name), "" if value is None else str(value)))
    headers.extend(("Set-Cookie", str(c)) for c in result.get("cookies") or [])
    payload = result.get("body")
    if payload is None:
        raw = b""
    elif result.get("isBase64Encoded"):
        raw = base64.b64decode(payload)
    else:
        raw = (payload if isinstance(payload, str) else json.dumps(payload)).encode("utf-8")
    if not any(n.lower() == "content-type" for n, _ in headers) and raw:
        headers.append(("Content-Type", "application/json"))
    return HttpAnswer(status, headers, raw)


# ---------------------------------------------------------------- server
class _ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: a burst of new connections overflows the accept
    # queue and clients wait out SYN retransmits (1 s, 3 s, ...) or see resets. The kernel caps
    # it at net.core.somaxconn.
    request_queue_size = LISTEN_BACKLOG
    api: LocalHttpApi


class _RequestHandler(BaseHTTPRequestHandler):
    server: _ApiServer
    protocol_version = "HTTP/1.1"
    server_version = "beacon-local"

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - " + format, self.client_address[0], *args)

    def _read_body(self) -> bytes | None:
        """The request body, or None if it is over the payload limit."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                try:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    return None
                if size == 0:
                    self.rfile.readline()
                    break
                total += size
                if total > MAX_PAYLOAD_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = MAX_PAYLOAD_BYTES + 1  # unreadable: refuse rather than guess
        if length > MAX_PAYLOAD_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        started = time.perf_counter()
        api = self.server.api
        target = urlsplit(self.path)
        raw_path = target.path or "/"
        body = self._read_body()
        match = api.router.match(self.command, raw_path)
        if body is None:
            self.close_connection = True
            answer = json_answer(413, {"message": "Request Entity Too Large"})
        elif match is None:
            answer = json_answer(404, {"message": "Not Found"})
        else:
            rid = request_id()
            event = build_event(
                method=self.command,
                raw_path=raw_path,
                raw_query=target.query,
                headers=list(self.headers.items()),
                body=body,
                match=match,
                source_ip=self.client_address[0],
                domain_name=api.domain_name,
                protocol=self.request_version,
                request_id_=rid,
            )
            try:
                answer = to_http_answer(api.invoke(match.route.function, event))
            except Exception:
                log.exception("%s failed on %s %s", match.route.function, self.command, raw_path)
                answer = json_answer(500, {"message": "Internal Server Error"})
            answer.headers.append(("Apigw-Requestid", rid))
        self._send(answer)
        log.info(
            "%s %s -> %d (%.0f ms)", self.command, raw_path, answer.status, (time.perf_counter() - started) * 1000
        )

    def _send(self, answer: HttpAnswer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and answer.body:
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class LocalHttpApi:
    """Serves the routes on host:port (port 0 picks a free one; the socket is bound at once)."""

    def __init__(self, routes: Iterable[HttpRoute], invoke: Invoke, host: str = "127.0.0.1", port: int = 0) -> None:
        self.router = Router(routes)
        self.invoke = invoke
        self._server = _ApiServer((host, port), _RequestHandler)
        self._server.api = self
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def domain_name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.domain_name}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-api", daemon=True)
        self._thread.start()
        log.info("HTTP API on %s: %s", self.base_url, ", ".join(r.route_key for r in self.router.routes))
        return self.base_url

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()
