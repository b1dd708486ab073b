"""The SES port: send one raw MIME message, tagged so SES events map back to tenant and campaign."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from beacon.shared.observability import logger

THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException"}
)


class SesThrottled(Exception):
    """SES asked us to slow down; the message was not sent and must be retried later."""


class SesRejected(Exception):
    """SES refused this message for good (bad address, not verified, too large)."""


@dataclass(frozen=True)
class OutgoingEmail:
    from_address: str
    to_address: str
    raw: bytes
    tags: dict[str, str]


class EmailSender(Protocol):
    def send(self, email: OutgoingEmail) -> str:
        """Send it; return SES's message id. Raises SesThrottled or SesRejected."""
        ...


class SesV2Sender:
    """SendEmail of a raw message. `direct` (the default) sends it through
    beacon.ports.ses_direct (botocore's signer, HTTP session and hooks, a third of the CPU);
    otherwise through the botocore client's generic pipeline."""

    def __init__(self, client: Any, configuration_set: str = "", direct: bool = True) -> None:
        from beacon.ports import ses_direct

        self._client = client
        self._configuration_set = configuration_set
        self._direct: ses_direct.DirectSendEmail | None = None
        if direct:
            reason = ses_direct.unsupported(client)
            if reason is None:
                self._direct = ses_direct.DirectSendEmail(client)
            else:
                logger.warning("SendEmail through botocore's pipeline", extra={"reason": reason})

    def send(self, email: OutgoingEmail) -> str:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {
            "FromEmailAddress": email.from_address,
            "Destination": {"ToAddresses": [email.to_address]},
            "EmailTags": [{"Name": k, "Value": v} for k, v in email.tags.items()],
        }
        if self._configuration_set:
            kwargs["ConfigurationSetName"] = self._configuration_set
        try:
            if self._direct is not None:
                return str(self._direct(kwargs, email.raw)["MessageId"])
            return str(self._client.send_email(**kwargs, Content={"Raw": {"Data": email.raw}})["MessageId"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in THROTTLE_CODES:
                raise SesThrottled(code) from exc
            if code in {"MessageRejected", "BadRequestException", "MailFromDomainNotVerifiedException",
                        "InvalidParameterValue", "AccountSuspendedException", "SendingPausedException"}:
                raise SesRejected(f"{code}: {exc.response.get('Error', {}).get('Message', '')}") from exc
            raise


@dataclass
class FakeSender:
    """In-memory SES: records every accepted email; can be told to throttle or reject."""

    sent: list[OutgoingEmail] = field(default_factory=list)
    throttle_next: int = 0
    reject_addresses: set[str] = field(default_factory=set)
    throttle_rate: float = 0.0  # a share of calls throttled at random (seeded by `rng`)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    latency: float = 0.0  # seconds every call takes (outside the lock, like a real network call)
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, email: OutgoingEmail) -> str:
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.calls += 1
            if self.throttle_next > 0:
                self.throttle_next -= 1
                raise SesThrottled("Throttling")
            if self.throttle_rate and self.rng.random() < self.throttle_rate:
                raise SesThrottled(self.rng.choice(sorted(THROTTLE_CODES)))
            if email.to_address in self.reject_addresses:
                raise SesRejected("MessageRejected: fake rejection")
            self.sent.append(email)
            return f"fake-{len(self.sent):06d}"
