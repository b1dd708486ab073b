"""Sender domains: a tenant registers a domain, SES creates the identity with Easy DKIM, the tenant
publishes the three CNAME records, and once SES sees them the domain is verified. A campaign may
only send from a verified domain of its own tenant (or a subdomain of one: SES allows that)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from beacon.db.domains import DomainRepo, DomainTaken
from beacon.db.models import DomainItem
from beacon.ports.identities import Identities, IdentityRefused, IdentityStatus
from beacon.shared.clock import now_iso
from beacon.shared.errors import Conflict, NotFound, Unprocessable

MAX_DOMAINS = 100
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

SenderCheck = Callable[[str, str], bool]  # (account_id, from_email) -> on a verified domain of it


class InvalidDomain(ValueError):
    pass


def normalize(value: Any) -> str:
    """A domain name in lower-case ASCII (IDNA/Punycode), or InvalidDomain."""
    if not isinstance(value, str):
        raise InvalidDomain("must be a string")
    name = value.strip().rstrip(".").lower()
    if not name or len(name) > 253:
        raise InvalidDomain("must be a domain name such as example.com")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidDomain("is not a valid internationalised domain name") from exc
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidDomain("must be a domain name such as example.com (letters, digits, hyphens, dots)")
    if labels[-1].isdigit():
        raise InvalidDomain("must be a domain name, not an IP address")
    if len(name) > 253:
        raise InvalidDomain("is too long")
    return name


def view(item: DomainItem) -> dict[str, Any]:
    return {
        "domain": item.domain,
        "status": item.status,
        "dkim_records": [
            {"name": f"{token}._domainkey.{item.domain}", "type": "CNAME", "value": f"{token}.dkim.amazonses.com"}
            for token in item.dkim_tokens or []
        ],
        "created_at": item.created_at,
        "checked_at": item.checked_at,
    }


def _field(value: Any) -> str:
    try:
        return normalize(value)
    except InvalidDomain as exc:
        raise Unprocessable(f"domain {exc}", details=[{"field": "domain", "message": str(exc)}]) from exc


def add(repo: DomainRepo, ses: Identities, account_id: str, domain: Any) -> tuple[dict[str, Any], bool]:
    """Register a sender domain. Returns (view, created); adding one the tenant has is idempotent."""
    name = _field(domain)
    existing = repo.get(account_id, name)
    if existing is not None:
        return view(existing), False
    owner = repo.owner(name)
    if owner is not None and owner != account_id:
        raise Conflict("this domain is registered by another account", code="domain_taken")
    if len(repo.all(account_id)) >= MAX_DOMAINS:
        raise Unprocessable(f"an account may register at most {MAX_DOMAINS} domains", code="too_many_domains")
    now = now_iso()
    item = DomainItem(pk=f"A#{account_id}", sk=f"DOMAIN#{name}", domain=name, status="pending",
                      dkim_tokens=[], created_at=now, checked_at=now)
    try:
        created = repo.claim(item, account_id)
    except DomainTaken as exc:
        raise Conflict("this domain is registered by another account", code="domain_taken") from exc
    if not created:
        found = repo.get(account_id, name)
        return view(found or item), False
    try:
        status = ses.create(name)
    except IdentityRefused as exc:
        repo.delete(account_id, name)
        raise Unprocessable(f"domain: SES refused it: {exc}", code="domain_refused",
                            details=[{"field": "domain", "message": str(exc)}]) from exc
    except Exception:
        repo.delete(account_id, name)  # give the name back: the tenant can simply try again
        raise
    _apply(item, status)
    repo.save(item)
    return view(item), True


def _apply(item: DomainItem, status: IdentityStatus) -> None:
    item.status = status.status
    if status.dkim_tokens:
        item.dkim_tokens = list(status.dkim_tokens)
    item.checked_at = now_iso()


def _require(repo: DomainRepo, account_id: str, domain: str) -> DomainItem:
    try:
        name = normalize(domain)
    except InvalidDomain as exc:
        raise NotFound("domain not found") from exc
    item = repo.get(account_id, name)
    if item is None:
        raise NotFound("domain not found")
    return item


def refresh(repo: DomainRepo, ses: Identities, item: DomainItem) -> DomainItem:
    status = ses.status(item.domain)
    if status is None:  # removed from SES behind our back: create it again (new DKIM tokens)
        status = ses.create(item.domain)
    _apply(item, status)
    repo.save(item)
    return item


def get(repo: DomainRepo, ses: Identities, account_id: str, domain: str) -> dict[str, Any]:
    return view(refresh(repo, ses, _require(repo, account_id, domain)))


def page(repo: DomainRepo, account_id: str, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
    """A page of the account's sender domains (by name)."""
    items, next_cursor = repo.page(account_id, limit, cursor)
    return {"items": [view(i) for i in items], "next_cursor": next_cursor}


def remove(repo: DomainRepo, ses: Identities, account_id: str, domain: str) -> None:
    item = _require(repo, account_id, domain)
    ses.delete(item.domain)
    repo.delete(account_id, item.domain)


def candidates(domain: str) -> list[str]:
    """The domain and its parents that SES would accept as the verified identity for it."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(0, max(len(labels) - 1, 1))]


def sender_check(repo: DomainRepo, ses: Identities | None) -> SenderCheck:
    """The campaign rule: is `from_email` on a verified domain the tenant owns (its own domain
    record, and the domain's one-tenant claim is the tenant's)? With `ses`, a pending domain is
    re-read from SES first, so a tenant never has to poll GET /v1/domains before sending; without it
    (the send batches) the stored status decides."""

    def check(account_id: str, from_email: str) -> bool:
        try:
            domain = normalize(from_email.rpartition("@")[2])
        except InvalidDomain:
            return False
        items = repo.get_many(account_id, candidates(domain))
        verified = [i for i in items if i.status == "verified"]
        if not verified and ses is not None:
            verified = [i for i in items if refresh(repo, ses, i).status == "verified"]
        return any(repo.owner(i.domain) == account_id for i in verified)

    return check


SENDER_CHECK_TTL_SECONDS = 30.0


def cached(check: SenderCheck, ttl: float = SENDER_CHECK_TTL_SECONDS,
           clock: Callable[[], float] = time.monotonic) -> SenderCheck:
    """`check`, its answers kept `ttl` seconds (the send batches: a domain deleted or lost stops a
    campaign within that long, without a read per batch)."""
    memo: dict[tuple[str, str], tuple[float, bool]] = {}
    lock = threading.Lock()

    def cached_check(account_id: str, from_email: str) -> bool:
        key = (account_id, from_email)
        now = clock()
        with lock:
            hit = memo.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        answer = check(account_id, from_email)
        with lock:
            if len(memo) >= 1024:
                memo.clear()
            memo[key] = (now + ttl, answer)
        return answer

    return cached_check


def require_verified(senders: SenderCheck, account_id: str, from_email: str) -> None:
    """409 sender_unverified unless `from_email` is on a verified domain the account owns (now)."""
    if not senders(account_id, from_email):
        domain = from_email.rpartition("@")[2]
        raise Conflict(f"{domain} is not a verified sender domain of this account (deleted, not verified "
                       "yet, or no longer verified): add it with POST /v1/domains and publish its DKIM "
                       "records, or change the campaign's from_email", code="sender_unverified",
                       details={"from_email": from_email, "domain": domain})
