"""Email address normalisation: the one place that decides what an address is."""

from __future__ import annotations

import re
from functools import lru_cache

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
    fast = _plain(value)
    if fast is not None:
        return fast
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from exc
    email = result.ascii_email or result.normalized
    return email.lower()


# The shape most addresses of an import have: an ASCII dot-atom of letters, digits, `_`, `+` and `-`
# (a subset of what email-validator's local part allows), and a domain of ASCII letters, digits,
# `-` and `.`, no IDNA label. Its local part needs no check email-validator would make, and its domain is checked
# once per domain (an import of 100,000 addresses holds a few hundred domains): the same verdict
# and the same address as `validate_email` for the whole address, at a fraction of its CPU.
_PLAIN = re.compile(r"([A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*)@([A-Za-z0-9.-]+)")


def _plain(value: str) -> str | None:
    """The normalised address if `value` has the plain shape and email-validator accepts its
    domain and whole length; None leaves the decision (and the reason for a refusal) to it."""
    match = _PLAIN.fullmatch(value)
    if match is None or "xn--" in match.group(2).lower():  # an IDNA domain is normalised to Unicode
        return None
    domain = _ascii_domain(match.group(2))
    if domain is None:
        return None
    email = f"{match.group(1)}@{domain}"
    if len(email) > MAX_LENGTH:  # validate_email_length: left to email-validator's own message
        return None
    return email.lower()


@lru_cache(maxsize=4096)
def _ascii_domain(domain: str) -> str | None:
    """The domain as email-validator normalises it, or None if it refuses it (judged with a local
    part that is valid, so a refusal is the domain's)."""
    try:
        result = validate_email(f"a@{domain}", check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return result.ascii_domain
