"""Domain errors. The API maps each to an HTTP status and the DESIGN.md error body."""

from __future__ import annotations

from typing import Any


class BeaconError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class BadRequest(BeaconError):
    status = 400
    code = "bad_request"


class Unauthorized(BeaconError):
    status = 401
    code = "unauthorized"


class Forbidden(BeaconError):
    """Only where existence is not at stake (a console request without its CSRF token); another
    tenant's object is always NotFound."""

    status = 403
    code = "forbidden"


class NotFound(BeaconError):
    status = 404
    code = "not_found"


class Conflict(BeaconError):
    status = 409
    code = "conflict"


class Gone(BeaconError):
    status = 410
    code = "gone"


class PayloadTooLarge(BeaconError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(BeaconError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(BeaconError):
    status = 422
    code = "validation_error"


class TooManyRequests(BeaconError):
    status = 429
    code = "too_many_requests"


def invalid(field: str, message: str, code: str = "validation_error") -> Unprocessable:
    """A 422 naming the field: "field: message", with the field in the details."""
    return Unprocessable(f"{field}: {message}", code=code, details=[{"field": field, "message": message}])
