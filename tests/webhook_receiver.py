"""A real HTTP receiver for webhook tests, on 127.0.0.1 only: it verifies every delivery's signature
with the `standardwebhooks` package (an implementation independent of Beacon's) and answers with a
scripted status per path (200 by default)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    verified: bool
    payload: Any


@dataclass
class Receiver:
    secrets: dict[str, str] = field(default_factory=dict)  # path -> whsec_ secret
    script: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses in turn (last repeats)
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location of a 302
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                secret = receiver.secrets.get(self.path)
                verified = False
                if secret:
                    try:
                        Webhook(secret).verify(body, headers)
                        verified = True
                    except Exception:
                        verified = False
                with receiver.lock:
                    receiver.received.append(Received(self.path, headers, body, verified, json.loads(body or "null")))
                    answers = receiver.script.get(self.path) or [200]
                    status = answers.pop(0) if len(answers) > 1 else answers[0]
                if self.path in receiver.redirects:
                    self.send_response(302)
                    self.send_header("Location", receiver.redirects[self.path])
                else:
                    self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def of(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]
