"""What a public endpoint reads from an API Gateway (HTTP API, payload 2.0) event, in one place:
the method, the user agent, the client IP, the prefetch/purpose headers, a path parameter, and a
form body (urlencoded or multipart), bounded. Light on purpose: the pixel and the redirect import it.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from beacon.shared.privacy import truncate_ip
from beacon.tracking.classify import CLICK, Signal, classify, client_class

MAX_BODY = 64 * 1024  # a form body past this is read as empty
MAX_FIELDS = 20
_BOUNDARY = re.compile(r"""boundary=(?:"([^"]{1,70})"|([^\s;,"]{1,70}))""", re.IGNORECASE)
_FIELD_NAME = re.compile(r'\bname="([^"]*)"', re.IGNORECASE)


@dataclass(frozen=True)
class PublicRequest:
    method: str  # upper case
    user_agent: str
    ip: str
    purpose: str  # Sec-Purpose / Purpose / X-Purpose / X-Moz: a prefetch announces itself here
    headers: dict[str, str]  # names in lower case

    def signal(self, kind: str) -> Signal:
        """What the human/machine rules look at (beacon.tracking.classify)."""
        return Signal(kind, self.method, self.user_agent, self.ip, self.purpose)

    def requester(self) -> tuple[str, str]:
        """(client class, /24 or /48 network) of whoever sent it: what an audit or consent record
        may keep about a request (never the raw IP or user agent)."""
        signal = self.signal(CLICK)
        return client_class(signal, classify(signal)), truncate_ip(self.ip)


def parse(event: dict[str, Any]) -> PublicRequest:
    http = (event.get("requestContext") or {}).get("http") or {}
    raw = event.get("headers") or {}
    headers = {str(k).lower(): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    purpose = (headers.get("sec-purpose") or headers.get("purpose") or headers.get("x-purpose")
               or headers.get("x-moz") or "")
    return PublicRequest(
        method=str(http.get("method") or "GET").upper(),
        user_agent=headers.get("user-agent", ""),
        ip=str(http.get("sourceIp") or ""),
        purpose=purpose,
        headers=headers,
    )


def path_param(event: dict[str, Any], name: str) -> str:
    value = (event.get("pathParameters") or {}).get(name)
    return value if isinstance(value, str) else ""


def body_text(event: dict[str, Any], limit: int = MAX_BODY) -> str:
    """The body as text (base64 decoded when API Gateway encoded it); "" if missing or over `limit`."""
    raw = event.get("body") or ""
    if not isinstance(raw, str) or len(raw) > limit * 2:
        return ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=True).decode("utf-8", "replace")
        except ValueError:
            return ""
    return raw


def multipart_fields(body: str, content_type: str, max_fields: int = MAX_FIELDS) -> dict[str, list[str]]:
    """The fields of a multipart/form-data body (at most `max_fields` parts are read)."""
    found = _BOUNDARY.search(content_type)
    if not found:
        return {}
    fields: dict[str, list[str]] = {}
    for part in body.split("--" + (found.group(1) or found.group(2)))[1 : max_fields + 1]:
        if part.startswith("--"):
            break
        part = part[2:] if part.startswith("\r\n") else part[1:] if part.startswith("\n") else part
        head, sep, value = part.partition("\r\n\r\n")
        if not sep:
            head, sep, value = part.partition("\n\n")
        name = _FIELD_NAME.search(head) if sep else None
        if name:
            fields.setdefault(name.group(1), []).append(value.removesuffix("\n").removesuffix("\r"))
    return fields


def form_fields(event: dict[str, Any], max_fields: int = MAX_FIELDS) -> dict[str, list[str]]:
    """A POSTed form: multipart/form-data, or urlencoded (also when no content type was sent); a body
    with more than `max_fields` fields reads as empty."""
    headers = parse(event).headers
    content_type = headers.get("content-type", "")
    body = body_text(event)
    if content_type.lower().startswith("multipart/form-data"):
        return multipart_fields(body, content_type, max_fields)
    try:
        return parse_qs(body, max_num_fields=max_fields)
    except ValueError:
        return {}
