"""Tenants: sign-up and the profile (company, password change). Erasing a tenant: beacon.audience.jobs."""

from __future__ import annotations

import unicodedata
from typing import Any

from beacon.accounts.access import (
    LOGIN_FAILURES,
    LOGIN_WINDOW,
    Principal,
    check_password,
    hasher,
    login_throttle_key,
    new_api_key,
    slow_down,
    verify_password,
)
from beacon.db.accounts import AccountRepo, EmailTaken
from beacon.db.credentials import CredentialRepo
from beacon.db.models import AccountItem
from beacon.shared import addresses
from beacon.shared.clock import epoch, now_iso
from beacon.shared.errors import Conflict, NotFound, Unprocessable, invalid
from beacon.shared.ids import new_id


def account_view(item: AccountItem) -> dict[str, Any]:
    return {"id": item.account_id, "company": item.company, "email": item.email,
            "postal_address": item.postal_address or None, "created_at": item.created_at}


# ----------------------------------------------------------------------------- the postal address
POSTAL_MIN, POSTAL_MAX, POSTAL_LINES, POSTAL_LINE = 10, 500, 8, 120
POSTAL_REQUIRED = ("the account has no postal address: set it with PATCH /v1/account {postal_address} (the law "
                   "wants a valid physical postal address in every commercial email, CAN-SPAM)")


def clean_postal_address(value: Any) -> str:
    """A physical postal address as it goes into email footers: 1 to 8 lines (CR/LF become one line
    end), each at most 120 characters, 10 to 500 in all, no control characters."""
    if not isinstance(value, str):
        raise invalid("postal_address", "must be a string")
    lines = [line.strip() for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    text = "\n".join(lines)
    if len(text) < POSTAL_MIN:
        raise invalid("postal_address", f"must be a full postal address (at least {POSTAL_MIN} characters)")
    if len(text) > POSTAL_MAX or len(lines) > POSTAL_LINES or any(len(line) > POSTAL_LINE for line in lines):
        raise invalid("postal_address", f"at most {POSTAL_LINES} lines of {POSTAL_LINE} characters, "
                                        f"{POSTAL_MAX} in all")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in text.replace("\n", "")):
        raise invalid("postal_address", "must not contain control characters")
    return text


def require_postal_address(item: AccountItem) -> str:
    """The account's postal address; 409 `postal_address_required` when it has none."""
    if not item.postal_address:
        raise Conflict(POSTAL_REQUIRED, code="postal_address_required", details=[{"field": "postal_address"}])
    return item.postal_address


def sign_up(repo: AccountRepo, company: str, email: str, password: str,
            postal_address: str | None = None) -> tuple[dict[str, Any], str]:
    company = clean_company(company)
    address = clean_postal_address(postal_address) if postal_address is not None else None
    try:
        email = addresses.normalize(email)
    except addresses.InvalidAddress as exc:
        raise Unprocessable(f"email is not valid: {exc}", details=[{"field": "email"}]) from exc
    check_password(password)
    account_id = new_id()
    now = now_iso()
    key, lookup, record = new_api_key(account_id, "default", now)
    account = AccountItem(
        pk=f"A#{account_id}", sk="PROFILE", account_id=account_id, company=company, email=email,
        password_hash=hasher().hash(password), created_at=now, postal_address=address,
    )
    try:
        repo.create(account, lookup, record)
    except EmailTaken as exc:
        raise Conflict("an account with this email exists", code="email_taken") from exc
    return account_view(account), key


# ----------------------------------------------------------------------------- profile
def require_account(repo: AccountRepo, account_id: str) -> AccountItem:
    item = repo.get(account_id)
    if item is None:
        raise NotFound("account not found")
    return item


def clean_company(company: str) -> str:
    """The company name, as sign-up and PATCH /v1/account both take it: trimmed, not empty, one line
    of text (no control character: it goes into every email's footer; no lone surrogate)."""
    company = company.strip()
    if not company:
        raise Unprocessable("company must not be empty", details=[{"field": "company"}])
    for c in company:
        if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp"):
            raise Unprocessable(f"company must be one line of text; it holds U+{ord(c):04X}",
                                details=[{"field": "company"}])
    return company


def update_profile(repo: AccountRepo, creds: CredentialRepo, who: Principal, company: str | None,
                   current_password: str | None, new_password: str | None,
                   postal_address: str | None = None) -> dict[str, Any]:
    """Change the company name, the postal address and/or the password. A password change needs the
    current password (wrong: 422 wrong_password) and signs out every other session."""
    item = require_account(repo, who.account_id)
    if company is not None:
        company = clean_company(company)
    address = clean_postal_address(postal_address) if postal_address is not None else None
    if new_password is not None or current_password is not None:
        if new_password is None or current_password is None:
            field = "new_password" if new_password is None else "current_password"
            raise Unprocessable(f"{field} is needed to change the password", details=[{"field": field}])
        check_password(new_password, "new_password")
        now = epoch()
        throttle = login_throttle_key(item.email)
        failures, until = creds.failures(throttle, now)
        if failures >= LOGIN_FAILURES:
            raise slow_down(until - now)
        if not verify_password(item.password_hash, current_password):
            creds.add_failure(throttle, now, LOGIN_WINDOW)
            raise Unprocessable("current_password is not correct", code="wrong_password",
                                details=[{"field": "current_password"}])
        repo.set_password_hash(who.account_id, hasher().hash(new_password))
        creds.revoke(who.account_id, "SESSION", keep=who.key_id if who.via == "session" else None)
        creds.revoke(who.account_id, "RESET")
    if company is not None and company != item.company:
        repo.set_company(who.account_id, company)
        item.company = company
    if address is not None and address != item.postal_address:
        repo.set_postal_address(who.account_id, address)
        item.postal_address = address
    return account_view(item)
