"""The SES simulator: an outbox of .eml files and SES event publishing, on top of moto's SES.

Beacon builds every AWS client from `beacon.shared.aws.SESSION`; the simulator registers botocore
event handlers on that session (before any client exists), so every `sesv2.send_email`:

- before the call: verifies the sender's domain in moto at once (a real account verifies by
  DNS; the local stack verifies the first time a domain sends);
- after a successful call: writes the raw MIME message to `OUTBOX/<timestamp>-<messageid>.eml`
  and publishes, like SES with a configuration set, an event-publishing notification to the
  SES-events topic: a Delivery for each accepted recipient, or a Bounce / Complaint for the
  mailbox-simulator addresses (bounce@, complaint@, suppressionlist@simulator.amazonses.com).

Publishing runs on a worker thread so a send is not slowed down.

It also verifies sender domains at once: every `sesv2` CreateEmailIdentity/GetEmailIdentity answer
for a domain reads as verified, with three Easy DKIM tokens (`verify_identities_at_once`).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Any

from beacon_local.resources import ACCOUNT_ID, aws_client

log = logging.getLogger(__name__)

SIMULATOR_DOMAIN = "simulator.amazonses.com"
REPORTING_MTA = "a8-70.smtp-out.amazonses.com"
_CONTEXT_KEY = "beacon_local.ses.request"
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def iso_now(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def raw_bytes(data: Any) -> bytes:
    """Content.Raw.Data as bytes: given as bytes, or base64 (as serialised on the wire)."""
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if hasattr(data, "read"):
        return bytes(data.read())
    text = str(data)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8")  # a str that is the message itself


def simulator_outcome(address: str) -> str:
    """"Delivery", "Bounce", "Complaint" or "Suppressed" for one recipient address."""
    local, _, domain = parseaddr(address)[1].lower().rpartition("@")
    if domain != SIMULATOR_DOMAIN:
        return "Delivery"
    mailbox = local.split("+", 1)[0]
    return {"bounce": "Bounce", "complaint": "Complaint", "suppressionlist": "Suppressed"}.get(
        mailbox, "Delivery"
    )


def _simple_message(request: Mapping[str, Any]) -> bytes:
    """A MIME rendering of a Content.Simple send, so the outbox holds every email."""
    simple = request["Content"]["Simple"]
    msg = EmailMessage()
    msg["From"] = request.get("FromEmailAddress", "")
    destination = request.get("Destination") or {}
    if destination.get("ToAddresses"):
        msg["To"] = ", ".join(destination["ToAddresses"])
    if destination.get("CcAddresses"):
        msg["Cc"] = ", ".join(destination["CcAddresses"])
    msg["Subject"] = simple.get("Subject", {}).get("Data", "")
    body = simple.get("Body") or {}
    msg.set_content(body.get("Text", {}).get("Data", ""))
    if "Html" in body:
        msg.add_alternative(body["Html"]["Data"], subtype="html")
    return msg.as_bytes()


_IDENTITY_CALLS = ("CreateEmailIdentity", "GetEmailIdentity")


_IDENTITY_KEY = "beacon_local.identity"


def _remember_identity(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_IDENTITY_KEY] = str(params.get("EmailIdentity") or "")


def _verified_at_once(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """Rewrite SES's answer for a domain identity as verified, with its three Easy DKIM tokens
    (moto reports new identities as not verified for sending and gives no tokens)."""
    if not isinstance(parsed, dict) or parsed.get("IdentityType") != "DOMAIN":
        return
    name = str(context.get(_IDENTITY_KEY) or "")
    parsed["VerifiedForSendingStatus"] = True
    parsed["VerificationStatus"] = "SUCCESS"
    dkim = parsed.setdefault("DkimAttributes", {})
    dkim.update(SigningEnabled=True, Status="SUCCESS")
    if not dkim.get("Tokens"):
        dkim["Tokens"] = [uuid.uuid5(uuid.NAMESPACE_DNS, f"{i}.{name}").hex for i in range(3)]


def verify_identities_at_once(events: Any) -> None:
    """The local stack verifies at once: every domain identity created in SES reads as verified.
    `events` is a botocore session (before it creates its sesv2 client) or a client's meta.events."""
    for call in _IDENTITY_CALLS:
        events.register(f"before-parameter-build.sesv2.{call}", _remember_identity,
                        unique_id=f"beacon-local-verify-b-{call}")
        events.register(f"after-call.sesv2.{call}", _verified_at_once, unique_id=f"beacon-local-verify-a-{call}")


