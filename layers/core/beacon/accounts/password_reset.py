"""Password reset by email: a single-use token valid one hour, stored only as its SHA-256 hash.

Asking always gets the same answer, in about the same time, whether or not the email belongs to an
account (no account enumeration). At most RESETS_PER_HOUR emails go to one address an hour, so the
form cannot be used to flood someone's inbox. Using the token sets the password, deletes the token
and signs out every session of the account.
"""

from __future__ import annotations

import html
import secrets
import time
from collections.abc import Callable

from beacon.accounts.access import check_password, hash_key, hasher, login_throttle_key
from beacon.db.accounts import AccountRepo
from beacon.db.credentials import CredentialRepo
from beacon.db.models import ResetItem
from beacon.message import mime
from beacon.ports.ses import EmailSender, OutgoingEmail
from beacon.shared import addresses
from beacon.shared.clock import epoch, now_iso
from beacon.shared.errors import Gone, Unprocessable
from beacon.shared.ids import new_id
from beacon.shared.observability import logger

RESET_PREFIX = "pr_"
RESET_SECONDS = 3600
RESETS_PER_HOUR = 3
RESPONSE_FLOOR_SECONDS = 0.4  # both answers take at least this long (sending an email takes ~100 ms)
SUBJECT = "Reset your Beacon password"


def _throttle_key(email: str) -> str:
    return f"T#reset#{hash_key(email)}"


def reset_email(to: str, link: str, sender: str) -> bytes:
    text = (
        f"Someone asked to reset the password of the Beacon account {to}.\n\n"
        f"To choose a new password within the next hour, POST it to this address:\n\n  {link}\n\n"
        f"  curl -X POST '{link}' -H 'Content-Type: application/json' -d '{{\"password\": \"...\"}}'\n\n"
        "The link works once. If you did not ask for this, ignore this email: your password stays as it is.\n"
    )
    safe = html.escape(link, quote=True)
    body = (
        "<html><body>"
        f"<p>Someone asked to reset the password of the Beacon account {html.escape(to)}.</p>"
        "<p>To choose a new password within the next hour, POST it as JSON "
        f"(<code>{{\"password\": \"...\"}}</code>) to:</p><p><a href=\"{safe}\">{safe}</a></p>"
        "<p>The link works once. If you did not ask for this, ignore this email: your password stays "
        "as it is.</p></body></html>"
    )
    return mime.build(from_name="Beacon", from_email=sender, to_email=to, subject=SUBJECT, html=body, text=text)


def request_reset(repo: AccountRepo, creds: CredentialRepo, ses: EmailSender, sender: str, base_url: str,
                  email: str, sleep: Callable[[float], None] = time.sleep) -> None:
    """Email a reset link if the address owns an account. Always returns normally (202)."""
    started = time.monotonic()
    try:
        address = addresses.normalize(email)
    except addresses.InvalidAddress as exc:
        raise Unprocessable(f"email is not valid: {exc}", details=[{"field": "email"}]) from exc
    try:
        _send_if_owner(repo, creds, ses, sender, base_url, address)
    except Exception:  # the answer must not depend on what happened
        logger.exception("password reset email could not be sent")
    remaining = RESPONSE_FLOOR_SECONDS - (time.monotonic() - started)
    if remaining > 0:
        sleep(remaining)


def _send_if_owner(repo: AccountRepo, creds: CredentialRepo, ses: EmailSender, sender: str, base_url: str,
                   address: str) -> None:
    account_id = repo.owner_of(address)
    if account_id is None:
        return
    now = epoch()
    throttle = _throttle_key(address)
    sent, _until = creds.failures(throttle, now)
    if sent >= RESETS_PER_HOUR:
        logger.info("password reset email skipped: hourly limit reached")
        return
    creds.add_failure(throttle, now, RESET_SECONDS)
    token = RESET_PREFIX + secrets.token_urlsafe(32)
    creds.add_reset(ResetItem(pk=f"R#{hash_key(token)}", sk="RESET", account_id=account_id, reset_id=new_id(),
                              created_at=now_iso(), expires_at=now + RESET_SECONDS))
    link = f"{base_url}/v1/password-resets/{token}"
    ses.send(OutgoingEmail(from_address=sender, to_address=address, raw=reset_email(address, link, sender),
                           tags={"beacon": "password_reset"}))


def redeem(repo: AccountRepo, creds: CredentialRepo, token: str, password: str) -> str:
    """Set the password with a reset token: 410 when unknown, used or expired; 422 when weak (the
    token stays usable). Signs out every session. Returns the account id."""
    check_password(password)
    if not token.startswith(RESET_PREFIX) or len(token) > 200:
        raise Gone("this reset link is not valid, was already used or has expired", code="reset_gone")
    account_id = creds.redeem_reset(hash_key(token), epoch(), hasher().hash(password))
    if account_id is None:
        raise Gone("this reset link is not valid, was already used or has expired", code="reset_gone")
    creds.revoke(account_id, "SESSION")
    creds.revoke(account_id, "RESET")
    account = repo.get(account_id)
    if account is not None:  # the owner proved they read the mailbox: let them sign in at once
        creds.clear_failures(login_throttle_key(account.email))
    return account_id
