"""Email address normalisation: the one place that decides what an address is."""

from __future__ import annotations

import email_validator
from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254

# `.test` (RFC 6761) is what the local stack, the demo and the tests send to; SES itself answers a
# real send there with a bounce. Every other special-use name (localhost, invalid, ...) stays refused.
if "test" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("test")


class InvalidAddress(ValueError):
    """The address cannot be mailed through SES; the message says why."""


def normalize(raw: object) -> str:
    """Return the address as Beacon stores and compares it: trimmed, case-folded, IDNA domain.

    SES has no SMTPUTF8, so a non-ASCII local part is refused; a non-ASCII domain becomes Punycode.
    """
    if not isinstance(raw, str):
        raise InvalidAddress("email must be a string")
    value = raw.strip()
    if not value:
        raise InvalidAddress("email is empty")
    if len(value) > MAX_LENGTH:
        raise InvalidAddress(f"email is longer than {MAX_LENGTH} characters")
    if any(c in value for c in "\r\n\x00"):
        raise InvalidAddress("email contains a control character")
    local, sep, _ = value.rpartition("@")
    if sep and len(local) > 64:
        raise InvalidAddress("the part before @ is longer than 64 characters")
    if sep and not local.isascii():
        raise InvalidAddress("the part before @ is not ASCII, which SES cannot send to (no SMTPUTF8)")
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from exc
    email = result.ascii_email or result.normalized
    return email.lower()
