"""The SES identity port: create a domain identity (Easy DKIM), read its status, delete it."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class IdentityStatus:
    status: str  # verified | pending | failed
    dkim_tokens: tuple[str, ...]


class IdentityRefused(Exception):
    """SES will not create this identity (an invalid name, or the account's identity limit)."""


class Identities(Protocol):
    def create(self, domain: str) -> IdentityStatus: ...

    def status(self, domain: str) -> IdentityStatus | None:
        """None when SES has no such identity."""
        ...

    def delete(self, domain: str) -> None: ...


def status_of(answer: dict[str, Any]) -> IdentityStatus:
    """Map a CreateEmailIdentity/GetEmailIdentity answer to verified | pending | failed."""
    dkim = answer.get("DkimAttributes") or {}
    tokens = tuple(str(t) for t in dkim.get("Tokens") or [])
    if answer.get("VerifiedForSendingStatus") is True:
        return IdentityStatus("verified", tokens)
    if dkim.get("Status") in {"FAILED"} or answer.get("VerificationStatus") == "FAILED":
        return IdentityStatus("failed", tokens)
    return IdentityStatus("pending", tokens)


class SesV2Identities:
    def __init__(self, client: Any) -> None:
        self._client = client

    def create(self, domain: str) -> IdentityStatus:
        from botocore.exceptions import ClientError

        try:
            return status_of(self._client.create_email_identity(EmailIdentity=domain))
        except self._client.exceptions.AlreadyExistsException:
            found = self.status(domain)  # ours from an earlier attempt that did not finish
            if found is None:
                raise
            return found
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in {"BadRequestException", "LimitExceededException", "NotFoundException"}:
                raise IdentityRefused(str(error.get("Message") or error.get("Code"))) from exc
            raise

    def status(self, domain: str) -> IdentityStatus | None:
        try:
            return status_of(self._client.get_email_identity(EmailIdentity=domain))
        except self._client.exceptions.NotFoundException:
            return None

    def delete(self, domain: str) -> None:
        with contextlib.suppress(self._client.exceptions.NotFoundException):
            self._client.delete_email_identity(EmailIdentity=domain)


def fake_tokens(domain: str) -> tuple[str, ...]:
    return tuple(hashlib.sha256(f"{domain}:{i}".encode()).hexdigest()[:32] for i in range(3))


@dataclass
class FakeIdentities:
    """In-memory SES identities; `verify_at_once` makes every new domain verified."""

    verify_at_once: bool = True
    known: dict[str, IdentityStatus] = field(default_factory=dict)

    def create(self, domain: str) -> IdentityStatus:
        status = IdentityStatus("verified" if self.verify_at_once else "pending", fake_tokens(domain))
        self.known.setdefault(domain, status)
        return self.known[domain]

    def status(self, domain: str) -> IdentityStatus | None:
        return self.known.get(domain)

    def delete(self, domain: str) -> None:
        self.known.pop(domain, None)
