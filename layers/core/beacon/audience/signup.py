"""A public signup, in two steps.

`accept` (POST /forms/{form_id}, the public function): read and check the submission, answer a
filled honeypot like any other signup but store nothing, hold each network (/24, /48) to
NETWORK_LIMIT signups an hour per tenant, and put the signup on the signup queue. Its work is the
same whoever the address belongs to (new, pending, subscribed, suppressed), so neither the answer
nor its timing tells who is on a list.

`process` (the signup function, from that queue): decide whether the address needs a
confirmation (a hard bounce, complaint or the tenant's own suppression never gets one; someone
already subscribed to every list of the form gets none), hold the address to ADDRESS_LIMIT
confirmation emails a day, record the pending signup (consent record, pending contact and
memberships: beacon.db.signups), and send the confirmation email.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from beacon.audience import attributes as attributes_mod
from beacon.db.forms import FormRecord
from beacon.db.signups import ConsentRecord, SignupStore
from beacon.message import confirmation
from beacon.ports.queue import Queue
from beacon.ports.ses import EmailSender, OutgoingEmail, SesRejected
from beacon.shared import addresses
from beacon.shared.clock import now_iso
from beacon.shared.ids import new_id, recipient_id
from beacon.shared.observability import logger
from beacon.shared.tokens import TokenSigner

HONEYPOT = "homepage"  # the hidden field only bots fill (the page hides it from people and screen readers)
CONSENT_VERSION = "consent_version"  # which consent text the page showed (beacon.db.forms)
RESERVED = frozenset({"email", HONEYPOT, CONSENT_VERSION})
MAX_VALUE = 500  # characters of one submitted field
NETWORK_LIMIT = 20  # signups an hour from one /24 or /48 network, per tenant
ADDRESS_LIMIT = 3  # confirmation emails to one address in 24 hours, per tenant
CONFIRM_SECONDS = confirmation.CONFIRM_DAYS * 86400
TTL_SLACK = 86400  # a pending signup's data stays a day past its link (TTL removes it within ~2 days)
NO_CONFIRMATION = ("complaint", "bounce", "manual")  # suppressions a signup never lifts


class Invalid(ValueError):
    """A submission the form refuses (422), naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class FormChanged(ValueError):
    """The page that was submitted showed a consent text the form no longer knows (409)."""


class TooManySignups(Exception):
    """This network sent NETWORK_LIMIT signups to the tenant within the hour (429)."""


@dataclass(frozen=True)
class Submission:
    email: str
    attributes: dict[str, Any]
    consent_text: str  # exactly as the submitted page showed it
    honeypot: bool