def stop_verifying_identities(events: Any) -> None:
    for call in _IDENTITY_CALLS:
        events.unregister(f"before-parameter-build.sesv2.{call}", unique_id=f"beacon-local-verify-b-{call}")
        events.unregister(f"after-call.sesv2.{call}", unique_id=f"beacon-local-verify-a-{call}")


class SesSimulator:
    def __init__(
        self,
        outbox: str | Path,
        topic_arn: str | None,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
    ) -> None:
        self.outbox = Path(outbox)
        self.outbox.mkdir(parents=True, exist_ok=True)
        self.topic_arn = topic_arn
        self.region = region
        self.endpoint_url = endpoint_url
        self.written: list[Path] = []
        self.published = 0
        self._verified: set[str] = set()
        self._lock = threading.Lock()
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    # ------------------------------------------------------------ lifecycle
    def install(self, session: Any = None) -> SesSimulator:
        """Register the hooks on a botocore session (default: `beacon.shared.aws.SESSION`) and start
        the publishing worker. Install before the session creates its SES client."""
        if session is None:
            from beacon.shared.aws import SESSION

            session = SESSION
        self._session = session
        session.register("before-call.sesv2.SendEmail", self._before_send, unique_id="beacon-local-ses-before")
        session.register("after-call.sesv2.SendEmail", self._after_send, unique_id="beacon-local-ses-after")
        verify_identities_at_once(session)
        self._worker = threading.Thread(target=self._publish_loop, name="ses-events", daemon=True)
        self._worker.start()
        log.info("SES simulator: outbox %s, events to %s", self.outbox, self.topic_arn)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._session is not None:
            self._session.unregister("before-call.sesv2.SendEmail", unique_id="beacon-local-ses-before")
            self._session.unregister("after-call.sesv2.SendEmail", unique_id="beacon-local-ses-after")
            stop_verifying_identities(self._session)
            self._session = None
        if self._worker is not None:
            self._events.put(None)
            self._worker.join(timeout)
            self._worker = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event is published."""
        deadline = time.monotonic() + timeout
        while self._events.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._events.unfinished_tasks

    def _client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = aws_client(service, self.region, self.endpoint_url)
            return self._clients[service]

    # ------------------------------------------------------------ hooks
    def _before_send(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        try:
            body = params.get("body") or b"{}"
            request = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
        except (ValueError, UnicodeDecodeError):
            log.warning("SES simulator: cannot read the SendEmail request")
            return
        context[_CONTEXT_KEY] = request
        sender = request.get("FromEmailAddress")
        if not sender and "Raw" in (request.get("Content") or {}):
            headers = message_from_bytes(raw_bytes(request["Content"]["Raw"]["Data"]), policy=policy.default)
            sender = str(headers.get("From", ""))
        domain = parseaddr(sender or "")[1].rpartition("@")[2]
        if domain:
            self.verify(domain)

    def verify(self, domain: str) -> None:
        """Make the domain a verified SES identity in moto (once per domain)."""
        with self._lock:
            if domain in self._verified:
                return
        sesv2 = self._client("sesv2")
        for identity in {domain, domain.lower()}:
            try:
                sesv2.create_email_identity(EmailIdentity=identity)
            except Exception:
                try:
                    self._client("ses").verify_domain_identity(Domain=identity)
                except Exception:
                    log.warning("SES simulator: could not verify %s", identity, exc_info=True)
        with self._lock:
            self._verified.add(domain)
        log.info("SES simulator: verified the sending domain %s", domain)

    def _after_send(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if getattr(http_response, "status_code", 500) >= 300 or "MessageId" not in parsed:
            return
        request = context.pop(_CONTEXT_KEY, None)
        if request is None:
            return
        try:
            self.accepted(request, str(parsed["MessageId"]))
        except Exception:  # the simulator must never break a send that SES accepted
            log.exception("SES simulator: could not record message %s", parsed.get("MessageId"))

    # ------------------------------------------------------------ an accepted email
    def accepted(self, request: Mapping[str, Any], message_id: str) -> Path:
        """Write the outbox file and queue the event notifications for one accepted email."""
        now = time.time()
        content = request.get("Content") or {}
        raw = raw_bytes(content["Raw"]["Data"]) if "Raw" in content else _simple_message(request)
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.outbox / f"{stamp}-{_SAFE_FILENAME.sub('_', message_id)}.eml"
        tmp = path.with_suffix(".eml.tmp")
        tmp.write_bytes(raw)
        tmp.replace(path)  # readers never see half a file
        with self._lock:
            self.written.append(path)
        if self.topic_arn:
            for event in self.notifications(request, message_id, raw, now):
                self._events.put(event)
        return path

    def notifications(
        self, request: Mapping[str, Any], message_id: str, raw: bytes, sent_at: float
    ) -> list[dict[str, Any]]:
        """SES event-publishing notifications (configuration-set format) for one email."""
        destination = request.get("Destination") or {}
        recipients = [
            *destination.get("ToAddresses", []),
            *destination.get("CcAddresses", []),
            *destination.get("BccAddresses", []),
        ]
        headers = message_from_bytes(raw, policy=policy.default)
        if not recipients:
            recipients = [a for _, a in getaddresses([str(v) for v in headers.get_all("To", [])]) if a]
        source = str(request.get("FromEmailAddress") or headers.get("From", ""))
        mail = self._mail(request, message_id, source, recipients, headers, sent_at)

        by_outcome: dict[str, list[str]] = {}
        for address in recipients:
            by_outcome.setdefault(simulator_outcome(address), []).append(address)
        done = sent_at + 0.2
        events: list[dict[str, Any]] = []
        if by_outcome.get("Delivery"):
            events.append({
                "eventType": "Delivery",
                "mail": mail,
                "delivery": {
                    "timestamp": iso_now(done),
                    "processingTimeMillis": 200,
                    "recipients": by_outcome["Delivery"],
                    "smtpResponse": "250 2.6.0 Message received",
                    "reportingMTA": REPORTING_MTA,
                },
            })
        bounced = [(a, "General") for a in by_outcome.get("Bounce", [])]
        bounced += [(a, "OnAccountSuppressionList") for a in by_outcome.get("Suppressed", [])]
        for sub_type in ("General", "OnAccountSuppressionList"):
            addresses = [a for a, kind in bounced if kind == sub_type]
            if not addresses:
                continue
            events.append({
                "eventType": "Bounce",
                "mail": mail,
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": sub_type,
                    "bouncedRecipients": [
                        {
                            "emailAddress": a,
                            "action": "failed",
                            "status": "5.1.1",
                            "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                        }
                        for a in addresses
                    ],
                    "timestamp": iso_now(done),
                    "feedbackId": f"{uuid.uuid4().hex}-000000",
                    "reportingMTA": f"dns; {REPORTING_MTA}",
                },
            })
        if by_outcome.get("Complaint"):
            events.append({
                "eventType": "Complaint",
                "mail": mail,
                "complaint": {
                    "complainedRecipients": [{"emailAddress": a} for a in by_outcome["Complaint"]],
                    "timestamp": iso_now(done),
                    "feedbackId": f"{uuid.uuid4().hex}-000000",
                    "complaintSubType": None,
                    "userAgent": "Amazon SES Mailbox Simulator",
                    "complaintFeedbackType": "abuse",
                    "arrivalDate": iso_now(sent_at),
                },
            })
        return events

    def _mail(
        self,
        request: Mapping[str, Any],
        message_id: str,
        source: str,
        recipients: list[str],
        headers: Any,
        sent_at: float,
    ) -> dict[str, Any]:
        domain = parseaddr(source)[1].rpartition("@")[2]
        tags: dict[str, list[str]] = {}
        for tag in request.get("EmailTags") or []:
            tags.setdefault(str(tag["Name"]), []).append(str(tag["Value"]))
        if request.get("ConfigurationSetName"):
            tags["ses:configuration-set"] = [str(request["ConfigurationSetName"])]
        tags["ses:source-ip"] = ["127.0.0.1"]
        tags["ses:from-domain"] = [domain]
        tags["ses:caller-identity"] = ["beacon-local"]
        common: dict[str, Any] = {"messageId": message_id}
        for header, key in (("From", "from"), ("To", "to"), ("Cc", "cc"), ("Reply-To", "replyTo")):
            values = headers.get_all(header)
            if values:
                common[key] = [str(v) for v in values]
        if headers.get("Date"):
            common["date"] = str(headers["Date"])
        if headers.get("Subject") is not None:
            common["subject"] = str(headers["Subject"])
        return {
            "timestamp": iso_now(sent_at),
            "source": source,
            "sourceArn": f"arn:aws:ses:{self.region}:{ACCOUNT_ID}:identity/{domain}",
            "sendingAccountId": ACCOUNT_ID,
            "messageId": message_id,
            "destination": recipients,
            "headersTruncated": False,
            "headers": [{"name": name, "value": str(value)} for name, value in headers.items()],
            "commonHeaders": common,
            "tags": tags,
        }

    # ------------------------------------------------------------ publishing
    def _publish_loop(self) -> None:
        while True:
            event = self._events.get()
            try:
                if event is None:
                    return
                self._client("sns").publish(TopicArn=self.topic_arn, Message=json.dumps(event))
                with self._lock:
                    self.published += 1
            except Exception:
                log.exception("SES simulator: could not publish a %s event", (event or {}).get("eventType"))
            finally:
                self._events.task_done()
