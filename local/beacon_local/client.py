"""A small HTTP client for Beacon's API (urllib only): used by `beacon demo` and the e2e tests.

Redirects are never followed: a tracked link's 302 is an answer to look at.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any, TypeVar

T = TypeVar("T")

BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.text[:500]}"


class ApiError(RuntimeError):
    def __init__(self, what: str, reply: Reply) -> None:
        super().__init__(f"{what}: {reply}")
        self.reply = reply


class Client:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> Reply:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        all_headers = {"Accept": "application/json", **(headers or {})}
        if json_body is not None:
            data = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        if auth and self.token:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
        try:
            with _OPENER.open(request, timeout=self.timeout) as answer:
                return Reply(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, error.headers, error.read())

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, json_body=json_body, **kwargs)

    def expect(self, status: int, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of a call that must answer `status`; ApiError otherwise."""
        reply = self.request(method, path, **kwargs)
        if reply.status != status:
            raise ApiError(f"{method} {path} expected {status}", reply)
        return reply.json() if reply.body else None


def wait_for(check: Callable[[], T | None], timeout: float, interval: float = 0.25) -> T | None:
    """Call `check` until it returns something truthy or the time is up; returns the last value."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    return value