def _one_line(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(field, "must be text")
    if len(value) > MAX_VALUE:
        raise Invalid(field, f"is longer than {MAX_VALUE} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise Invalid(field, "must be one line of text (no line breaks or control characters)")
    return value.strip()


def read_submission(form: FormRecord, values: dict[str, Any]) -> Submission:
    """The submitted values (name -> first value) checked against the form. Raises Invalid with the
    field and a sentence a person can act on; FormChanged when the consent text shown is unknown."""
    raw_email = values.get("email")
    if raw_email is None or (isinstance(raw_email, str) and not raw_email.strip()):
        raise Invalid("email", "is required")
    if not isinstance(raw_email, str):
        raise Invalid("email", "must be text")
    try:
        email = addresses.normalize(raw_email)
    except addresses.InvalidAddress as exc:
        raise Invalid("email", str(exc)) from exc
    found: dict[str, Any] = {}
    for spec in form.fields:
        name, label = spec["name"], spec.get("label") or spec["name"]
        value = values.get(name)
        text = "" if value is None else _one_line(label, value)
        if not text:
            if spec.get("required"):
                raise Invalid(label, "is required")
            continue
        found[name] = text
    try:
        clean = attributes_mod.clean(found)
    except attributes_mod.InvalidAttributes as exc:
        raise Invalid("fields", str(exc)) from exc
    version = values.get(CONSENT_VERSION)
    if version in (None, ""):
        consent_text = form.consent_text  # a script that posts JSON without it: the current text
    elif isinstance(version, str) and version in form.consent_versions:
        consent_text = form.consent_versions[version]
    else:
        raise FormChanged("the form changed since this page was loaded: please read it again and resubmit")
    trap = values.get(HONEYPOT)
    return Submission(email, clean, consent_text, honeypot=bool(trap.strip() if isinstance(trap, str) else trap))


def network_key(account_id: str, network: str) -> str:
    return hashlib.sha256(f"{account_id}|{network or 'unknown'}".encode()).hexdigest()[:32]


def accept(form: FormRecord, submission: Submission, requester: tuple[str, str], base_url: str,
           store: SignupStore, queue: Queue, queue_url: str, clock: Callable[[], float] = time.time) -> None:
    """Take a checked submission. A honeypot hit stores nothing and returns like any signup; a
    network over its hourly limit raises TooManySignups; anything else goes on the signup queue."""
    if submission.honeypot:
        logger.info("form honeypot filled: nothing stored", extra={"form_id": form.form_id})
        return
    client, network = requester
    now = int(clock())
    hour = now // 3600
    if not store.count_network(network_key(form.account_id, network), hour, NETWORK_LIMIT, (hour + 2) * 3600):
        raise TooManySignups(f"too many signups from this network; try again in {60 - now % 3600 // 60} minutes")
    queue.send(queue_url, [{
        "kind": "signup", "signup_id": new_id(), "account_id": form.account_id, "form_id": form.form_id,
        "form_name": form.name, "email": submission.email, "attributes": submission.attributes,
        "consent_text": submission.consent_text, "list_ids": list(form.list_ids), "from_email": form.from_email,
        "from_name": form.from_name, "submitted_at": now_iso(), "network": network, "client": client,
        "base_url": base_url,
    }])


# ----------------------------------------------------------------------------- the signup function
@dataclass
class SignupDeps:
    store: SignupStore
    ses: EmailSender
    signer: TokenSigner
    senders: Callable[[str, str], bool]  # is from_email on a verified sender domain of the tenant?
    clock: Callable[[], float] = time.time


class TryAgain(RuntimeError):
    """The state changed while the signup was being recorded: the message is retried (SQS)."""


def _asked_at(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def process(message: dict[str, Any], deps: SignupDeps) -> str:
    """Handle one signup from the queue; what happened, in a word (for the log). Idempotent: a
    redelivered message sends no second email."""
    account_id, email = str(message["account_id"]), str(message["email"])
    rid = recipient_id(account_id, email)
    store = deps.store
    account = store.account(account_id)
    if account is None:
        return "no_account"
    company, postal_address = account
    reason = store.suppression_reason(account_id, rid)
    if reason in NO_CONFIRMATION:
        return "suppressed"  # a hard bounce, complaint or the tenant's own block: never mailed
    lists = store.existing_lists(account_id, [str(i) for i in message.get("list_ids") or []])
    if not lists:
        return "no_lists"
    contact = store.contact(account_id, rid)
    memberships = store.memberships(account_id, rid, lists)
    pending_lists = [i for i in lists if i not in memberships or memberships[i].status == "pending"]
    if not pending_lists and reason is None and (contact is None or contact.status != "pending"):
        return "already_subscribed"  # nothing to confirm: no email (the form said the same to everyone)
    from_email = str(message["from_email"])
    if not deps.senders(account_id, from_email):
        logger.warning("form sender is not on a verified domain: no confirmation sent",
                       extra={"form_id": message.get("form_id")})
        return "sender_unverified"
    now = int(deps.clock())
    signup_id = str(message["signup_id"])
    record = store.record(account_id, rid, signup_id)
    if record is not None and record.emailed_at:
        return "already_sent"  # a redelivered message
    if record is None:
        times, version = store.sent_times(rid)
        recent = [t for t in times if t > now - 86400]
        if len(recent) >= ADDRESS_LIMIT:
            logger.info("confirmation skipped: the address had its emails for today")
            return "limited"
        record = ConsentRecord(
            account_id=account_id, recipient_id=rid, signup_id=signup_id, email=email,
            form_id=str(message["form_id"]), form_name=str(message.get("form_name") or ""), company=company,
            list_ids=lists, consent_text=str(message.get("consent_text") or ""),
            attributes=dict(message.get("attributes") or {}), submitted_at=str(message["submitted_at"]),
            network=str(message.get("network") or ""), client=str(message.get("client") or ""),
            expires_at=now + CONFIRM_SECONDS + TTL_SLACK,
        )
        begun = store.begin(record, contact, pending_lists, [*recent, now], version, now_iso())
        if not begun and store.record(account_id, rid, signup_id) is None:  # not a redelivery: a race
            raise TryAgain("the contact changed while the signup was recorded")
    token = deps.signer.confirm_token(account_id, signup_id, rid, now)
    raw = confirmation.build(confirmation.Confirmation(
        company=company, postal_address=postal_address, from_email=from_email,
        from_name=str(message.get("from_name") or ""), to=email, form_name=record.form_name,
        confirm_url=f"{str(message.get('base_url') or '').rstrip('/')}/confirm/{token}",
        asked_at=_asked_at(record.submitted_at)))
    try:
        deps.ses.send(OutgoingEmail(from_address=from_email, to_address=email, raw=raw,
                                    tags={"account": account_id, "recipient": rid, "kind": "confirmation"}))
    except SesRejected as exc:
        logger.warning("SES refused the confirmation email", extra={"error": str(exc)})
        return "rejected"
    store.mark_emailed(record, now_iso())
    return "sent"
