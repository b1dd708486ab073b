"""The web console's files (GET / and GET /console/{path}), served by the console function from the
same origin as the API.

The files are read once per container into a table of path -> (body, type, ETag): a request looks
its path up in that table and nothing else, so no request can name a file outside it (no path is
ever joined onto the file system). Only the kinds of file a browser needs are in it (the folder's
README and Makefile are not). Every answer carries the console's security headers; the
Content-Security-Policy allows no inline script and no eval, and Trusted Types leave exactly one
way for an HTML string to become a document: the campaign preview's sandboxed frame.

Standard library only: this is the function's cold start.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
_BINARY = frozenset({".png", ".ico"})
MAX_FILES = 500
INDEX = "index.html"

# style-src 'unsafe-inline' only because the preview frame (srcdoc) inherits this policy and an
# email's own <style> and style="" must render; scripts stay 'self' only, the frame is sandboxed
# without allow-scripts, and the console never writes markup from data (textContent only).
CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: https:",
    "connect-src 'self'",
    "frame-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types beacon-preview",
))
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
}


@dataclass(frozen=True)
class File:
    body: bytes
    content_type: str
    etag: str


def locate(handler_dir: Path) -> Path:
    """Where the console's files are: BEACON_CONSOLE_DIR; else `console/` beside the handler (the
    deployed function, bundled by its Makefile); else the repository's `console/` (the local stack)."""
    configured = os.environ.get("BEACON_CONSOLE_DIR")
    if configured:
        return Path(configured)
    bundled = handler_dir / "console"
    return bundled if bundled.is_dir() else handler_dir.parents[1] / "console"


def from_environment(handler_dir: Path) -> ConsoleFiles:
    root = locate(handler_dir)
    reload = os.environ.get("BEACON_CONSOLE_RELOAD", "").strip().lower() in ("1", "true", "yes")
    return ConsoleFiles(load(root), root if reload else None)


def load(root: Path) -> dict[str, File]:
    """Every servable file under root, by its path relative to root ("js/main.js")."""
    table: dict[str, File] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or path.suffix.lower() not in TYPES:
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue
        if len(table) >= MAX_FILES:
            raise RuntimeError(f"more than {MAX_FILES} console files under {root}")
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        table[relative.as_posix()] = File(body, TYPES[path.suffix.lower()], etag)
    if INDEX not in table:
        raise RuntimeError(f"no {INDEX} in {root}")
    return table


def _answer(status: int, headers: dict[str, str], body: bytes, binary: bool) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**SECURITY_HEADERS, **headers},
        "body": base64.b64encode(body).decode() if binary else body.decode("utf-8"),
        "isBase64Encoded": binary,
    }


def _not_found() -> dict[str, Any]:
    return _answer(404, {"content-type": "text/plain; charset=utf-8", "cache-control": "no-store"},
                   b"Not found\n", False)


class ConsoleFiles:
    def __init__(self, table: dict[str, File], root: Path | None = None) -> None:
        """`root`: read the files again for every request (BEACON_CONSOLE_RELOAD=1, the local stack's
        `beacon dev`, so an edited file shows on the next reload)."""
        self.table = table
        self.root = root

    def lookup(self, raw_path: str) -> tuple[str, File] | None:
        """The file for a request path: "/" is the index, "/console/<name>" a file; else None."""
        if raw_path in ("/", ""):
            return INDEX, self.table[INDEX]
        prefix = "/console/"
        if not raw_path.startswith(prefix):
            return None
        name = raw_path[len(prefix):]
        found = self.table.get(name)
        return (name, found) if found is not None else None

    def answer(self, event: dict[str, Any]) -> dict[str, Any]:
        method = str(((event.get("requestContext") or {}).get("http") or {}).get("method") or "GET").upper()
        if method not in ("GET", "HEAD"):
            return _answer(405, {"content-type": "text/plain; charset=utf-8", "allow": "GET, HEAD"},
                           b"Method not allowed\n", False)
        if self.root is not None:
            self.table = load(self.root)
        found = self.lookup(str(event.get("rawPath") or "/"))
        if found is None:
            return _not_found()
        name, file = found
        # the page always revalidates (a deploy shows at once); assets revalidate by ETag too
        headers = {"content-type": file.content_type, "etag": file.etag, "cache-control": "no-cache"}
        wanted = str((event.get("headers") or {}).get("if-none-match") or "")
        if file.etag in (tag.strip() for tag in wanted.split(",")):
            return _answer(304, {"etag": file.etag, "cache-control": "no-cache"}, b"", False)
        return _answer(200, headers, file.body, name.rsplit(".", 1)[-1] in {s[1:] for s in _BINARY})
